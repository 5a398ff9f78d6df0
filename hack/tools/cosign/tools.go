//go:build tools

// Package tools pins the supply-chain commands the tests run: the cosign CLI
// and go-containerregistry's crane (hack/supply-chain.sh).
package tools

import (
	_ "github.com/google/go-containerregistry/cmd/crane"
	_ "github.com/sigstore/cosign/v3/cmd/cosign"
)

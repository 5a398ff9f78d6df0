// Package defaultroles ships the Kubernetes default ClusterRoles and
// ClusterRoleBindings (cluster-admin, admin, edit, view, system:*) as data,
// dumped from a real kube-apiserver by hack/gen-default-roles.sh.
package defaultroles

import (
	"bytes"
	_ "embed"
	"sync"

	"github.com/kguard/kguard/internal/policy"
)

// Version is the Kubernetes release the roles were dumped from.
const Version = "v1.37.2"

// Source names the embedded file in errors and positions.
const Source = "defaultroles.yaml"

//go:embed defaultroles.yaml
var data []byte

var load = sync.OnceValues(func() (*policy.Set, error) {
	return policy.Read(bytes.NewReader(data), Source)
})

// Set returns the default roles as a fresh policy set. The slices are new on
// every call; the objects they point to are shared and must not be modified.
func Set() (*policy.Set, error) {
	s, err := load()
	if err != nil {
		return nil, err
	}
	return policy.Merge(&policy.Set{}, s), nil
}

//go:build !linux

package cli

import (
	"errors"
	"net"
)

func listen(address string, reusePort bool) (net.Listener, error) {
	if reusePort {
		return nil, errors.New("--reuse-port is supported on Linux only")
	}
	return net.Listen("tcp", address)
}

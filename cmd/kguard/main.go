// Command kguard is the Kubernetes security chain: authentication,
// authorization and admission, offline and as webhooks.
package main

import (
	"os"

	"github.com/kguard/kguard/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.StdStreams()))
}

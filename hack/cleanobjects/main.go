// Command cleanobjects reads a kubectl List (JSON) on standard input and writes
// its objects as multi-document YAML, sorted by kind and name, without the
// fields the API server populates. hack/gen-default-roles.sh uses it.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"sigs.k8s.io/yaml"
)

var serverFields = []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink"}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cleanobjects SERVER_VERSION < list.json")
		os.Exit(2)
	}
	if err := run(os.Stdin, os.Stdout, os.Args[1], time.Now().UTC().Format("2006-01-02")); err != nil {
		fmt.Fprintln(os.Stderr, "cleanobjects:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, version, date string) error {
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.NewDecoder(in).Decode(&list); err != nil {
		return fmt.Errorf("reading the list: %w", err)
	}
	key := func(o map[string]any) string {
		meta, _ := o["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		kind, _ := o["kind"].(string)
		return kind + "/" + name
	}
	sort.Slice(list.Items, func(i, j int) bool { return key(list.Items[i]) < key(list.Items[j]) })
	fmt.Fprintf(out, "# The Kubernetes default ClusterRoles and ClusterRoleBindings, dumped from a real\n"+
		"# kube-apiserver %s (with kube-controller-manager, so aggregated roles hold their\n"+
		"# rules) by hack/gen-default-roles.sh on %s. Do not edit: regenerate.\n", version, date)
	for _, o := range list.Items {
		if meta, ok := o["metadata"].(map[string]any); ok {
			for _, f := range serverFields {
				delete(meta, f)
			}
		}
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "---\n%s", b)
	}
	return nil
}

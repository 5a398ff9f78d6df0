// Command noopwebhook answers kguard's review endpoints without deciding
// anything, over the same HTTPS stack (net/http, TLS 1.3, HTTP/1.1, and
// HTTP/2 with -enable-http2, as kguard): every SubjectAccessReview is allowed
// and every AdmissionReview is admitted with its request's uid. It exists to
// measure the latency floor of the machine under hack/loadgen
// (`TARGET=noop bash hack/loadtest.sh`): what the transport, the kernel and
// the Go runtime cost before any policy is read.
// With -mutate, /mutate also answers a JSON Patch that sets one annotation
// (noop.bench.kguard.io/mutated), so that kube-apiserver does for it what it
// does for any mutating webhook (apply the patch, decode and default the
// object, run its own mutating plugins again): the floor of a webhook that
// mutates (hack/benche2e's noop-mutating).
// It is a measuring tool, never a webhook to deploy; it listens on loopback only.
//
//	noopwebhook --listen-address 127.0.0.1:8443 --tls-cert-file tls.crt --tls-private-key-file tls.key [--mutate]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("listen-address", "127.0.0.1:8443", "loopback address to listen on")
	cert := flag.String("tls-cert-file", "", "serving certificate (PEM)")
	key := flag.String("tls-private-key-file", "", "serving key (PEM)")
	h2 := flag.Bool("enable-http2", false, "also offer HTTP/2, as kguard serve --enable-http2")
	mutate := flag.Bool("mutate", false, "answer /mutate with a patch that sets the annotation "+mutatedKey)
	flag.Parse()
	if err := run(*addr, *cert, *key, *h2, *mutate); err != nil {
		fmt.Fprintln(os.Stderr, "noopwebhook:", err)
		os.Exit(2)
	}
}

// mutatedKey is the annotation -mutate sets.
const mutatedKey = "noop.bench.kguard.io/mutated"

func run(addr, cert, key string, h2, mutate bool) error {
	if cert == "" || key == "" {
		return fmt.Errorf("--tls-cert-file and --tls-private-key-file are required")
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen-address %q: a loopback IP address and port", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		answer(w, r, func(in review) any {
			return map[string]any{"apiVersion": in.APIVersion, "kind": in.Kind, "status": map[string]any{"allowed": true}}
		})
	})
	admit := func(w http.ResponseWriter, r *http.Request) {
		answer(w, r, func(in review) any {
			return map[string]any{"apiVersion": in.APIVersion, "kind": in.Kind,
				"response": map[string]any{"uid": in.Request.UID, "allowed": true}}
		})
	}
	mux.HandleFunc("/validate", admit)
	if !mutate {
		mux.HandleFunc("/mutate", admit)
	} else {
		mux.HandleFunc("/mutate", func(w http.ResponseWriter, r *http.Request) {
			answer(w, r, func(in review) any {
				patch := `[{"op":"add","path":"/metadata/annotations/noop.bench.kguard.io~1mutated","value":"true"}]`
				if in.Request.Object.Metadata.Annotations == nil {
					patch = `[{"op":"add","path":"/metadata/annotations","value":{"` + mutatedKey + `":"true"}}]`
				}
				return map[string]any{"apiVersion": in.APIVersion, "kind": in.Kind,
					"response": map[string]any{"uid": in.Request.UID, "allowed": true, "patchType": "JSONPatch", "patch": []byte(patch)}}
			})
		})
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(h2)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 90 * time.Second,
		Protocols: &protocols}
	return srv.ListenAndServeTLS(cert, key)
}

// review is what an answer echoes.
type review struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    struct {
		UID    string `json:"uid"`
		Object struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		} `json:"object"`
	} `json:"request"`
}

// answer decodes the review, as a webhook must, and writes fn's answer.
func answer(w http.ResponseWriter, r *http.Request, fn func(review) any) {
	var in review
	if err := json.NewDecoder(io.LimitReader(r.Body, 3<<20)).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(fn(in))
}

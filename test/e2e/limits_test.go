//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The two memory attacks of the hardening review, on loopback against a
// kguard process run as deploy/ runs it (GOGC=400, GOMEMLIMIT=200MiB; the
// container limit is 256Mi): thousands of idle keep-alive connections, and
// tens of concurrent reviews of nearly the largest size allowed. kguard must
// stay under the container limit and answer no more than its limits allow;
// what it refuses it refuses (closed connection, HTTP 429), never admits.
func TestServeUnderConnectionAndBodyFloods(t *testing.T) {
	dir := t.TempDir()
	policy := "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps, labels: {pod-security.kubernetes.io/enforce: restricted}}\n"
	if err := os.WriteFile(filepath.Join(dir, "ns.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(kg.bin, "serve", "--listen-address", "127.0.0.1:"+port,
		"--tls-cert-file", live.env["KGUARD_TLS_CERT"], "--tls-private-key-file", live.env["KGUARD_TLS_KEY"],
		"--policy-dir", dir, "--enable-admission-plugins", "PodSecurity", "--log-level", "error")
	cmd.Env = append(os.Environ(), "GOGC=400", "GOMEMLIMIT=200MiB")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tlsConfig := &tls.Config{RootCAs: kg.caPool, ServerName: "127.0.0.1"}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 100}}
	url := "https://127.0.0.1:" + port
	eventually(t, 30*time.Second, "kguard is ready", func() (bool, string) {
		resp, err := client.Get(url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	peak := func() int64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
		t.Fatal("no VmHWM")
		return 0
	}
	const limit = 256 << 20 // deploy/deployment.yaml limits.memory

	// 1. 5,350 idle keep-alive connections, each after one request.
	var conns []*tls.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	refused := 0
	for i := 0; i < 5350; i++ {
		c, err := tls.Dial("tcp", "127.0.0.1:"+port, tlsConfig)
		if err != nil {
			refused++
			continue
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: kguard\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			refused++
			continue
		}
		resp.Body.Close()
		conns = append(conns, c)
	}
	t.Logf("idle connections: %d held, %d refused; kguard peak RSS %d MiB", len(conns), refused, peak()>>20)
	if len(conns) > 512 {
		t.Errorf("%d connections held open, want at most --max-connections (512)", len(conns))
	}
	if p := peak(); p > limit {
		t.Errorf("peak RSS %d MiB over the 256Mi container limit under idle connections", p>>20)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil

	// 2. 60 concurrent reviews of 2.8 MB each: a pod with 2.8 MB of environment.
	var env strings.Builder
	for i := 0; env.Len() < 2800<<10; i++ {
		fmt.Fprintf(&env, `{"name":"V%d","value":"%s"},`, i, strings.Repeat("x", 200))
	}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big","namespace":"apps"},"spec":{"containers":[{"name":"c","image":"i","env":[` +
		strings.TrimSuffix(env.String(), ",") + `],"securityContext":{"privileged":true}}]}}`
	body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},` +
		`"resource":{"group":"","version":"v1","resource":"pods"},"name":"big","namespace":"apps","operation":"CREATE","userInfo":{"username":"u"},"object":` + pod + `}}`)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(url+"/validate", "application/json", bytes.NewReader(body))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[-1]++
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode == 200 {
				var review struct {
					Response struct{ Allowed bool } `json:"response"`
				}
				if json.NewDecoder(resp.Body).Decode(&review) != nil || review.Response.Allowed {
					codes[-2]++ // a privileged pod in a restricted namespace must never be admitted
					return
				}
			}
			codes[resp.StatusCode]++
		}()
	}
	wg.Wait()
	t.Logf("60 concurrent 2.8 MB reviews: answers by HTTP code %v; kguard peak RSS %d MiB", codes, peak()>>20)
	if codes[-2] > 0 {
		t.Errorf("%d oversized reviews of a privileged pod were admitted", codes[-2])
	}
	if codes[200] == 0 || codes[429] == 0 {
		t.Errorf("want some reviews decided (denied) and the excess refused with 429: %v", codes)
	}
	if p := peak(); p > limit {
		t.Errorf("peak RSS %d MiB over the 256Mi container limit under concurrent large reviews", p>>20)
	}
	if t.Failed() {
		t.Logf("kguard's log:\n%s", logs.String())
	}
}

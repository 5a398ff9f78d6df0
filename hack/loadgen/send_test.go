package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRawHTTP1 sends through the raw client to a TLS server: the answer and
// its protocol come back, the connection is reused, a "Connection: close"
// answer makes the next request dial again, concurrent requests each get a
// connection, and the certificate is verified.
func TestRawHTTP1(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.Write([]byte(r.URL.Path + " " + string(body)))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	tc := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tc.NextProtos, tc.ServerName = []string{"http/1.1"}, "example.com" // httptest's certificate names example.com and 127.0.0.1
	raw := &rawHTTP1{dial: loopbackDialer(time.Second), tls: tc, addr: u.Host, host: u.Host, timeout: 5 * time.Second}

	for i, path := range []string{"/a", "/b", "/close", "/c"} {
		proto, status, answer, err := raw.send(path, []byte(`{"n":1}`))
		if err != nil || status != 200 || proto != "HTTP/1.1" || string(answer) != path+` {"n":1}` {
			t.Fatalf("request %d: %s %d %q %v", i, proto, status, answer, err)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: one reused until the server closed it, then one more", n)
	}

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/p%d", i)
			if _, status, answer, err := raw.send(path, []byte(`{}`)); err != nil || status != 200 || string(answer) != path+" {}" {
				t.Errorf("concurrent %s: %d %q %v", path, status, answer, err)
			}
		}()
	}
	wg.Wait()
	if len(raw.idle) < 1 || len(raw.idle) > 8 || int(conns.Load()) != 1+len(raw.idle) {
		t.Errorf("%d idle connections of %d dialled, want every connection of the concurrent requests kept", len(raw.idle), conns.Load())
	}

	tc.ServerName = "kguard.invalid"
	bad := &rawHTTP1{dial: loopbackDialer(time.Second), tls: tc, addr: u.Host, host: u.Host, timeout: 5 * time.Second}
	if _, _, _, err := bad.send("/a", nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a certificate for another name: %v, want a verification error", err)
	}
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Protocols (-protocol).
const (
	protoAPIServer = "apiserver"
	protoH2        = "h2"
	protoHTTP1     = "http1"

	clientRaw     = "raw"
	clientNetHTTP = "nethttp"
)

// transport says how each endpoint is sent: through a net/http client shared
// by the workers, or over the raw HTTP/1.1 connection pool.
type transport struct {
	base    string
	client  map[string]*http.Client // endpoint → net/http client; the others use rawPool
	rawPool *rawHTTP1               // shared by the workers, as net/http's Transport is
}

// newTransport builds what -protocol and -client ask for. kube-apiserver
// calls admission webhooks over HTTP/1.1 (k8s.io/apiserver
// pkg/util/webhook/client.go sets NextProtos to http/1.1 for every
// non-loopback webhook, so that concurrent calls spread over the replicas
// behind a Service) and its authentication and authorization webhooks
// through a client-go REST client, which negotiates HTTP/2 when the server
// offers it. With -protocol apiserver, /authorize therefore uses HTTP/2 when
// kguard offers it (asked once, on /readyz) and HTTP/1.1 otherwise.
func newTransport(o options, u *url.URL, tc *tls.Config) (*transport, error) {
	var err error
	dial := loopbackDialer(o.timeout)
	h2 := httpClient(o, tc, dial, false)
	h1 := httpClient(o, tc, dial, true)
	t := &transport{base: strings.TrimSuffix(u.String(), "/"), client: map[string]*http.Client{}}
	h1tls := tc.Clone()
	h1tls.NextProtos = []string{"http/1.1"}
	h1tls.ServerName = u.Hostname() // verified against the serving certificate, as net/http does
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	t.rawPool = &rawHTTP1{dial: dial, tls: h1tls, addr: addr, host: u.Host, timeout: o.timeout}
	authorizeH2 := o.protocol == protoH2
	if o.protocol == protoAPIServer {
		if authorizeH2, err = offersHTTP2(h2, t.base); err != nil {
			return nil, err
		}
	}
	for _, ep := range []string{epAuthorize, epMutate, epValidate} {
		switch {
		case o.protocol == protoH2 || ep == epAuthorize && authorizeH2:
			t.client[ep] = h2
		case o.client == clientNetHTTP:
			t.client[ep] = h1
		}
	}
	return t, nil
}

// offersHTTP2 asks the server once, on /readyz, whether it speaks HTTP/2.
func offersHTTP2(h2 *http.Client, base string) (bool, error) {
	resp, err := h2.Get(base + "/readyz")
	if err != nil {
		return false, fmt.Errorf("asking %s which protocols it speaks: %w", base, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.ProtoMajor == 2, nil
}

// sender returns what endpoint ep is sent with.
func (t *transport) sender(ep string) sender {
	if c, ok := t.client[ep]; ok {
		return netHTTP{c: c, base: t.base}
	}
	return t.rawPool
}

func tlsConfig(o options) (*tls.Config, error) {
	pem, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", o.caFile)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if o.clientCert != "" {
		c, err := tls.LoadX509KeyPair(o.clientCert, o.clientKey)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

// loopbackDialer connects only to loopback addresses, whatever a name resolves to.
func loopbackDialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dialer := &net.Dialer{Timeout: timeout}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
			c.Close()
			return nil, fmt.Errorf("refusing a connection to %s: not a loopback address", c.RemoteAddr())
		}
		return c, nil
	}
}

func httpClient(o options, tc *tls.Config, dial func(context.Context, string, string) (net.Conn, error), http1 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: tc.Clone(), DialContext: dial, MaxIdleConns: o.workers, MaxIdleConnsPerHost: o.workers,
		IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: !http1,
		// Never a proxy: the target is loopback.
		Proxy: nil}
	if http1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: o.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func waitReady(ctx context.Context, c *http.Client, base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last string
	for {
		resp, err := c.Get(base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz not ready after %s: %s", base, d, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

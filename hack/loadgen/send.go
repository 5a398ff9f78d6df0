package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// sender sends one review and returns the answer.
type sender interface {
	send(path string, body []byte) (proto string, status int, answer []byte, err error)
}

// netHTTP sends through Go's net/http client (HTTP/2 when negotiated), as a
// client-go REST client does.
type netHTTP struct {
	c    *http.Client
	base string
}

func (s netHTTP) send(path string, body []byte) (string, int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, s.base+path, bytes.NewReader(body))
	if err != nil {
		return "", 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.c.Do(req)
	if err != nil {
		return "", 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.Proto, resp.StatusCode, b, err
}

// rawHTTP1 sends HTTP/1.1 requests over a pool of keep-alive TLS
// connections, writing each request and reading its answer on the calling
// worker's goroutine. Go's net/http client hands each request between the
// caller and two goroutines per connection; on a machine whose two cores
// kguard shares with its load, those wake-ups are CPU kguard could have had
// and a chance for an answer to wait to be read. The bytes kguard receives
// are the same: one POST per review on a reused TLS connection. As in
// net/http's Transport, the connection used is the one idle most recently,
// so a light load stays on few connections. An error or a "Connection:
// close" answer drops the connection.
type rawHTTP1 struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	tls     *tls.Config // offers http/1.1 only
	addr    string      // host:port dialled
	host    string      // Host header
	timeout time.Duration

	mu   sync.Mutex
	idle []*rawConn // most recently used last
}

type rawConn struct {
	tc  *tls.Conn
	br  *bufio.Reader
	out bytes.Buffer
}

func (s *rawHTTP1) send(path string, body []byte) (string, int, []byte, error) {
	deadline := time.Now().Add(s.timeout)
	c, err := s.get(deadline)
	if err != nil {
		return "", 0, nil, err
	}
	proto, status, answer, keep, err := c.roundTrip(s.host, path, body, deadline)
	if err != nil || !keep {
		c.tc.Close()
	} else {
		s.mu.Lock()
		s.idle = append(s.idle, c)
		s.mu.Unlock()
	}
	return proto, status, answer, err
}

// get takes the connection idle most recently, or dials one.
func (s *rawHTTP1) get(deadline time.Time) (*rawConn, error) {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	nc, err := s.dial(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(nc, s.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return &rawConn{tc: tc, br: bufio.NewReaderSize(tc, 16<<10)}, nil
}

func (c *rawConn) roundTrip(host, path string, body []byte, deadline time.Time) (string, int, []byte, bool, error) {
	if err := c.tc.SetDeadline(deadline); err != nil {
		return "", 0, nil, false, err
	}
	c.out.Reset()
	fmt.Fprintf(&c.out, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: %d\r\n\r\n",
		path, host, len(body))
	c.out.Write(body)
	if _, err := c.tc.Write(c.out.Bytes()); err != nil {
		return "", 0, nil, false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return "", 0, nil, false, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", 0, nil, false, err
	}
	return resp.Proto, resp.StatusCode, answer, !resp.Close, nil
}

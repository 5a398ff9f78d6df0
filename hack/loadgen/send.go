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

// rawHTTP1 is one worker's keep-alive HTTP/1.1 connection: the request is
// written and the answer read on the worker's goroutine. Go's net/http client
// hands each request between the caller and two goroutines per connection;
// on a machine whose two cores kguard shares with its load, those wake-ups
// are the load generator's largest cost and delay the reading of answers.
// The bytes kguard receives are the same: one POST per review on a reused
// TLS connection. An error or a "Connection: close" answer drops the
// connection; the next request dials again.
type rawHTTP1 struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	tls     *tls.Config // offers http/1.1 only
	addr    string      // host:port dialled
	host    string      // Host header
	timeout time.Duration

	conn *tls.Conn
	br   *bufio.Reader
	out  bytes.Buffer
}

func (s *rawHTTP1) send(path string, body []byte) (string, int, []byte, error) {
	deadline := time.Now().Add(s.timeout)
	if s.conn == nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		c, err := s.dial(ctx, "tcp", s.addr)
		if err != nil {
			return "", 0, nil, err
		}
		tc := tls.Client(c, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return "", 0, nil, err
		}
		s.conn, s.br = tc, bufio.NewReaderSize(tc, 16<<10)
	}
	proto, status, answer, keep, err := s.roundTrip(path, body, deadline)
	if err != nil || !keep {
		s.conn.Close()
		s.conn, s.br = nil, nil
	}
	return proto, status, answer, err
}

func (s *rawHTTP1) roundTrip(path string, body []byte, deadline time.Time) (string, int, []byte, bool, error) {
	if err := s.conn.SetDeadline(deadline); err != nil {
		return "", 0, nil, false, err
	}
	s.out.Reset()
	fmt.Fprintf(&s.out, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: %d\r\n\r\n",
		path, s.host, len(body))
	s.out.Write(body)
	if _, err := s.conn.Write(s.out.Bytes()); err != nil {
		return "", 0, nil, false, err
	}
	resp, err := http.ReadResponse(s.br, nil)
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

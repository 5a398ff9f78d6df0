package server

import (
	"errors"
	"net"
	"sync"

	"golang.org/x/sync/semaphore"
)

// limitListener accepts at most max connections at once. A connection over
// the limit is closed as soon as it is accepted (counted in
// kguard_connections_rejected_total), instead of waiting in the kernel's
// backlog or costing the server a goroutine and TLS buffers: idle keep-alive
// connections cannot grow kguard's memory without bound.
type limitListener struct {
	net.Listener
	slots    chan struct{}
	open     func(delta int) // reports connections opened (+1) and closed (-1)
	rejected func()
}

func newLimitListener(ln net.Listener, max int, open func(int), rejected func()) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), open: open, rejected: rejected}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			l.open(1)
			return &limitConn{Conn: c, release: func() { <-l.slots; l.open(-1) }}, nil
		default:
			l.rejected()
			c.Close()
		}
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// inflight bounds the reviews being read, decoded and decided at once: by
// count, and by the bytes of their bodies, which is what their decoding costs
// in memory. A review that does not fit is refused at once (HTTP 429, which
// kube-apiserver treats as a failed call: denied), never queued.
type inflight struct {
	count, bytes   *semaphore.Weighted
	maxRequestBody int64
}

var errTooManyReviews = errors.New("too many reviews in flight")

func newInflight(maxCount int, maxBytes, maxRequestBody int64) *inflight {
	if maxBytes < maxRequestBody {
		maxBytes = maxRequestBody // one review of the largest size always fits
	}
	return &inflight{count: semaphore.NewWeighted(int64(maxCount)), bytes: semaphore.NewWeighted(maxBytes), maxRequestBody: maxRequestBody}
}

// acquire reserves room for a review whose body is contentLength bytes (-1:
// unknown, reserved at the largest size allowed), and returns its release.
func (f *inflight) acquire(contentLength int64) (func(), error) {
	weight := contentLength
	if weight < 0 || weight > f.maxRequestBody {
		weight = f.maxRequestBody
	}
	if weight < minReviewWeight {
		weight = minReviewWeight
	}
	if !f.count.TryAcquire(1) {
		return nil, errTooManyReviews
	}
	if !f.bytes.TryAcquire(weight) {
		f.count.Release(1)
		return nil, errTooManyReviews
	}
	return func() { f.bytes.Release(weight); f.count.Release(1) }, nil
}

// minReviewWeight is what a review costs at least, whatever its body: the
// decoded objects and the answer.
const minReviewWeight = 16 << 10

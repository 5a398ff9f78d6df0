package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The progress counter writes to a terminal only, only once the audit has
// taken a second, and clears its line at the end.
func TestAuditProgress(t *testing.T) {
	var buf bytes.Buffer
	if p := newProgress(&buf); p.w != nil {
		t.Fatal("a buffer is not a terminal")
	}
	quiet := newProgress(&buf)
	quiet.update(1, 2)
	quiet.done()
	if buf.Len() != 0 {
		t.Fatalf("wrote to a non-terminal: %q", buf.String())
	}

	var term bytes.Buffer
	fast := &progress{w: &term, start: time.Now()}
	fast.update(5, 10)
	fast.done()
	if term.Len() != 0 {
		t.Fatalf("a sub-second audit printed %q", term.String())
	}
	slow := &progress{w: &term, start: time.Now().Add(-2 * time.Second)}
	slow.update(5, 10)
	slow.update(6, 10) // within 100ms of the last: skipped
	slow.update(10, 10)
	slow.done()
	if got, want := term.String(), "\raudited 5/10 objects\raudited 10/10 objects\r\033[K"; got != want {
		t.Fatalf("progress wrote %q, want %q", got, want)
	}
	if strings.Count(term.String(), "audited") != 2 {
		t.Fatal("updates are not throttled")
	}
}

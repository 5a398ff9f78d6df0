package server

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name          string
		body          string
		contentLength int64
		want          string
		err           error
	}{
		{"announced length", `{"a":1}`, 7, `{"a":1}`, nil},
		{"unknown length", `{"a":1}`, -1, `{"a":1}`, nil},
		{"shorter than announced", `{"a"`, 7, "", io.ErrUnexpectedEOF},
		{"longer than announced", `{"a":1}xx`, 7, "", errors.New("longer")},
		{"announced over the limit", `{"a":1}`, 1 << 30, `{"a":1}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(tc.body), tc.contentLength, 1<<20)
			switch {
			case tc.err == nil && (err != nil || string(got) != tc.want):
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			case tc.err != nil && err == nil:
				t.Errorf("got %q, want an error", got)
			case tc.err != nil && !errors.Is(err, tc.err) && !strings.Contains(err.Error(), tc.err.Error()):
				t.Errorf("error %v, want %v", err, tc.err)
			}
		})
	}
}

//go:build browser

// The browser test opens the page in headless Chromium (Debian's chromium
// package; hack/browser.sh install installs it) and checks what its script
// did. hack/test.sh, the README's test command, runs it:
//
//	go test -tags browser ./internal/authz/paths/htmlreport/
package htmlreport

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// chromium runs headless Chromium on url with args, in its own profile, and
// returns what it writes on stdout.
func chromium(t *testing.T, bin, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + t.TempDir(), "--window-size=1400,1000"}, args...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// screenshot is the number of pixels that are not white in Chromium's
// screenshot of url.
func screenshot(t *testing.T, bin, url string) int {
	t.Helper()
	shot := filepath.Join(t.TempDir(), "shot.png")
	chromium(t, bin, url, "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 1000 {
		t.Errorf("screenshot is %dx%d, want 1400x1000", b.Dx(), b.Dy())
	}
	inked := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				inked++
			}
		}
	}
	return inked
}

// TestBrowser renders the fixture's paths (the hostile name among them),
// opens the page in Chromium, and checks that the script ran with no error,
// wired every path to its drawn nodes and edges, highlights the path the URL
// names, and that the screenshot shows a drawing.
func TestBrowser(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: this test (-tags browser) opens the page in Debian's chromium package; install it with hack/browser.sh install (apt-get install -y chromium): %v", err)
	}
	ps := findPaths(t, "testdata/paths.yaml", "testdata/hostile.yaml")
	if len(ps) < 3 {
		t.Fatalf("%d paths, want at least 3", len(ps))
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "paths.html")
	if err := os.WriteFile(page, []byte(render(t, ps)), 0o644); err != nil {
		t.Fatal(err)
	}
	blank := filepath.Join(dir, "blank.html")
	if err := os.WriteFile(blank, []byte("<!DOCTYPE html><title>blank</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := parse(t, render(t, ps)).data.Paths
	pinned := want[len(want)/2]

	dom := chromium(t, bin, "file://"+page+"#"+pinned.ID, "--dump-dom")
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*html.Node{}
	var body *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "body" {
				body = n
			}
			if id := attr(n, "id"); id != "" {
				byID[id] = n
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if body == nil {
		t.Fatalf("no <body> in the DOM Chromium dumped:\n%s", dom)
	}
	errs, ok := attrOK(body, "data-errors")
	if !ok || errs != "" {
		t.Errorf("script errors (data-errors present: %v): %q", ok, errs)
	}
	if got := attr(body, "data-rendered"); got != strconv.Itoa(len(ps)) {
		t.Fatalf("data-rendered=%q, want %d: the script did not wire every path (a blocked script leaves it unset)", got, len(ps))
	}
	for _, p := range want {
		for _, id := range append(append([]string{}, p.Nodes...), p.Edges...) {
			n := byID[id]
			if n == nil {
				t.Errorf("path %s: %s is not in the DOM", p.ID, id)
				continue
			}
			if !strings.Contains(" "+attr(n, "data-paths")+" ", " "+p.ID+" ") {
				t.Errorf("path %s: the script did not mark %s (data-paths=%q)", p.ID, id, attr(n, "data-paths"))
			}
			lit := strings.Contains(" "+attr(n, "class")+" ", " hl ")
			on := false
			for _, x := range append(append([]string{}, pinned.Nodes...), pinned.Edges...) {
				on = on || x == id
			}
			if lit != on {
				t.Errorf("%s is highlighted: %v, want %v (URL #%s)", id, lit, on, pinned.ID)
			}
		}
	}
	if item := byID[pinned.ID]; item == nil || !strings.Contains(attr(item, "class"), "pinned") {
		t.Errorf("path %s is not pinned by the URL", pinned.ID)
	}
	if n := len(byID["graph"].Attr); n == 0 {
		t.Error("no drawing in the DOM")
	}

	empty := screenshot(t, bin, "file://"+blank)
	drawn := screenshot(t, bin, "file://"+page)
	t.Logf("non-white pixels: page %d, blank page %d", drawn, empty)
	if drawn < empty+20000 {
		t.Errorf("the screenshot has %d non-white pixels, a blank page %d: nothing was drawn", drawn, empty)
	}
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

package htmlreport

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/kguard/kguard/internal/authz/paths"
	"github.com/kguard/kguard/internal/policy"
)

// hostile is the name of the User of testdata/hostile.yaml.
const hostile = `</script><img src=x onerror=alert(1)>`

// findPaths is the paths of the RBAC objects in files.
func findPaths(t *testing.T, files ...string) []paths.Path {
	t.Helper()
	s, err := policy.Load(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := paths.Find(s, paths.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Paths
}

func render(t *testing.T, ps []paths.Path) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, ps); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// page is a parsed page: its elements by id, and the embedded data.
type parsedPage struct {
	byID map[string]*html.Node
	svg  *html.Node
	data data
	tags map[string]int // element name: count
}

func parse(t *testing.T, out string) parsedPage {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	p := parsedPage{byID: map[string]*html.Node{}, tags: map[string]int{}}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			p.tags[n.Data]++
			if id := attr(n, "id"); id != "" {
				if p.byID[id] != nil {
					t.Errorf("id %q used twice", id)
				}
				p.byID[id] = n
			}
			if n.Data == "svg" {
				p.svg = n
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	script := p.byID["kguard-paths-data"]
	if script == nil || script.FirstChild == nil {
		t.Fatal("no data script element")
	}
	dec := json.NewDecoder(strings.NewReader(script.FirstChild.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p.data); err != nil {
		t.Fatalf("embedded data: %v", err)
	}
	return p
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// inside says whether n is a descendant of root.
func inside(n, root *html.Node) bool {
	for ; n != nil; n = n.Parent {
		if n == root {
			return true
		}
	}
	return false
}

// title is the text of n's <title> child.
func title(n *html.Node) string {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "title" && c.FirstChild != nil {
			return c.FirstChild.Data
		}
	}
	return ""
}

// TestEveryPathDrawn checks that each path's subject, hops and target are in
// the SVG as nodes titled with the subjects, in order, joined by edges titled
// with the actions, and listed below with every hop's evidence.
func TestEveryPathDrawn(t *testing.T) {
	ps := findPaths(t, "testdata/paths.yaml", "testdata/hostile.yaml")
	if len(ps) < 3 {
		t.Fatalf("%d paths, want at least 3 for this test", len(ps))
	}
	p := parse(t, render(t, ps))
	if p.svg == nil {
		t.Fatal("no <svg>")
	}
	if len(p.data.Paths) != len(ps) {
		t.Fatalf("%d paths in the data, want %d", len(p.data.Paths), len(ps))
	}
	for i, want := range ps {
		v := p.data.Paths[i]
		t.Run(v.ID, func(t *testing.T) {
			subjects := []string{want.From.String()}
			for _, h := range want.Hops {
				subjects = append(subjects, h.To.String())
			}
			if len(v.Nodes) != len(subjects) || len(v.Edges) != len(want.Hops) {
				t.Fatalf("nodes %v, edges %v for %d hops", v.Nodes, v.Edges, len(want.Hops))
			}
			for j, id := range v.Nodes {
				n := p.byID[id]
				if n == nil || !inside(n, p.svg) || !strings.Contains(attr(n, "class"), "node") {
					t.Fatalf("node %s of %s is not drawn", id, subjects[j])
				}
				if got := title(n); got != subjects[j] {
					t.Errorf("node %s is titled %q, want %q", id, got, subjects[j])
				}
			}
			for j, id := range v.Edges {
				e := p.byID[id]
				if e == nil || !inside(e, p.svg) {
					t.Fatalf("edge %s is not drawn", id)
				}
				if attr(e, "data-from") != v.Nodes[j] || attr(e, "data-to") != v.Nodes[j+1] {
					t.Errorf("edge %s goes %s -> %s, want %s -> %s", id, attr(e, "data-from"), attr(e, "data-to"), v.Nodes[j], v.Nodes[j+1])
				}
				if got := title(e); got != want.Hops[j].Action {
					t.Errorf("edge %s is titled %q, want the action %q", id, got, want.Hops[j].Action)
				}
			}
			item := p.byID[v.ID]
			if item == nil || item.Data != "li" {
				t.Fatalf("path %s is not listed", v.ID)
			}
			if attr(item, "data-nodes") != strings.Join(v.Nodes, " ") {
				t.Errorf("listed with nodes %q, want %q", attr(item, "data-nodes"), strings.Join(v.Nodes, " "))
			}
			text := textOf(item)
			for _, h := range want.Hops {
				if !strings.Contains(text, h.Action) || !strings.Contains(text, h.Why()) {
					t.Errorf("hop %q (%s) is not listed in %q", h.Action, h.Why(), text)
				}
			}
		})
	}
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// TestEscapesNames renders a User named as HTML that closes the script
// element and runs one: the page must hold it as text only.
func TestEscapesNames(t *testing.T) {
	ps := findPaths(t, "testdata/paths.yaml", "testdata/hostile.yaml")
	found := false
	for _, p := range ps {
		found = found || p.From.Name == hostile
	}
	if !found {
		t.Fatalf("no path from the hostile user among %d", len(ps))
	}
	out := render(t, ps)
	for _, raw := range []string{hostile, "<img", "</script><"} {
		if strings.Contains(out, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
	p := parse(t, out)
	if p.tags["img"] != 0 {
		t.Errorf("the page has %d <img> elements", p.tags["img"])
	}
	if p.tags["script"] != 2 {
		t.Errorf("the page has %d <script> elements, want 2 (data, code)", p.tags["script"])
	}
	// and the name survives, as text, in the list, the drawing and the data
	titled, listed, inData := false, false, false
	for _, n := range p.byID {
		switch {
		case strings.Contains(attr(n, "class"), "node") && title(n) == `User "`+hostile+`"`:
			titled = true
		case n.Data == "li" && strings.Contains(textOf(n), `User "`+hostile+`"`):
			listed = true
		}
	}
	for _, v := range p.data.Paths {
		inData = inData || v.From == `User "`+hostile+`"`
	}
	if !titled || !listed || !inData {
		t.Errorf("the name is lost: drawn %v, listed %v, in the data %v", titled, listed, inData)
	}
}

// TestSelfContained checks that the page loads nothing and may load nothing:
// no external reference, and a Content-Security-Policy that allows only the
// page's own script by its hash.
func TestSelfContained(t *testing.T) {
	out := render(t, findPaths(t, "testdata/paths.yaml"))
	for _, ref := range []string{"http:", "https:", "//", "<link", "src=", "@import", "url(http"} {
		rest := strings.ReplaceAll(out, `xmlns="http://www.w3.org/2000/svg"`, "")
		rest = strings.ReplaceAll(rest, "// ", "") // the script's comments
		if strings.Contains(rest, ref) {
			t.Errorf("the page holds %q", ref)
		}
	}
	if !strings.HasPrefix(scriptHash, "sha256-") || len(scriptHash) != len("sha256-")+44 {
		t.Fatalf("script hash %q", scriptHash)
	}
	want := "default-src 'none'; style-src 'unsafe-inline'; script-src '" + scriptHash + "'"
	var csp []string
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "meta" && strings.EqualFold(attr(n, "http-equiv"), "Content-Security-Policy") {
			csp = append(csp, attr(n, "content"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if len(csp) != 1 || csp[0] != want {
		t.Errorf("Content-Security-Policy %q, want [%q]", csp, want)
	}
	if !strings.Contains(out, "<script>"+script+"</script>") {
		t.Error("the script is not written verbatim: its hash would not match")
	}
}

// TestNoPaths renders an empty page that says so.
func TestNoPaths(t *testing.T) {
	out := render(t, nil)
	if !strings.Contains(out, "No escalation paths found.") || strings.Contains(out, "<svg") {
		t.Errorf("want a page with no drawing saying no paths were found:\n%s", out)
	}
	if p := parse(t, out); len(p.data.Paths) != 0 {
		t.Errorf("data holds %d paths", len(p.data.Paths))
	}
}

// TestLayout checks the layout's rules on the fixture: the paths' subjects
// start in column 0, the targets they end at share the last column, forward
// edges go right, columns do not overlap, and it is the same every time.
func TestLayout(t *testing.T) {
	ps := findPaths(t, "testdata/paths.yaml")
	g := Layout(ps)
	if !reflect.DeepEqual(g, Layout(ps)) {
		t.Fatal("two layouts of the same paths differ")
	}
	nodes := map[string]Node{}
	last := 0
	for _, n := range g.Nodes {
		nodes[n.ID] = n
		last = max(last, n.Col)
	}
	seen := map[[2]int]bool{}
	for _, n := range g.Nodes {
		if seen[[2]int{n.Col, n.Row}] {
			t.Errorf("two nodes at column %d row %d", n.Col, n.Row)
		}
		seen[[2]int{n.Col, n.Row}] = true
		if n.X+nodeW > g.Width || n.Y+nodeH > g.Height {
			t.Errorf("node %s (%d,%d) is outside the %dx%d drawing", n.ID, n.X, n.Y, g.Width, g.Height)
		}
	}
	for _, v := range g.Paths {
		if c := nodes[v.Nodes[len(v.Nodes)-1]].Col; c != last {
			t.Errorf("path %s ends in column %d, not the last (%d)", v.ID, c, last)
		}
	}
	for _, e := range g.Edges {
		if !e.Backward && nodes[e.To].Col <= nodes[e.From].Col {
			t.Errorf("edge %s goes from column %d to %d", e.ID, nodes[e.From].Col, nodes[e.To].Col)
		}
	}
	// the subjects of the fixture's paths that nothing reaches are in column 0
	for _, want := range []string{`User "dev"`, `Group "oncall"`, `Group "system:authenticated"`} {
		found := false
		for _, n := range g.Nodes {
			if n.Title == want {
				found = true
				if n.Col != 0 {
					t.Errorf("%s is in column %d", want, n.Col)
				}
			}
		}
		if !found {
			t.Errorf("%s is not drawn", want)
		}
	}
}

func TestCut(t *testing.T) {
	cases := []struct {
		name, in, want string
		n              int
	}{
		{"short", "abc", "abc", 5},
		{"exact", "abcde", "abcde", 5},
		{"long", "abcdefgh", "abcd…", 5},
		{"runes", "ééééééé", "éééé…", 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := cut(tc.in, tc.n); got != tc.want {
				t.Errorf("cut(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

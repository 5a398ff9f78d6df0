// Package htmlreport writes escalation paths as one self-contained HTML page:
// the graph drawn as SVG with a layered layout computed here (subjects left,
// targets right, edges labelled with the permission), each path listed hop by
// hop with its evidence, and a small inline script that highlights a path's
// nodes and edges. The page loads nothing: its Content-Security-Policy allows
// no source but its own inline style and the hash of its own script.
//
// Subject, binding and role names come from the cluster and may be written by
// an attacker: everything is written through html/template.
package htmlreport

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/kguard/kguard/internal/authz/paths"
)

//go:embed page.html.tmpl
var pageSource string

//go:embed page.js
var script string

// scriptHash is the CSP source of script, the only script the page may run.
var scriptHash = func() string {
	sum := sha256.Sum256([]byte(script))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}()

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"nodeW":      func() int { return nodeW },
	"nodeH":      func() int { return nodeH },
	"add":        func(a, b int) int { return a + b },
	"join":       func(s []string) string { return strings.Join(s, " ") },
	"upper":      strings.ToUpper,
	"severities": func() []string { return []string{"", "critical", "high", "info"} },
	"arrowFill":  arrowFill,
}).Parse(pageSource))

// arrowFill colours an edge's arrowhead: grey, or the highlighted path's severity.
func arrowFill(severity string) string {
	switch severity {
	case "critical":
		return "#b3001b"
	case "high":
		return "#d9480f"
	case "info":
		return "#1c7ed6"
	}
	return "#8a8f98"
}

// count is a severity's number of paths, for the summary line.
type count struct {
	Severity, Label string
	N               int
}

// data is what the page embeds as JSON for its script and for tools.
type data struct {
	Paths []PathView        `json:"paths"`
	Nodes map[string]string `json:"nodes"` // id: the subject in full
}

// Write writes the page for ps.
func Write(w io.Writer, ps []paths.Path) error {
	g := Layout(ps)
	d := data{Paths: g.Paths, Nodes: map[string]string{}}
	if d.Paths == nil {
		d.Paths = []PathView{}
	}
	for _, n := range g.Nodes {
		d.Nodes[n.ID] = n.Title
	}
	n := map[string]int{}
	for _, p := range ps {
		n[p.Severity.String()]++
	}
	var counts []count
	for _, s := range []paths.Severity{paths.Critical, paths.High, paths.Info} {
		counts = append(counts, count{Severity: s.String(), Label: strings.ToUpper(s.String()), N: n[s.String()]})
	}
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{
		"Graph":      g,
		"Counts":     counts,
		"Data":       d,
		"Script":     template.JS(script), // our own file, embedded: not input
		"ScriptHash": scriptHash,
	})
	if err != nil {
		return fmt.Errorf("writing the HTML page: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

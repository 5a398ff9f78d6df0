package htmlreport

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/kguard/kguard/internal/authz/paths"
)

// Geometry of the drawing, in SVG user units.
const (
	margin    = 24
	nodeW     = 190
	nodeH     = 40
	colStep   = nodeW + 170 // room between columns for an edge's label
	rowStep   = 68
	backDepth = 56 // how far below the lowest of its two nodes a backward edge dips
	nameChars = 26 // a node's name longer than this is cut (the full name is its <title>)
	edgeChars = 30 // likewise an edge's label
)

// Graph is the drawing of a set of paths: nodes in columns, edges between
// them, and each path as the ids of what it goes through.
type Graph struct {
	Width, Height int
	Nodes         []Node
	Edges         []Edge
	Paths         []PathView
}

// Node is a subject or a target drawn as a box.
type Node struct {
	ID       string
	Kind     string // "User", "Group", "ServiceAccount" or "Target"
	Name     string // shown, cut to nameChars
	Title    string // the subject in full
	Severity string // a target's severity; "" for others
	Col, Row int
	X, Y     int
}

// Edge is one distinct hop (from, to, action), drawn as a curve with the
// action as its label.
type Edge struct {
	ID       string
	From, To string // node ids
	Label    string // the action, cut to edgeChars
	Title    string // the action in full
	D        string // SVG path data
	LX, LY   int    // the label's anchor
	Backward bool   // drawn from right to left, below the nodes
}

// PathView is a path with the ids of its nodes and edges, in order.
type PathView struct {
	ID        string    `json:"id"`
	Severity  string    `json:"severity"`
	From      string    `json:"from"`
	Target    string    `json:"target"`
	Nodes     []string  `json:"nodes"`
	Edges     []string  `json:"edges"`
	Hops      []HopView `json:"hops"`
	FirstHops int       `json:"firstHops,omitempty"`
}

// HopView is a hop as the page lists it.
type HopView struct {
	Edge   string `json:"edge"` // the edge kind
	Action string `json:"action"`
	Why    string `json:"why,omitempty"` // evidence: binding -> role, notes, group
	To     string `json:"to"`
}

// kindRank orders the nodes of a column: users, groups, ServiceAccounts,
// then targets in report order.
func kindRank(s paths.Subject) int {
	switch s.Kind {
	case "User":
		return 0
	case "Group":
		return 1
	case "ServiceAccount":
		return 2
	}
	for i, t := range paths.Targets {
		if string(t) == s.Name {
			return 3 + i
		}
	}
	return 3 + len(paths.Targets)
}

// Layout places the paths' subjects and targets in columns: a node's column
// is the farthest hop distance at which a path meets it, and the targets
// paths end at share the last column. Rows are sorted by kind, then name.
// The result depends only on ps.
func Layout(ps []paths.Path) Graph {
	col := map[paths.Subject]int{}
	var order []paths.Subject // first seen, for stable iteration
	see := func(s paths.Subject, c int) {
		old, ok := col[s]
		if !ok {
			order = append(order, s)
		}
		if !ok || c > old {
			col[s] = c
		}
	}
	last := 0
	for _, p := range ps {
		see(p.From, 0)
		for i, h := range p.Hops {
			see(h.To, i+1)
			last = max(last, i+1)
		}
	}
	for _, p := range ps {
		if len(p.Hops) > 0 {
			col[p.Hops[len(p.Hops)-1].To] = last
		}
	}

	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if col[a] != col[b] {
			return col[a] < col[b]
		}
		if kindRank(a) != kindRank(b) {
			return kindRank(a) < kindRank(b)
		}
		return a.String() < b.String()
	})
	rows := make([]int, last+1)
	for _, s := range order {
		rows[col[s]]++
	}
	tallest := 0
	for _, r := range rows {
		tallest = max(tallest, r)
	}

	var g Graph
	ids := map[paths.Subject]*Node{}
	row := make([]int, last+1)
	for i, s := range order {
		c := col[s]
		n := Node{
			ID:    fmt.Sprintf("n%d", i),
			Kind:  s.Kind,
			Name:  cut(nodeName(s), nameChars),
			Title: s.String(),
			Col:   c,
			Row:   row[c],
			X:     margin + c*colStep,
			// centre each column on the tallest one
			Y: margin + (tallest-rows[c])*rowStep/2 + row[c]*rowStep,
		}
		if s.Kind == "Target" {
			n.Severity = paths.SeverityOf(paths.Target(s.Name)).String()
		}
		row[c]++
		g.Nodes = append(g.Nodes, n)
	}
	for i := range g.Nodes {
		ids[order[i]] = &g.Nodes[i]
	}

	type edgeKey struct {
		from, to paths.Subject
		action   string
	}
	edges := map[edgeKey]string{}
	pairs := map[[2]paths.Subject]int{} // edges already drawn between two nodes
	bottom := margin + tallest*rowStep
	for pi, p := range ps {
		v := PathView{
			ID:        fmt.Sprintf("p%d", pi),
			Severity:  p.Severity.String(),
			From:      p.From.String(),
			Target:    string(p.Target),
			Nodes:     []string{ids[p.From].ID},
			FirstHops: p.FirstHops,
		}
		at := p.From
		for _, h := range p.Hops {
			k := edgeKey{at, h.To, h.Action}
			id, ok := edges[k]
			if !ok {
				id = fmt.Sprintf("e%d", len(g.Edges))
				edges[k] = id
				pair := [2]paths.Subject{at, h.To}
				e := drawEdge(ids[at], ids[h.To], pairs[pair])
				pairs[pair]++
				e.ID, e.Label, e.Title = id, cut(h.Action, edgeChars), h.Action
				if e.Backward {
					bottom = max(bottom, max(ids[at].Y, ids[h.To].Y)+nodeH+backDepth+16)
				}
				g.Edges = append(g.Edges, e)
			}
			v.Nodes = append(v.Nodes, ids[h.To].ID)
			v.Edges = append(v.Edges, id)
			v.Hops = append(v.Hops, HopView{Edge: h.Edge, Action: h.Action, Why: h.Why(), To: h.To.String()})
			at = h.To
		}
		g.Paths = append(g.Paths, v)
	}
	g.Width = 2*margin + last*colStep + nodeW
	g.Height = bottom + margin
	return g
}

// drawEdge is the curve from u to v, the nth between them: forward edges
// leave u's right side for v's left; backward ones (v not right of u) dip
// below both nodes.
func drawEdge(u, v *Node, nth int) Edge {
	e := Edge{From: u.ID, To: v.ID}
	if v.Col > u.Col {
		x1, y1 := u.X+nodeW, u.Y+nodeH/2
		x2, y2 := v.X, v.Y+nodeH/2
		dx := (x2 - x1) / 2
		e.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1+dx, y1, x2-dx, y2, x2, y2)
		// the label sits in the gap right of u, where the curve crosses its middle,
		// so that an edge spanning columns does not write over the boxes between
		lx := x1 + (colStep-nodeW)/2
		e.LX, e.LY = lx, yAt(float64(lx), [4][2]float64{{float64(x1), float64(y1)}, {float64(x1 + dx), float64(y1)}, {float64(x2 - dx), float64(y2)}, {float64(x2), float64(y2)}})-4+nth*14
		return e
	}
	e.Backward = true
	x1, y1 := u.X+nodeW/2, u.Y+nodeH
	x2, y2 := v.X+nodeW/2+12, v.Y+nodeH
	low := max(y1, y2) + backDepth + nth*14
	e.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1, low, x2, low, x2, y2)
	e.LX, e.LY = (x1+x2)/2, (y1+y2+6*low)/8+12
	return e
}

// yAt is the y of the cubic Bézier c where its x is x, for a curve whose x
// grows with t (as forward edges' do), found by bisection.
func yAt(x float64, c [4][2]float64) int {
	at := func(t float64, i int) float64 {
		u := 1 - t
		return u*u*u*c[0][i] + 3*u*u*t*c[1][i] + 3*u*t*t*c[2][i] + t*t*t*c[3][i]
	}
	lo, hi := 0.0, 1.0
	for range 40 {
		mid := (lo + hi) / 2
		if at(mid, 0) < x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return int(math.Round(at((lo+hi)/2, 1)))
}

// nodeName is what a node's box shows under its kind.
func nodeName(s paths.Subject) string {
	if s.Kind == "ServiceAccount" {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

// cut shortens s to n runes, ending with an ellipsis when cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

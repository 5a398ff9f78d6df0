package paths

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/policy"
)

// Result is what Find found.
type Result struct {
	Paths []Path
	// Warnings are what the graph left out: bindings to missing roles,
	// workloads that do not decode.
	Warnings []string
	// Refused are the grants to create pods that admission keeps from node
	// root (with an Admitter), one per subject and namespace, of the
	// subjects Find would report.
	Refused []Refusal
}

// Find returns a shortest path from every subject to every target it
// reaches (or those of o), sorted by severity (highest first), source and
// target. It searches backwards from each target once (a 0-1 breadth-first
// search: membership and fan-out steps cost nothing), so its cost is the
// graph's size times the number of targets, whatever the number of subjects.
// Without o.From, a subject that reaches a target only through a group it is
// in is left out: the group's path is reported.
func Find(s *policy.Set, o Options) (*Result, error) {
	if o.To != "" {
		if _, err := ParseTarget(string(o.To)); err != nil {
			return nil, err
		}
	}
	g, err := build(s, o)
	if err != nil {
		return nil, err
	}
	targets := Targets
	if o.To != "" {
		targets = []Target{o.To}
	}
	searches := make(map[Target]*search, len(targets))
	for _, t := range targets {
		searches[t] = g.searchFrom(g.target(t))
	}
	sources := g.sources(o)
	res := &Result{Warnings: g.warnings}
	for _, r := range g.refused {
		if o.IncludeSystem || !g.builtIn(r.from) {
			res.Refused = append(res.Refused, r.Refusal)
		}
	}
	for _, src := range sources {
		reached := map[Target]bool{}
		for _, t := range targets {
			reached[t] = searches[t].dist[src] >= 0
		}
		for _, t := range targets {
			if !reached[t] || (o.To == "" && dominated(t, reached)) {
				continue
			}
			sr := searches[t]
			hops := g.hopsOf(sr, src)
			if o.From == nil && len(hops) > 0 && hops[0].Via != "" {
				continue // reported once, as the group's
			}
			res.Paths = append(res.Paths, Path{
				Severity: SeverityOf(t), From: g.nodes[src].subject(), Target: t,
				Hops: hops, FirstHops: g.firstHops(sr, src),
			})
		}
	}
	// Sources and targets are already in order: a stable sort keeps it.
	sort.SliceStable(res.Paths, func(i, j int) bool { return res.Paths[i].Severity > res.Paths[j].Severity })
	return res, nil
}

// dominated reports whether a reached target implies t.
func dominated(t Target, reached map[Target]bool) bool {
	for d, ts := range dominates {
		if reached[d] && slices.Contains(ts, t) {
			return true
		}
	}
	return false
}

// search is a backward search from a target: each node's distance to it
// (-1 unreachable) and the edge that begins a shortest path.
type search struct {
	dist []int32
	next []int32
}

// searchFrom runs a 0-1 breadth-first search over the edges reversed.
func (g *graph) searchFrom(target int32) *search {
	n := len(g.nodes)
	s := &search{dist: make([]int32, n), next: make([]int32, n)}
	for i := range s.dist {
		s.dist[i] = -1
		s.next[i] = -1
	}
	s.dist[target] = 0
	// A deque as a slice with a moving head: weight-0 steps go to the front.
	deque := make([]int32, 0, n)
	front := make([]int32, 0)
	deque = append(deque, target)
	head := 0
	for len(front) > 0 || head < len(deque) {
		var u int32
		if len(front) > 0 {
			u = front[len(front)-1]
			front = front[:len(front)-1]
		} else {
			u = deque[head]
			head++
		}
		for _, ei := range g.in[g.inStart[u]:g.inStart[u+1]] {
			e := g.edges[ei]
			d := s.dist[u] + int32(e.w)
			if s.dist[e.from] >= 0 && s.dist[e.from] <= d {
				continue
			}
			s.dist[e.from] = d
			s.next[e.from] = ei
			if e.w == 0 {
				front = append(front, e.from)
			} else {
				deque = append(deque, e.from)
			}
		}
	}
	return s
}

// sources are the subjects paths start from, in order: users, groups,
// ServiceAccounts, each by name.
func (g *graph) sources(o Options) []int32 {
	var out []int32
	if o.From != nil {
		if o.From.Group {
			return []int32{g.index[node{kind: kGroup, name: o.From.Name}]}
		}
		if ns, name, err := serviceaccount.SplitUsername(o.From.Name); err == nil {
			return []int32{g.index[node{kind: kSA, ns: ns, name: name}]}
		}
		return []int32{g.index[node{kind: kUser, name: o.From.Name}]}
	}
	for i, n := range g.nodes {
		if n.kind > kSA || (!o.IncludeSystem && g.builtIn(int32(i))) {
			continue
		}
		out = append(out, int32(i))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := g.nodes[out[i]], g.nodes[out[j]]
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.ns != b.ns {
			return a.ns < b.ns
		}
		return a.name < b.name
	})
	return out
}

// broad are the system groups and users that stand for many people.
var broad = map[string]bool{
	user.AllAuthenticated: true, user.AllUnauthenticated: true, user.Anonymous: true,
	serviceaccount.AllServiceAccountsGroup: true,
}

// builtIn reports whether a subject is Kubernetes' own (see Options.IncludeSystem).
func (g *graph) builtIn(i int32) bool {
	n := g.nodes[i]
	if n.kind == kSA {
		return g.system[i] && !g.own[i]
	}
	if broad[n.name] || strings.HasPrefix(n.name, serviceaccount.ServiceAccountGroupPrefix) {
		return false
	}
	return strings.HasPrefix(n.name, "system:")
}

// hopsOf follows a search's edges from src to its target, folding
// memberships into the next hop's Via and fan-outs into the hop before.
func (g *graph) hopsOf(s *search, src int32) []Hop {
	var out []Hop
	via := ""
	for u := src; s.next[u] >= 0; {
		e := g.edges[s.next[u]]
		u = e.to
		if e.hop < 0 { // fan-out: the previous hop reaches further
			if !g.nodes[u].fanout() {
				out[len(out)-1].To = g.nodes[u].subject()
			}
			continue
		}
		h := g.hops[e.hop]
		if h.member != "" {
			via = h.member
			continue
		}
		hop := Hop{Edge: h.kind, Action: h.action, Evidence: h.evidence, Via: via}
		via = ""
		if !g.nodes[u].fanout() {
			hop.To = g.nodes[u].subject()
		}
		out = append(out, hop)
	}
	return out
}

// firstHops counts the distinct nodes a shortest path may go to first.
func (g *graph) firstHops(s *search, src int32) int {
	seen := map[int32]bool{}
	for _, ei := range g.out[g.outStart[src]:g.outStart[src+1]] {
		e := g.edges[ei]
		if s.dist[e.to] >= 0 && s.dist[e.to]+int32(e.w) == s.dist[src] {
			seen[e.to] = true
		}
	}
	return len(seen)
}

// ParseSource reads a --from subject: "group:NAME" is a group, anything else
// a user name (system:serviceaccount:NS:NAME for a ServiceAccount), given
// with its groups.
func ParseSource(s string, groups []string) (*Source, error) {
	if s == "" {
		return nil, fmt.Errorf("empty subject (e.g. jane, group:devs, system:serviceaccount:ci:deployer)")
	}
	if name, ok := strings.CutPrefix(s, "group:"); ok {
		if name == "" || len(groups) > 0 {
			return nil, fmt.Errorf("a group subject names one group and has no groups: %q (e.g. group:devs)", s)
		}
		return &Source{Group: true, Name: name}, nil
	}
	return &Source{Name: s, Groups: groups}, nil
}

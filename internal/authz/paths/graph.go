package paths

import (
	"fmt"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/policy"
)

// nodeKind is what a node of the graph stands for. The kinds after kTarget
// are fan-out nodes, never shown: a hop into one goes on to a member.
type nodeKind uint8

const (
	kUser nodeKind = iota
	kGroup
	kSA
	kTarget
	kAllSAs       // every ServiceAccount
	kNamespaceSAs // every ServiceAccount of ns
	kPodSAs       // the ServiceAccounts of the pods of ns ("" every namespace)
	kAllUsers
	kAllGroups
	kNamedSAs         // the ServiceAccounts named name, of every namespace
	kGroupsButMasters // every group but system:masters
)

type node struct {
	kind     nodeKind
	ns, name string
}

func (n node) fanout() bool { return n.kind > kTarget }

func (n node) subject() Subject {
	switch n.kind {
	case kUser:
		return Subject{Kind: rbacv1.UserKind, Name: n.name}
	case kGroup:
		return Subject{Kind: rbacv1.GroupKind, Name: n.name}
	case kSA:
		return Subject{Kind: rbacv1.ServiceAccountKind, Namespace: n.ns, Name: n.name}
	}
	return Subject{Kind: "Target", Name: n.name}
}

// edge is a step of weight w (0 for membership and fan-out); hop indexes
// graph.hops, -1 for a fan-out edge.
type edge struct {
	from, to int32
	w        uint8
	hop      int32
}

// hopInfo is what an edge says when a path takes it. member is set on an
// edge from a subject to a group it belongs to.
type hopInfo struct {
	kind, action string
	evidence     Evidence
	member       string
}

// graph is built once; the adjacency lists are index ranges into edge
// slices (in and out), sorted by node.
type graph struct {
	nodes []node
	index map[node]int32
	edges []edge
	hops  []hopInfo

	outStart, inStart []int32
	out, in           []int32 // edge indexes

	// own marks subjects named by a binding that is not a Kubernetes
	// default, system those named only by defaults.
	own, system map[int32]bool
	warnings    []string
	// refused are the pod grants admission keeps from node root, in the
	// order found, one per subject and namespace.
	refused []refusal
}

type refusal struct {
	Refusal
	from int32
}

func (g *graph) node(n node) int32 {
	if i, ok := g.index[n]; ok {
		return i
	}
	i := int32(len(g.nodes))
	g.nodes = append(g.nodes, n)
	g.index[n] = i
	return i
}

func (g *graph) target(t Target) int32 { return g.node(node{kind: kTarget, name: string(t)}) }

func (g *graph) addHop(h hopInfo) int32 {
	g.hops = append(g.hops, h)
	return int32(len(g.hops) - 1)
}

func (g *graph) link(from, to int32, w uint8, hop int32) {
	g.edges = append(g.edges, edge{from: from, to: to, w: w, hop: hop})
}

// builder holds what building needs and the graph does not.
type builder struct {
	*graph
	pods     []Pod
	podsByNS map[string][]Pod
	admitter PodAdmitter
	matched  map[rulesKey][]kindGrant
	// refusedSeen dedupes refusals.
	refusedSeen map[refusedKey]bool
}

// build makes the graph of a set's RBAC objects, ServiceAccounts and pods;
// from, when given, is added as a subject.
func build(s *policy.Set, o Options) (*graph, error) {
	kinds, err := EdgeKinds()
	if err != nil {
		return nil, err
	}
	g := &graph{index: map[node]int32{}, own: map[int32]bool{}, system: map[int32]bool{}}
	b := &builder{graph: g, podsByNS: map[string][]Pod{}, admitter: o.Admitter, matched: map[rulesKey][]kindGrant{}, refusedSeen: map[refusedKey]bool{}}
	for _, t := range Targets {
		g.target(t)
	}
	grants, warnings := rbac.Grants(s)
	g.warnings = append(g.warnings, warnings...)
	var podWarnings []string
	b.pods, podWarnings = PodsOf(s)
	g.warnings = append(g.warnings, podWarnings...)
	b.serviceAccounts(s, grants)
	b.implications()

	var found []foundHop
	lastBinding := ""
	for i := range grants {
		gr := &grants[i]
		ns, ok := rbac.SubjectNamespace(gr.Subject, gr.BindingNamespace)
		if !ok {
			continue // matches nobody, as in the authorizer
		}
		from := b.subjectNode(gr.Subject.Kind, ns, gr.Subject.Name)
		if gr.Labels["kubernetes.io/bootstrapping"] == "rbac-defaults" {
			g.system[from] = true
		} else {
			g.own[from] = true
		}
		if key := gr.BindingKind + "/" + gr.BindingNamespace + "/" + gr.BindingName; key != lastBinding {
			lastBinding = key
			found = b.find(kinds, gr)
		}
		for _, f := range found {
			b.grant(from, f)
		}
	}
	if o.From != nil {
		b.source(o.From)
	}
	b.namedSAs()
	b.memberships()
	g.adjacency()
	return g, nil
}

// foundHop is a grant of an edge kind with its evidence recorded.
type foundHop struct {
	Grant
	hop int32
}

// find runs every edge kind over one binding's rules.
func (b *builder) find(kinds []*EdgeKind, gr *rbac.Grant) []foundHop {
	binding := &Ref{Kind: gr.BindingKind, Namespace: gr.BindingNamespace, Name: gr.BindingName}
	role := &Ref{Kind: gr.RoleKind, Name: gr.RoleName}
	if gr.RoleKind == "Role" {
		role.Namespace = gr.BindingNamespace
	}
	var out []foundHop
	for _, h := range b.grantsOf(kinds, gr) {
		if gr.Namespace != "" {
			h.Action += fmt.Sprintf(" in namespace %q", gr.Namespace)
			if h.To.Namespace == anyNamespace {
				h.To.Namespace = gr.Namespace
			}
		}
		ev := Evidence{Binding: binding, Role: role, Rule: h.Rule}
		out = append(out, foundHop{Grant: h.Grant, hop: b.addHop(hopInfo{kind: h.kind, action: h.Action, evidence: ev})})
	}
	return out
}

// anyNamespace stands for a RoleBinding's namespace while a role's rules are
// matched: the rules match alike in every namespace, so a ClusterRole that
// thousands of RoleBindings name is matched once.
const anyNamespace = "\x00namespace"

// kindGrant is a grant with the edge kind that found it.
type kindGrant struct {
	Grant
	kind string
}

// grantsOf runs every edge kind over a binding's rules, once per role and
// scope (cluster-wide or namespaced).
func (b *builder) grantsOf(kinds []*EdgeKind, gr *rbac.Grant) []kindGrant {
	if len(gr.Rules) == 0 {
		return nil
	}
	key := rulesKey{first: &gr.Rules[0], n: len(gr.Rules), namespaced: gr.Namespace != ""}
	if out, ok := b.matched[key]; ok {
		return out
	}
	sc := Scope{}
	if key.namespaced {
		sc.Namespace = anyNamespace
	}
	var out []kindGrant
	for _, k := range kinds {
		for _, h := range k.Find(sc, gr.Rules) {
			if k.ID == wildcardID {
				// Everything else this role grants follows from cluster-admin:
				// the path names the wildcard rather than bind, csr...
				out = []kindGrant{{Grant: h, kind: k.ID}}
				b.matched[key] = out
				return out
			}
			out = append(out, kindGrant{Grant: h, kind: k.ID})
		}
	}
	b.matched[key] = out
	return out
}

// rulesKey identifies a role's rules (resolution shares one slice among
// the bindings of a role) and the scope they are matched in.
type rulesKey struct {
	first      *rbacv1.PolicyRule
	n          int
	namespaced bool
}

// grant links a subject to where a hop leads.
func (b *builder) grant(from int32, f foundHop) {
	d := f.To
	var to int32
	switch d.Kind {
	case ToTarget:
		to = b.target(Target(d.Name))
	case ToAllSAs:
		to = b.node(node{kind: kAllSAs})
	case ToNamespaceSAs:
		to = b.namespaceSAs(d.Namespace)
	case ToSA:
		to = b.sa(d.Namespace, d.Name)
	case ToPodSAs:
		to = b.podSAs(d.Namespace, d.Name)
	case ToRootPod:
		for _, p := range b.pods {
			if (d.Namespace == "" || p.Namespace == d.Namespace) && (d.Name == "" || p.Name == d.Name) && p.Root != "" {
				// The note does not depend on the subject: one per binding's hop.
				b.hops[f.hop].evidence.Note = fmt.Sprintf("pod %s/%s: %s", p.Namespace, p.Name, p.Root)
				b.link(from, b.target(Nodes), 1, f.hop)
				return
			}
		}
		return
	case ToNamedSAs:
		to = b.node(node{kind: kNamedSAs, name: d.Name})
	case ToGroupsButMasters:
		to = b.node(node{kind: kGroupsButMasters})
	case ToUser:
		to = b.node(node{kind: kAllUsers})
		if d.Name != "" {
			to = b.node(node{kind: kUser, name: d.Name})
		}
	case ToGroup:
		to = b.node(node{kind: kAllGroups})
		if d.Name != "" {
			to = b.node(node{kind: kGroup, name: d.Name})
		}
	case ToPrivilegedPod:
		hop := f.hop
		if b.admitter != nil {
			ok, why := b.admitter.MayRunPrivileged(b.nodes[from].subject(), d.Namespace)
			if !ok {
				b.refuse(from, d.Namespace, f.hop, why)
				return
			}
			h := b.hops[f.hop]
			h.evidence.Note = why
			hop = b.addHop(h)
		} else if b.hops[hop].evidence.Note == "" {
			b.hops[hop].evidence.Note = "no admission policy given: a privileged pod is admitted"
		}
		b.link(from, b.target(Nodes), 1, hop)
		return
	}
	b.link(from, to, 1, f.hop)
}

// refuse records that admission keeps a pod grant from node root, once per
// subject and namespace.
func (b *builder) refuse(from int32, ns string, hop int32, why string) {
	k := refusedKey{from, ns}
	if b.refusedSeen[k] {
		return
	}
	b.refusedSeen[k] = true
	h := b.hops[hop]
	ev := h.evidence
	ev.Note = why
	b.refused = append(b.refused, refusal{Refusal: Refusal{Subject: b.nodes[from].subject(), Namespace: ns, Action: h.action, Evidence: ev}, from: from})
}

type refusedKey struct {
	from int32
	ns   string
}

// subjectNode is the node of a binding's subject; a User named
// system:serviceaccount:NS:NAME is that ServiceAccount.
func (b *builder) subjectNode(kind, ns, name string) int32 {
	switch kind {
	case rbacv1.ServiceAccountKind:
		return b.sa(ns, name)
	case rbacv1.GroupKind:
		return b.node(node{kind: kGroup, name: name})
	}
	if sns, sname, err := serviceaccount.SplitUsername(name); err == nil {
		return b.sa(sns, sname)
	}
	return b.node(node{kind: kUser, name: name})
}

// sa is a ServiceAccount's node, a member of its namespace's fan-out.
func (b *builder) sa(ns, name string) int32 {
	n := node{kind: kSA, ns: ns, name: name}
	if i, ok := b.index[n]; ok {
		return i
	}
	i := b.node(n)
	b.link(b.namespaceSAs(ns), i, 0, -1)
	return i
}

func (b *builder) namespaceSAs(ns string) int32 {
	n := node{kind: kNamespaceSAs, ns: ns}
	if i, ok := b.index[n]; ok {
		return i
	}
	i := b.node(n)
	b.link(b.node(node{kind: kAllSAs}), i, 0, -1)
	b.sa(ns, "default") // every namespace has one
	return i
}

// podSAs fans out to the ServiceAccounts of the pods of ns (every namespace
// for "") named name (any for ""), or to every ServiceAccount there when no
// pod of ns is known.
func (b *builder) podSAs(ns, name string) int32 {
	n := node{kind: kPodSAs, ns: ns, name: name}
	if i, ok := b.index[n]; ok {
		return i
	}
	i := b.node(n)
	known := false
	seen := map[int32]bool{}
	for _, p := range b.pods {
		if ns != "" && p.Namespace != ns {
			continue
		}
		known = true
		if name != "" && p.Name != name {
			continue
		}
		if sa := b.sa(p.Namespace, p.ServiceAccount); !seen[sa] {
			seen[sa] = true
			b.link(i, sa, 0, -1)
		}
	}
	if !known {
		all := b.node(node{kind: kAllSAs})
		if ns != "" {
			all = b.namespaceSAs(ns)
		}
		b.link(i, all, 0, -1)
	}
	return i
}

// serviceAccounts adds every ServiceAccount the set knows of, sorted: its
// objects, the bindings' subjects, the pods', and every namespace's default.
func (b *builder) serviceAccounts(s *policy.Set, grants []rbac.Grant) {
	type key struct{ ns, name string }
	var all []key
	add := func(ns, name string) {
		if ns != "" && name != "" {
			all = append(all, key{ns, name})
		}
	}
	for _, sa := range s.ServiceAccounts {
		add(sa.Namespace, sa.Name)
	}
	for _, n := range s.Namespaces {
		add(n.Name, "default")
	}
	for _, rb := range s.RoleBindings {
		add(rb.Namespace, "default")
	}
	for i := range grants {
		if ns, ok := rbac.SubjectNamespace(grants[i].Subject, grants[i].BindingNamespace); ok && grants[i].Subject.Kind == rbacv1.ServiceAccountKind {
			add(ns, grants[i].Subject.Name)
		}
	}
	for _, p := range b.pods {
		add(p.Namespace, p.ServiceAccount)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].ns != all[j].ns {
			return all[i].ns < all[j].ns
		}
		return all[i].name < all[j].name
	})
	for _, k := range all {
		b.sa(k.ns, k.name)
	}
}

// implications are the edges between targets: cluster-admin can do what
// each target stands for; every secret and node root give tokens, and
// tokens give every ServiceAccount.
func (b *builder) implications() {
	admin := Evidence{Note: "cluster-admin holds every permission"}
	for _, h := range []struct {
		from, to Target
		action   string
		evidence Evidence
	}{
		{ClusterAdmin, Secrets, "read every secret", admin},
		{ClusterAdmin, Nodes, "run a privileged pod on any node", admin},
		{ClusterAdmin, Tokens, "create serviceaccounts/token", admin},
		{ClusterAdmin, Traffic, "write a Service's status", admin},
		{Secrets, Tokens, "read the ServiceAccount token Secrets", Evidence{Note: "token Secrets hold ServiceAccount tokens"}},
		{Nodes, Tokens, "read the tokens of the node's pods", Evidence{Note: "a node holds the tokens of the pods it runs; with any node, the pods of every namespace"}},
	} {
		b.link(b.target(h.from), b.target(h.to), 1, b.addHop(hopInfo{kind: "implied", action: h.action, evidence: h.evidence}))
	}
	b.link(b.target(Tokens), b.node(node{kind: kAllSAs}), 1, b.addHop(hopInfo{kind: "token", action: "use the token"}))
}

// namedSAs links each fan-out to the ServiceAccounts of a name to those of
// that name the graph knows, in any namespace, once every ServiceAccount
// has its node.
func (b *builder) namedSAs() {
	byName := map[string][]int32{}
	for i, n := range b.nodes {
		if n.kind == kSA {
			byName[n.name] = append(byName[n.name], int32(i))
		}
	}
	for i, n := range b.nodes {
		if n.kind == kNamedSAs {
			for _, sa := range byName[n.name] {
				b.link(int32(i), sa, 0, -1)
			}
		}
	}
}

// source adds the subject of Options.From with its groups.
func (b *builder) source(src *Source) {
	if src.Group {
		b.node(node{kind: kGroup, name: src.Name})
		return
	}
	from := b.subjectNode(rbacv1.UserKind, "", src.Name)
	for _, grp := range src.Groups {
		if i, ok := b.index[node{kind: kGroup, name: grp}]; ok {
			b.link(from, i, 0, b.addHop(hopInfo{kind: "member", member: grp}))
		}
	}
}

// memberships link users and ServiceAccounts to the groups every
// authenticated one is in: system:authenticated (system:unauthenticated for
// system:anonymous), system:serviceaccounts and system:serviceaccounts:NS.
// Impersonating any user or group reaches every user or group known (a
// client certificate every group but system:masters).
func (b *builder) memberships() {
	memberHops := map[string]int32{}
	member := func(from int32, grp string) {
		i, ok := b.index[node{kind: kGroup, name: grp}]
		if !ok {
			return
		}
		h, ok := memberHops[grp]
		if !ok {
			h = b.addHop(hopInfo{kind: "member", member: grp})
			memberHops[grp] = h
		}
		b.link(from, i, 0, h)
	}
	var users, groups []int32
	for i := range b.nodes {
		n := b.nodes[i]
		switch n.kind {
		case kUser:
			users = append(users, int32(i))
			if n.name == user.Anonymous {
				member(int32(i), user.AllUnauthenticated)
			} else {
				member(int32(i), user.AllAuthenticated)
			}
		case kGroup:
			groups = append(groups, int32(i))
		case kSA:
			member(int32(i), user.AllAuthenticated)
			member(int32(i), serviceaccount.AllServiceAccountsGroup)
			member(int32(i), serviceaccount.MakeNamespaceGroupName(n.ns))
		}
	}
	if i, ok := b.index[node{kind: kAllUsers}]; ok {
		for _, u := range users {
			b.link(i, u, 0, -1)
		}
	}
	if i, ok := b.index[node{kind: kAllGroups}]; ok {
		for _, grp := range groups {
			b.link(i, grp, 0, -1)
		}
	}
	if i, ok := b.index[node{kind: kGroupsButMasters}]; ok {
		for _, grp := range groups {
			if b.nodes[grp].name != user.SystemPrivilegedGroup {
				b.link(i, grp, 0, -1)
			}
		}
	}
}

// adjacency indexes the edges by source and by destination, in the order
// they were added, so that searches are deterministic.
func (g *graph) adjacency() {
	n := len(g.nodes)
	g.outStart, g.out = index(n, g.edges, func(e edge) int32 { return e.from })
	g.inStart, g.in = index(n, g.edges, func(e edge) int32 { return e.to })
}

func index(n int, edges []edge, key func(edge) int32) (start, list []int32) {
	start = make([]int32, n+1)
	for _, e := range edges {
		start[key(e)+1]++
	}
	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	list = make([]int32, len(edges))
	next := append([]int32(nil), start[:n]...)
	for i, e := range edges {
		k := key(e)
		list[next[k]] = int32(i)
		next[k]++
	}
	return start, list
}

package main

import (
	"fmt"
	"math/rand/v2"
)

// The generated cluster ("world"). Generation (-generate) writes it; the load
// uses the same conventions to build requests whose decision it knows, so a
// wrong answer is reported as an error, not only counted.
//
//   - 1,000 namespaces ns-0000..ns-0999; 100 teams team-000..team-099 own 10 each.
//   - Namespace n has two members: its admin user-(2n) and its developer user-(2n+1).
//   - 10 RoleBindings per namespace (10,000):
//     admin (kguard-load:admin → admin), dev (kguard-load:edit → developer),
//     team-view (kguard-load:view → the team group), ci (kguard-load:edit → SA ci),
//     psp-default (psp-use:restricted → group system:serviceaccounts:ns; absent in
//     10% of the namespaces, replaced by a contractor's view binding),
//     psp-team (psp-use:group-NN → admin and developer: baseline-defaults and 9
//     tenant policies), neighbour (view → the admin of the next namespace;
//     config-reader Role in every 4th namespace) and 3 extra bindings (custom
//     ClusterRoles that never touch pods, secrets or RBAC → on-call groups,
//     view → contractors ext-user-NNNN).
//   - 250 Roles, 157 ClusterRoles, 107 ClusterRoleBindings.
//   - 500 PodSecurityPolicies (-psps): baseline-defaults (mutating; admits the
//     load's plain pod), privileged (platform-admins only), restricted (admits
//     the load's web pod, adding only the seccomp annotation) and 497
//     tenant-NNN policies of 5 flavours; only flavour 4 admits the web pod
//     (with SELinux and AppArmor defaults).
//   - Namespaces: enforce baseline (30%), restricted (30%) or no level; warn
//     restricted on half of the others.
const (
	numNamespaces   = 1000
	namespacesTeam  = 10
	numTeams        = numNamespaces / namespacesTeam
	bindingsPerNS   = 10
	defaultPSPs     = 500 // -psps: 3 cluster-wide policies and the tenants'
	numPSPGroups    = 50
	tenantsPerGroup = 9
	numCustomRoles  = 100
	numOncall       = 20
	numContractors  = 500
	roleEvery       = 4 // a config-reader Role in every 4th namespace
)

type world struct {
	seed       uint64
	tenants    int      // tenant policies
	enforce    []string // "", "baseline" or "restricted"
	warn       []string // "" or "restricted"
	defaultPSP []bool   // psp-default binding present
	pspGroup   []int    // psp-use:group-NN bound in the namespace
	extra      [][3]extraBinding
	customRole [numCustomRoles][]rule
	// pspGroups[g] are the tenant policies (indexes) of psp-use:group-g.
	pspGroups [numPSPGroups][]int
}

type extraBinding struct {
	role    string // ClusterRole
	subject string // kind/name
}

type rule struct {
	groups, resources, verbs []string
}

func ns(n int) string        { return fmt.Sprintf("ns-%04d", n) }
func adminUser(n int) string { return fmt.Sprintf("user-%04d", 2*n) }
func devUser(n int) string   { return fmt.Sprintf("user-%04d", 2*n+1) }
func team(n int) string      { return fmt.Sprintf("team-%03d", n/namespacesTeam) }
func tenantPSP(i int) string { return fmt.Sprintf("tenant-%03d", i) }
func saGroup(n int) string   { return "system:serviceaccounts:" + ns(n) }

// The custom ClusterRoles only read (and write ConfigMaps): they never change
// a decision the load checks.
var customPool = []rule{
	{[]string{""}, []string{"configmaps"}, []string{"get", "list", "watch"}},
	{[]string{""}, []string{"services", "endpoints"}, []string{"get", "list"}},
	{[]string{"apps"}, []string{"deployments", "statefulsets"}, []string{"get", "list", "watch"}},
	{[]string{"batch"}, []string{"jobs", "cronjobs"}, []string{"get", "list"}},
	{[]string{""}, []string{"events"}, []string{"list", "watch"}},
	{[]string{"networking.k8s.io"}, []string{"ingresses", "networkpolicies"}, []string{"get", "list"}},
	{[]string{""}, []string{"configmaps"}, []string{"create", "update", "patch"}},
	{[]string{"autoscaling"}, []string{"horizontalpodautoscalers"}, []string{"get", "list", "watch"}},
	{[]string{"policy"}, []string{"poddisruptionbudgets"}, []string{"get", "list"}},
	{[]string{"coordination.k8s.io"}, []string{"leases"}, []string{"get", "list", "watch"}},
}

// newWorld builds the world of seed with psps PodSecurityPolicies (at least 13).
func newWorld(seed uint64, psps int) *world {
	r := rand.New(rand.NewPCG(seed, 0x6b6775617264))
	w := &world{seed: seed, tenants: psps - 3,
		enforce: make([]string, numNamespaces), warn: make([]string, numNamespaces),
		defaultPSP: make([]bool, numNamespaces), pspGroup: make([]int, numNamespaces),
		extra: make([][3]extraBinding, numNamespaces)}
	for n := range numNamespaces {
		switch p := r.IntN(10); {
		case p < 3:
			w.enforce[n] = "baseline"
		case p < 6:
			w.enforce[n] = "restricted"
		}
		if w.enforce[n] != "restricted" && r.IntN(2) == 0 {
			w.warn[n] = "restricted"
		}
		w.defaultPSP[n] = r.IntN(10) != 0
		w.pspGroup[n] = r.IntN(numPSPGroups)
		for k := range 3 {
			if r.IntN(2) == 0 {
				w.extra[n][k] = extraBinding{fmt.Sprintf("custom-%03d", r.IntN(numCustomRoles)), fmt.Sprintf("Group/oncall-%02d", r.IntN(numOncall))}
			} else {
				w.extra[n][k] = extraBinding{"kguard-load:view", fmt.Sprintf("User/ext-user-%04d", r.IntN(numContractors))}
			}
		}
	}
	for i := range numCustomRoles {
		k := 1 + r.IntN(3)
		for _, j := range r.Perm(len(customPool))[:k] {
			w.customRole[i] = append(w.customRole[i], customPool[j])
		}
	}
	for g := range numPSPGroups {
		for _, t := range r.Perm(w.tenants)[:tenantsPerGroup] {
			w.pspGroups[g] = append(w.pspGroups[g], t)
		}
	}
	return w
}

package paths

import rbacv1 "k8s.io/api/rbac/v1"

var (
	podExec = request{verb: "create", resource: "pods", sub: "exec"}
	// podEntries are the requests that run a command in a running pod.
	podEntries = []request{
		podExec,
		{verb: "create", resource: "pods", sub: "attach"},
		{verb: "update", resource: "pods", sub: "ephemeralcontainers"},
		{verb: "patch", resource: "pods", sub: "ephemeralcontainers"},
	}
)

func init() {
	addEdge(&EdgeKind{
		ID: "exec",
		Primitive: "create pods/exec or pods/attach, or update pods/ephemeralcontainers: run commands in a running pod and read its ServiceAccount token; " +
			"exec into a privileged, hostPID or host-root-mounting pod is root on its node",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			var out []Grant
			if rule, r := firstRule(sc, rules, podEntries...); rule != nil {
				out = append(out, Grant{Action: r.what(), Rule: rule, To: Dest{Kind: ToPodSAs, Namespace: sc.Namespace}})
			} else {
				// The pod's name is in the URL, so resourceNames limit these
				// to the pods they name; each named pod's token is read.
				seen := map[string]bool{}
				for i := range rules {
					for _, r := range podEntries {
						_, names := r.names(sc, &rules[i])
						for _, n := range names {
							if !seen[n] {
								seen[n] = true
								out = append(out, Grant{Action: r.what() + " " + n, Rule: &rules[i], To: Dest{Kind: ToPodSAs, Namespace: sc.Namespace, Name: n}})
							}
						}
					}
				}
			}
			// A shell in a privileged container nsenters the node's PID 1
			// (and hostPID or a hostPath of / give the node's processes or
			// files): no admission plugin judges exec by default
			// (DenyEscalatingExec is gone upstream; kguard has one).
			if rule, _ := firstRule(sc, rules, podExec); rule != nil {
				return append(out, Grant{Action: podExec.what() + " (a pod that is node root)", Rule: rule, To: Dest{Kind: ToRootPod, Namespace: sc.Namespace}})
			}
			for i := range rules {
				_, names := podExec.names(sc, &rules[i])
				for _, n := range names {
					out = append(out, Grant{Action: podExec.what() + " " + n + " (a pod that is node root)", Rule: &rules[i], To: Dest{Kind: ToRootPod, Namespace: sc.Namespace, Name: n}})
				}
			}
			return out
		},
	})
}

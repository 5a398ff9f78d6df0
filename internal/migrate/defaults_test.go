package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// The Defaults attack: whatever field a policy's mutation sets on a random
// pod it admits must be listed in the plan's Defaults, or users who migrate
// lose it silently. Paths are compared with container kinds, indexes and
// container names abstracted (the probes have one container "c"; a default
// of containers/0 is one of every container). Values are compared too,
// except inside lists (capabilities the pod already had shift indexes).

var (
	reIndex    = regexp.MustCompile(`/(containers|initContainers|ephemeralContainers)/[0-9]+/`)
	reListItem = regexp.MustCompile(`/[0-9]+( |$)`)
	reCtrAnn   = regexp.MustCompile(`(container\.apparmor\.security\.beta\.kubernetes\.io|container\.seccomp\.security\.alpha\.kubernetes\.io)~1[^/ ]+`)
)

func abstractPath(d string) string {
	d = reIndex.ReplaceAllString(d, "/containers/*/")
	d = reCtrAnn.ReplaceAllString(d, "$1~1*")
	return d
}

// defaultKey is what must match: the path, and the value unless the path
// ends in a list index.
func defaultKey(d string) string {
	d = abstractPath(d)
	if reListItem.MatchString(d) {
		// Capabilities compare without case ("all" and "ALL"): the list
		// diff may name an item the pod had, shifted by the one added.
		return strings.ToUpper(reListItem.ReplaceAllString(d, "/-$1"))
	}
	return d
}

func TestDefaultsRandom(t *testing.T) {
	policies, pods := 150, 60
	if testing.Short() {
		policies, pods = 60, 40
	}
	u := &user.DefaultInfo{Name: "kguard:test"}
	r := rand.New(rand.NewSource(11))
	pl, err := NewPlanner("latest")
	if err != nil {
		t.Fatal(err)
	}
	missing := map[string]string{}
	count := map[string]int{}
	checked := 0
	for i := range policies {
		yaml := soundPolicy(r, i)
		s, err := policy.Read(strings.NewReader(yaml), "random.yaml")
		if err != nil {
			continue
		}
		p := s.PodSecurityPolicies[0]
		plan, err := pl.PlanPolicy(context.Background(), p)
		if err != nil {
			continue
		}
		listed := map[string]bool{}
		for _, d := range plan.Defaults {
			listed[defaultKey(d)] = true
			// A list default ("add ["CHOWN"]") covers its items.
			if path, val, ok := strings.Cut(abstractPath(d), " "); ok && strings.HasPrefix(val, "[") {
				var items []any
				if json.Unmarshal([]byte(val), &items) == nil {
					for _, it := range items {
						j, _ := json.Marshal(it)
						listed[strings.ToUpper(path+"/- "+string(j))] = true
					}
				}
			}
		}
		engine := policyEngine(t, p)
		for range pods {
			pod := podFor(r, p)
			before := pod.DeepCopy()
			beforeJSON, _ := json.Marshal(before)
			res := engine.Admit(context.Background(), psp.Attributes{Operation: "CREATE", Pod: pod, Namespace: pod.Namespace, User: u})
			if !res.Allowed {
				continue
			}
			checked++
			admitted := res.Pod
			delete(admitted.Annotations, v1alpha1.PodAnnotation)
			if len(admitted.Annotations) == 0 {
				admitted.Annotations = nil
			}
			syncProfiles(admitted) // the fields profile annotations stand for
			syncProfiles(before)   // the pod's own annotations are not the policy's
			for _, d := range changedPaths(before, admitted) {
				if profileAnnotation(d) {
					continue // v1.24's spelling of the field, as PlanPolicy skips
				}
				k := defaultKey(d)
				if listed[k] {
					continue
				}
				if path, val, ok := strings.Cut(abstractPath(d), " "); ok && strings.HasPrefix(val, "[") {
					// A list the policy set: its items must be among those
					// it sets elsewhere (which it adds depends on the pod:
					// it never adds a capability the pod drops).
					var items []any
					all := json.Unmarshal([]byte(val), &items) == nil
					for _, it := range items {
						j, _ := json.Marshal(it)
						all = all && listed[strings.ToUpper(path+"/- "+string(j))]
					}
					if all {
						continue
					}
				}
				if _, item, ok := strings.Cut(k, "/- "); ok && strings.Contains(strings.ToUpper(string(beforeJSON)), item) {
					continue // an item the pod had, moved (the engine sorts a list it changes)
				}
				key := abstractPath(d)
				count[key]++
				if _, ok := missing[key]; !ok {
					pj, _ := json.Marshal(before)
					missing[key] = fmt.Sprintf("policy sets %s, not in Defaults %q\npolicy:\n%s\npod: %s", d, plan.Defaults, yaml, pj)
				}
			}
		}
	}
	keys := make([]string, 0, len(missing))
	for k := range missing {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("%d× %s\n%s", count[k], k, missing[k])
	}
	t.Logf("%d admitted pods checked", checked)
}

func wantDefaults(t *testing.T, yaml string, want ...string) {
	t.Helper()
	for _, plan := range plans(t, yaml) {
		got := strings.Join(plan.Defaults, "\n")
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("defaults lack %s:\n%s", w, got)
			}
		}
	}
}

// A policy that refuses the default procMount admits only pods that set
// another; its defaults must still be found.
func TestDefaultsProcMountRequired(t *testing.T) {
	wantDefaults(t, `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: unmasked}
spec:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  allowedProcMountTypes: [Unmasked]
  volumes: [configMap]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
`, "allowPrivilegeEscalation false", "readOnlyRootFilesystem true", "runAsNonRoot true")
}

// An empty allowedProfileNames forbids every seccomp profile, as an absent
// one does: pods that pass its AppArmor list must be probed without seccomp.
func TestDefaultsEmptySeccompList(t *testing.T) {
	wantDefaults(t, `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: empty-seccomp
  annotations:
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: ""
    apparmor.security.beta.kubernetes.io/allowedProfileNames: runtime/default
spec:
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
`, "allowPrivilegeEscalation false", `drop ["ALL"]`, "runAsNonRoot true")
}

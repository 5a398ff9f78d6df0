package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	engine "github.com/kguard/kguard/internal/constraints"
)

// The constraints setups run kguard's Constraints plugin (beside
// PodSecurity) with the gatekeeper-library's pod-security-policy templates
// and 50 constraints: their samples' constraints, renamed, repeated — what
// BenchmarkReview50 and `LOADTEST=constraints hack/loadtest.sh` measure in
// process and over loopback HTTPS. The samples' parameters are arbitrary,
// so the restricted pod violates some of them: every constraint is set to
// warn, so that each pod is admitted (with the warnings) after all 50 were
// evaluated; the privileged pods are denied by PodSecurity.
var constraintSetups = map[string][]string{
	"kguard-constraints":      {"--enable-admission-plugins", "PodSecurity,Constraints"},
	"kguard-constraints-rego": {"--enable-admission-plugins", "PodSecurity,Constraints", "--constraints-no-cel"},
}

const (
	gkLibrary        = "internal/constraints/testdata/gatekeeper-library/library/pod-security-policy"
	benchConstraints = 50
)

// installTemplates applies Gatekeeper's CRDs as kguard deploys them
// (deploy/constraints/crds.yaml) and the library's templates; it returns
// the templates' constraint kinds.
func (b *bench) installTemplates() ([]string, error) {
	if err := b.kubectl("", "apply", "-f", filepath.Join(b.repoRoot, "deploy/constraints/crds.yaml")); err != nil {
		return nil, err
	}
	if err := b.kubectl("", "wait", "--for=condition=Established", "--timeout=60s", "crd/constrainttemplates.templates.gatekeeper.sh"); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(b.repoRoot, gkLibrary, "*", "template.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no templates under %s (%v)", gkLibrary, err)
	}
	var docs []string
	var kinds []string
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var t struct {
			Spec struct {
				CRD struct {
					Spec struct {
						Names struct {
							Kind string `json:"kind"`
						} `json:"names"`
					} `json:"spec"`
				} `json:"crd"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(text, &t); err != nil || t.Spec.CRD.Spec.Names.Kind == "" {
			return nil, fmt.Errorf("%s: no constraint kind (%v)", f, err)
		}
		kinds = append(kinds, t.Spec.CRD.Spec.Names.Kind)
		docs = append(docs, string(text))
	}
	return kinds, b.kubectl(strings.Join(docs, "\n---\n"), "apply", "-f", "-")
}

// installConstraints waits for the constraint CRDs kguard creates for the
// templates, then applies the 50 constraints.
func (b *bench) installConstraints(ctx context.Context, kinds []string) error {
	ext, err := apiextensions.NewForConfig(b.cfg)
	if err != nil {
		return err
	}
	var missing []string
	err = waitFor(90*time.Second, "kguard to create the templates' constraint CRDs", func() bool {
		missing = nil
		for _, k := range kinds {
			crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, engine.CRDName(k), metav1.GetOptions{})
			if err != nil || !established(crd) {
				missing = append(missing, engine.CRDName(k))
			}
		}
		return len(missing) == 0
	})
	if err != nil {
		return fmt.Errorf("%w (missing: %v)", err, missing)
	}
	samples, err := filepath.Glob(filepath.Join(b.repoRoot, gkLibrary, "*", "samples", "*", "constraint.yaml"))
	if err != nil || len(samples) == 0 {
		return fmt.Errorf("no sample constraints under %s (%v)", gkLibrary, err)
	}
	var docs []string
	for i := 0; i < benchConstraints; i++ {
		text, err := os.ReadFile(samples[i%len(samples)])
		if err != nil {
			return err
		}
		var c map[string]any
		if err := yaml.Unmarshal(text, &c); err != nil {
			return fmt.Errorf("%s: %v", samples[i%len(samples)], err)
		}
		meta, _ := c["metadata"].(map[string]any)
		spec, _ := c["spec"].(map[string]any)
		if meta == nil || spec == nil {
			return fmt.Errorf("%s: no metadata or spec", samples[i%len(samples)])
		}
		meta["name"] = fmt.Sprintf("%s-%d", meta["name"], i)
		spec["enforcementAction"] = "warn"
		out, err := yaml.Marshal(c)
		if err != nil {
			return err
		}
		docs = append(docs, string(out))
	}
	return b.kubectl(strings.Join(docs, "---\n"), "apply", "-f", "-")
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// constraintWarnings is how many warnings a dry-run restricted pod gets: a
// constraints setup that warns of nothing has not loaded its constraints.
func (b *bench) constraintWarnings(ctx context.Context) (int, error) {
	cfg := rest.CopyConfig(b.cfg)
	w := &countWarnings{}
	cfg.WarningHandler = w
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	_, err = cs.CoreV1().Pods(namespace).Create(ctx, restrictedPod("probe-warnings", "probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	return w.count(), err
}

type countWarnings struct {
	mu sync.Mutex
	n  int
}

var _ rest.WarningHandler = (*countWarnings)(nil)

func (c *countWarnings) HandleWarningHeader(code int, _ string, msg string) {
	if code == 299 && strings.HasPrefix(msg, "[") { // a constraint's warning: "[name] message"
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
}

func (c *countWarnings) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

package admission_test

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/plugins"
	"github.com/kguard/kguard/internal/authz/rbac"
	kpolicy "github.com/kguard/kguard/internal/policy"
)

// fake plugins, registered once for the registry's tests.
type keyed struct{ keys []string }

func (keyed) Handles(admissionv1.Operation, string) bool { return true }
func (keyed) Validate(context.Context, *admission.Request, *corev1.Pod) admission.Decision {
	return admission.Decision{}
}
func (k keyed) AuditKeys() []string { return k.keys }

type idle struct{}

func (idle) Handles(admissionv1.Operation, string) bool { return true }

func init() {
	admission.Register("TestOwnsError", func(admission.Inputs) (admission.Plugin, error) { return keyed{[]string{"error"}}, nil })
	admission.Register("TestIdle", func(admission.Inputs) (admission.Plugin, error) { return idle{}, nil })
}

func inputs() admission.Inputs {
	s := &kpolicy.Set{}
	return admission.Inputs{Policies: s, Authorizer: rbac.New(s)}
}

// The real set: every default plugin is registered and builds with nothing
// configured, in one chain.
func TestDefaultPluginsBuild(t *testing.T) {
	c, err := admission.NewChain(plugins.Default, inputs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Plugins(), ","); got != "PodSecurityPolicy,PodSecurity" {
		t.Errorf("plugins %s", got)
	}
	for _, name := range plugins.Default {
		if !strings.Contains(strings.Join(admission.Registered(), ","), name) {
			t.Errorf("default plugin %s is not registered", name)
		}
	}
}

func TestNewChainRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		want  string
	}{
		{"unknown", []string{"NodeRestriction"}, `unknown admission plugin "NodeRestriction" (kguard runs `},
		{"twice", []string{"PodSecurity", "PodSecurity"}, "listed twice"},
		{"none", nil, "no admission plugins enabled"},
		{"audit key taken", []string{"PodSecurity", "TestOwnsError"}, `admission plugins PodSecurity and TestOwnsError both return the audit annotation "error"`},
		{"no phase", []string{"TestIdle"}, "neither mutates nor validates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admission.NewChain(tc.names, inputs(), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// The error lists every registered plugin.
	_, err := admission.NewChain([]string{"NodeRestriction"}, inputs(), nil)
	for _, name := range admission.Registered() {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("the unknown-plugin error does not list %s: %v", name, err)
		}
	}
	// A plugin's configuration of the wrong type is its error, named.
	if _, err := admission.NewChain([]string{"PodSecurity"}, inputs(), map[string]any{"PodSecurity": "restricted"}); err == nil || !strings.Contains(err.Error(), "admission plugin PodSecurity: configuration of type string") {
		t.Fatalf("bad configuration: %v", err)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a second registration of a name did not panic")
		}
	}()
	admission.Register("PodSecurity", func(admission.Inputs) (admission.Plugin, error) { return idle{}, nil })
}

package constraints

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// glob is Gatekeeper's wildcard: "kube-*" (prefix), "*-system" (suffix),
// "*sys*" (substring) or an exact name.
type glob string

// globPattern is the pattern Gatekeeper's constraint CRD gives a wildcard
// (v3.23: pkg/wildcard): lowercase letters, digits, '-' and ':', with an
// optional * at either end ("system:*", "*", "" included).
var globPattern = regexp.MustCompile(`^\*?[-:a-z0-9]*\*?$`)

func newGlob(s string, path *field.Path) (glob, error) {
	if !globPattern.MatchString(s) {
		return "", field.Invalid(path, s, "must be lowercase letters, digits, '-' and ':', with an optional * at its start or end")
	}
	return glob(s), nil
}

// GlobMatches reports whether s matches a Gatekeeper wildcard ("kube-*",
// "*-system", "*sys*" or an exact name).
func GlobMatches(wildcard, s string) bool { return glob(wildcard).matches(s) }

func (g glob) matches(s string) bool {
	w := string(g)
	switch {
	case strings.HasPrefix(w, "*") && strings.HasSuffix(w, "*"):
		return strings.Contains(s, strings.TrimSuffix(strings.TrimPrefix(w, "*"), "*"))
	case strings.HasPrefix(w, "*"):
		return strings.HasSuffix(s, strings.TrimPrefix(w, "*"))
	case strings.HasSuffix(w, "*"):
		return strings.HasPrefix(s, strings.TrimSuffix(w, "*"))
	default:
		return w == s
	}
}

// matchesGenerateName is a glob against an object's generateName: only a
// prefix or substring glob can match a name not yet generated.
func (g glob) matchesGenerateName(s string) bool {
	w := string(g)
	switch {
	case strings.HasPrefix(w, "*") && strings.HasSuffix(w, "*"):
		return strings.Contains(s, strings.TrimSuffix(strings.TrimPrefix(w, "*"), "*"))
	case strings.HasSuffix(w, "*"):
		return strings.HasPrefix(s, strings.TrimSuffix(w, "*"))
	default:
		return false
	}
}

// matches reports whether the constraint judges the review: the object (or,
// failing that, the old object) passes every criterion of spec.match, as
// Gatekeeper's target matcher decides. ns is the object's namespace when it
// is known.
func (c *Constraint) matches(r *Review, ns *corev1.Namespace) (bool, error) {
	if c.Match == nil {
		return true, nil
	}
	obj, old, err := r.objects()
	if err != nil {
		return false, err
	}
	if obj == nil && old == nil {
		return false, fmt.Errorf("neither object nor old object are defined")
	}
	for _, o := range []*unstructured.Unstructured{obj, old} {
		if o == nil {
			continue
		}
		ok, err := c.matchesObject(o, ns, r.source())
		if err != nil {
			return false, fmt.Errorf("matching %s: %w", o.GetName(), err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// MatchesKind reports whether spec.match.kinds lets objects of kind gk
// through (no match, or no kinds, lets every kind through): the other
// criteria depend on the object. A Kind of "*" asks whether some kind of
// gk.Group may be let through (a group whose kinds are not known).
func (c *Constraint) MatchesKind(gk schema.GroupKind) bool {
	if c.Match == nil || len(c.Match.Kinds) == 0 {
		return true
	}
	for _, k := range c.Match.Kinds {
		if (len(k.Kinds) == 0 || gk.Kind == "*" || containsString(k.Kinds, "*") || containsString(k.Kinds, gk.Kind)) &&
			(len(k.APIGroups) == 0 || containsString(k.APIGroups, "*") || containsString(k.APIGroups, gk.Group)) {
			return true
		}
	}
	return false
}

func isNamespace(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	return gvk.Kind == "Namespace" && gvk.Group == ""
}

func (c *Constraint) matchesObject(o *unstructured.Unstructured, ns *corev1.Namespace, source string) (bool, error) {
	m := c.Match
	if !c.MatchesKind(o.GroupVersionKind().GroupKind()) {
		return false, nil
	}
	nsObj := isNamespace(o)
	hasNamespace := o.GetNamespace() != "" || ns != nil
	switch m.Scope {
	case "Cluster":
		if !nsObj && hasNamespace {
			return false, nil
		}
	case "Namespaced":
		if nsObj || !hasNamespace {
			return false, nil
		}
	}
	// The namespace the object is in (a Namespace is its own).
	namespace := ""
	switch {
	case nsObj:
		namespace = o.GetName()
	case ns != nil:
		namespace = ns.Name
	default:
		namespace = o.GetNamespace()
	}
	if len(c.names) > 0 && namespace != "" && !anyGlob(c.names, namespace) {
		return false, nil
	}
	if len(c.excluded) > 0 && namespace != "" && anyGlob(c.excluded, namespace) {
		return false, nil
	}
	if c.labels != nil && !c.labels.Matches(labels.Set(o.GetLabels())) {
		return false, nil
	}
	if c.nsLabels != nil {
		switch {
		case nsObj:
			if !c.nsLabels.Matches(labels.Set(o.GetLabels())) {
				return false, nil
			}
		case ns != nil:
			if !c.nsLabels.Matches(labels.Set(ns.Labels)) {
				return false, nil
			}
		case o.GetNamespace() != "":
			return false, fmt.Errorf("namespace selector for namespace-scoped object but missing Namespace")
		}
	}
	if c.name != "" && !c.name.matches(o.GetName()) && !c.name.matchesGenerateName(o.GetGenerateName()) {
		return false, nil
	}
	switch m.Source {
	case "", "All":
	default:
		if source != m.Source {
			return false, nil
		}
	}
	return true, nil
}

func anyGlob(globs []glob, s string) bool {
	for _, g := range globs {
		if g.matches(s) {
			return true
		}
	}
	return false
}

package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// Behaviours of gator verify (Gatekeeper v3.23.1) that the differential
// test in test/gatekeeper (verify_test.go) found kguard lacking.

const gatorTemplate = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sname
spec:
  crd:
    spec:
      names:
        kind: K8sName
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sname
        violation[{"msg": msg}] {
          msg := sprintf("name %v", [input.review.object.metadata.name])
        }
`

const gatorConstraint = `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sName
metadata:
  name: name
`

const gatorPod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"

func gatorSuite(cases string) string {
	return "apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\ntests:\n  - name: t\n    template: template.yaml\n    constraint: constraint.yaml\n    cases:\n" + cases
}

// runOne runs the one test of the suite in fsys at suite.yaml and returns
// its result.
func runOne(t *testing.T, fsys fstest.MapFS) TestResult {
	t.Helper()
	suites, err := ReadSuites(fsys, "suite.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := (&Runner{FS: fsys}).RunSuite(context.Background(), suites[0])
	if len(res.Tests) != 1 {
		t.Fatalf("got %d tests, want 1", len(res.Tests))
	}
	return res.Tests[0]
}

func gatorFS(suite string, extra map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"suite.yaml":      {Data: []byte(suite)},
		"template.yaml":   {Data: []byte(gatorTemplate)},
		"constraint.yaml": {Data: []byte(gatorConstraint)},
		"pod.yaml":        {Data: []byte(gatorPod)},
	}
	for k, v := range extra {
		fsys[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return fsys
}

// Gatekeeper's target reviews a DELETE's oldObject as its object, and
// refuses a DELETE without one; the object and old object of an
// AdmissionReview must have a kind.
func TestAdmissionReviewAsGator(t *testing.T) {
	review := func(request string) string {
		return "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  uid: \"1\"\n  kind: {group: \"\", version: v1, kind: Pod}\n" + request
	}
	objects := map[string]string{
		"delete.yaml":         review("  operation: DELETE\n  oldObject: {apiVersion: v1, kind: Pod, metadata: {name: gone}}\n"),
		"delete-no-old.yaml":  review("  operation: DELETE\n  object: {apiVersion: v1, kind: Pod, metadata: {name: gone}}\n"),
		"object-no-kind.yaml": review("  operation: CREATE\n  object: {apiVersion: v1, metadata: {name: web}}\n"),
		"old-no-kind.yaml":    review("  operation: UPDATE\n  object: {apiVersion: v1, kind: Pod, metadata: {name: web}}\n  oldObject: {apiVersion: v1, metadata: {name: web}}\n"),
		"update.yaml":         review("  operation: UPDATE\n  object: {apiVersion: v1, kind: Pod, metadata: {name: new}}\n  oldObject: {apiVersion: v1, kind: Pod, metadata: {name: old}}\n"),
	}
	suite := gatorSuite(`      - name: delete
        object: delete.yaml
        assertions: [{violations: 1, message: "^name gone$"}]
      - name: delete-no-old
        object: delete-no-old.yaml
        assertions: [{violations: 1}]
      - name: object-no-kind
        object: object-no-kind.yaml
        assertions: [{violations: 1}]
      - name: old-no-kind
        object: old-no-kind.yaml
        assertions: [{violations: 1}]
      - name: update
        object: update.yaml
        assertions: [{violations: 1, message: "^name new$"}]
`)
	tr := runOne(t, gatorFS(suite, objects))
	want := map[string]string{ // case: error wanted ("" none)
		"delete":         "",
		"delete-no-old":  "oldObject cannot be nil for DELETE",
		"object-no-kind": "object cannot be unmarshalled",
		"old-no-kind":    "oldObject cannot be unmarshalled",
		"update":         "",
	}
	if tr.Error != "" || len(tr.Cases) != len(want) {
		t.Fatalf("test error %q, %d cases", tr.Error, len(tr.Cases))
	}
	for _, c := range tr.Cases {
		w := want[c.Name]
		switch {
		case w == "" && c.Error != "":
			t.Errorf("%s: %s", c.Name, c.Error)
		case w != "" && !strings.Contains(c.Error, w):
			t.Errorf("%s: got error %q, want one with %q", c.Name, c.Error, w)
		}
	}
}

// Gatekeeper serves constraints at v1alpha1 and v1beta1; gator refuses a
// constraint of another version.
func TestConstraintVersionAsGator(t *testing.T) {
	for v, ok := range map[string]bool{"v1alpha1": true, "v1beta1": true, "v1": false, "v2": false} {
		t.Run(v, func(t *testing.T) {
			c := strings.Replace(gatorConstraint, "/v1beta1", "/"+v, 1)
			tr := runOne(t, gatorFS(gatorSuite("      - name: c\n        object: pod.yaml\n        assertions: [{violations: 1}]\n"), map[string]string{"constraint.yaml": c}))
			if got := tr.Error == ""; got != ok {
				t.Fatalf("test error %q, want accepted %v", tr.Error, ok)
			}
		})
	}
}

// As gator: a suite file named on its own must be .yaml or .yml.
func TestReadSuitesExtension(t *testing.T) {
	suite := gatorSuite("      - name: c\n        object: pod.yaml\n        assertions: [{violations: 1}]\n")
	for name, ok := range map[string]bool{"s.yaml": true, "s.yml": true, "s.json": false, "s": false, "s.YAML": false} {
		fsys := fstest.MapFS{name: {Data: []byte(suite)}}
		_, err := ReadSuites(fsys, name)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrSuite)) {
			t.Errorf("%s: got error %v, want accepted %v", name, err, ok)
		}
	}
}

// As gator: fields a suite or a ConstraintTemplate does not have are
// ignored (so is a suite's metadata), a field of the wrong type is not.
func TestUnknownFieldsAsGator(t *testing.T) {
	for name, tc := range map[string]struct {
		suite, template string
		ok              bool
	}{
		"suite top":        {suite: gatorSuite("      - name: c\n        object: pod.yaml\n        assertions: [{violations: 1}]\n") + "typo: 1\n", ok: true},
		"suite case":       {suite: gatorSuite("      - name: c\n        object: pod.yaml\n        typo: 1\n        assertions: [{violations: 1, typo: 2}]\n"), ok: true},
		"suite metadata":   {suite: strings.Replace(gatorSuite("      - name: c\n        object: pod.yaml\n        assertions: [{violations: 1}]\n"), "kind: Suite\n", "kind: Suite\nmetadata: {name: [1]}\n", 1), ok: true},
		"suite wrong type": {suite: gatorSuite("      - name: c\n        object: pod.yaml\n        skip: maybe\n        assertions: [{violations: 1}]\n"), ok: false},
		"suite key case":   {suite: "apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\nTests:\n  - Name: t\n    TEMPLATE: template.yaml\n    Constraint: constraint.yaml\n    Cases:\n      - Object: pod.yaml\n        Assertions: [{Violations: 1, MESSAGE: web}]\n", ok: true},
		"suite top name":   {suite: strings.Replace(gatorSuite("      - name: c\n        object: pod.yaml\n        assertions: [{violations: 1}]\n"), "kind: Suite\n", "kind: Suite\nname: [1]\n", 1), ok: false},
		"template field":   {template: strings.Replace(gatorTemplate, "  crd:\n", "  typo: 1\n  crd:\n", 1), ok: true},
	} {
		t.Run(name, func(t *testing.T) {
			suite := tc.suite
			if suite == "" {
				suite = gatorSuite("      - name: c\n        object: pod.yaml\n        assertions: [{violations: 1}]\n")
			}
			extra := map[string]string{}
			if tc.template != "" {
				extra["template.yaml"] = tc.template
			}
			fsys := gatorFS(suite, extra)
			suites, err := ReadSuites(fsys, "suite.yaml")
			if err != nil {
				if tc.ok {
					t.Fatal(err)
				}
				return
			}
			if !tc.ok {
				t.Fatal("the suite was read")
			}
			res := (&Runner{FS: fsys}).RunSuite(context.Background(), suites[0])
			if res.Failed() || len(res.Tests) != 1 || len(res.Tests[0].Cases) != 1 {
				t.Fatalf("failed or ran not its one test and case: %+v", res)
			}
		})
	}
}

// As gator: a v1 List in an object, inventory or template file is one
// object, not its items: reviewed as a List, put in data.inventory as a
// List, and not a ConstraintTemplate.
func TestListsAsGator(t *testing.T) {
	list := "apiVersion: v1\nkind: List\nmetadata: {name: lst}\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: a}\n"
	invTemplate := `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sinv
spec:
  crd:
    spec:
      names:
        kind: K8sInv
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sinv
        violation[{"msg": msg}] {
          data.inventory.cluster[gv][kind][name]
          msg := sprintf("cluster %v %v", [gv, kind])
        }
        violation[{"msg": msg}] {
          data.inventory.namespace[ns][gv][kind][name]
          msg := sprintf("namespace %v %v", [gv, kind])
        }
`
	allKinds := strings.Replace(gatorConstraint, "name: name\n", "name: name\nspec:\n  match:\n    kinds: [{apiGroups: [\"\"], kinds: [\"List\"]}]\n", 1)
	for name, tc := range map[string]struct {
		files map[string]string
		cases string
		want  bool // the test passes
	}{
		"object": {map[string]string{"list.yaml": list, "constraint.yaml": allKinds},
			"      - name: c\n        object: list.yaml\n        assertions: [{violations: 1, message: \"^name lst$\"}]\n", true},
		"template": {map[string]string{"template.yaml": "apiVersion: v1\nkind: List\nitems:\n" + indentLines(gatorTemplate, "  - ", "    ")},
			"      - name: c\n        object: pod.yaml\n        assertions: [{violations: 1}]\n", false},
		"inventory": {map[string]string{"list.yaml": strings.Replace(list, "metadata: {name: a}", "metadata: {name: a, namespace: ns}", 1),
			"template.yaml": invTemplate, "constraint.yaml": strings.Replace(gatorConstraint, "K8sName", "K8sInv", 1)},
			"      - name: c\n        object: pod.yaml\n        inventory: [list.yaml]\n        assertions: [{violations: 1, message: \"^cluster v1 List$\"}, {violations: 0, message: namespace}]\n", true},
	} {
		t.Run(name, func(t *testing.T) {
			tr := runOne(t, gatorFS(gatorSuite(tc.cases), tc.files))
			failed := tr.Failed()
			if failed == tc.want {
				t.Fatalf("test failed %v, want %v: %+v", failed, !tc.want, tr)
			}
		})
	}
}

func indentLines(s, first, rest string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i := range lines {
		p := rest
		if i == 0 {
			p = first
		}
		lines[i] = p + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// --run selects as gator's does: "RE" cases by their name or their
// test's, "TEST//CASE" by both; a test with nothing selected is skipped.
func TestFilterAsGator(t *testing.T) {
	suite := "apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\ntests:\n"
	for _, test := range []string{"require-foo", "other"} {
		suite += "  - name: " + test + "\n    template: template.yaml\n    constraint: constraint.yaml\n    cases:\n"
		for _, c := range []string{"missing", "other", "x"} {
			suite += "      - name: " + c + "\n        object: pod.yaml\n        assertions: [{violations: 1}]\n"
		}
	}
	fsys := gatorFS(suite, nil)
	suites, err := ReadSuites(fsys, "suite.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for run, want := range map[string]string{ // the cases run, "-" for a skipped test
		"":                  "require-foo/missing require-foo/other require-foo/x other/missing other/other other/x",
		"missing":           "require-foo/missing other/missing",
		"foo":               "require-foo/missing require-foo/other require-foo/x -other",
		"other":             "require-foo/other other/missing other/other other/x",
		"require-foo//^x$":  "require-foo/x -other",
		"//missing":         "require-foo/missing other/missing",
		"^other$//":         "-require-foo other/missing other/other other/x",
		"require-foo/x":     "-require-foo -other",
		"nothing//missing":  "-require-foo -other",
		"require-foo//none": "-other",
	} {
		f, err := NewFilter(run)
		if err != nil {
			t.Fatalf("%q: %v", run, err)
		}
		res := (&Runner{FS: fsys, Run: f}).RunSuite(context.Background(), suites[0])
		var got []string
		for _, tr := range res.Tests {
			if tr.Skipped {
				got = append(got, "-"+tr.Name)
			}
			for _, c := range tr.Cases {
				if !c.Skipped {
					got = append(got, tr.Name+"/"+c.Name)
				}
			}
		}
		if strings.Join(got, " ") != want {
			t.Errorf("--run %q: got %q, want %q", run, strings.Join(got, " "), want)
		}
	}
	for _, run := range []string{"a//b//c", "(", "a//("} {
		if _, err := NewFilter(run); err == nil {
			t.Errorf("--run %q accepted", run)
		}
	}
}

// As gator: the files a suite names are read as YAML 1.2 (yes, on are
// strings), and an object without apiVersion is reviewed as it is.
func TestObjectFilesAsGator(t *testing.T) {
	show := strings.NewReplacer("k8sname", "k8sshow", "K8sName", "K8sShow").Replace(gatorTemplate)
	show = strings.Replace(show, `msg := sprintf("name %v", [input.review.object.metadata.name])`,
		`v := input.review.object.metadata.labels[k]
          msg := sprintf("label %v=%v (%v)", [k, v, type_name(v)])`, 1)
	files := map[string]string{
		"template.yaml":   show,
		"constraint.yaml": strings.Replace(gatorConstraint, "K8sName", "K8sShow", 1),
		"labels.yaml":     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    a: yes\n    b: on\n",
		"no-version.yaml": "kind: Pod\nmetadata:\n  name: web\n  labels: {c: d}\n",
	}
	suite := gatorSuite(`      - name: yaml12
        object: labels.yaml
        assertions: [{violations: 2}, {violations: 1, message: "^label a=yes \\(string\\)$"}, {violations: 1, message: "^label b=on \\(string\\)$"}]
      - name: no-apiversion
        object: no-version.yaml
        assertions: [{violations: 1, message: "^label c=d"}]
`)
	tr := runOne(t, gatorFS(suite, files))
	if tr.Failed() {
		t.Fatalf("%+v", tr)
	}
}

// As gator: FILE/... is an error, "..." is for directories.
func TestReadSuitesRecursiveFile(t *testing.T) {
	suite := gatorSuite("      - name: c\n        object: pod.yaml\n        assertions: [{violations: 1}]\n")
	fsys := fstest.MapFS{"d/s.yaml": {Data: []byte(suite)}}
	for target, ok := range map[string]bool{"d/...": true, "d": true, "d/s.yaml": true, "d/s.yaml/...": false} {
		suites, err := ReadSuites(fsys, target)
		if (err == nil) != ok || (ok && len(suites) != 1) || (err != nil && !errors.Is(err, ErrSuite)) {
			t.Errorf("%s: got %d suites, error %v; want accepted %v", target, len(suites), err, ok)
		}
	}
}

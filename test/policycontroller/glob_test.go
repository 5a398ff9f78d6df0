// Differential test of kguard's ClusterImagePolicy images[].glob matching
// against policy-controller's own (github.com/sigstore/policy-controller
// pkg/apis/glob, whose Match is what config.ImagePolicyConfig's
// GetMatchingPolicies calls per glob, and whose Compile its webhook's
// ValidateGlob calls). A separate module so that kguard never depends on
// policy-controller.
//
// Both sides parse image references with the one go-containerregistry this
// binary holds, kguard's (MVS: v0.22.1 over policy-controller v0.13.1's
// v0.20.3), so this compares the glob logic only: where the two
// go-containerregistry versions parse a reference differently (localhost/x,
// one-character repositories, empty tags, sha512 digests, URL schemes) a
// real policy-controller v0.13.1 differs from kguard and this test cannot see it.
package policycontroller

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	pcglob "github.com/sigstore/policy-controller/pkg/apis/glob"
	"github.com/sigstore/policy-controller/pkg/apis/policy/v1beta1"

	"github.com/kguard/kguard/internal/imagepolicy"
)

const (
	digestA = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	digestB = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

var tableGlobs = []string{
	// Docker Hub aliases and bare wildcards.
	"*", "*/*", "**", "*/**", "**/*", "***", "****", "*/*/*",
	"index.docker.io/library/*", "index.docker.io/*/*", "index.docker.io/**",
	"docker.io/*", "docker.io/**", "docker.io/library/*", "index.docker.**", "inde**",
	// Registries and orgs.
	"registry.io/org/*", "registry.io/org/**", "registry.io/**", "registry.io/*",
	"*.io/**", "*.io/*", "*.io/*/*", "ghcr.io/a/*", "ghcr.io/a/**", "ghcr.io/*/*/*",
	"ghcr.io/a/b/c:tag", "ghcr.io/a/b/c:*", "ghcr.io/a/b/c*",
	// Bare names, as written by a pod (the deprecated fallback).
	"nginx", "nginx*", "nginx**", "nginx:*", "nginx:1.2", "library/nginx", "library/*",
	"*/nginx", "*nginx*", "**nginx**",
	// Tags.
	"index.docker.io/library/nginx:latest", "index.docker.io/library/nginx:*",
	"index.docker.io/library/nginx:1.2", "index.docker.io/library/*:latest",
	"registry.io/org/app:v1", "registry.io/org/*:v1", "registry.io/org/app:**", "**:v1", "*:v1",
	// Digests.
	"registry.io/org/app@" + digestA, "registry.io/org/app@sha256:*", "registry.io/org/app@**",
	"**@" + digestA, "*@sha256:*", "**@sha256:**", "registry.io/org/app:v1@" + digestA,
	// Ports.
	"localhost:5000/*", "localhost:5000/**", "localhost:*/**", "localhost*/**", "127.0.0.1:5000/*",
	"*:5000/**",
	// Case.
	"Registry.IO/**", "registry.io/Org/*", "GHCR.IO/a/b/c:tag", "NGINX", "index.docker.io/library/NGINX",
	// Odd but valid characters.
	"-", "_", ":", "@", ".", "/", "//", "a..b", "a-b_c", "**.**", "*.*", ".*",
	// Invalid characters.
	"", " ", "nginx ", "ghcr.io/a/[b]", "ghcr.io/a/b?", "ghcr.io/a+b/*", "ghcr.io/a/b$", "^ghcr.io",
	`ghcr.io\a`, "ghcr.io/#", "ghcr.io/(a|b)", "ghcr.io/{a,b}", "régistry.io/*", "ghcr.io/a\n", "ghcr.io/a%2f",
	"ghcr.io/a,b", "~", "ghcr.io/a/b!",
}

var tableImages = []string{
	"nginx", "nginx:1.2", "nginx:latest", "nginx@" + digestA, "nginx:1.2@" + digestA,
	"library/nginx", "library/nginx:1.2", "bitnami/nginx", "bitnami/nginx:v1",
	"docker.io/nginx", "docker.io/library/nginx", "docker.io/bitnami/nginx:v1",
	"index.docker.io/nginx", "index.docker.io/library/nginx:1.2", "index.docker.io/bitnami/nginx",
	"registry-1.docker.io/library/nginx",
	"registry.io/org/app", "registry.io/org/app:v1", "registry.io/org/app@" + digestA,
	"registry.io/org/app:v1@" + digestA, "registry.io/org/app@" + digestB, "registry.io/org/team/app:v1",
	"registry.io/app", "registry.io/orgx/app",
	"ghcr.io/a/b/c:tag", "ghcr.io/a/b/c", "ghcr.io/a/b", "ghcr.io/a/b/c/d:tag",
	"localhost:5000/app", "localhost:5000/org/app:v1", "localhost/app", "localhost:5000/app@" + digestA,
	"127.0.0.1:5000/app", "[::1]:5000/app", "example.com:443/a/b",
	"a.io/x", "x.y.io/p/q:1",
	// Case, which a reference allows in the registry and tag only.
	"Registry.IO/org/app", "registry.io/org/app:V1", "registry.io/Org/app", "NGINX", "ghcr.io/A/b",
	// Not references.
	"", ":", "nginx:", "nginx@sha256:abc", "nginx@", "/nginx", "nginx/", "a//b", "ghcr.io/a/b c",
	"ghcr.io/a/b:" + strings.Repeat("t", 129), "registry.io/org/app:v1:v2", "http://ghcr.io/a",
}

// outcome is one side's answer for a glob and an image.
type outcome struct {
	match bool
	err   bool
}

func (o outcome) String() string {
	if o.err {
		return "error"
	}
	return fmt.Sprint(o.match)
}

type stats struct{ pairs, matches, errs, badGlobs int }

func compare(t *testing.T, glob, image string, st *stats) {
	t.Helper()
	st.pairs++
	pm, perr := pcglob.Match(glob, image)
	km, kerr := imagepolicy.GlobMatches(glob, image)
	p, k := outcome{pm, perr != nil}, outcome{km, kerr != nil}
	if p != k {
		t.Errorf("glob %q image %q: policy-controller %v (%v), kguard %v (%v)", glob, image, p, perr, k, kerr)
	}
	if p.err {
		st.errs++
	} else if p.match {
		st.matches++
	}
}

// compareCompile compares (a): whether the glob is accepted at all.
// policy-controller's webhook rejects a ClusterImagePolicy's images[].glob
// with ImagePattern.Validate (empty, then ValidateGlob: filepath.Match and
// glob.Compile); its matching rejects it with glob.Compile. kguard rejects it
// with compileGlob (and an empty one before that, in compilePolicy), reached
// here through GlobMatches with an image that always parses.
func compareCompile(t *testing.T, glob string, st *stats) {
	t.Helper()
	_, perr := pcglob.Compile(glob)
	verr := (&v1beta1.ImagePattern{Glob: glob}).Validate(context.Background())
	_, kerr := imagepolicy.GlobMatches(glob, "index.docker.io/library/nginx:latest")
	if (perr != nil) != (kerr != nil) {
		t.Errorf("glob %q: policy-controller glob.Compile accepts=%v (%v), kguard accepts=%v (%v)", glob, perr == nil, perr, kerr == nil, kerr)
	}
	if (verr != nil) != (kerr != nil) {
		t.Errorf("glob %q: policy-controller ImagePattern.Validate accepts=%v (%v), kguard accepts=%v (%v)", glob, verr == nil, verr, kerr == nil, kerr)
	}
	if perr != nil {
		st.badGlobs++
	}
}

func TestGlobsAsPolicyController(t *testing.T) {
	var st stats
	for _, g := range tableGlobs {
		compareCompile(t, g, &st)
		for _, img := range tableImages {
			compare(t, g, img, &st)
		}
	}
	t.Logf("table: %d globs (%d invalid), %d pairs, %d matches, %d errors", len(tableGlobs), st.badGlobs, st.pairs, st.matches, st.errs)
	if st.matches < 100 || st.errs == 0 || st.badGlobs == 0 {
		t.Fatalf("table exercises too little: %+v", st)
	}

	r := rand.New(rand.NewSource(20240611))
	st = stats{}
	const n = 30000
	for i := 0; i < n; i++ {
		img := randomImage(r)
		var g string
		switch r.Intn(3) {
		case 0: // a glob cut from the image, so that many pairs match
			g = globFromImage(r, img)
		case 1: // a glob cut from another image
			g = globFromImage(r, randomImage(r))
		default: // a glob of random tokens
			g = randomGlob(r)
		}
		compareCompile(t, g, &st)
		compare(t, g, img, &st)
		if t.Failed() && i > 0 && i%1000 == 0 {
			t.Fatalf("stopping after %d random pairs", i)
		}
	}
	t.Logf("random: %d pairs, %d matches, %d errors (%d of them invalid globs)", st.pairs, st.matches, st.errs, st.badGlobs)
	if st.matches < n/10 || st.errs == 0 || st.badGlobs == 0 {
		t.Fatalf("random pairs exercise too little: %+v", st)
	}
}

func pick(r *rand.Rand, xs ...string) string { return xs[r.Intn(len(xs))] }

func randomImage(r *rand.Rand) string {
	if r.Intn(4) == 0 {
		return pick(r, tableImages...)
	}
	var b strings.Builder
	b.WriteString(pick(r, "", "", "", "docker.io/", "index.docker.io/", "registry.io/", "ghcr.io/",
		"localhost:5000/", "localhost/", "Registry.IO/", "127.0.0.1:5000/", "[::1]:5000/", "a.b.io/", "reg:80/"))
	parts := 1 + r.Intn(3)
	for i := 0; i < parts; i++ {
		if i > 0 {
			b.WriteString("/")
		}
		if r.Intn(10) == 0 { // not a repository component
			b.WriteString(pick(r, "App", "a..b", "-a", "a-", "", "a b"))
		} else {
			b.WriteString(pick(r, "library", "nginx", "org", "app", "a", "b-c", "d_e", "f.g", "x__y", "1", "a--b"))
		}
	}
	b.WriteString(pick(r, "", "", "", ":v1", ":latest", ":1.2", ":Tag_X", ":a.b-c", ":-bad"))
	b.WriteString(pick(r, "", "", "", "", "", "", "", "@"+digestA, "@"+digestB, "@sha256:abc", "@md5:"+digestA[7:]))
	return b.String()
}

// globFromImage turns an image into a glob: as written or fully qualified,
// with random runs of characters replaced by "*" or "**", sometimes with an
// added invalid character.
func globFromImage(r *rand.Rand, img string) string {
	s := img
	if r.Intn(2) == 0 {
		if ref, err := name.ParseReference(img, name.WeakValidation); err == nil {
			s = ref.Name()
		}
	}
	for k := r.Intn(3); k > 0 && len(s) > 0; k-- {
		i := r.Intn(len(s))
		j := i + r.Intn(len(s)-i+1)
		s = s[:i] + pick(r, "*", "*", "**", "***") + s[j:]
	}
	if r.Intn(20) == 0 && len(s) > 0 {
		i := r.Intn(len(s))
		s = s[:i] + pick(r, " ", "[", "?", "+", "$", "#", "é", "\\", "%", "~") + s[i:]
	}
	return s
}

func randomGlob(r *rand.Rand) string {
	var b strings.Builder
	for k := 1 + r.Intn(8); k > 0; k-- {
		if r.Intn(30) == 0 { // an invalid character
			b.WriteString(pick(r, "[", "?", " ", "#", "^", "$", "é", "+", "\\", "(", "|"))
			continue
		}
		b.WriteString(pick(r, "*", "*", "**", "/", "/", ".", ":", "@", "-", "_", "io", "docker", "index.docker.io",
			"library", "nginx", "localhost", "5000", "sha256:", digestA, "v1", "A", "a"))
	}
	return b.String()
}

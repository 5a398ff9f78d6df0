package imagepolicy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// validGlob is the character set policy-controller accepts in images[].glob.
var validGlob = regexp.MustCompile(`^[a-zA-Z0-9-_:\/\*\.@]+$`)

// compileGlob turns an images[].glob into the regular expression
// policy-controller matches with: "*" is any run of characters but "/",
// "**" any run at all, the whole reference must match; "*" alone means
// Docker Hub's official images and "*/*" any Docker Hub image.
func compileGlob(glob string) (*regexp.Regexp, error) {
	switch glob {
	case "*/*":
		glob = "index.docker.io/*/*"
	case "*":
		glob = "index.docker.io/library/*"
	}
	if !validGlob.MatchString(glob) {
		return nil, fmt.Errorf("invalid glob %q: only letters, digits and -_:/*.@ are allowed", glob)
	}
	var b strings.Builder
	b.WriteByte('^')
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; {
		case c == '*' && i+1 < len(glob) && glob[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteByte('$')
	return regexp.Compile(b.String())
}

// matchGlob reports whether image, as a pod names it, matches re: first its
// fully qualified name (registry and repository, with the tag or digest as
// written: "nginx" is "index.docker.io/library/nginx:latest"), then the
// string as written, as policy-controller does.
func matchGlob(re *regexp.Regexp, image string) (bool, error) {
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return false, err
	}
	if re.MatchString(ref.Name()) {
		return true, nil
	}
	return ref.Name() != image && re.MatchString(image), nil
}

// GlobMatches reports whether image matches an images[].glob, compiling the
// glob and matching as Policies.Matching does; an invalid glob or image is an
// error. It is policy-controller's glob.Match, for differential tests.
func GlobMatches(glob, image string) (bool, error) {
	re, err := compileGlob(glob)
	if err != nil {
		return false, err
	}
	return matchGlob(re, image)
}

package admission

import (
	"context"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/apidefaults"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/parallel"
	"github.com/kguard/kguard/internal/podspec"
)

// Outcome is the admission of one document. At most one of Response and Err
// is set; neither is when the document carries no pod (not evaluated).
type Outcome struct {
	Namespace string
	// Response is the admission's answer for a pod-carrying document.
	Response *admissionv1.AdmissionResponse
	// Err is why a pod-carrying document could not be read (a kind in a
	// version kguard does not read, a malformed or misspelt field): a
	// *manifest.Error naming its file and line. Such a document is not admitted.
	Err error
}

// AdmitDocuments admits the creation of every document by u, on every core,
// keeping the documents' order. A document without namespace is in
// defaultNamespace. A document that cannot be read has its error in its own
// Outcome; the others are admitted all the same, so that one unreadable
// object does not hide the verdicts on the rest.
func (c *Chain) AdmitDocuments(ctx context.Context, docs []manifest.Document, defaultNamespace string, u user.Info) []Outcome {
	out := make([]Outcome, len(docs))
	parallel.Do(len(docs), func(i int) {
		d := &docs[i]
		ns := d.Namespace
		if ns == "" {
			ns = defaultNamespace
		}
		out[i].Namespace = ns
		w, err := podspec.Decode(d)
		if err != nil {
			out[i].Err = err
			return
		}
		if w == nil {
			return
		}
		// Offline, nobody has defaulted the object yet: do what the API server
		// does before admission, or, say, a hostNetwork pod's ports would not
		// be the host ports PodSecurityPolicy refuses. (The webhook receives
		// objects the API server has already defaulted.)
		apidefaults.Pod(w.PodParts())
		out[i].Response = c.Admit(ctx, &Request{Operation: admissionv1.Create, Workload: w,
			Resource: Resource(d.APIVersion, d.Kind), Name: d.Name, Namespace: ns, User: u})
	})
	return out
}

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

// Outcome is the admission of one document.
type Outcome struct {
	Namespace string
	// Response is nil when the document carries no pod (not evaluated).
	Response *admissionv1.AdmissionResponse
}

// AdmitDocuments admits the creation of every document by u, on every core,
// keeping the documents' order. A document without namespace is in
// defaultNamespace. The first malformed pod-carrying document (in order) is
// an error naming its file and line; nothing is admitted then.
func (c *Chain) AdmitDocuments(ctx context.Context, docs []manifest.Document, defaultNamespace string, u user.Info) ([]Outcome, error) {
	out := make([]Outcome, len(docs))
	errs := make([]error, len(docs))
	parallel.Do(len(docs), func(i int) {
		d := &docs[i]
		ns := d.Namespace
		if ns == "" {
			ns = defaultNamespace
		}
		w, err := podspec.Decode(d)
		if err != nil {
			errs[i] = err
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
		out[i] = Outcome{Namespace: ns, Response: c.Admit(ctx, &Request{Operation: admissionv1.Create, Workload: w,
			Resource: Resource(d.APIVersion, d.Kind), Name: d.Name, Namespace: ns, User: u})}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

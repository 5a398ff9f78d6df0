package cli

import (
	"fmt"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/authz/tenant"
)

// resourceGroups maps the built-in resources (and kubectl's short names) to
// their API group, so that `can-i create deployments` means
// deployments.apps as it does in kubectl; the listed ones that are
// cluster-scoped (tenant.ClusterScoped) are asked about without a namespace.
// Resources not listed are taken as written: "widgets.example.com" is
// resource widgets in group example.com, in the namespace.
var resourceGroups = map[string]struct{ resource, group string }{}

func init() {
	add := func(group string, names ...string) {
		for _, n := range names {
			short := ""
			if i := strings.IndexByte(n, '='); i >= 0 {
				n, short = n[:i], n[i+1:]
			}
			resourceGroups[n] = struct{ resource, group string }{n, group}
			for _, s := range strings.Split(short, ",") {
				if s != "" {
					resourceGroups[s] = resourceGroups[n]
				}
			}
		}
	}
	add("", "pods=po", "services=svc", "configmaps=cm", "secrets", "serviceaccounts=sa", "endpoints=ep",
		"events=ev", "persistentvolumeclaims=pvc", "replicationcontrollers=rc", "resourcequotas=quota",
		"limitranges=limits", "podtemplates", "bindings")
	add("", "nodes=no", "namespaces=ns", "persistentvolumes=pv", "componentstatuses=cs")
	add("apps", "deployments=deploy", "replicasets=rs", "statefulsets=sts", "daemonsets=ds", "controllerrevisions")
	add("batch", "jobs", "cronjobs=cj")
	add("autoscaling", "horizontalpodautoscalers=hpa")
	add("policy", "poddisruptionbudgets=pdb")
	add("policy", "podsecuritypolicies=psp")
	add("networking.k8s.io", "ingresses=ing", "networkpolicies=netpol")
	add("networking.k8s.io", "ingressclasses")
	add("rbac.authorization.k8s.io", "roles", "rolebindings")
	add("rbac.authorization.k8s.io", "clusterroles", "clusterrolebindings")
	add("storage.k8s.io", "storageclasses=sc", "csidrivers", "csinodes", "volumeattachments")
	add("apiextensions.k8s.io", "customresourcedefinitions=crd,crds")
	add("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "validatingwebhookconfigurations",
		"validatingadmissionpolicies", "validatingadmissionpolicybindings")
	add("certificates.k8s.io", "certificatesigningrequests=csr")
	add("coordination.k8s.io", "leases")
	add("discovery.k8s.io", "endpointslices")
	add("scheduling.k8s.io", "priorityclasses=pc")
	add("node.k8s.io", "runtimeclasses")
	add("authentication.k8s.io", "tokenreviews")
	add("authorization.k8s.io", "subjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews")
	add("authorization.k8s.io", "localsubjectaccessreviews")
	add("apiregistration.k8s.io", "apiservices")
}

// requestFlags describe one request: VERB RESOURCE[/SUBRESOURCE] [NAME], or VERB /URL.
type requestFlags struct {
	namespace     string
	allNamespaces bool
	subresource   string
}

// parse builds the attributes of the request args describe, for user u.
func (f *requestFlags) parse(args []string, u user.Info) (authorizer.AttributesRecord, error) {
	if len(args) < 2 || len(args) > 3 {
		return authorizer.AttributesRecord{}, usageError(fmt.Errorf("want VERB RESOURCE[/SUBRESOURCE] [NAME] or VERB /NONRESOURCE-URL, got %d arguments", len(args)))
	}
	verb, what := args[0], args[1]
	if strings.HasPrefix(what, "/") {
		if len(args) == 3 {
			return authorizer.AttributesRecord{}, usageError(fmt.Errorf("a non-resource URL takes no name"))
		}
		return authorizer.AttributesRecord{User: u, Verb: verb, Path: what}, nil
	}
	resource, sub, _ := strings.Cut(what, "/")
	if f.subresource != "" {
		if sub != "" {
			return authorizer.AttributesRecord{}, usageError(fmt.Errorf("subresource given twice: %q and --subresource %q", sub, f.subresource))
		}
		sub = f.subresource
	}
	if resource == "" || strings.Contains(sub, "/") {
		return authorizer.AttributesRecord{}, usageError(fmt.Errorf("invalid resource %q (e.g. pods, pods/log, deployments.apps)", what))
	}
	group := ""
	cluster := false
	if known, ok := resourceGroups[resource]; ok {
		resource, group = known.resource, known.group
		cluster = tenant.ClusterScoped(group, resource)
	} else if r, g, ok := strings.Cut(resource, "."); ok {
		resource, group = r, g
		if known, ok := resourceGroups[r]; ok && known.group == g {
			cluster = tenant.ClusterScoped(g, r)
		}
	}
	ns := f.namespace
	if ns == "" {
		ns = "default"
	}
	if cluster || f.allNamespaces {
		ns = ""
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: verb, Namespace: ns, APIGroup: group, APIVersion: "*",
		Resource: resource, Subresource: sub, ResourceRequest: true}
	if len(args) == 3 {
		attrs.Name = args[2]
		if group == "" && resource == "namespaces" {
			// kube-apiserver asks about a request on one Namespace
			// (/api/v1/namespaces/NAME, its status and finalize) in that
			// namespace (k8s.io/apiserver requestinfo.go), so RoleBindings
			// there and the Tenant mode's namespace rule apply to it.
			attrs.Namespace = attrs.Name
		}
	}
	return attrs, nil
}

// describe renders a request for people: `get pods/log "web" in namespace "default"`.
func describeRequest(a authorizer.AttributesRecord) string {
	if !a.ResourceRequest {
		return fmt.Sprintf("%s %s", a.Verb, a.Path)
	}
	r := a.Resource
	if a.APIGroup != "" {
		r += "." + a.APIGroup
	}
	if a.Subresource != "" {
		r += "/" + a.Subresource
	}
	s := a.Verb + " " + r
	if a.Name != "" {
		s += fmt.Sprintf(" %q", a.Name)
	}
	if a.Namespace != "" {
		return s + fmt.Sprintf(" in namespace %q", a.Namespace)
	}
	return s + " cluster-wide"
}

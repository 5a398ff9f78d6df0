package source

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kguard/kguard/internal/manifest"
)

// AuditedResources are the objects `kguard audit --kubeconfig` reads: what
// runs (pods and every pod controller), Services and Namespaces, which the
// admission plugins judge.
var AuditedResources = []schema.GroupVersionResource{
	{Version: "v1", Resource: "namespaces"},
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "replicationcontrollers"},
	{Version: "v1", Resource: "services"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "replicasets"},
	{Group: "apps", Version: "v1", Resource: "statefulsets"},
	{Group: "apps", Version: "v1", Resource: "daemonsets"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
	{Group: "batch", Version: "v1", Resource: "cronjobs"},
}

// AuditedKinds are the kinds of AuditedResources' objects, by resource.
var AuditedKinds = map[schema.GroupVersionResource]string{
	{Version: "v1", Resource: "namespaces"}:                  "Namespace",
	{Version: "v1", Resource: "pods"}:                        "Pod",
	{Version: "v1", Resource: "replicationcontrollers"}:      "ReplicationController",
	{Version: "v1", Resource: "services"}:                    "Service",
	{Group: "apps", Version: "v1", Resource: "deployments"}:  "Deployment",
	{Group: "apps", Version: "v1", Resource: "replicasets"}:  "ReplicaSet",
	{Group: "apps", Version: "v1", Resource: "statefulsets"}: "StatefulSet",
	{Group: "apps", Version: "v1", Resource: "daemonsets"}:   "DaemonSet",
	{Group: "batch", Version: "v1", Resource: "jobs"}:        "Job",
	{Group: "batch", Version: "v1", Resource: "cronjobs"}:    "CronJob",
}

// listPageSize bounds each list call; large clusters are read in pages.
const listPageSize = 500

// ClusterObjects lists the AuditedResources of the cluster of rc, then the
// JudgedResources of judges (nil: none), in every namespace, as documents
// (source "cluster", no line). A group whose resources discovery could not
// read is named in warnings; the rest is listed.
func ClusterObjects(ctx context.Context, rc *rest.Config, judges func(schema.GroupKind) bool) (docs []manifest.Document, warnings []string, err error) {
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	resources := AuditedResources
	if judges != nil {
		disco, err := discovery.NewDiscoveryClientForConfig(rc)
		if err != nil {
			return nil, nil, err
		}
		extra, _, err := JudgedResources(disco, judges)
		if err != nil {
			if !discovery.IsGroupDiscoveryFailedError(err) {
				return nil, nil, err
			}
			warnings = append(warnings, fmt.Sprintf("%v: objects of those groups are not audited", err))
		}
		resources = append(slices.Clip(resources), extra...)
	}
	docs, err = ListObjects(ctx, dyn, resources)
	return docs, warnings, err
}

// JudgedResources are the cluster's listable resources (in each group's
// preferred version, no subresources) beyond AuditedResources whose kind
// judges says yes to — the kinds a Gatekeeper constraint matches —, sorted,
// with their kinds. When discovery fails for some groups that judges
// cannot say any kind of (Kind "*": a Gatekeeper constraint does not match
// that group; metrics.k8s.io with its server down, say), the error is
// discovery's ErrGroupDiscoveryFailed and the other groups' resources are
// returned; when judges may judge one of those groups' kinds, their objects
// cannot be audited and the error is another one, wrapping it (the other
// groups' resources are returned all the same).
func JudgedResources(disco discovery.DiscoveryInterface, judges func(schema.GroupKind) bool) ([]schema.GroupVersionResource, map[schema.GroupVersionResource]string, error) {
	lists, err := discovery.ServerPreferredResources(disco)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, nil, fmt.Errorf("discovering the cluster's resources: %w", err)
	}
	if failed, ok := discovery.GroupDiscoveryFailedErrorGroups(err); ok {
		var judged []string
		for gv := range failed {
			if judges(schema.GroupKind{Group: gv.Group, Kind: "*"}) {
				judged = append(judged, gv.String())
			}
		}
		if len(judged) > 0 {
			slices.Sort(judged)
			err = fmt.Errorf("the objects of %s may be judged by the constraints but cannot be listed: %w", strings.Join(judged, ", "), err)
		}
	}
	audited := map[schema.GroupResource]bool{}
	for _, gvr := range AuditedResources {
		audited[gvr.GroupResource()] = true
	}
	var out []schema.GroupVersionResource
	kinds := map[schema.GroupVersionResource]string{}
	for _, list := range lists {
		gv, perr := schema.ParseGroupVersion(list.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range list.APIResources {
			gvr := gv.WithResource(r.Name)
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || audited[gvr.GroupResource()] ||
				!judges(schema.GroupKind{Group: gv.Group, Kind: r.Kind}) {
				continue
			}
			if _, dup := kinds[gvr]; !dup {
				out = append(out, gvr)
				kinds[gvr] = r.Kind
			}
		}
	}
	slices.SortFunc(out, func(a, b schema.GroupVersionResource) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Resource, b.Resource))
	})
	return out, kinds, err
}

// ListObjects lists resources through dyn, page by page, as documents.
func ListObjects(ctx context.Context, dyn dynamic.Interface, resources []schema.GroupVersionResource) ([]manifest.Document, error) {
	var docs []manifest.Document
	for _, gvr := range resources {
		opts := metav1.ListOptions{Limit: listPageSize}
		for {
			list, err := dyn.Resource(gvr).List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", gvr.GroupResource(), err)
			}
			for i := range list.Items {
				obj := &list.Items[i]
				if obj.GetAPIVersion() == "" { // items of a list may omit it
					obj.SetAPIVersion(gvr.GroupVersion().String())
				}
				if obj.GetKind() == "" {
					obj.SetKind(kindOfList(list.GetKind()))
				}
				js, err := json.Marshal(obj.Object)
				if err != nil {
					return nil, fmt.Errorf("encoding %s %s/%s: %w", gvr.GroupResource(), obj.GetNamespace(), obj.GetName(), err)
				}
				docs = append(docs, manifest.Document{Source: "cluster", Item: -1, APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(),
					Name: obj.GetName(), Namespace: obj.GetNamespace(), JSON: js})
			}
			if opts.Continue = list.GetContinue(); opts.Continue == "" {
				break
			}
		}
	}
	return docs, nil
}

// kindOfList is the kind of a list's items: PodList -> Pod.
func kindOfList(listKind string) string {
	if len(listKind) > 4 && listKind[len(listKind)-4:] == "List" {
		return listKind[:len(listKind)-4]
	}
	return listKind
}

package audit

import (
	"encoding/json"

	"github.com/kguard/kguard/internal/manifest"
)

// ownerMeta is the part of an object's metadata that names its controller.
type ownerMeta struct {
	Metadata struct {
		UID             string `json:"uid"`
		OwnerReferences []struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			UID        string `json:"uid"`
			Controller *bool  `json:"controller"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
}

// ownerKey names an object within the input: namespace, kind and name (an
// owner reference names its owner's kind and name in the owned object's
// namespace).
type ownerKey struct{ namespace, kind, name string }

// lineage is what the input says about each document's ownership.
type lineage struct {
	uids []string
	// owner is the index of the document whose result stands for each
	// document (its controller's, or that controller's own owner's...), or -1.
	owner []int
}

// ownersInInput finds, for each document, the controller that owns it when
// that controller is itself in the input: its result stands for the owned
// object, as the controller's template is what its pods are made of. A
// controller that is owned in turn hands on to its own owner (a Deployment
// stands for its ReplicaSets' pods). Owners are matched by namespace, kind
// and name, and by UID when both sides have one (a controller deleted and
// created again under the same name does not own the old one's pods).
func ownersInInput(docs []manifest.Document, defaultNamespace string) lineage {
	metas := make([]ownerMeta, len(docs))
	present := make(map[ownerKey]int, len(docs))
	for i := range docs {
		d := &docs[i]
		// An object whose metadata does not read has no owner here; the
		// review reports why it cannot be read.
		_ = json.Unmarshal(d.JSON, &metas[i])
		present[ownerKey{namespaceOf(d, defaultNamespace), d.Kind, d.Name}] = i
	}
	l := lineage{uids: make([]string, len(docs)), owner: make([]int, len(docs))}
	for i := range docs {
		l.uids[i] = metas[i].Metadata.UID
		l.owner[i] = controllerIn(&docs[i], &metas[i], metas, present, defaultNamespace)
	}
	// Hand on to the topmost owner. Objects that own each other in a
	// cycle (malformed input) are each reviewed on their own.
	top := make([]int, len(docs))
	for i := range docs {
		top[i] = l.owner[i]
		for steps := 0; top[i] >= 0 && l.owner[top[i]] >= 0; steps++ {
			if top[i] == i || steps > len(docs) {
				top[i] = -1
				break
			}
			top[i] = l.owner[top[i]]
		}
		if top[i] == i {
			top[i] = -1
		}
	}
	l.owner = top
	return l
}

// controllerIn is the index of the document that controls d, or -1.
func controllerIn(d *manifest.Document, m *ownerMeta, metas []ownerMeta, present map[ownerKey]int, defaultNamespace string) int {
	for _, ref := range m.Metadata.OwnerReferences {
		if ref.Controller == nil || !*ref.Controller {
			continue
		}
		j, ok := present[ownerKey{namespaceOf(d, defaultNamespace), ref.Kind, ref.Name}]
		if !ok || (metas[j].Metadata.UID != "" && ref.UID != "" && metas[j].Metadata.UID != ref.UID) {
			return -1
		}
		return j // one controller at most
	}
	return -1
}

// namespaceOf is the namespace of a namespaced document.
func namespaceOf(d *manifest.Document, defaultNamespace string) string {
	if d.Namespace != "" {
		return d.Namespace
	}
	return defaultNamespace
}

// ControllerRef is the controller an object's ownerReferences name
// (controller: true): in the owned object's namespace, by kind and name,
// and UID when the reference carries one.
type ControllerRef struct{ Kind, Name, UID string }

// Find looks an object up where the caller keeps them (an informer's
// cache): by namespace, kind and name, its UID and its own controller
// reference (nil when none); ok is false when it is not there.
type Find func(namespace, kind, name string) (uid string, ref *ControllerRef, ok bool)

// maxOwnerDepth bounds the walk up controller references (a Pod, its
// ReplicaSet, its Deployment is 2); deeper chains and cycles stop there.
const maxOwnerDepth = 8

// TopController is the topmost controller of an object of namespace ns,
// whose own controller reference is ref, that find holds: the object Run
// would report it through had both been in its input (matched by kind and
// name, and by UID when both have one). Nil when the controller is not
// there, or the references go round in a cycle.
func TopController(ns string, ref *ControllerRef, find Find) *Object {
	var top *Object
	for depth := 0; ref != nil; depth++ {
		if depth == maxOwnerDepth {
			return nil
		}
		uid, next, ok := find(ns, ref.Kind, ref.Name)
		if !ok || (uid != "" && ref.UID != "" && uid != ref.UID) {
			break
		}
		top = &Object{Kind: ref.Kind, Namespace: ns, Name: ref.Name, UID: uid}
		ref = next
	}
	return top
}

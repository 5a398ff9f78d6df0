package podspec

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"sync"

	"gomodules.xyz/jsonpatch/v2"

	"github.com/kguard/kguard/internal/jsonwrite"
)

// structDiff adds the JSON Patch from before to after, two structs of one
// type, member by member as diffMembers does on their JSON — the same
// operations in the same order — but encodes only the members that
// changed: a security context is compared field by field, most of whose
// fields are the same or empty. ok is false, and nothing is added, for a
// type whose JSON is not one omitempty member per field (the caller then
// diffs their JSON).
func (p *patch) structDiff(path string, before, after reflect.Value) (ok bool) {
	fields, ok := membersOf(before.Type())
	if !ok {
		return false
	}
	start := len(p.ops) // what to keep when ok is false
	for _, f := range fields {
		if !p.member(path, f.name, before.Field(f.index), after.Field(f.index)) {
			p.ops = p.ops[:start]
			return false
		}
	}
	return true
}

// member adds the operations for the member name of the object at path,
// from its field's value b to a; ok is false when their JSON cannot be
// written or diffed.
func (p *patch) member(path, name string, b, a reflect.Value) (ok bool) {
	omitB, omitA := jsonwrite.Omitted(b), jsonwrite.Omitted(a)
	switch {
	case omitB && omitA:
	case omitA:
		p.ops = append(p.ops, jsonpatch.NewOperation("remove", path+"/"+name, nil))
	case omitB:
		raw, err := jsonwrite.Reflect(make([]byte, 0, 64), a)
		if err != nil {
			return false
		}
		v, ok := addedValue(raw)
		if !ok {
			return false
		}
		p.ops = append(p.ops, jsonpatch.NewOperation("add", path+"/"+name, v))
	case !equalValues(b, a):
		rawB, errB := jsonwrite.Reflect(nil, b)
		rawA, errA := jsonwrite.Reflect(nil, a)
		if errB != nil || errA != nil {
			return false
		}
		if bytes.Equal(rawB, rawA) {
			return true
		}
		sub, err := jsonpatch.CreatePatch(rawB, rawA)
		if err != nil {
			return false
		}
		orderOps(sub)
		for _, op := range sub {
			op.Path = path + "/" + name + op.Path
			p.ops = append(p.ops, op)
		}
	}
	return true
}

// jsonMember is a struct field and its member's name.
type jsonMember struct {
	index int
	name  string
}

// memberLists caches membersOf: reflect.Type -> []jsonMember (nil: not
// one omitempty member per field).
var memberLists sync.Map

// membersOf lists the JSON members of a struct type in name order; ok is
// false unless every field is exported and encodes as one omitempty member
// of its own plain name (jsonwrite.Member).
func membersOf(t reflect.Type) ([]jsonMember, bool) {
	if v, ok := memberLists.Load(t); ok {
		ms := v.([]jsonMember)
		return ms, ms != nil
	}
	ms := []jsonMember{}
	seen := map[string]bool{}
	for i := 0; t.Kind() == reflect.Struct && i < t.NumField(); i++ {
		f := t.Field(i)
		name, omitEmpty, ok := jsonwrite.Member(f)
		if !f.IsExported() || !ok || !omitEmpty || seen[name] {
			ms = nil
			break
		}
		seen[name] = true
		ms = append(ms, jsonMember{i, name})
	}
	if t.Kind() != reflect.Struct || len(ms) == 0 {
		ms = nil
	}
	slices.SortFunc(ms, func(a, b jsonMember) int { return strings.Compare(a.name, b.name) })
	memberLists.Store(t, ms)
	return ms, ms != nil
}

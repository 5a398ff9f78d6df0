package podspec

import (
	"bytes"
	"encoding/json"

	"gomodules.xyz/jsonpatch/v2"

	"github.com/kguard/kguard/internal/jsonwrite"
)

// diffMembers adds the JSON Patch from before to after, two JSON objects as
// encoding/json writes them, member by member: a member only in after is
// added, one only in before removed, one whose JSON differs diffed by the
// library; members come in order of their names. It gives the operations
// jsonpatch.CreatePatch gives, in the order diff sorts them, without decoding
// either object into maps, which was most of a mutated pod's patch. The value
// of an added member is its JSON when re-encoding its decoded value would give
// the same bytes (objects' members in name order, no replaced invalid UTF-8),
// its decoded value otherwise, as the library's. ok is false, and nothing is
// added, for anything but two objects of plain member names (no escapes, '/'
// or '~'): the caller diffs them the library's way.
func (p *patch) diffMembers(path string, before, after []byte) (ok bool) {
	b, okB := members(nil, before)
	a, okA := members(nil, after)
	if !okB || !okA {
		return false
	}
	var ops []jsonpatch.Operation
	i, j := 0, 0
	for i < len(b) || j < len(a) {
		switch {
		case j == len(a) || (i < len(b) && b[i].name < a[j].name):
			ops = append(ops, jsonpatch.NewOperation("remove", path+"/"+b[i].name, nil))
			i++
		case i == len(b) || a[j].name < b[i].name:
			v, ok := addedValue(a[j].value)
			if !ok {
				return false
			}
			ops = append(ops, jsonpatch.NewOperation("add", path+"/"+a[j].name, v))
			j++
		default:
			if !bytes.Equal(b[i].value, a[j].value) {
				sub, err := jsonpatch.CreatePatch(b[i].value, a[j].value)
				if err != nil {
					return false
				}
				orderOps(sub) // the library walks maps: in a stable order
				for _, op := range sub {
					op.Path = path + "/" + a[j].name + op.Path
					ops = append(ops, op)
				}
			}
			i, j = i+1, j+1
		}
	}
	p.ops = append(p.ops, ops...)
	return true
}

// member is one member of a JSON object: its name and its value's JSON.
type member struct {
	name  string
	value []byte
}

// members splits a compact JSON object into its members, appended to dst
// (a buffer of the caller's, or nil) and sorted by name; ok
// is false if data is not one, or a name is escaped, repeated, or holds a
// '/' or '~' (which a JSON Pointer escapes, and which would sort differently).
func members(dst []member, data []byte) (ms []member, ok bool) {
	ms = dst
	if !eachMember(data, func(name, value []byte) bool {
		ms = append(ms, member{string(name), value})
		return true
	}) {
		return nil, false
	}
	// encoding/json writes a struct's members in field order: sort them.
	for i := 1; i < len(ms); i++ {
		for k := i; k > 0 && ms[k].name <= ms[k-1].name; k-- {
			if ms[k].name == ms[k-1].name {
				return nil, false
			}
			ms[k], ms[k-1] = ms[k-1], ms[k]
		}
	}
	return ms, true
}

// eachMember calls f with the name and the value's JSON of each member of
// a compact JSON object, in order, until f says false; ok is false if f
// did, or data is not one, or a name is escaped or holds a '/' or '~'.
func eachMember(data []byte, f func(name, value []byte) bool) (ok bool) {
	if len(data) < 2 || data[0] != '{' || data[len(data)-1] != '}' {
		return false
	}
	rest := data[1 : len(data)-1]
	for len(rest) > 0 {
		if rest[0] != '"' {
			return false
		}
		end := bytes.IndexByte(rest[1:], '"') + 1
		if end <= 0 || end+1 >= len(rest) || rest[end+1] != ':' {
			return false
		}
		name := rest[1:end]
		if bytes.ContainsAny(name, `\/~`) {
			return false
		}
		rest = rest[end+2:]
		n, ok := valueEnd(rest)
		if !ok || !f(name, rest[:n]) {
			return false
		}
		rest = rest[n:]
		if len(rest) > 0 {
			if rest[0] != ',' || len(rest) == 1 {
				return false
			}
			rest = rest[1:]
		}
	}
	return true
}

// valueEnd is the length of the compact JSON value data starts with, which a
// ',' or the end of data follows; ok is false if it does not end. The bytes
// were written by encoding/json, so they are valid JSON: only where the value
// ends needs finding.
func valueEnd(data []byte) (n int, ok bool) {
	depth := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			if i >= len(data) {
				return 0, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth < 0 {
				return 0, false
			}
		case ',':
			if depth == 0 {
				return i, true
			}
		}
	}
	if depth != 0 {
		return 0, false
	}
	return len(data), true
}

// addedValue is the value of an "add" operation for a member's JSON: the JSON
// itself when encoding the library's decoded value (maps, whose members
// encoding/json writes in name order, and json.Number) gives the same bytes,
// the decoded value otherwise.
func addedValue(raw []byte) (any, bool) {
	if canonical(raw) {
		return jsonwrite.Raw(raw), true
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// canonical reports whether compact JSON, decoded into any and encoded again,
// stays the same bytes: no object but ones whose members are in name order
// (an object in an array is not looked into: not canonical), and no string
// holding \ufffd (encoding/json writes invalid UTF-8 so, and the decoded
// value encodes as the character itself).
func canonical(raw []byte) bool {
	return !bytes.Contains(raw, []byte(`\ufffd`)) && sortedObjects(raw)
}

// sortedObjects: raw holds no object, or is one whose members are in
// name order (no name repeated, escaped, or holding '/' or '~', as for
// members) with values of which the same holds. It walks raw in place:
// splitting it into members cost an allocation for every name.
func sortedObjects(raw []byte) bool {
	if bytes.IndexByte(raw, '{') < 0 {
		return true
	}
	var prev []byte
	first := true
	return eachMember(raw, func(name, value []byte) bool {
		inOrder := first || bytes.Compare(prev, name) < 0
		prev, first = name, false
		return inOrder && sortedObjects(value)
	})
}

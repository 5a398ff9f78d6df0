// Package manifest reads Kubernetes objects from YAML or JSON streams, files,
// directories and standard input, remembering where each object came from so
// that every later error can name the file and line.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	sigsjson "sigs.k8s.io/json"

	goyaml "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/parallel"
)

// MaxDocumentBytes bounds one YAML/JSON document; larger ones are rejected
// rather than read into memory without limit.
const MaxDocumentBytes = 16 << 20

// Document is one Kubernetes object read from a stream.
type Document struct {
	// Source is the file the object was read from, or "-" for standard input.
	Source string
	// Line is the 1-based line on which the object's document starts.
	Line int
	// Item is the index of the object inside a List document, or -1.
	Item int

	APIVersion string
	Kind       string
	Name       string
	Namespace  string

	// JSON is the object, converted to JSON.
	JSON []byte
}

// Position returns "file:line", with the list item when there is one.
func (d *Document) Position() string {
	if d.Item >= 0 {
		return fmt.Sprintf("%s:%d (items[%d])", d.Source, d.Line, d.Item)
	}
	return fmt.Sprintf("%s:%d", d.Source, d.Line)
}

// Identity returns "Kind namespace/name" (or "Kind name" for cluster-scoped objects).
func (d *Document) Identity() string {
	if d.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", d.Kind, d.Namespace, d.Name)
	}
	return fmt.Sprintf("%s %s", d.Kind, d.Name)
}

// Group returns the API group of the document's apiVersion ("" for the core group).
func (d *Document) Group() string {
	if i := strings.Index(d.APIVersion, "/"); i >= 0 {
		return d.APIVersion[:i]
	}
	return ""
}

// Errorf returns an *Error positioned at this document.
func (d *Document) Errorf(format string, args ...any) error {
	return &Error{Source: d.Source, Line: d.Line, Item: d.Item, Err: fmt.Errorf(format, args...)}
}

// Decode decodes the document strictly into obj: unknown and duplicated
// fields are errors, so a misspelt policy field is never silently ignored.
func (d *Document) Decode(obj any) error {
	strictErrs, err := sigsjson.UnmarshalStrict(d.JSON, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return d.Errorf("decoding %s: %v", d.Kind, err)
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return d.Errorf("decoding %s: %s", d.Kind, strings.Join(msgs, "; "))
	}
	return nil
}

// DecodeLenient decodes the document into obj as webhooks upstream read the
// objects kube-apiserver sends them: fields the Go types do not know (those of
// a newer Kubernetes) are ignored and returned as paths ("spec.futureField");
// duplicated fields and malformed JSON are still errors.
func (d *Document) DecodeLenient(obj any) (unknown []string, err error) {
	strictErrs, err := sigsjson.UnmarshalStrict(d.JSON, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, d.Errorf("decoding %s: %v", d.Kind, err)
	}
	var fatal []string
	for _, e := range strictErrs {
		fp, ok := e.(interface{ FieldPath() string })
		if ok && strings.HasPrefix(e.Error(), "unknown field ") {
			unknown = append(unknown, fp.FieldPath())
			continue
		}
		fatal = append(fatal, e.Error())
	}
	if len(fatal) > 0 {
		return nil, d.Errorf("decoding %s: %s", d.Kind, strings.Join(fatal, "; "))
	}
	return unknown, nil
}

// Error is an input error with its position.
type Error struct {
	Source string
	Line   int
	Item   int
	Err    error
}

func (e *Error) Error() string {
	pos := fmt.Sprintf("%s:%d", e.Source, e.Line)
	if e.Item >= 0 {
		pos += fmt.Sprintf(" (items[%d])", e.Item)
	}
	return pos + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrInput is matched (errors.Is) by every error that reading input returns.
var ErrInput = errors.New("invalid input")

// Is makes every *Error match ErrInput.
func (e *Error) Is(target error) bool { return target == ErrInput }

// ReadPaths reads every object in the given files and directories. "-" reads
// stdin. Directories are walked recursively for *.yaml, *.yml and *.json files,
// in lexical order.
func ReadPaths(paths []string, stdin io.Reader) ([]Document, error) {
	var docs []Document
	for _, p := range paths {
		if p == "-" {
			if stdin == nil {
				return nil, &Error{Source: "-", Line: 0, Item: -1, Err: errors.New("standard input is not available")}
			}
			ds, err := Read(stdin, "-")
			if err != nil {
				return nil, err
			}
			docs = append(docs, ds...)
			continue
		}
		files, err := Expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			ds, err := ReadFile(f)
			if err != nil {
				return nil, err
			}
			docs = append(docs, ds...)
		}
	}
	return docs, nil
}

// Expand lists the files a path stands for: the path itself, or for a
// directory the *.yaml, *.yml and *.json files below it, in lexical order.
//
// A directory may be a Kubernetes ConfigMap, Secret or projected volume, which
// the kubelet lays out as a hidden "..<timestamp>" directory holding the data,
// a "..data" symlink to it, and one user-visible symlink per key ("name ->
// ..data/name", or "sub -> ..data/sub" for a nested path). So that every file
// is read once, and only in its current version:
//   - entries whose name starts with ".." are skipped (the kubelet reserves
//     those names), below the given path; the path itself may be one;
//   - a symlink to a file is read, under the symlink's own name; a symlink
//     whose target is missing is an error if its name is that of a manifest;
//   - a symlink to a directory is walked like a directory. A symlink that leads
//     back to a directory it is inside is an error, not a loop. A directory
//     reached twice by different links is read twice, as its objects would
//     then be defined twice.
func Expand(p string) ([]string, error) {
	return expand(p, isManifest, true)
}

// ExpandExt is Expand for the files whose extension is one of exts (".rego"):
// those below a directory, or the path itself when it is such a file.
func ExpandExt(p string, exts ...string) ([]string, error) {
	match := func(name string) bool {
		ext := strings.ToLower(filepath.Ext(name))
		for _, e := range exts {
			if ext == e {
				return true
			}
		}
		return false
	}
	return expand(p, match, false)
}

// expand lists the files below p that match (p itself when it is a file:
// always if anyFile, else only when it matches).
func expand(p string, match func(name string) bool, anyFile bool) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, &Error{Source: p, Item: -1, Err: unwrapPathError(err)}
	}
	if !info.IsDir() {
		if anyFile || match(p) {
			return []string{p}, nil
		}
		return nil, nil
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, &Error{Source: p, Item: -1, Err: unwrapPathError(err)}
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return nil, &Error{Source: p, Item: -1, Err: err}
	}
	var files []string
	if err := expandDir(p, []string{real}, match, &files); err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

// isManifest says whether a file name is read as a manifest.
func isManifest(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// expandDir adds the manifests below dir to files. stack holds the absolute,
// symlink-free paths of dir and of the directories it is inside, the last one
// being dir's own.
func expandDir(dir string, stack []string, match func(name string) bool, files *[]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return &Error{Source: dir, Item: -1, Err: unwrapPathError(err)}
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") {
			continue // the kubelet's data: read through the user-visible links
		}
		path := filepath.Join(dir, name)
		mode := e.Type()
		real := filepath.Join(stack[len(stack)-1], name)
		if mode&fs.ModeSymlink != 0 {
			info, err := os.Stat(path)
			if err != nil {
				if !match(name) {
					continue // a broken link to something kguard would not read
				}
				return &Error{Source: path, Item: -1, Err: fmt.Errorf("following symlink: %w", unwrapPathError(err))}
			}
			mode = info.Mode().Type()
			if mode.IsDir() {
				if real, err = filepath.EvalSymlinks(path); err != nil {
					return &Error{Source: path, Item: -1, Err: fmt.Errorf("following symlink: %w", unwrapPathError(err))}
				}
				if real, err = filepath.Abs(real); err != nil {
					return &Error{Source: path, Item: -1, Err: err}
				}
			}
		}
		if !mode.IsDir() {
			if match(name) {
				*files = append(*files, path)
			}
			continue
		}
		for _, up := range stack {
			if real == up {
				return &Error{Source: path, Item: -1, Err: fmt.Errorf("symlink loop: this leads to %s, a directory it is inside", real)}
			}
		}
		if err := expandDir(path, append(stack[:len(stack):len(stack)], real), match, files); err != nil {
			return err
		}
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// ReadFile reads every object in one file.
func ReadFile(path string) ([]Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Source: path, Item: -1, Err: unwrapPathError(err)}
	}
	defer f.Close()
	return Read(f, path)
}

// Read reads a multi-document YAML (or JSON) stream.
func Read(r io.Reader, source string) ([]Document, error) {
	type chunk struct {
		start int
		raw   []byte
	}
	var chunks []chunk
	err := split(r, func(start int, raw []byte) error {
		chunks = append(chunks, chunk{start, raw})
		return nil
	})
	if err == nil {
		// Parsing YAML is most of the cost of reading; documents are
		// independent, so they are parsed on every core, in order.
		parsed := make([][]Document, len(chunks))
		errs := make([]error, len(chunks))
		parallel.Do(len(chunks), func(i int) {
			parsed[i], errs[i] = parse(source, chunks[i].start, chunks[i].raw)
		})
		var docs []Document
		for i := range chunks {
			if errs[i] != nil {
				err = errs[i]
				break
			}
			docs = append(docs, parsed[i]...)
		}
		if err == nil {
			return docs, nil
		}
	}
	var me *Error
	if errors.As(err, &me) {
		return nil, err
	}
	return nil, &Error{Source: source, Item: -1, Err: err}
}

// split calls fn for each "---"-separated document with its first line number.
func split(r io.Reader, fn func(start int, raw []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), MaxDocumentBytes)
	var buf bytes.Buffer
	line, start := 0, 1
	flush := func() error {
		if buf.Len() > 0 {
			raw := append([]byte(nil), buf.Bytes()...)
			buf.Reset()
			return fn(start, raw)
		}
		return nil
	}
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if isSeparator(text) {
			if err := flush(); err != nil {
				return err
			}
			start = line + 1
			continue
		}
		if buf.Len()+len(text) > MaxDocumentBytes {
			return fmt.Errorf("line %d: document larger than %d bytes", line, MaxDocumentBytes)
		}
		buf.Write(text)
		buf.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: line longer than %d bytes", line+1, MaxDocumentBytes)
		}
		return err
	}
	return flush()
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r'
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parse converts one "---"-separated document to JSON and expands Lists. A
// document that starts as JSON is read as a stream of JSON values, as kubectl
// reads them (what yq -o json prints for multi-document YAML), so that no
// object after the first is dropped.
func parse(source string, start int, raw []byte) ([]Document, error) {
	if len(bytes.TrimSpace(stripComments(raw))) == 0 {
		return nil, nil
	}
	lead := significantStart(raw)
	line := start + bytes.Count(raw[:lead], []byte("\n"))
	if c := raw[lead]; c == '{' || c == '[' {
		values, lines, isJSON, err := jsonStream(source, line, raw[lead:])
		if err != nil {
			return nil, err
		}
		if isJSON {
			var out []Document
			for i, v := range values {
				ds, err := parseOne(source, lines[i], v)
				if err != nil {
					return nil, err
				}
				out = append(out, ds...)
			}
			return out, nil
		}
		// Not JSON: YAML in flow style, which the YAML parser reads only up
		// to the end of its first node; anything after it is refused.
		if err := singleYAMLDocument(raw); err != nil {
			return nil, &Error{Source: source, Line: start, Item: -1, Err: err}
		}
	}
	return parseOne(source, start, raw)
}

// significantStart returns the offset of the first line of raw that is
// neither blank nor a comment.
func significantStart(raw []byte) int {
	off := 0
	for off < len(raw) {
		end := bytes.IndexByte(raw[off:], '\n')
		if end < 0 {
			end = len(raw) - off
		}
		t := bytes.TrimSpace(raw[off : off+end])
		if len(t) > 0 && t[0] != '#' {
			return off + bytes.Index(raw[off:], t[:1])
		}
		off += end + 1
	}
	return len(raw)
}

// jsonStream splits raw, which starts at line start, into JSON values. isJSON
// is false when the first value is not JSON (it may be flow-style YAML);
// after a first JSON value, anything that is not another JSON value is an
// error naming its line.
func jsonStream(source string, start int, raw []byte) (values []json.RawMessage, lines []int, isJSON bool, err error) {
	lineAt := func(off int64) int {
		if off > int64(len(raw)) {
			off = int64(len(raw))
		}
		return start + bytes.Count(raw[:off], []byte("\n"))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		off := dec.InputOffset()
		for off < int64(len(raw)) && isJSONSpace(raw[off]) {
			off++
		}
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return values, lines, true, nil
		}
		if err != nil {
			if len(values) == 0 {
				return nil, nil, false, nil
			}
			at := off
			var se *json.SyntaxError
			if errors.As(err, &se) && se.Offset > 0 {
				at = se.Offset - 1
			}
			return nil, nil, true, &Error{Source: source, Line: lineAt(at), Item: -1,
				Err: fmt.Errorf("invalid JSON after the object on line %d (expected another JSON object or the end of the input): %v", lines[len(lines)-1], err)}
		}
		values = append(values, v)
		lines = append(lines, lineAt(off))
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// singleYAMLDocument refuses raw unless it holds exactly one YAML document.
func singleYAMLDocument(raw []byte) error {
	dec := goyaml.NewDecoder(bytes.NewReader(raw))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil // parseOne reports it with its line
	}
	switch err := dec.Decode(&v); {
	case err == io.EOF:
		return nil
	case err != nil:
		return fmt.Errorf("invalid YAML after the end of the first object: %v", err)
	default:
		return errors.New("invalid YAML: more than one object in one document (separate them with ---)")
	}
}

// errTopLevelArray is the refusal of a document that is an array: kubectl
// refuses it too, and its elements would otherwise be dropped.
var errTopLevelArray = errors.New(`a top-level array is not a Kubernetes object: put the objects in a List ({"apiVersion":"v1","kind":"List","items":[...]}) or write them one after another`)

// parseOne converts one YAML or JSON value to JSON and expands Lists.
func parseOne(source string, start int, raw []byte) ([]Document, error) {
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		// Make the YAML parser's line numbers absolute.
		msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
			n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
			return fmt.Sprintf("line %d", n+start-1)
		})
		return nil, &Error{Source: source, Line: start, Item: -1, Err: fmt.Errorf("invalid YAML: %s", msg)}
	}
	js = bytes.TrimSpace(js)
	if bytes.Equal(js, []byte("null")) {
		return nil, nil
	}
	if len(js) > 0 && js[0] == '[' {
		return nil, &Error{Source: source, Line: start, Item: -1, Err: errTopLevelArray}
	}
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   json.RawMessage   `json:"metadata"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return nil, &Error{Source: source, Line: start, Item: -1, Err: notAnObject(-1, err)}
	}
	if head.Kind == "List" || (strings.HasSuffix(head.Kind, "List") && head.Items != nil) {
		var out []Document
		for i, item := range head.Items {
			d, err := document(source, start, i, item)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	}
	d, err := document(source, start, -1, js)
	if err != nil {
		return nil, err
	}
	return []Document{d}, nil
}

// notAnObject says which part of a document has the wrong JSON type, in
// the document's terms rather than as the Go type it was decoded into.
func notAnObject(item int, err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("not a Kubernetes object: %v", err)
	}
	what := "the document"
	if item >= 0 {
		what = "the item"
	}
	if f := strings.TrimPrefix(te.Field, "."); f != "" {
		what = f
	}
	want := "a " + te.Type.Kind().String()
	switch te.Type.Kind() {
	case reflect.Struct, reflect.Map:
		want = "a mapping"
	case reflect.Slice:
		want = "a list"
	}
	return fmt.Errorf("not a Kubernetes object: %s is a %s, not %s", what, te.Value, want)
}

func document(source string, line, item int, js []byte) (Document, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	d := Document{Source: source, Line: line, Item: item, JSON: js}
	if err := json.Unmarshal(js, &head); err != nil {
		return d, d.Errorf("%v", notAnObject(item, err))
	}
	d.APIVersion, d.Kind = head.APIVersion, head.Kind
	d.Name, d.Namespace = head.Metadata.Name, head.Metadata.Namespace
	switch {
	case d.APIVersion == "":
		return d, d.Errorf("object has no apiVersion (e.g. apiVersion: v1)")
	case d.Kind == "":
		return d, d.Errorf("object has no kind (e.g. kind: Pod)")
	}
	return d, nil
}

func stripComments(raw []byte) []byte {
	var out bytes.Buffer
	for _, l := range bytes.Split(raw, []byte("\n")) {
		t := bytes.TrimSpace(l)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		out.Write(l)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// document is one object of the input: a Kubernetes object, or a v1 List
// whose items are objects.
type document struct {
	// index is the document's 1-based position among the input's documents
	// (empty and comment-only ones are not counted).
	index int
	// err says why the document could not be decoded; obj is nil then.
	err error
	// lenient says why a strict decoder refused the document, which was
	// then read leniently (readDocuments with lenient set): the last of
	// duplicate keys wins.
	lenient error
	// raw is the document's YAML text, written back as is while the
	// document is unchanged; nil for JSON input.
	raw []byte
	// obj is the decoded object. For a List, its items are in items.
	obj *unstructured.Unstructured
	// items of a v1 List; nil for any other object.
	items []*unstructured.Unstructured
	// changed is set once obj or an item differs from the input.
	changed bool
	// comments are written as "# " lines before the document (writeYAML).
	comments []string
}

// isList reports whether obj is a v1 List, whose items are handled one by one.
func isList(obj *unstructured.Unstructured) bool {
	return obj.GetAPIVersion() == "v1" && obj.GetKind() == "List"
}

// objects returns the document's objects: a List's items, or the object.
func (d *document) objects() []*unstructured.Unstructured {
	if d.items != nil {
		return d.items
	}
	return []*unstructured.Unstructured{d.obj}
}

// where says where obj, the i-th of objects, stands in source, for
// messages: "document 2 of f.yaml: List item 3: Deployment default/web".
func (d *document) where(source string, i int, obj *unstructured.Unstructured) string {
	where := fmt.Sprintf("document %d of %s: ", d.index, source)
	if d.items != nil {
		where += fmt.Sprintf("List item %d: ", i+1)
	}
	return where + objectName(obj)
}

// object returns the document's object with its items put back.
func (d *document) object() map[string]any {
	if d.items == nil {
		return d.obj.Object
	}
	items := make([]any, len(d.items))
	for i, it := range d.items {
		items[i] = it.Object
	}
	d.obj.Object["items"] = items
	return d.obj.Object
}

// readDocuments decodes data: a stream of JSON objects when it starts with
// "{" and its first object is JSON, YAML documents separated by "---" lines
// otherwise. Empty and comment-only documents are skipped. A document that
// cannot be decoded is returned with its err set, and the others are still
// decoded, so that every problem can be reported at once; after a JSON
// syntax error, the stream cannot be resynchronised and ends.
//
// lenient, for a reader that only judges: a document that a strict decoder
// refuses for a duplicate key is read with the last key winning, the strict
// error kept in the document's lenient field.
func readDocuments(data []byte, lenient bool) []*document {
	var docs []*document
	add := func(raw, j []byte, err error) {
		d := &document{index: len(docs) + 1, raw: raw, err: err}
		if err != nil && lenient && raw != nil {
			if lj, lerr := yaml.YAMLToJSON(raw); lerr == nil {
				d.lenient, d.err, j = err, nil, lj
			}
		}
		if d.err == nil {
			var strictErr error
			d.obj, d.items, strictErr, d.err = decodeObject(j, lenient)
			if strictErr != nil && d.lenient == nil {
				d.lenient = strictErr
			}
			if d.obj == nil && d.err == nil {
				return // nothing in it
			}
		}
		docs = append(docs, d)
	}

	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		dec := kjson.NewDecoderCaseSensitivePreserveInts(bytes.NewReader(data))
		for {
			var j json.RawMessage
			err := dec.Decode(&j)
			if errors.Is(err, io.EOF) {
				return docs
			}
			if err != nil && len(docs) == 0 {
				break // not JSON after all, maybe a YAML flow mapping
			}
			if err != nil {
				add(nil, nil, fmt.Errorf("decode JSON: %w", err))
				return docs
			}
			add(nil, j, nil)
		}
	}

	for _, raw := range splitYAML(data) {
		j, err := yaml.YAMLToJSONStrict(raw)
		add(raw, j, err)
	}
	return docs
}

// splitYAML splits a YAML stream at its document separators: lines that are
// "---", possibly followed by blanks and a comment. Sections holding only
// blank lines are dropped.
func splitYAML(data []byte) [][]byte {
	var sections [][]byte
	var cur []byte
	flush := func() {
		if len(bytes.TrimSpace(cur)) > 0 {
			sections = append(sections, cur)
		}
		cur = nil
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		if isSeparator(line) {
			flush()
			continue
		}
		cur = append(cur, line...)
	}
	flush()
	return sections
}

// isSeparator reports whether line is a YAML document separator.
func isSeparator(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false
	}
	trimmed := bytes.TrimSpace(rest)
	return len(trimmed) == 0 || (trimmed[0] == '#' && (rest[0] == ' ' || rest[0] == '\t'))
}

// decodeObject decodes one document's JSON. It returns a nil object for an
// empty document, and the items of a v1 List. lenient: duplicate keys are
// not an error (the last one wins); strict says what a strict decoder
// refused.
func decodeObject(j []byte, lenient bool) (obj *unstructured.Unstructured, items []*unstructured.Unstructured, strict, err error) {
	var v any
	strictErrs, err := kjson.UnmarshalStrict(j, &v, kjson.DisallowDuplicateFields)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("decode JSON: %w", err)
	}
	if strict = errors.Join(strictErrs...); strict != nil && !lenient {
		return nil, nil, nil, strict
	}
	if v == nil {
		return nil, nil, strict, nil
	}
	if obj, err = asObject(v); err != nil {
		return nil, nil, strict, err
	}
	items, err = listItems(obj)
	if err != nil {
		return nil, nil, strict, err
	}
	return obj, items, strict, nil
}

// listItems returns the items of a v1 List (empty, not nil, when it has
// none), nil for any other object.
func listItems(obj *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	if !isList(obj) {
		return nil, nil
	}
	raw, ok := obj.Object["items"]
	if !ok || raw == nil {
		return []*unstructured.Unstructured{}, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("list items is a %s, want a list", typeName(raw))
	}
	items := make([]*unstructured.Unstructured, len(list))
	var errs []error
	for i, it := range list {
		item, err := asObject(it)
		if err != nil {
			errs = append(errs, &locatedError{where: fmt.Sprintf("List item %d", i+1), err: err})
			continue
		}
		items[i] = item
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return items, nil
}

// asObject checks that v is a Kubernetes object: a mapping with an
// apiVersion and a kind. Its errors never echo values from the input.
func asObject(v any) (*unstructured.Unstructured, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a Kubernetes object: a %s, want a mapping with apiVersion and kind", typeName(v))
	}
	var errs []error
	for _, field := range []string{"apiVersion", "kind"} {
		if s, ok := m[field].(string); !ok || s == "" {
			errs = append(errs, fmt.Errorf("not a Kubernetes object: %s is missing or not a string", field))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// typeName names the JSON type of a decoded value.
func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	default:
		return "number"
	}
}

// objectName names an object in messages: Kind/name.
func objectName(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if name == "" && obj.GetGenerateName() != "" {
		name = obj.GetGenerateName() + "*"
	}
	if name == "" {
		name = "(unnamed)"
	}
	return obj.GetKind() + "/" + name
}

// writeYAML writes docs as YAML documents separated by "---" lines, each
// headed by its comments. An unchanged YAML document is written as it was
// read, comments included.
func writeYAML(w io.Writer, docs []*document) error {
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		for _, c := range d.comments {
			for _, line := range strings.Split(c, "\n") {
				buf.WriteString("# " + line + "\n")
			}
		}
		if !d.changed && d.raw != nil {
			buf.Write(d.raw)
			if !bytes.HasSuffix(d.raw, []byte("\n")) {
				buf.WriteByte('\n')
			}
			continue
		}
		b, err := yaml.Marshal(d.object())
		if err != nil {
			return fmt.Errorf("encode document %d as YAML: %w", d.index, err)
		}
		buf.Write(b)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// writeJSON writes the one document as is, or several as a v1 List.
func writeJSON(w io.Writer, docs []*document) error {
	var v any
	if len(docs) == 1 {
		v = headed(docs[0].object())
	} else {
		items := make([]any, len(docs))
		for i, d := range docs {
			items[i] = d.object()
		}
		v = headed(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	b, err := marshalJSON(v, "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// headed returns obj, and the items of a List, as headedObjects.
func headed(obj map[string]any) headedObject {
	items, ok := obj["items"].([]any)
	if !ok || !isList(&unstructured.Unstructured{Object: obj}) {
		return obj
	}
	out := make(headedObject, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	heads := make([]any, len(items))
	for i, it := range items {
		heads[i] = it
		if m, ok := it.(map[string]any); ok {
			heads[i] = headedObject(m)
		}
	}
	out["items"] = heads
	return out
}

// headedObject is an object encoded with its apiVersion and kind first, then
// its other fields sorted, as kubectl shows objects.
type headedObject map[string]any

func (o headedObject) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(o))
	for k := range o {
		if k != "apiVersion" && k != "kind" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range []string{"kind", "apiVersion"} {
		if _, ok := o[k]; ok {
			keys = append([]string{k}, keys...)
		}
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, err := marshalJSON(k, "")
		if err != nil {
			return nil, err
		}
		value, err := marshalJSON(o[k], "")
		if err != nil {
			return nil, err
		}
		buf.Write(bytes.TrimSuffix(key, []byte("\n")))
		buf.WriteByte(':')
		buf.Write(bytes.TrimSuffix(value, []byte("\n")))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshalJSON encodes v without escaping <, > and &, which templates and
// commands use, indented by indent unless it is empty.
func marshalJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

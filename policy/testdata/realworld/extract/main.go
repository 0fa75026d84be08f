// Command extract lists every env and envFrom entry of every pod template in
// a tree of Kubernetes manifests, one tab-separated line per entry:
//
//	file  doc  path  name  kind_of_value
//
// file is the manifest's path relative to the tree's root (slash-separated),
// doc the 0-based index of the YAML document in the file, path where the
// entry sits in that document (spec.template.spec.containers[0].env[3]),
// name the variable's name (for envFrom, the referenced object's name) and
// kind_of_value one of literal, empty, secretKeyRef, configMapKeyRef,
// fieldRef, resourceFieldRef, envFrom-secret, envFrom-configmap.
//
// Documents are the chunks that k8s.io/apimachinery's YAMLReader returns
// (split on "---" lines; empty chunks are skipped, a comment-only chunk is a
// document that holds nothing). Pod templates are found by kind (Pod: spec;
// PodTemplate: template.spec) and by shape: spec.template.spec and
// spec.jobTemplate.spec.template.spec when they have containers, in any
// kind, and likewise in each item of a List.
//
// Flags:
//
//	-values          add a sixth column with the value (literal only), escaped
//	-stats           print per-directory totals instead of entries
//	-check FILE      compare FILE (labels.tsv) with the entries: every entry must
//	                 have exactly one line, with the same name and kind_of_value
//	-list            print the files that are Kubernetes manifests (every
//	                 non-empty document has apiVersion and kind, at least one is
//	                 not a kustomize file) and exit
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Entry is one env or envFrom entry.
type Entry struct {
	File, Path, Name, Kind, Value string
	Doc                           int
}

func (e Entry) key() string { return e.File + "\t" + strconv.Itoa(e.Doc) + "\t" + e.Path }

// Doc is one YAML document of a file.
type Doc struct {
	Obj         map[string]any // nil for a document that holds nothing
	PodTemplate bool
}

func main() {
	values := flag.Bool("values", false, "add the value column")
	stats := flag.Bool("stats", false, "print per-directory totals")
	list := flag.Bool("list", false, "print the files that are Kubernetes manifests")
	check := flag.String("check", "", "labels.tsv to check against the entries")
	depth := flag.Int("depth", 1, "with -stats: directory depth to group by")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: extract [-values|-stats|-list|-check labels.tsv] DIR")
		os.Exit(2)
	}
	root := flag.Arg(0)
	files, err := walk(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()

	type tot struct{ files, docs, objs, pods, env int }
	totals := map[string]*tot{}
	var all []Entry
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		docs, err := parse(data)
		if err != nil || !isManifest(docs) {
			continue
		}
		if *list {
			fmt.Fprintln(w, rel)
			continue
		}
		entries := Entries(rel, docs)
		all = append(all, entries...)
		parts := strings.Split(rel, "/")
		g := strings.Join(parts[:min(*depth, len(parts)-1)], "/")
		t := totals[g]
		if t == nil {
			t = &tot{}
			totals[g] = t
		}
		t.files++
		t.docs += len(docs)
		for _, d := range docs {
			if d.Obj != nil {
				t.objs++
			}
			if d.PodTemplate {
				t.pods++
			}
		}
		t.env += len(entries)
	}
	switch {
	case *list:
	case *stats:
		keys := make([]string, 0, len(totals))
		for k := range totals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var sum tot
		fmt.Fprintln(w, "dir\tfiles\tdocuments\tobjects\tpod_templates\tenv_entries")
		for _, k := range keys {
			t := totals[k]
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\n", k, t.files, t.docs, t.objs, t.pods, t.env)
			sum.files += t.files
			sum.docs += t.docs
			sum.objs += t.objs
			sum.pods += t.pods
			sum.env += t.env
		}
		fmt.Fprintf(w, "TOTAL\t%d\t%d\t%d\t%d\t%d\n", sum.files, sum.docs, sum.objs, sum.pods, sum.env)
	case *check != "":
		w.Flush()
		if err := checkLabels(*check, all); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%s: %d entries, each with exactly one line\n", *check, len(all))
	default:
		for _, e := range all {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s", e.File, e.Doc, e.Path, e.Name, e.Kind)
			if *values {
				fmt.Fprintf(w, "\t%s", escape(e.Value))
			}
			fmt.Fprintln(w)
		}
	}
}

// walk returns the .yaml and .yml files under root, sorted, slash-separated.
func walk(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// parse splits data into documents and decodes each.
func parse(data []byte) ([]Doc, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []Doc
	for {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var v any
		if err := yaml.Unmarshal(chunk, &v); err != nil {
			return nil, err
		}
		switch o := v.(type) {
		case nil:
			docs = append(docs, Doc{})
		case map[string]any:
			docs = append(docs, Doc{Obj: o})
		default:
			return nil, fmt.Errorf("document %d is not a mapping", len(docs))
		}
	}
}

// isManifest: every non-empty document has apiVersion and kind, and at
// least one is not a kustomize or kind-cluster file.
func isManifest(docs []Doc) bool {
	api := false
	for _, d := range docs {
		if d.Obj == nil {
			continue
		}
		av, _ := d.Obj["apiVersion"].(string)
		k, _ := d.Obj["kind"].(string)
		if av == "" || k == "" {
			return false
		}
		if !strings.HasPrefix(av, "kustomize.config.k8s.io/") && !strings.HasPrefix(av, "kind.x-k8s.io/") {
			api = true
		}
	}
	return api
}

// Entries lists the env entries of every pod template in docs and marks
// the documents that hold one.
func Entries(file string, docs []Doc) []Entry {
	var out []Entry
	for i := range docs {
		if docs[i].Obj == nil {
			continue
		}
		var n int
		out, n = objEntries(out, file, i, "", docs[i].Obj)
		if k, _ := docs[i].Obj["kind"].(string); k == "List" {
			items, _ := docs[i].Obj["items"].([]any)
			for j, it := range items {
				if m, ok := it.(map[string]any); ok {
					var c int
					out, c = objEntries(out, file, i, fmt.Sprintf("items[%d].", j), m)
					n += c
				}
			}
		}
		docs[i].PodTemplate = n > 0
	}
	return out
}

// objEntries appends the entries of the pod templates of one object and
// returns how many pod templates it found.
func objEntries(out []Entry, file string, doc int, prefix string, obj map[string]any) ([]Entry, int) {
	kind, _ := obj["kind"].(string)
	var cands [][]string
	switch kind {
	case "Pod":
		cands = append(cands, []string{"spec"})
	case "PodTemplate":
		cands = append(cands, []string{"template", "spec"})
	}
	cands = append(cands,
		[]string{"spec", "template", "spec"},
		[]string{"spec", "jobTemplate", "spec", "template", "spec"})
	n := 0
	for _, c := range cands {
		spec, ok := dig(obj, c...).(map[string]any)
		if !ok {
			continue
		}
		if _, ok := spec["containers"].([]any); !ok {
			continue
		}
		n++
		base := prefix + strings.Join(c, ".") + "."
		for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
			cs, _ := spec[field].([]any)
			for ci, cv := range cs {
				ctr, _ := cv.(map[string]any)
				cpath := fmt.Sprintf("%s%s[%d].", base, field, ci)
				env, _ := ctr["env"].([]any)
				for ei, ev := range env {
					m, _ := ev.(map[string]any)
					e := Entry{File: file, Doc: doc, Path: fmt.Sprintf("%senv[%d]", cpath, ei)}
					e.Name, _ = m["name"].(string)
					e.Kind, e.Value = classify(m)
					out = append(out, e)
				}
				from, _ := ctr["envFrom"].([]any)
				for fi, fv := range from {
					m, _ := fv.(map[string]any)
					e := Entry{File: file, Doc: doc, Path: fmt.Sprintf("%senvFrom[%d]", cpath, fi)}
					if ref, ok := m["secretRef"].(map[string]any); ok {
						e.Kind = "envFrom-secret"
						e.Name, _ = ref["name"].(string)
					} else if ref, ok := m["configMapRef"].(map[string]any); ok {
						e.Kind = "envFrom-configmap"
						e.Name, _ = ref["name"].(string)
					} else {
						e.Kind = "envFrom-other"
					}
					out = append(out, e)
				}
			}
		}
	}
	return out, n
}

// classify returns an env entry's kind_of_value and, for a literal, its
// value as text.
func classify(m map[string]any) (string, string) {
	if vf, ok := m["valueFrom"].(map[string]any); ok {
		for _, k := range []string{"secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef"} {
			if _, ok := vf[k]; ok {
				return k, ""
			}
		}
		return "valueFrom-other", ""
	}
	v, ok := m["value"]
	if !ok || v == nil {
		return "empty", ""
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case bool:
		s = strconv.FormatBool(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		s = fmt.Sprint(x)
	}
	if s == "" {
		return "empty", ""
	}
	return "literal", s
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	s = strings.ReplaceAll(s, "\t", `\t`)
	return s
}

// checkLabels reads a labels file (header line first) and requires one line
// per entry, with matching name and kind_of_value and a label of secret or
// benign.
func checkLabels(path string, entries []Entry) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	want := map[string]Entry{}
	for _, e := range entries {
		want[e.key()] = e
	}
	seen := map[string]bool{}
	var errs []string
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for i, line := range lines {
		if i == 0 {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			errs = append(errs, fmt.Sprintf("line %d: %d columns, want 7", i+1, len(f)))
			continue
		}
		k := f[0] + "\t" + f[1] + "\t" + f[2]
		e, ok := want[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("line %d: no such entry %q", i+1, k))
		case seen[k]:
			errs = append(errs, fmt.Sprintf("line %d: duplicate %q", i+1, k))
		case e.Name != f[3] || e.Kind != f[4]:
			errs = append(errs, fmt.Sprintf("line %d: name/kind %s/%s, entry has %s/%s", i+1, f[3], f[4], e.Name, e.Kind))
		case f[5] != "secret" && f[5] != "benign":
			errs = append(errs, fmt.Sprintf("line %d: label %q", i+1, f[5]))
		}
		seen[k] = true
	}
	for _, e := range entries {
		if !seen[e.key()] {
			errs = append(errs, "no line for "+e.key())
		}
	}
	if len(errs) > 0 {
		if len(errs) > 20 {
			errs = append(errs[:20], fmt.Sprintf("... %d more", len(errs)-20))
		}
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

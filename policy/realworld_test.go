package policy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/internal/workload"
	"wisp.dev/wisp/policy"
)

// realworldDir holds the real-world corpus: labels, sources and, when laid
// out locally, the manifests themselves (see its README: they are
// third-party files and not kept in git).
const realworldDir = "testdata/realworld"

// label is one labelled env entry of labels.tsv.
type label struct {
	file, path, name, kind string
	doc                    int
	secret                 bool
}

func (l label) key() string { return l.file + "\t" + strconv.Itoa(l.doc) + "\t" + l.path }

// TestRealWorldCorpus measures the default policy on public manifests that
// nobody here wrote and that the rules were not written against, labelled
// by hand entry by entry (testdata/realworld). It reports precision, recall
// and the false-positive rate per document, for each split separately: the
// dev and held-out splits of the first set of projects (dev looked at while
// tuning, held-out never tuned against) and those of every later set
// (set2.txt, ...: dev-2, heldout-2), per rule, per kind of value and per
// class of value (classes.tsv), and lists every miss and false positive by
// file and name (never by value).
//
// The manifests are not in git: without testdata/realworld/docs the test
// skips, saying how to lay them out. WISP_REALWORLD_DOCS names another
// folder; WISP_REALWORLD_SPLITS (comma-separated, e.g. dev,dev-2) judges
// only those splits, so a held-out split can be left unread until it is
// measured.
func TestRealWorldCorpus(t *testing.T) {
	t.Parallel()
	docsDir := os.Getenv("WISP_REALWORLD_DOCS")
	if docsDir == "" {
		docsDir = filepath.Join(realworldDir, "docs")
	}
	if _, err := os.Stat(docsDir); err != nil {
		t.Skipf("real-world manifests not laid out at %s (they are third-party files, not kept in git; %s/README.md says how to lay them out)", docsDir, realworldDir)
	}
	labels := readLabels(t)
	splits := readSplits(t)
	chosen := func(split string) bool { return true }
	if env := os.Getenv("WISP_REALWORLD_SPLITS"); env != "" {
		want := strings.Split(env, ",")
		for _, w := range want {
			if !slices.Contains(splits.names(), w) {
				t.Fatalf("WISP_REALWORLD_SPLITS: no split %q (the splits: %s)", w, strings.Join(splits.names(), ", "))
			}
		}
		chosen = func(split string) bool { return slices.Contains(want, split) }
	}
	e, err := policy.Compile(policy.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	c := judgeCorpus(t, e, docsDir, labels, splits, chosen)
	classes := readClasses(t)
	results := map[string]*tally{}
	for _, distinct := range []bool{false, true} {
		tallies := map[string]*tally{}
		for _, l := range labels {
			split := splits.of(l.file)
			if !chosen(split) || (distinct && c.dup[l.file]) {
				continue
			}
			if tallies[split] == nil {
				tallies[split] = newTally()
			}
			v, flagged := c.found[l.key()]
			tallies[split].add(l, classes[l.key()], v, flagged)
		}
		for _, name := range splits.names() {
			if s := tallies[name]; s != nil {
				s.log(t, name, distinct, c.templateDocs[name])
				if !distinct {
					results[name] = s
				}
			}
		}
	}
	for _, u := range c.unlabelled {
		t.Logf("finding at an entry the labels do not list: %s", u)
	}

	// What a platform team can rely on; the held-out splits' figures are
	// reported, not tuned to.
	for _, name := range splits.names() {
		s := results[name]
		if s == nil {
			continue
		}
		if r := percent(s.tp, s.tp+s.fn); r < 95 {
			t.Errorf("%s: recall %.1f%% < 95%%", name, r)
		}
		if fpr := percent(len(s.docsFP), len(s.docs)); fpr > 2 {
			t.Errorf("%s: false-positive rate per document %.2f%% > 2%%", name, fpr)
		}
	}
}

// corpusFindings is what the policy found in the corpus's files.
type corpusFindings struct {
	found        map[string]policy.Violation // by file, doc, field
	dup          map[string]bool             // files that repeat an earlier file
	templateDocs map[string]int              // split -> documents with a pod template
	unlabelled   []string
}

// judgeCorpus judges every document of every file of the chosen splits. A
// file whose bytes repeat an earlier one's (projects ship the same manifest
// twice) is judged but counted in the "distinct" figures once.
func judgeCorpus(t *testing.T, e *policy.Evaluator, docsDir string, labels []label, splits corpusSplits, chosen func(string) bool) corpusFindings {
	t.Helper()
	c := corpusFindings{found: map[string]policy.Violation{}, dup: map[string]bool{}, templateDocs: map[string]int{}}
	seen := map[string]bool{}
	allDocs := map[string]int{} // split -> documents
	for _, f := range readFiles(t) {
		split := splits.of(f.file)
		if !chosen(split) {
			continue
		}
		if seen[f.sha256] {
			c.dup[f.file] = true
		}
		seen[f.sha256] = true
		data, err := os.ReadFile(filepath.Join(docsDir, f.file))
		if err != nil {
			t.Fatalf("%s: %v (lay the corpus out again: %s/README.md)", f.file, err, realworldDir)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.sha256 {
			t.Fatalf("%s: sha256 is not the one files.tsv gives (lay the corpus out again: %s/README.md)", f.file, realworldDir)
		}
		docs, err := yamlDocuments(data)
		if err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		for i, obj := range docs {
			if obj == nil {
				continue
			}
			allDocs[split]++
			if judgeDocument(t, e, obj, f.file+"\t"+strconv.Itoa(i)+"\t", c.found) {
				c.templateDocs[split]++
			}
		}
	}
	labelled := map[string]bool{}
	for _, l := range labels {
		labelled[l.key()] = true
	}
	for key, v := range c.found {
		if !labelled[key] {
			c.unlabelled = append(c.unlabelled, strings.ReplaceAll(key, "\t", " ")+" "+v.Env+" ("+v.RuleID+")")
		}
	}
	sort.Strings(c.unlabelled)
	for _, name := range splits.names() {
		if chosen(name) {
			t.Logf("%s: %d documents, %d with a pod template", name, allDocs[name], c.templateDocs[name])
		}
	}
	return c
}

// judgeDocument judges one document (each item of a List too), records its
// findings in found under key (file, doc) plus the field, and tells whether
// it holds a pod template.
func judgeDocument(t *testing.T, e *policy.Evaluator, obj map[string]any, key string, found map[string]policy.Violation) bool {
	t.Helper()
	objs := []*unstructured.Unstructured{{Object: obj}}
	prefixes := []string{""}
	if kind, _ := obj["kind"].(string); kind == "List" {
		items, _ := obj["items"].([]any)
		for j, it := range items {
			if m, ok := it.(map[string]any); ok {
				objs = append(objs, &unstructured.Unstructured{Object: m})
				prefixes = append(prefixes, fmt.Sprintf("items[%d].", j))
			}
		}
	}
	hasTemplate := false
	for j, o := range objs {
		vs, ok := judge(t, e, o)
		hasTemplate = hasTemplate || ok
		for _, v := range vs {
			found[key+prefixes[j]+v.Field] = v
		}
	}
	return hasTemplate
}

// judge evaluates one object as `wisp check` does: the pod template of a
// kind wisp knows, else every pod spec its shape holds. The namespace does
// not matter to detection; "default" keeps exemptions out of the figures.
func judge(t *testing.T, e *policy.Evaluator, obj *unstructured.Unstructured) ([]policy.Violation, bool) {
	t.Helper()
	found, _, err := workload.Pods(obj)
	if errors.Is(err, workload.ErrNoPodTemplate) {
		return nil, false
	}
	if err != nil {
		t.Logf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
		return nil, false
	}
	var specs []policy.Object
	for _, f := range found {
		specs = append(specs, policy.Object{Kind: obj.GetKind(), Name: obj.GetName(), Namespace: "default", Spec: &f.Pod.Spec,
			Labels: f.Pod.Labels, Annotations: f.Pod.Annotations, SpecPath: f.SpecPath})
	}
	var out []policy.Violation
	for _, o := range specs {
		d := e.Evaluate(o)
		for _, v := range d.Violations {
			// The figures are those of what denies: a warn-only rule's
			// violation is a warning, never a denial.
			if !v.WarnOnly {
				out = append(out, v)
			}
		}
	}
	return out, len(specs) > 0
}

// tally counts one split's outcomes.
type tally struct {
	tp, fp, fn, tn  int
	docs, docsFP    map[string]bool
	byRule          map[string][2]int // rule -> true, false positives
	byKind          map[string][4]int // kind of value -> tp, fp, fn, tn
	byClass         map[string][4]int // class of value -> tp, fp, fn, tn
	misses, falsePs []string
}

func newTally() *tally {
	return &tally{docs: map[string]bool{}, docsFP: map[string]bool{}, byRule: map[string][2]int{},
		byKind: map[string][4]int{}, byClass: map[string][4]int{}}
}

// add counts one labelled entry of class (classes.tsv; its kind of value
// when it has none); v is the violation found there, if flagged.
func (s *tally) add(l label, class string, v policy.Violation, flagged bool) {
	if class == "" {
		class = l.kind
	}
	doc := l.file + "\t" + strconv.Itoa(l.doc)
	s.docs[doc] = true
	k, c := s.byKind[l.kind], s.byClass[class]
	r := s.byRule[v.RuleID]
	where := l.file + " doc " + strconv.Itoa(l.doc) + " " + l.path + " " + l.name
	outcome := 3
	switch {
	case flagged && l.secret:
		s.tp++
		outcome = 0
		r[0]++
	case flagged && !l.secret:
		s.fp++
		outcome = 1
		r[1]++
		s.docsFP[doc] = true
		s.falsePs = append(s.falsePs, where+" ("+v.RuleID+") {"+class+"}")
	case !flagged && l.secret:
		s.fn++
		outcome = 2
		s.misses = append(s.misses, where+" ["+l.kind+"] {"+class+"}")
	default:
		s.tn++
	}
	k[outcome]++
	c[outcome]++
	s.byKind[l.kind], s.byClass[class] = k, c
	if flagged {
		s.byRule[v.RuleID] = r
	}
}

// log reports the split's figures; with distinct, only the totals over
// distinct files.
func (s *tally) log(t *testing.T, name string, distinct bool, templateDocs int) {
	t.Helper()
	what := "all files"
	if distinct {
		what = "distinct files"
	}
	t.Logf("%s (%s): %d env entries in %d documents: %d secret, %d benign", name, what, s.tp+s.fp+s.fn+s.tn, len(s.docs), s.tp+s.fn, s.fp+s.tn)
	t.Logf("%s (%s):   precision %.1f%%, recall %.1f%% (tp %d, fp %d, fn %d); documents with a false positive: %d (%.2f%% of the %d with an env entry)",
		name, what, percent(s.tp, s.tp+s.fp), percent(s.tp, s.tp+s.fn), s.tp, s.fp, s.fn,
		len(s.docsFP), percent(len(s.docsFP), len(s.docs)), len(s.docs))
	if distinct {
		return
	}
	t.Logf("%s (%s):   false-positive rate per document with a pod template: %.2f%% (%d of %d)",
		name, what, percent(len(s.docsFP), templateDocs), len(s.docsFP), templateDocs)
	for _, kind := range slices.Sorted(maps.Keys(s.byKind)) {
		k := s.byKind[kind]
		t.Logf("%s:   %-18s tp %3d fp %3d fn %3d tn %4d", name, kind, k[0], k[1], k[2], k[3])
	}
	for _, class := range slices.Sorted(maps.Keys(s.byClass)) {
		c := s.byClass[class]
		t.Logf("%s:   class %-18s tp %3d fp %3d fn %3d tn %4d", name, class, c[0], c[1], c[2], c[3])
	}
	for _, rule := range slices.Sorted(maps.Keys(s.byRule)) {
		t.Logf("%s:   rule %-24s reported %3d secrets, %d false positives", name, rule, s.byRule[rule][0], s.byRule[rule][1])
	}
	for _, m := range s.misses {
		t.Logf("%s:   missed %s", name, m)
	}
	for _, f := range s.falsePs {
		t.Logf("%s:   false positive %s", name, f)
	}
}

// corpusSplits places every project in a split: the projects of the first
// set are dev, or heldout when heldout.txt lists them; those of a later
// set N (listed in setN.txt) are dev-N or heldout-N.
type corpusSplits struct {
	heldout []string
	set     map[string]int // project -> set, for sets after the first
	sets    int
}

func readSplits(t *testing.T) corpusSplits {
	t.Helper()
	s := corpusSplits{heldout: readLines(t, filepath.Join(realworldDir, "heldout.txt")), set: map[string]int{}, sets: 1}
	for n := 2; ; n++ {
		path := filepath.Join(realworldDir, "set"+strconv.Itoa(n)+".txt")
		if _, err := os.Stat(path); err != nil {
			return s
		}
		for _, p := range readLines(t, path) {
			s.set[p] = n
		}
		s.sets = n
	}
}

// of is the split of a file (relative to docs/).
func (s corpusSplits) of(file string) string {
	project, _, _ := strings.Cut(file, "/")
	name := "dev"
	if slices.Contains(s.heldout, project) {
		name = "heldout"
	}
	if n := s.set[project]; n > 1 {
		name += "-" + strconv.Itoa(n)
	}
	return name
}

// names lists every split, set by set.
func (s corpusSplits) names() []string {
	out := []string{"dev", "heldout"}
	for n := 2; n <= s.sets; n++ {
		out = append(out, "dev-"+strconv.Itoa(n), "heldout-"+strconv.Itoa(n))
	}
	return out
}

// readClasses reads classes.tsv: the class of value of entries (by file,
// doc and path), for the sets labelled with one.
func readClasses(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, row := range readTSV(t, "classes.tsv", 4) {
		out[row[0]+"\t"+row[1]+"\t"+row[2]] = row[3]
	}
	return out
}

// corpusFile is one line of files.tsv.
type corpusFile struct{ project, file, sha256 string }

func readFiles(t *testing.T) []corpusFile {
	t.Helper()
	var out []corpusFile
	for _, row := range readTSV(t, "files.tsv", 4) {
		out = append(out, corpusFile{project: row[0], file: row[2], sha256: row[3]})
	}
	return out
}

// yamlDocuments splits data as the labels count documents: the chunks of
// k8s.io/apimachinery's YAMLReader, an empty chunk being nil.
func yamlDocuments(data []byte) ([]map[string]any, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []map[string]any
	for {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(chunk, &m); err != nil {
			return nil, fmt.Errorf("document %d: %w", len(docs), err)
		}
		docs = append(docs, m)
	}
}

func readLabels(t *testing.T) []label {
	t.Helper()
	var out []label
	for i, row := range readTSV(t, "labels.tsv", 7) {
		doc, err := strconv.Atoi(row[1])
		if err != nil || (row[5] != "secret" && row[5] != "benign") {
			t.Fatalf("labels.tsv line %d: bad doc or label", i+2)
		}
		out = append(out, label{file: row[0], doc: doc, path: row[2], name: row[3], kind: row[4], secret: row[5] == "secret"})
	}
	return out
}

// readTSV reads a tab-separated file of realworldDir with fields columns,
// without its header line.
func readTSV(t *testing.T, name string, fields int) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(realworldDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	r.FieldsPerRecord = fields
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rows[1:]
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func percent(n, of int) float64 {
	if of == 0 {
		return 100
	}
	return 100 * float64(n) / float64(of)
}

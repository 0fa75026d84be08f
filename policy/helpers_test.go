package policy

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// sharedGitleaks loads gitleaks' rules once per test binary (tens of
// milliseconds); the detector is read-only, so evaluators share it.
var sharedGitleaks = sync.OnceValues(newGitleaksDetector)

// defaultEvaluator is the default policy, compiled once per test binary.
var defaultEvaluator = sync.OnceValues(func() (*Evaluator, error) { return Compile(Spec{}) })

// compileShared is Compile with the shared gitleaks detector.
func compileShared(s Spec) (*Evaluator, error) { return compile(s, DefaultRules(), sharedGitleaks) }

func mustDefault(t testing.TB) *Evaluator {
	t.Helper()
	e, err := defaultEvaluator()
	if err != nil {
		t.Fatalf("Compile(Spec{}): %v", err)
	}
	return e
}

func mustCompile(t testing.TB, s Spec) *Evaluator {
	t.Helper()
	e, err := compileShared(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return e
}

// podWithEnv is a pod in team-a with one container "app" holding env.
func podWithEnv(env ...corev1.EnvVar) Object {
	return Object{
		Kind:      "Pod",
		Namespace: "team-a",
		Name:      "web",
		Spec:      &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1", Env: env}}},
	}
}

func lit(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

// corpusLine is one NAME=value line of a corpus file.
type corpusLine struct {
	line        int
	name, value string
}

// readCorpus reads a corpus file (see parseCorpus) or fails the test.
func readCorpus(t testing.TB, path string) []corpusLine {
	t.Helper()
	lines, err := parseCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// parseCorpus reads a corpus file: NAME=value lines, # comments and blank
// lines skipped; in values \n is a newline and \\ a backslash.
func parseCorpus(path string) ([]corpusLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open corpus: %w", err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%s:%d: want NAME=value", path, n)
		}
		out = append(out, corpusLine{line: n, name: name, value: unescape(value)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read corpus: %w", err)
	}
	return out, nil
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case '\\':
				b.WriteByte('\\')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// only compiles the default policy with every rule but id disabled.
func only(t testing.TB, id string) *Evaluator {
	t.Helper()
	var off []string
	for _, r := range DefaultRules() {
		if r.ID != id {
			off = append(off, r.ID)
		}
	}
	return mustCompile(t, Spec{Rules: RuleSettings{Disabled: off}})
}

// flaggedBy evaluates one env var in a pod and returns the rule ids of its
// violations.
func flaggedBy(e *Evaluator, ev corev1.EnvVar) []string {
	var ids []string
	for _, v := range e.Evaluate(podWithEnv(ev)).Violations {
		ids = append(ids, v.RuleID)
	}
	return ids
}

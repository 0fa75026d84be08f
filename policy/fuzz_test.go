package policy

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// FuzzParseSpec feeds arbitrary bytes to ParseSpec and, when they decode,
// to Compile and the compiled Evaluator. Nothing may panic; Compile's
// errors must wrap ErrInvalidSpec.
func FuzzParseSpec(f *testing.F) {
	full, err := os.ReadFile("testdata/policy-full.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	for _, s := range []string{
		"",
		"mode: warn\n",
		"namespaces: {modes: {team-a: block}, exempt: [\"*\"]}\n",
		"exemptPods: {selector: {}}\n",
		"exemptPods: {selector: {matchExpressions: [{key: a, operator: Exists}]}, annotation: {allowed: true, minReasonLength: -3}}\n",
		"allow: {names: ['*'], values: [''], valuePatterns: ['(', '^a+$']}\n",
		"roles: [{namespaces: ['team-*'], roles: ['{namespace}-*', '{ns}']}]\n",
		"rules: {disabled: [env-secret-key-ref, nope], enabled: [high-entropy-literal]}\n",
		"{\"mode\": \"audit\", \"namespaces\": {\"modeLabel\": \"wisp.dev/policy-mode\"}}",
	} {
		f.Add([]byte(s))
	}
	o := podWithEnv(secretRef, lit("DB_PASSWORD", "Tr0ub4dor&3xY!"), lit("LOG_LEVEL", "info"))
	o.NamespaceLabels = map[string]string{"wisp.dev/policy-mode": "warn", "wisp.dev/exempt": "true"}
	o.Annotations = map[string]string{ExemptAnnotation: "legacy app, migrating in Q3"}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data)
		if err != nil {
			return
		}
		e, err := compileShared(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Compile error does not wrap ErrInvalidSpec: %v", err)
			}
			return
		}
		d := e.Evaluate(o)
		if d.Exempt && len(d.Violations) > 0 {
			t.Fatalf("exempt decision with violations: %+v", d)
		}
		if !d.Mode.valid() {
			t.Fatalf("decision mode %q", d.Mode)
		}
		for _, role := range []string{"team-a-db", "", "*"} {
			if err := e.AllowedRole(o.Namespace, role); err != nil && !errors.Is(err, ErrRoleNotAllowed) {
				t.Fatalf("AllowedRole error does not wrap ErrRoleNotAllowed: %v", err)
			}
		}
	})
}

// fuzzVocabulary is all text a Decision can carry that does not come from
// the object: every reason, remedy, path and message skeleton the positive
// corpus produces (with the env var names cut out) and gitleaks' rule ids.
var fuzzVocabulary = sync.OnceValue(func() string {
	e, err := defaultEvaluator()
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, r := range DefaultRules() {
		b.WriteString(r.ID + "\n" + r.Summary + "\n" + r.Remedy + "\n")
	}
	for id := range e.gitleaks.Config.Rules {
		b.WriteString("literal value matches gitleaks rule " + id + "\n")
	}
	lines, err := parseCorpus("testdata/corpus/positive.txt")
	if err != nil {
		return ""
	}
	for _, c := range lines {
		o := fuzzObject(c.name, c.value)
		for _, s := range decisionStrings(e.Evaluate(o), o) {
			b.WriteString(strings.ReplaceAll(s, c.name, "") + "\n")
		}
	}
	return b.String()
})

// fuzzObject is a Deployment whose init and app containers both carry the
// env var name=value.
func fuzzObject(name, value string) Object {
	env := []corev1.EnvVar{{Name: name, Value: value}}
	return Object{Kind: "Deployment", Namespace: "team-a", Name: "web", Spec: &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Env: env}},
		Containers:     []corev1.Container{{Name: "app", Env: env}},
	}}
}

// FuzzEvaluate evaluates a pod with one fuzzed env var under the default
// policy. Evaluate must not panic, must report both containers alike, and
// for a value of 8 bytes or more no returned string may contain the value
// (unless the env var's name or wisp's own text does).
func FuzzEvaluate(f *testing.F) {
	for _, file := range []string{"testdata/corpus/positive.txt", "testdata/corpus/benign.txt"} {
		for i, c := range readCorpus(f, file) {
			if i%4 == 0 {
				f.Add(c.name, c.value)
			}
		}
	}
	f.Add("", "")
	f.Add("DB_PASSWORD", "literal value")
	f.Add("X", "\xff\xfe-----BEGIN PRIVATE KEY-----")
	e := mustDefault(f)
	vocab := fuzzVocabulary()
	if vocab == "" {
		f.Fatal("no vocabulary")
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		o := fuzzObject(name, value)
		d := e.Evaluate(o)
		if n := len(d.Violations); n != 0 && n != 2 {
			t.Fatalf("%d violations, want 0 or 2 (one per container): %+v", n, d.Violations)
		}
		if len(d.Violations) == 2 && d.Violations[0].RuleID != d.Violations[1].RuleID {
			t.Fatalf("containers judged differently: %+v", d.Violations)
		}
		v := strings.TrimSpace(value)
		if len(v) < 8 || strings.Contains(vocab, v) {
			return
		}
		for _, s := range decisionStrings(d, o) {
			if name != "" {
				s = strings.ReplaceAll(s, name, "")
			}
			if strings.Contains(s, v) {
				t.Fatalf("returned string contains the value: %q", s)
			}
		}
	})
}

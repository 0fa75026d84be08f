package policy

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func TestParseSpecFull(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/policy-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSpec(data)
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	want := Spec{
		Mode: ModeEnforce,
		Namespaces: NamespacePolicy{
			Modes:          map[string]Mode{"team-a": ModeWarn, "legacy": ModeAudit},
			ModeLabel:      "wisp.dev/policy-mode",
			Exempt:         []string{"kube-system", "wisp-system", "openshift-*"},
			ExemptSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"wisp.dev/exempt": "true"}},
		},
		ExemptPods: PodExemptions{
			Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app.kubernetes.io/managed-by", Operator: metav1.LabelSelectorOpIn, Values: []string{"legacy-operator"}},
			}},
			Namespaces: []string{"legacy-*"},
			Annotation: AnnotationExemption{Allowed: true, Namespaces: []string{"team-*", "sandbox"}, MinReasonLength: 20},
		},
		Rules: RuleSettings{Disabled: []string{RuleEnvFromSecret}, Enabled: []string{RuleSecretVolume}},
		Allow: AllowList{
			Names:         []string{"*_PUBLIC_KEY", "*_SIGNING_CERT"},
			Values:        Redacted{"changeme-not-a-secret"},
			ValuePatterns: Redacted{"^https://[^@]*$", "^dev-placeholder-[0-9]+$"},
			Secrets: []SecretAllowance{
				{Names: []string{"safe-*"}},
				{Names: []string{"registry-pull", "*.tls"}, Namespaces: []string{"team-*"}},
			},
		},
		Roles: []RoleBinding{
			{Namespaces: []string{"team-*"}, Roles: []string{"{namespace}.*"}},
			{Namespaces: []string{"platform"}, Roles: []string{"*"}},
			{Namespaces: []string{"team-a", "team-b"}, Roles: []string{"shared-readonly"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseSpec (-want +got):\n%s", diff)
	}
	if _, err := compileShared(got); err != nil {
		t.Errorf("Compile(policy-full.yaml): %v", err)
	}
}

func TestParseSpecStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"empty", "", ""},
		{"comment only", "# nothing\n", ""},
		{"json", `{"mode": "warn", "namespaces": {"exempt": ["kube-system"]}}`, ""},
		{"unknown top-level field", "mode: warn\nmodes: {a: warn}\n", `unknown field "modes"`},
		{"apiVersion is not the spec's", "apiVersion: wisp.dev/v1alpha1\n", `unknown field "apiVersion"`},
		{"injection is not the spec's", "injection: {}\n", `unknown field "injection"`},
		{"unknown nested field", "namespaces:\n  exempts: [a]\n", `unknown field "exempts"`},
		{"unknown field in annotation", "exemptPods:\n  annotation:\n    allow: true\n", `unknown field "allow"`},
		{"unknown selector field", "exemptPods:\n  selector: {matchLabel: {a: b}}\n", `unknown field "matchLabel"`},
		{"snake case refused", "exempt_pods: {}\n", `unknown field "exempt_pods"`},
		{"wrong type", "rules:\n  disabled: env-from-secret\n", "cannot unmarshal"},
		{"duplicate key", "mode: warn\nmode: audit\n", "already set"},
		{"not yaml", "mode: [\n", "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSpec([]byte(tt.yaml))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ParseSpec: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("ParseSpec: no error, want one containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("ParseSpec: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// policyFile is how another package embeds Spec: inline, beside its own
// sections.
type policyFile struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Injection  map[string]any `json:"injection,omitempty"`
	Spec       `json:",inline"`
}

func TestSpecEmbedsInline(t *testing.T) {
	t.Parallel()
	data := []byte(`apiVersion: wisp.dev/v1alpha1
kind: Policy
injection: {image: example.com/wisp-fetch:1}
mode: warn
namespaces: {exempt: [kube-system]}
roles: [{namespaces: ["*"], roles: ["{namespace}-*"]}]
`)
	var f policyFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		t.Fatalf("UnmarshalStrict: %v", err)
	}
	if f.Mode != ModeWarn || len(f.Namespaces.Exempt) != 1 || len(f.Roles) != 1 || f.Injection["image"] == nil {
		t.Errorf("decoded %+v", f)
	}
	if err := yaml.UnmarshalStrict([]byte("kind: Policy\nmodee: warn\n"), &f); err == nil {
		t.Error("unknown field beside the embedded spec: no error")
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec Spec
		want []string // each must appear in the error
	}{
		{"bad default mode", Spec{Mode: "block"}, []string{`mode: mode "block" is not enforce, warn or audit`}},
		{"bad namespace mode", Spec{Namespaces: NamespacePolicy{Modes: map[string]Mode{"team-a": "block"}}},
			[]string{`namespaces.modes["team-a"]: mode "block" is not enforce, warn or audit`}},
		{"mode case matters", Spec{Mode: "Enforce"}, []string{`mode: mode "Enforce"`}},
		{"bad namespace name in modes", Spec{Namespaces: NamespacePolicy{Modes: map[string]Mode{"Team_A": ModeWarn}}},
			[]string{`namespaces.modes["Team_A"]: not a namespace name`}},
		{"bad mode label", Spec{Namespaces: NamespacePolicy{ModeLabel: "not a label/"}}, []string{"namespaces.modeLabel:"}},
		{"bad exempt glob", Spec{Namespaces: NamespacePolicy{Exempt: []string{"ok", "Kube System"}}},
			[]string{`namespaces.exempt[1]: "Kube System" is not a namespace name or glob`}},
		{"empty namespace selector", Spec{Namespaces: NamespacePolicy{ExemptSelector: &metav1.LabelSelector{}}},
			[]string{"namespaces.exemptSelector: empty selector"}},
		{"bad namespace selector", Spec{Namespaces: NamespacePolicy{ExemptSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}}},
			[]string{"namespaces.exemptSelector:", "Near"}},
		{"empty pod selector", Spec{ExemptPods: PodExemptions{Selector: &metav1.LabelSelector{}, Namespaces: []string{"*"}}},
			[]string{"exemptPods.selector: empty selector"}},
		{"pod selector without namespaces", Spec{ExemptPods: PodExemptions{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}}},
			[]string{"exemptPods.namespaces: required with exemptPods.selector"}},
		{"pod namespaces without selector", Spec{ExemptPods: PodExemptions{Namespaces: []string{"legacy"}}},
			[]string{"exemptPods.namespaces: set, but exemptPods.selector is not"}},
		{"bad pod selector label", Spec{ExemptPods: PodExemptions{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b c"}}, Namespaces: []string{"*"}}},
			[]string{"exemptPods.selector:"}},
		{"annotation namespaces without allowed", Spec{ExemptPods: PodExemptions{Annotation: AnnotationExemption{Namespaces: []string{"team-*"}}}},
			[]string{"exemptPods.annotation.namespaces: set, but allowed is false"}},
		{"bad annotation namespace", Spec{ExemptPods: PodExemptions{Annotation: AnnotationExemption{Allowed: true, Namespaces: []string{"team_*"}}}},
			[]string{`exemptPods.annotation.namespaces[0]: "team_*"`}},
		{"negative reason length", Spec{ExemptPods: PodExemptions{Annotation: AnnotationExemption{Allowed: true, MinReasonLength: -1}}},
			[]string{"exemptPods.annotation.minReasonLength: -1 is not between 1 and 1024"}},
		{"huge reason length", Spec{ExemptPods: PodExemptions{Annotation: AnnotationExemption{Allowed: true, MinReasonLength: 5000}}},
			[]string{"exemptPods.annotation.minReasonLength: 5000"}},
		{"unknown disabled rule", Spec{Rules: RuleSettings{Disabled: []string{"env-secret-key-ref", "env-secrets"}}},
			[]string{`rules.disabled[1]: unknown rule "env-secrets" (known: env-secret-key-ref, env-from-secret, known-credential-format, env-name-literal, high-entropy-literal, env-name-weak-literal, env-config-map-secret-name, secret-volume)`}},
		{"unknown enabled rule", Spec{Rules: RuleSettings{Enabled: []string{"x"}}}, []string{`rules.enabled[0]: unknown rule "x"`}},
		{"enabled and disabled", Spec{Rules: RuleSettings{Enabled: []string{RuleEnvFromSecret}, Disabled: []string{RuleEnvFromSecret}}},
			[]string{`rules.enabled[0]: rule "env-from-secret" is also disabled`}},
		{"bad allow name", Spec{Allow: AllowList{Names: []string{"OK_*", "", "A=B"}}},
			[]string{"allow.names[1]: not an env var name glob", "allow.names[2]: not an env var name glob"}},
		{"empty allow value", Spec{Allow: AllowList{Values: Redacted{"fine", " "}}}, []string{"allow.values[1]: empty value"}},
		{"bad allow pattern", Spec{Allow: AllowList{ValuePatterns: Redacted{"^ok$", "(unclosed"}}},
			[]string{"allow.valuePatterns[1]: invalid regular expression (missing closing ))"}},
		{"allow pattern matching everything", Spec{Allow: AllowList{ValuePatterns: Redacted{".*"}}},
			[]string{"allow.valuePatterns[0]: matches the empty string"}},
		{"role binding without namespaces", Spec{Roles: []RoleBinding{{Roles: []string{"a"}}}}, []string{"roles[0].namespaces: empty"}},
		{"role binding without roles", Spec{Roles: []RoleBinding{{Namespaces: []string{"a"}}}}, []string{"roles[0].roles: empty"}},
		{"bad role glob", Spec{Roles: []RoleBinding{{Namespaces: []string{"a"}, Roles: []string{"ok", "{ns}-*", "a b", ""}}}},
			[]string{`roles[0].roles[1]: "{ns}-*": not a role name or glob`, `roles[0].roles[2]: "a b"`, `roles[0].roles[3]: "": empty role`}},
		{"bad role namespace", Spec{Roles: []RoleBinding{{Namespaces: []string{"A"}, Roles: []string{"a"}}}}, []string{`roles[0].namespaces[0]: "A"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := compileShared(tt.spec)
			if err == nil {
				t.Fatalf("Compile: no error, want %q", tt.want)
			}
			if e != nil {
				t.Error("Compile returned an Evaluator with an error")
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("error does not wrap ErrInvalidSpec: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// TestCompileReportsEveryProblem checks that one Compile names all bad
// fields at once, one per line.
func TestCompileReportsEveryProblem(t *testing.T) {
	t.Parallel()
	spec := Spec{
		Mode:       "strict",
		Namespaces: NamespacePolicy{Modes: map[string]Mode{"b": "x", "a": "y"}, Exempt: []string{"A"}},
		Rules:      RuleSettings{Disabled: []string{"nope"}},
		Allow:      AllowList{ValuePatterns: Redacted{"("}},
		Roles:      []RoleBinding{{}},
	}
	_, err := compileShared(spec)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"mode:", `namespaces.modes["a"]`, `namespaces.modes["b"]`, "namespaces.exempt[0]", "rules.disabled[0]",
		"allow.valuePatterns[0]", "roles[0].namespaces", "roles[0].roles"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not name %s:\n%v", w, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 8 {
		t.Errorf("error has %d lines, want 8:\n%v", n, err)
	}
	// Map keys are reported in a stable order.
	if strings.Index(err.Error(), `modes["a"]`) > strings.Index(err.Error(), `modes["b"]`) {
		t.Errorf("namespaces.modes not sorted:\n%v", err)
	}
}

func TestRedactedHidesValues(t *testing.T) {
	t.Parallel()
	const canary = "canary-Zq7Xw3Kp9Lm2"
	s := Spec{Allow: AllowList{Values: Redacted{canary}, ValuePatterns: Redacted{"^" + canary + "$"}}}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("policy", "spec", s, "values", s.Allow.Values)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s.Allow.Values), logged.String()} {
		if strings.Contains(out, canary) {
			t.Errorf("output shows an allowed value: %s", out)
		}
	}
	if !strings.Contains(fmt.Sprint(s.Allow.Values), "1 redacted") {
		t.Errorf("Redacted prints %q", fmt.Sprint(s.Allow.Values))
	}
	// Encoding redacts too, and the result does not decode back.
	data, err := yaml.Marshal(s)
	if err != nil || strings.Contains(string(data), canary) || !strings.Contains(string(data), "1 redacted") {
		t.Errorf("yaml.Marshal: %s %v", data, err)
	}
	if _, err := ParseSpec(data); err == nil {
		t.Error("a redacted dump parses as a spec")
	}
}

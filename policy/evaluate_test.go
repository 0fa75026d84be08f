package policy

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// secretRef is an env var from a Kubernetes Secret: every policy flags it.
var secretRef = corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
	LocalObjectReference: corev1.LocalObjectReference{Name: "db-creds"}, Key: "password"}}}

func TestModeResolution(t *testing.T) {
	t.Parallel()
	spec := Spec{
		Mode:       ModeWarn,
		Namespaces: NamespacePolicy{Modes: map[string]Mode{"team-a": ModeAudit, "team-b": ModeEnforce}, ModeLabel: "wisp.dev/policy-mode"},
	}
	tests := []struct {
		name      string
		spec      Spec
		ns        string
		nsLabels  map[string]string
		wantMode  Mode
		wantNotes int
	}{
		{"default when nothing matches", spec, "team-z", nil, ModeWarn, 0},
		{"zero spec defaults to enforce", Spec{}, "team-z", nil, ModeEnforce, 0},
		{"name map beats default", spec, "team-a", nil, ModeAudit, 0},
		{"label beats name map", spec, "team-a", map[string]string{"wisp.dev/policy-mode": "enforce"}, ModeEnforce, 0},
		{"label beats default", spec, "team-z", map[string]string{"wisp.dev/policy-mode": "audit"}, ModeAudit, 0},
		{"other labels ignored", spec, "team-b", map[string]string{"pod-security.kubernetes.io/enforce": "audit"}, ModeEnforce, 0},
		{"invalid label value enforces, with a note", spec, "team-a", map[string]string{"wisp.dev/policy-mode": "off"}, ModeEnforce, 1},
		{"empty label value enforces", spec, "team-a", map[string]string{"wisp.dev/policy-mode": ""}, ModeEnforce, 1},
		{"label ignored without modeLabel", Spec{Mode: ModeAudit}, "x", map[string]string{"wisp.dev/policy-mode": "enforce"}, ModeAudit, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := podWithEnv(secretRef)
			o.Namespace, o.NamespaceLabels = tt.ns, tt.nsLabels
			d := mustCompile(t, tt.spec).Evaluate(o)
			if d.Mode != tt.wantMode || len(d.Notes) != tt.wantNotes {
				t.Errorf("mode %q notes %q, want %q and %d notes", d.Mode, d.Notes, tt.wantMode, tt.wantNotes)
			}
			if len(d.Violations) != 1 || d.Exempt {
				t.Errorf("got %+v, want one violation", d)
			}
			if want := tt.wantMode == ModeEnforce; d.Denied() != want {
				t.Errorf("Denied() = %v, want %v", d.Denied(), want)
			}
		})
	}
}

func TestExemptions(t *testing.T) {
	t.Parallel()
	base := Spec{
		Namespaces: NamespacePolicy{
			Exempt:         []string{"kube-system", "openshift-*"},
			ExemptSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"wisp.dev/exempt": "true"}},
		},
		ExemptPods: PodExemptions{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"legacy"}}}}, Namespaces: []string{"team-*"}},
	}
	allowAnn := base
	allowAnn.ExemptPods.Annotation = AnnotationExemption{Allowed: true}
	allowAnnIn := base
	allowAnnIn.ExemptPods.Annotation = AnnotationExemption{Allowed: true, Namespaces: []string{"team-*"}, MinReasonLength: 20}

	const reason = "migrating to Vault by 2025-09-30, ticket PLAT-1234"
	tests := []struct {
		name       string
		spec       Spec
		ns         string
		nsLabels   map[string]string
		labels     map[string]string
		ann        map[string]string
		wantExempt string // substring of ExemptReason, "" for not exempt
		wantNote   string // substring of a note, "" for none
	}{
		{"not exempt", base, "team-a", nil, nil, nil, "", ""},
		{"exempt namespace", base, "kube-system", nil, nil, nil, `namespace "kube-system" is exempt (namespaces.exempt)`, ""},
		{"exempt namespace glob", base, "openshift-monitoring", nil, nil, nil, "namespaces.exempt", ""},
		{"glob does not match a prefix only", base, "openshift", nil, nil, nil, "", ""},
		{"namespace selector", base, "team-a", map[string]string{"wisp.dev/exempt": "true"}, nil, nil, "namespaces.exemptSelector", ""},
		{"namespace selector no match", base, "team-a", map[string]string{"wisp.dev/exempt": "false"}, nil, nil, "", ""},
		{"namespace labels unknown", base, "team-a", nil, nil, nil, "", ""},
		{"pod selector", base, "team-a", nil, map[string]string{"app": "legacy"}, nil, "exemptPods.selector", ""},
		{"pod selector no match", base, "team-a", nil, map[string]string{"app": "web"}, nil, "", ""},
		// A tenant sets its own pod labels: outside the selector's
		// namespaces the label exempts nothing.
		{"pod selector outside its namespaces", base, "payments", nil, map[string]string{"app": "legacy"}, nil, "",
			`exemptPods.selector ignored: the platform policy honours it only in namespaces team-*, not in "payments"`},
		{"annotation not allowed", base, "team-a", nil, nil, map[string]string{ExemptAnnotation: reason}, "",
			"does not allow exemptions by annotation"},
		{"annotation allowed", allowAnn, "team-a", nil, nil, map[string]string{ExemptAnnotation: reason}, "annotation wisp.dev/exempt: " + reason, ""},
		{"annotation reason trimmed and too short", allowAnn, "team-a", nil, nil, map[string]string{ExemptAnnotation: "   legacy   "}, "",
			"the reason must be at least 10 characters"},
		{"annotation reason empty", allowAnn, "team-a", nil, nil, map[string]string{ExemptAnnotation: ""}, "", "at least 10"},
		{"annotation reason counts characters not bytes", allowAnn, "team-a", nil, nil, map[string]string{ExemptAnnotation: "ééééééééé"}, "", "at least 10"},
		{"annotation allowed in namespace", allowAnnIn, "team-b", nil, nil, map[string]string{ExemptAnnotation: reason}, "annotation wisp.dev/exempt", ""},
		{"annotation outside allowed namespaces", allowAnnIn, "payments", nil, nil, map[string]string{ExemptAnnotation: reason}, "",
			`by annotation in namespace "payments"`},
		{"annotation with custom minimum", allowAnnIn, "team-b", nil, nil, map[string]string{ExemptAnnotation: "fifteen chars.."}, "", "at least 20"},
		{"other annotations ignored", allowAnn, "team-a", nil, nil, map[string]string{"wisp.dev/exempted": reason}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := podWithEnv(secretRef)
			o.Namespace, o.NamespaceLabels, o.Labels, o.Annotations = tt.ns, tt.nsLabels, tt.labels, tt.ann
			d := mustCompile(t, tt.spec).Evaluate(o)
			if tt.wantExempt == "" {
				if d.Exempt || len(d.Violations) != 1 {
					t.Errorf("got %+v, want not exempt with one violation", d)
				}
			} else {
				if !d.Exempt || !strings.Contains(d.ExemptReason, tt.wantExempt) || len(d.Violations) != 0 || d.Denied() {
					t.Errorf("got %+v, want exempt (%q) without violations", d, tt.wantExempt)
				}
			}
			notes := strings.Join(d.Notes, "\n")
			if (tt.wantNote == "") != (notes == "") || !strings.Contains(notes, tt.wantNote) {
				t.Errorf("notes %q, want %q", notes, tt.wantNote)
			}
		})
	}
}

func TestNeedsNamespaceLabels(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		spec Spec
		want bool
	}{
		{Spec{}, false},
		{Spec{Namespaces: NamespacePolicy{ModeLabel: "wisp.dev/policy-mode"}}, true},
		{Spec{Namespaces: NamespacePolicy{ExemptSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}}}, true},
		{Spec{Namespaces: NamespacePolicy{Exempt: []string{"a"}}}, false},
	} {
		if got := mustCompile(t, tt.spec).NeedsNamespaceLabels(); got != tt.want {
			t.Errorf("%+v: NeedsNamespaceLabels() = %v, want %v", tt.spec.Namespaces, got, tt.want)
		}
	}
}

func TestAllowedRole(t *testing.T) {
	t.Parallel()
	bound := mustCompile(t, Spec{Roles: []RoleBinding{
		{Namespaces: []string{"team-*"}, Roles: []string{"{namespace}-*"}},
		{Namespaces: []string{"team-a", "team-b"}, Roles: []string{"shared-readonly"}},
		{Namespaces: []string{"platform"}, Roles: []string{"*"}},
		{Namespaces: []string{"ci"}, Roles: []string{"deploy-?"}},
	}})
	tests := []struct {
		name      string
		e         *Evaluator
		ns, role  string
		wantErr   string // "" for allowed
		wantRoles string
	}{
		{"no bindings: anything goes", mustCompile(t, Spec{}), "team-a", "team-b-db", "", ""},
		{"own prefix", bound, "team-a", "team-a-db", "", ""},
		{"other team's role", bound, "team-a", "team-b-db", `role "team-b-db" in namespace "team-a"`, "team-a-*, shared-readonly"},
		{"prefix needs the dash", bound, "team-a", "team-ab", "not allowed", ""},
		{"shared role", bound, "team-b", "shared-readonly", "", ""},
		{"shared role not for team-c", bound, "team-c", "shared-readonly", "not allowed", "team-c-*"},
		{"catch-all", bound, "platform", "anything", "", ""},
		{"single-character wildcard", bound, "ci", "deploy-1", "", ""},
		{"single-character wildcard is one", bound, "ci", "deploy-12", "not allowed", "deploy-?"},
		{"unbound namespace", bound, "payments", "payments-db", `namespace "payments" may not name any Vault role`, ""},
		{"empty role", bound, "team-a", "", "not allowed", ""},
		{"case matters", bound, "team-a", "TEAM-A-db", "not allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.e.AllowedRole(tt.ns, tt.role)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("AllowedRole: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.wantRoles) {
				t.Fatalf("AllowedRole: %v, want an error with %q and %q", err, tt.wantErr, tt.wantRoles)
			}
			if !errors.Is(err, ErrRoleNotAllowed) {
				t.Errorf("error does not wrap ErrRoleNotAllowed")
			}
		})
	}
}

func TestAllowLists(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, Spec{Allow: AllowList{
		Names:         []string{"*_PUBLIC_KEY", "legacy_?_TOKEN"},
		Values:        Redacted{"Tr0ub4dor&3xY!-demo"},
		ValuePatterns: Redacted{"^sk_test_DEMO[0-9]+$"},
	}})
	tests := []struct {
		name string
		env  corev1.EnvVar
		want bool // flagged
	}{
		{"not allowed", lit("DB_PASSWORD", "Tr0ub4dor&3xY!"), true},
		{"name glob", lit("SIGNING_PUBLIC_KEY", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1x"), false},
		{"name glob is case-insensitive", lit("Legacy_1_token", "Zq8vN2xK7pL4mR9tW3yB6cF1hJ5dG0sA"), false},
		{"name glob ? is one character", lit("LEGACY_12_TOKEN", "Zq8vN2xK7pL4mR9tW3yB6cF1hJ5dG0sA"), true},
		// Names allow heuristics only: never a Secret reference, never a
		// known credential format.
		{"name glob never covers secretKeyRef", corev1.EnvVar{Name: "X_PUBLIC_KEY", ValueFrom: secretRef.ValueFrom}, true},
		{"name glob never covers a known format", lit("Legacy_1_token", "ghp_"+strings.Repeat("aB3", 12)), true},
		{"exact value", lit("DB_PASSWORD", "Tr0ub4dor&3xY!-demo"), false},
		{"exact value is exact", lit("DB_PASSWORD", "Tr0ub4dor&3xY!-demo2"), true},
		{"exact value is not trimmed", lit("DB_PASSWORD", " Tr0ub4dor&3xY!-demo"), true},
		{"pattern", lit("STRIPE_KEY", "sk_test_DEMO12345678901234567890"), false},
		{"pattern miss", lit("STRIPE_KEY", "sk_test_DEMOx2345678901234567890"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := flaggedBy(e, tt.env); (len(got) > 0) != tt.want {
				t.Errorf("flagged by %v, want flagged %v", got, tt.want)
			}
		})
	}
}

func TestFieldPathsAndMessages(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", Env: []corev1.EnvVar{lit("LOG_LEVEL", "info"), secretRef}}},
		Containers: []corev1.Container{
			{Name: "app", Env: []corev1.EnvVar{lit("GITHUB_TOKEN", "ghp_"+strings.Repeat("aB3", 12))},
				EnvFrom: []corev1.EnvFromSource{
					{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}},
					{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-env"}}},
				}},
		},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", Env: []corev1.EnvVar{lit("DB_PASSWORD", "Tr0ub4dor&3xY!")}}}},
	}
	o := Object{Kind: "Deployment", Namespace: "team-a", Name: "web", Spec: spec}
	d := e.Evaluate(o)
	want := []Violation{
		{RuleID: RuleEnvSecretKeyRef, Container: "migrate", Env: "DB_PASSWORD", Field: "spec.template.spec.initContainers[0].env[1]",
			Reason: `value comes from key "password" of Secret "db-creds"`, Remedy: strings.ReplaceAll(remedyVault, envPlaceholder, "DB_PASSWORD")},
		{RuleID: RuleKnownCredentialFormat, Container: "app", Env: "GITHUB_TOKEN", Field: "spec.template.spec.containers[0].env[0]",
			Reason: "literal value contains a GitHub token", Remedy: strings.ReplaceAll(remedyMoveToVault, envPlaceholder, "GITHUB_TOKEN")},
		{RuleID: RuleEnvFromSecret, Container: "app", Env: "envFrom:app-env", Field: "spec.template.spec.containers[0].envFrom[1]",
			Reason: `every key of Secret "app-env" becomes an env var`, Remedy: remedyVaultFrom},
		{RuleID: RuleEnvNameLiteral, Container: "debug", Env: "DB_PASSWORD", Field: "spec.template.spec.ephemeralContainers[0].env[0]",
			Reason: "literal value looks like a credential under a secret-looking name", Remedy: strings.ReplaceAll(remedyMoveToVault, envPlaceholder, "DB_PASSWORD")},
	}
	if diff := cmp.Diff(want, d.Violations); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	wantMsgs := []string{
		`Deployment team-a/web: init container "migrate": env DB_PASSWORD: value comes from key "password" of Secret "db-creds" (rule env-secret-key-ref); fetch it from Vault with a wisp.dev/secret-<name> annotation instead; wisp.dev/env-DB_PASSWORD: "<name>#<key>" keeps it an env var, the app unchanged`,
		`Deployment team-a/web: container "app": env GITHUB_TOKEN: literal value contains a GitHub token (rule known-credential-format); store it in Vault and mount it with a wisp.dev/secret-<name> annotation instead; wisp.dev/env-GITHUB_TOKEN: "<name>#<key>" keeps it an env var, the app unchanged`,
		`Deployment team-a/web: container "app": envFrom Secret "app-env": every key of Secret "app-env" becomes an env var (rule env-from-secret); fetch it from Vault with a wisp.dev/secret-<name> annotation instead; wisp.dev/env-<VAR>: "<name>#<key>" sets each variable, the app unchanged`,
		`Deployment team-a/web: ephemeral container "debug": env DB_PASSWORD: literal value looks like a credential under a secret-looking name (rule env-name-literal); store it in Vault and mount it with a wisp.dev/secret-<name> annotation instead; wisp.dev/env-DB_PASSWORD: "<name>#<key>" keeps it an env var, the app unchanged`,
	}
	if diff := cmp.Diff(wantMsgs, d.Messages(o)); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}

	for kind, path := range map[string]string{"": "spec", "Pod": "spec", "Job": "spec.template.spec",
		"CronJob": "spec.jobTemplate.spec.template.spec", "StatefulSet": "spec.template.spec", "PodTemplate": "template.spec"} {
		o := podWithEnv(secretRef)
		o.Kind = kind
		v := e.Evaluate(o).Violations
		if len(v) != 1 || v[0].Field != path+".containers[0].env[0]" {
			t.Errorf("kind %q: violations %+v, want field %s.containers[0].env[0]", kind, v, path)
		}
	}
	unnamed := Object{Namespace: "team-a"}
	if got, want := want[0].Message(unnamed), `Pod team-a/(unnamed): init container "migrate"`; !strings.HasPrefix(got, want) {
		t.Errorf("Message = %q, want prefix %q", got, want)
	}
}

func TestEvaluateEdgeCases(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	if d := e.Evaluate(Object{Namespace: "team-a"}); d.Exempt || len(d.Violations) != 0 || d.Mode != ModeEnforce {
		t.Errorf("nil spec: %+v", d)
	}
	empty := podWithEnv(corev1.EnvVar{Name: "EMPTY"}, lit("SPACES", "   "), lit("", "Tr0ub4dor&3xY!"),
		corev1.EnvVar{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "features"}}},
		corev1.EnvVar{Name: "API_TOKEN", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		corev1.EnvVar{Name: "DB_PASSWORD", Value: "Tr0ub4dor&3xY!", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
	if d := e.Evaluate(empty); len(d.Violations) != 0 {
		t.Errorf("empty, blank, configMapKeyRef, fieldRef and value+valueFrom: %+v", d.Violations)
	}
	// An unnamed variable with a literal in a known format is still found.
	if got := flaggedBy(e, lit("", "AKIAIOSFODNN7EXAMPL3")); len(got) != 1 {
		t.Errorf("unnamed AKIA: %v", got)
	}
}

func TestNewViolationsOnly(t *testing.T) {
	t.Parallel()
	a := Violation{RuleID: RuleEnvNameLiteral, Container: "app", Env: "DB_PASSWORD", Field: "spec.containers[0].env[0]"}
	b := Violation{RuleID: RuleEnvSecretKeyRef, Container: "app", Env: "API_KEY", Field: "spec.containers[0].env[1]"}
	moved := a
	moved.Field = "spec.containers[0].env[5]"
	otherRule := a
	otherRule.RuleID = RuleKnownCredentialFormat
	otherContainer := a
	otherContainer.Container = "sidecar"
	tests := []struct {
		name         string
		old, updated []Violation
		want         []Violation
	}{
		{"nothing old", nil, []Violation{a, b}, []Violation{a, b}},
		{"nothing new", []Violation{a, b}, nil, nil},
		{"unchanged", []Violation{a, b}, []Violation{a, b}, nil},
		{"one added", []Violation{a}, []Violation{a, b}, []Violation{b}},
		{"moved in the list is not new", []Violation{a}, []Violation{moved}, nil},
		{"other rule is new", []Violation{a}, []Violation{otherRule}, []Violation{otherRule}},
		{"other container is new", []Violation{a}, []Violation{otherContainer}, []Violation{otherContainer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, NewViolationsOnly(tt.old, tt.updated)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestEvaluateConcurrent runs one Evaluator from many goroutines (run with
// -race) and checks that Evaluate does not modify its input.
func TestEvaluateConcurrent(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	o := manyEnvObject(t, 200)
	o.Spec.Containers[0].Env = append(o.Spec.Containers[0].Env, secretRef)
	orig := o.Spec.DeepCopy()
	want := e.Evaluate(o)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if diff := cmp.Diff(want, e.Evaluate(o)); diff != "" {
					t.Errorf("concurrent Evaluate differs (-first +now):\n%s", diff)
					return
				}
			}
		})
	}
	wg.Wait()
	if diff := cmp.Diff(orig, o.Spec); diff != "" {
		t.Errorf("Evaluate modified its input (-before +after):\n%s", diff)
	}
}

func TestRuleSet(t *testing.T) {
	t.Parallel()
	rules := DefaultRules()
	if err := validateRules(rules); err != nil {
		t.Fatalf("DefaultRules: %v", err)
	}
	want := []string{RuleEnvSecretKeyRef, RuleEnvFromSecret, RuleKnownCredentialFormat, RuleEnvNameLiteral, RuleHighEntropyLiteral, RuleEnvNameWeakLiteral,
		RuleEnvConfigMapSecret, RuleSecretVolume}
	var got []string
	defaultOn := 0
	for _, r := range rules {
		got = append(got, r.ID)
		if !r.DefaultOff {
			defaultOn++
		}
		if r.Summary == "" || r.Since == "" || r.Remedy == "" {
			t.Errorf("rule %s: empty Summary, Since or Remedy", r.ID)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule order (-want +got):\n%s", diff)
	}
	if n := len(mustCompile(t, Spec{Rules: RuleSettings{Disabled: []string{RuleEnvFromSecret}}}).Rules()); n != defaultOn-1 {
		t.Errorf("Rules() after disabling one: %d rules", n)
	}

	check := func(*Evaluator, *item) string { return "" }
	for _, tt := range []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"duplicate", []Rule{{ID: "a", check: check}, {ID: "a", check: check}}, `duplicate id "a"`},
		{"upper case", []Rule{{ID: "Env", check: check}}, "not kebab-case"},
		{"double dash", []Rule{{ID: "a--b", check: check}}, "not kebab-case"},
		{"trailing dash", []Rule{{ID: "a-", check: check}}, "not kebab-case"},
		{"empty", []Rule{{ID: "", check: check}}, "not kebab-case"},
		{"no check", []Rule{{ID: "a"}}, "no check"},
	} {
		if err := validateRules(tt.rules); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: validateRules = %v, want %q", tt.name, err, tt.want)
		}
	}
	// A default-off rule runs only when enabled.
	off := append(DefaultRules(), Rule{ID: "extra-rule", DefaultOff: true, check: check})
	for _, tt := range []struct {
		spec Spec
		want int
	}{{Spec{}, defaultOn}, {Spec{Rules: RuleSettings{Enabled: []string{"extra-rule"}}}, defaultOn + 1}} {
		e, err := compile(tt.spec, off, sharedGitleaks)
		if err != nil || len(e.Rules()) != tt.want {
			t.Errorf("default-off rule: %v, %d rules, want %d", err, len(e.Rules()), tt.want)
		}
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		pattern, s string
		fold, want bool
	}{
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"", "", false, true},
		{"", "a", false, false},
		{"team-*", "team-a", false, true},
		{"team-*", "team-", false, true},
		{"team-*", "team", false, false},
		{"*-db", "orders-db", false, true},
		{"*-db", "orders-dbx", false, false},
		{"a*b*c", "aXbYbZc", false, true},
		{"a*b*c", "aXbYbZ", false, false},
		{"?", "", false, false},
		{"a?c", "abc", false, true},
		{"*_FILE", "db_password_file", true, true},
		{"*_FILE", "db_password_file", false, false},
		{"**a", "a", false, true},
	} {
		if got := globMatch(tt.pattern, tt.s, tt.fold); got != tt.want {
			t.Errorf("globMatch(%q, %q, %v) = %v, want %v", tt.pattern, tt.s, tt.fold, got, tt.want)
		}
	}
}

func TestNamespace(t *testing.T) {
	t.Parallel()
	ev := mustCompile(t, Spec{
		Mode: ModeWarn,
		Namespaces: NamespacePolicy{
			Modes:          map[string]Mode{"team-a": ModeAudit},
			ModeLabel:      "wisp.dev/policy-mode",
			Exempt:         []string{"legacy-*"},
			ExemptSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"wisp.dev/exempt": "true"}},
		},
		ExemptPods: PodExemptions{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpDoesNotExist}}}, Namespaces: []string{"*"}},
	})
	tests := []struct {
		name       string
		ns         string
		labels     map[string]string
		wantMode   Mode
		wantExempt bool
	}{
		{"default", "team-z", nil, ModeWarn, false},
		{"by name", "team-a", nil, ModeAudit, false},
		{"by label", "team-a", map[string]string{"wisp.dev/policy-mode": "enforce"}, ModeEnforce, false},
		{"exempt by name", "legacy-x", nil, ModeWarn, true},
		{"exempt by selector", "team-b", map[string]string{"wisp.dev/exempt": "true"}, ModeWarn, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mode, exempt := ev.Namespace(tt.ns, tt.labels)
			if mode != tt.wantMode || exempt != tt.wantExempt {
				t.Errorf("Namespace(%q, %v) = %q, %v; want %q, %v", tt.ns, tt.labels, mode, exempt, tt.wantMode, tt.wantExempt)
			}
		})
	}
}

package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/plan"
)

// limitsAWSKey is a credential every policy flags: an object whose only
// violation is RuleTooLarge was not judged.
const limitsAWSKey = "AKIAIOSFODNN7EXAMPLQ"

// planValue is a WISP_PLAN holding templates of the given lengths, of
// canary text.
func planValue(t testing.TB, templates ...int) string {
	t.Helper()
	p := plan.Plan{Version: plan.Version, Role: "app", Dir: "/wisp/secrets"}
	for i, n := range templates {
		p.Secrets = append(p.Secrets, plan.Secret{Name: fmt.Sprintf("s%d", i), Path: "secret/data/app", Template: filler(n)})
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// filler is n bytes of canary-bearing words.
func filler(n int) string {
	return strings.Repeat(canary+" ", n/len(canary+" ")+1)[:n]
}

// envOf is n harmless literal entries.
func envOf(n int, value string) []corev1.EnvVar {
	env := make([]corev1.EnvVar, n)
	for i := range env {
		env[i] = lit(fmt.Sprintf("SETTING_%05d", i), value)
	}
	return env
}

func TestLimits(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	withAnnotations := func(o Object, kv ...string) Object {
		o.Annotations = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			o.Annotations[kv[i]] = kv[i+1]
		}
		return o
	}
	tests := []struct {
		name string
		o    Object
		// want are the too-large violations as "env|field|reason part";
		// none: the object is judged (its AWS key found).
		want []string
	}{
		{"env value at the limit", podWithEnv(lit("CONFIG", filler(MaxEnvValueBytes)), lit("AWS", limitsAWSKey)), nil},
		{"env value over", podWithEnv(lit("CONFIG", filler(MaxEnvValueBytes+1)), lit("AWS", limitsAWSKey)),
			[]string{"CONFIG|spec.containers[0].env[0]|literal value is 32.0 KiB; wisp judges values of at most 32 KiB"}},
		{"valueFrom's value is not judged, so not bounded", podWithEnv(corev1.EnvVar{Name: "X", Value: filler(MaxEnvValueBytes + 1),
			ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}, lit("AWS", limitsAWSKey)), nil},
		{"entries at the limit", podWithEnv(append(envOf(MaxEnvEntries-1, "on"), lit("AWS", limitsAWSKey))...), nil},
		{"entries over", podWithEnv(append(envOf(MaxEnvEntries, "on"), lit("AWS", limitsAWSKey))...),
			[]string{"|spec|4097 env and envFrom entries; wisp judges at most 4096 per object"}},
		{"literal bytes over", podWithEnv(append(envOf(40, filler(MaxEnvValueBytes-20)), lit("AWS", limitsAWSKey))...),
			[]string{"|spec|env names and literal values of 1.2 MiB together; wisp judges at most 1 MiB per object"}},
		{"plan at the limit", podWithEnv(lit(plan.PlanVar, planValue(t, MaxTemplateBytes, MaxTemplateBytes, MaxTemplateBytes)), lit("AWS", limitsAWSKey)), nil},
		{"plan over", podWithEnv(lit(plan.PlanVar, planValue(t, 2800<<10)), lit("AWS", limitsAWSKey)),
			[]string{"WISP_PLAN|spec.containers[0].env[0]|wisp's WISP_PLAN is 2.7 MiB; it may have at most 64 KiB"}},
		{"plan template over", podWithEnv(lit(plan.PlanVar, planValue(t, 100, MaxTemplateBytes+1)), lit("AWS", limitsAWSKey)),
			[]string{"WISP_PLAN|spec.containers[0].env[0]|wisp's WISP_PLAN holds a template of 16.0 KiB; a template may have at most 16 KiB"}},
		{"plans over together", Object{Kind: "Pod", Namespace: "team-a", Name: "web", Spec: &corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", Env: []corev1.EnvVar{lit(plan.PlanVar, planValue(t, 12<<10, 12<<10, 12<<10))}},
			{Name: "b", Env: []corev1.EnvVar{lit(plan.PlanVar, planValue(t, 12<<10, 12<<10, 12<<10)), lit("AWS", limitsAWSKey)}},
		}}}, []string{"|spec|WISP_PLAN values of 72."}},
		{"env spec over", podWithEnv(lit(plan.EnvSpecVar, filler(MaxWispVarBytes+1)), lit("AWS", limitsAWSKey)),
			[]string{"WISP_ENV|spec.containers[0].env[0]|wisp's WISP_ENV is 64.0 KiB; it may have at most 64 KiB"}},
		{"template annotation over, pod not opted in", withAnnotations(podWithEnv(lit("AWS", limitsAWSKey)), "wisp.dev/template-x", filler(250<<10)),
			[]string{"wisp.dev/template-x|metadata.annotations[wisp.dev/template-x]|template is 250 KiB; a template may have at most 16 KiB",
				"|metadata.annotations|template annotations of 250 KiB together"}},
		{"vault template annotation over", withAnnotations(podWithEnv(lit("AWS", limitsAWSKey)), "vault.hashicorp.com/agent-inject-template-db", filler(MaxTemplateBytes+1)),
			[]string{"vault.hashicorp.com/agent-inject-template-db|metadata.annotations[vault.hashicorp.com/agent-inject-template-db]|template is 16.0 KiB"}},
		{"other annotations are not templates", withAnnotations(podWithEnv(lit("AWS", limitsAWSKey)), "example.com/notes", filler(1<<20)), nil},
		{"templates over together", withAnnotations(podWithEnv(lit("AWS", limitsAWSKey)),
			"wisp.dev/template-a", filler(MaxTemplateBytes), "wisp.dev/template-b", filler(MaxTemplateBytes),
			"wisp.dev/template-c", filler(MaxTemplateBytes), "wisp.dev/template-d", filler(MaxTemplateBytes),
			"vault.hashicorp.com/agent-inject-template-e", "x"),
			[]string{"|metadata.annotations|template annotations of 64.0 KiB together; wisp judges at most 64 KiB"}},
		{"a workload's paths", func() Object {
			o := podWithEnv(lit("CONFIG", filler(MaxEnvValueBytes+1)))
			o.Kind = "CronJob"
			return withAnnotations(o, "wisp.dev/template-x", filler(MaxTemplateBytes+1))
		}(), []string{
			"CONFIG|spec.jobTemplate.spec.template.spec.containers[0].env[0]|literal value",
			"wisp.dev/template-x|spec.jobTemplate.spec.template.metadata.annotations[wisp.dev/template-x]|template is",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := e.Evaluate(tt.o)
			if tt.want == nil {
				if len(d.Violations) == 0 || d.Violations[len(d.Violations)-1].RuleID == RuleTooLarge || !hasRule(d, RuleKnownCredentialFormat) {
					t.Fatalf("want the object judged (its AWS key found), got %+v", d.Violations)
				}
				return
			}
			if len(d.Violations) != len(tt.want) {
				t.Fatalf("got %d violations, want %d: %+v", len(d.Violations), len(tt.want), d.Violations)
			}
			for i, v := range d.Violations {
				parts := strings.SplitN(tt.want[i], "|", 3)
				env, field, reason := parts[0], parts[1], parts[2]
				if v.RuleID != RuleTooLarge || v.Env != env || v.Field != field || !strings.Contains(v.Reason, reason) {
					t.Errorf("violation %d: %s %q %q %q, want too-large %q %q containing %q", i, v.RuleID, v.Env, v.Field, v.Reason, env, field, reason)
				}
				msg := v.Message(tt.o)
				for _, p := range canaryPieces {
					if strings.Contains(msg, p) {
						t.Errorf("message carries the value: %.200s", msg)
					}
				}
				if len(msg) > 1024 {
					t.Errorf("message of %d bytes", len(msg))
				}
			}
			if !d.Denied() {
				t.Errorf("an object over a limit is not denied in enforce mode")
			}
		})
	}
}

func hasRule(d Decision, id string) bool {
	for _, v := range d.Violations {
		if v.RuleID == id {
			return true
		}
	}
	return false
}

// An object over a limit is refused, with the mode's answer: warned in warn
// mode, never silently allowed as clean.
func TestLimitsFollowTheMode(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, Spec{Mode: ModeWarn})
	d := e.Evaluate(podWithEnv(envOf(MaxEnvEntries+1, "on")...))
	if d.Denied() || len(d.Violations) != 1 || d.Violations[0].RuleID != RuleTooLarge {
		t.Errorf("warn mode: %+v, want one too-large violation, not denied", d)
	}
}

func TestLimitMessages(t *testing.T) {
	t.Parallel()
	o := Object{Kind: "Deployment", Namespace: "team-a", Name: "web"}
	tests := []struct {
		v    Violation
		want string
	}{
		{Violation{RuleID: RuleTooLarge, Field: "spec.template.spec", Reason: "5000 env and envFrom entries; wisp judges at most 4096 per object", Remedy: remedyTooMany},
			"Deployment team-a/web: 5000 env and envFrom entries; wisp judges at most 4096 per object (rule too-large); " + remedyTooMany},
		{Violation{RuleID: RuleTooLarge, Container: "app", Env: "CONFIG", Field: "spec.template.spec.containers[0].env[3]", Reason: "literal value is 40.0 KiB; wisp judges values of at most 32 KiB", Remedy: remedyLargeValue},
			`Deployment team-a/web: container "app": env CONFIG: literal value is 40.0 KiB; wisp judges values of at most 32 KiB (rule too-large); ` + remedyLargeValue},
		{deadlineViolation("spec.template.spec"),
			"Deployment team-a/web: not judged in full: the request's deadline came first (rule deadline-exceeded); " + remedyDeadline},
	}
	for _, tt := range tests {
		if got := tt.v.Message(o); got != tt.want {
			t.Errorf("Message:\n got %s\nwant %s", got, tt.want)
		}
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1 KiB", 1536: "1.5 KiB", 32 << 10: "32 KiB",
		32<<10 + 1: "32.0 KiB", 1 << 20: "1 MiB", 2800 << 10: "2.7 MiB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}

// stopAfter's Err is nil for its first calls, then not (never, with calls
// -1).
type stopAfter struct{ calls, n int }

func (s *stopAfter) Err() error {
	s.n++
	if s.calls >= 0 && s.n > s.calls {
		return context.DeadlineExceeded
	}
	return nil
}

// Evaluate asks Stop between containers and stops at the first error:
// what it found until then, and a deadline-exceeded violation.
func TestEvaluateStopsAtTheDeadline(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	o := Object{Kind: "Pod", Namespace: "team-a", Name: "web", Spec: &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Env: []corev1.EnvVar{lit("AWS", limitsAWSKey)}}},
		Containers: []corev1.Container{
			{Name: "a", Env: []corev1.EnvVar{lit("AWS", limitsAWSKey)}},
			{Name: "b", Env: []corev1.EnvVar{lit("AWS", limitsAWSKey)}},
		},
	}, Annotations: map[string]string{"wisp.dev/template-x": "key = " + limitsAWSKey}}
	tests := []struct {
		name      string
		calls     int // Stop's Err is not nil after this many calls; -1 never
		judged    []string
		incomplet bool
	}{
		{"never", -1, []string{"init", "a", "b", ""}, false},
		{"at once", 0, nil, true},
		{"after the init container", 1, []string{"init"}, true},
		{"after two containers", 2, []string{"init", "a"}, true},
		{"before the templates", 3, []string{"init", "a", "b"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := o
			o.Stop = &stopAfter{calls: tt.calls}
			d := e.Evaluate(o)
			var got []string
			for _, v := range d.Violations {
				if v.RuleID != RuleDeadlineExceeded {
					got = append(got, v.Container)
				}
			}
			if diff := cmp.Diff(tt.judged, got); diff != "" {
				t.Errorf("containers with a violation (-want +got):\n%s", diff)
			}
			if d.Incomplete() != tt.incomplet {
				t.Errorf("Incomplete() = %v, want %v", d.Incomplete(), tt.incomplet)
			}
			if tt.incomplet && !d.Denied() {
				t.Errorf("an evaluation cut short is not denied in enforce mode")
			}
		})
	}
}

// On UPDATE, a violation that says the object was not judged is never
// taken for an old one: dropping it would let the update through unjudged.
func TestNewViolationsOnlyKeepsUnjudged(t *testing.T) {
	t.Parallel()
	tooMany := Violation{RuleID: RuleTooLarge, Field: "spec.template.spec", Reason: "5000 env and envFrom entries"}
	late := deadlineViolation("spec.template.spec")
	old := []Violation{tooMany, late, {RuleID: RuleEnvNameLiteral, Container: "app", Env: "DB_PASSWORD"}}
	updated := []Violation{tooMany, late, {RuleID: RuleEnvNameLiteral, Container: "app", Env: "DB_PASSWORD"}}
	if diff := cmp.Diff([]Violation{tooMany, late}, NewViolationsOnly(old, updated)); diff != "" {
		t.Errorf("NewViolationsOnly (-want +got):\n%s", diff)
	}
}

// FuzzLimits builds objects around the limits (env entries, a literal
// value's length, a WISP_PLAN's template, template annotations) and holds
// Evaluate to them: a too-large violation exactly when a simple model of
// the limits says one is exceeded, then nothing else judged, and never the
// content in a message. Seeds: testdata/fuzz/FuzzLimits (at and just over
// each limit).
func FuzzLimits(f *testing.F) {
	f.Add(uint16(3), uint32(10), uint32(0), uint32(0), uint8(0))
	f.Add(uint16(MaxEnvEntries), uint32(2), uint32(0), uint32(0), uint8(0))
	f.Add(uint16(1), uint32(MaxEnvValueBytes+1), uint32(0), uint32(0), uint8(0))
	f.Add(uint16(1), uint32(1), uint32(MaxTemplateBytes+1), uint32(0), uint8(0))
	f.Add(uint16(1), uint32(1), uint32(0), uint32(MaxTemplateBytes), uint8(5))
	e := mustDefault(f)
	f.Fuzz(func(t *testing.T, entries uint16, valueLen, planTemplate, annLen uint32, annCount uint8) {
		// Sizes past twice a limit prove nothing more and slow the fuzzer.
		valueLen %= 2 * MaxEnvValueBytes
		planTemplate %= 2 * MaxWispVarBytes
		annLen %= 2 * MaxTemplateBytes
		annCount %= 16
		value := filler(int(valueLen))
		env := envOf(int(entries)%(MaxEnvEntries+16), value)
		var planLen int
		if planTemplate > 0 {
			p := planValue(t, int(planTemplate))
			planLen = len(p)
			env = append(env, lit(plan.PlanVar, p))
		}
		o := podWithEnv(env...)
		o.Annotations = map[string]string{}
		for i := range int(annCount) {
			o.Annotations[fmt.Sprintf("wisp.dev/template-t%d", i)] = filler(int(annLen))
		}

		// The model.
		n := len(env) - min(planLen, 1)
		valueOver := n > 0 && int(valueLen) > MaxEnvValueBytes
		planOver := planLen > MaxWispVarBytes || int(planTemplate) > MaxTemplateBytes
		literals := n * len("SETTING_00000")
		if !valueOver {
			literals += n * int(valueLen)
		}
		if planLen > 0 {
			literals += len(plan.PlanVar)
			if !planOver {
				literals += planLen
			}
		}
		annOver := annCount > 0 && (int(annLen) > MaxTemplateBytes || int(annCount)*int(annLen) > MaxTemplatesBytes)
		over := valueOver || planOver || annOver || len(env) > MaxEnvEntries || literals > MaxLiteralBytes

		d := e.Evaluate(o)
		tooLarge := 0
		for _, v := range d.Violations {
			if v.RuleID == RuleTooLarge {
				tooLarge++
			}
			for _, p := range canaryPieces {
				if strings.Contains(v.Message(o), p) {
					t.Fatalf("message carries the content: %.200s", v.Message(o))
				}
			}
		}
		switch {
		case over && (tooLarge == 0 || tooLarge != len(d.Violations)):
			t.Fatalf("over a limit (value %v, plan %v, annotations %v, %d entries, %d literal bytes): %d too-large of %d violations, want all",
				valueOver, planOver, annOver, len(env), literals, tooLarge, len(d.Violations))
		case !over && tooLarge > 0:
			t.Fatalf("within the limits (%d entries, %d literal bytes), got %+v", len(env), literals, d.Violations)
		}
	})
}

package policy

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
)

// TestTemplateLiterals: a credential written into a template annotation
// (as text, as a string constant, through b64dec) is judged by the literal
// rules; templates that only shape fetched data pass.
func TestTemplateLiterals(t *testing.T) {
	e := mustDefault(t)
	const stripe = "sk_live_" + "51Hx7Qk2eZvKYlo2C9qQyT3b"
	tests := []struct {
		name     string
		template string
		wantRule string // "" for none
	}{
		{"fields only", "[api]\nkey = {{ .api_key | quote }}\n[session]\nsecret = {{ .session_secret | quote }}\n", ""},
		{"env format helper", "{{ range $k, $v := . }}{{ $k | upper }}={{ $v }}\n{{ end }}", ""},
		{"index with a dashed key", `{{ index . "api-key" }}`, ""},
		{"default placeholder", `{{ .region | default "eu-west-1" }}`, ""},
		{"plain text credential", "[api]\nkey = " + stripe + "\n", RuleKnownCredentialFormat},
		{"string constant", `key = {{ "` + stripe + `" }}`, RuleKnownCredentialFormat},
		{"through b64dec", `key = {{ "` + b64(stripe) + `" | b64dec }}`, RuleKnownCredentialFormat},
		{"default smuggles", `{{ .missing | default "` + stripe + `" }}`, RuleKnownCredentialFormat},
		{"password as text", "DB_PASSWORD=Tr0ub4dor&3xY!q\n", RuleEnvNameLiteral},
		{"password in an action after its key", `password: {{ "Tr0ub4dor&3xY!q" }}`, RuleEnvNameLiteral},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := podWithEnv()
			o.Annotations = map[string]string{"wisp.dev/template-config": tt.template}
			// Twice: the second time, the template's literals are the
			// evaluator's remembered ones.
			for round := range 2 {
				d := e.Evaluate(o)
				if tt.wantRule == "" {
					if len(d.Violations) > 0 {
						t.Fatalf("round %d: flagged: %+v", round, d.Violations)
					}
					continue
				}
				if len(d.Violations) != 1 || d.Violations[0].RuleID != tt.wantRule {
					t.Fatalf("round %d: violations %+v, want one of rule %s", round, d.Violations, tt.wantRule)
				}
				msg := d.Violations[0].Message(o)
				if !strings.Contains(msg, "annotation wisp.dev/template-config: template literal") || strings.Contains(msg, "51Hx7Qk") || strings.Contains(msg, "Tr0ub4dor") {
					t.Errorf("message %q: want the annotation named, no value", msg)
				}
			}
			if e.templates.Len() == 0 {
				t.Error("the evaluator remembers no template")
			}
		})
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestWispVariables: wisp's own WISP_PLAN and WISP_ENV are judged by their
// parts: the JSON wisp writes passes, a literal smuggled inside is caught.
func TestWispVariables(t *testing.T) {
	e := mustDefault(t)
	const stripe = "sk_live_" + "51Hx7Qk2eZvKYlo2C9qQyT3b"
	tests := []struct {
		name, env, value string
		flagged          bool
	}{
		{"shim spec", "WISP_ENV", `{"dir":"/vault/secrets","vars":[{"name":"PGPASSWORD","secret":"db","key":"password","format":"env"}]}`, false},
		{"shim spec with a smuggled key", "WISP_ENV", `{"dir":"/vault/secrets","vars":[{"name":"X","secret":"db","key":"` + stripe + `","format":"json"}]}`, true},
		{"plan", "WISP_PLAN", `{"version":"wisp.dev/v1alpha1","role":"app","dir":"/wisp/secrets","secrets":[{"name":"c","path":"secret/data/c","template":"password = {{ .password }}\n"}]}`, false},
		{"plan with a template literal", "WISP_PLAN", `{"version":"wisp.dev/v1alpha1","role":"app","dir":"/wisp/secrets","secrets":[{"name":"c","path":"secret/data/c","template":"key = ` + stripe + `\n"}]}`, true},
		{"not a spec: judged as a literal", "WISP_ENV", `password=` + stripe, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Evaluate(podWithEnv(lit(tt.env, tt.value)))
			if (len(d.Violations) > 0) != tt.flagged {
				t.Fatalf("violations %+v, want flagged %v", d.Violations, tt.flagged)
			}
			// Again, from the evaluator's memory of the variable.
			if again := e.Evaluate(podWithEnv(lit(tt.env, tt.value))); !reflect.DeepEqual(again, d) {
				t.Fatalf("evaluated again: %+v, first %+v", again, d)
			}
			for _, v := range d.Violations {
				if strings.Contains(v.Message(podWithEnv()), "51Hx7Qk") {
					t.Errorf("message holds the value")
				}
			}
		})
	}
}

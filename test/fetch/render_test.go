package fetch

import (
	"strings"
	"testing"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/plan"
)

// TestFetchRenderErrorCarriesNoValue: a template that fails on the KV
// secret's data (text/template's own error would quote the value, or the
// whole map) makes wisp-fetch exit 1 with a last line naming the secret,
// the template, the position and the kind of failure, and holding no
// value: that line becomes the container's termination message, which
// whoever may get the pod reads.
func TestFetchRenderErrorCarriesNoValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		template string
		want     string
	}{
		{"range over a value", "{{ range .api_key }}{{ end }}",
			"execute template leak: line 1 column 9: range over a value that is not a list or map"},
		{"eq of the data map", "{{ if eq . . }}{{ end }}",
			"execute template leak: line 1 column 6: calling eq failed: values that cannot be compared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if raw := rawTemplateError(t, tt.template); !strings.Contains(raw, shared.canary) {
				t.Fatalf("text/template's own error %q does not quote the value: the case tests nothing", raw)
			}
			dir := t.TempDir()
			env := withPlanSecrets(t, injectedEnv(t, "pod.yaml", dir),
				plan.Secret{Name: "leak", Path: "secret/data/team-orders/orders-api", Template: tt.template})
			r := runFetch(t, env, nil)
			checkFailure(t, r, dir, `render secret "leak" from secret/data/team-orders/orders-api: `+tt.want)
			noLeak(t, "stderr", r.stderr, "quoted' $value")
		})
	}
}

// rawTemplateError is text/template's own error for text over the data of
// the KV secret secret/data/team-orders/orders-api (see configure).
func rawTemplateError(t *testing.T, text string) string {
	t.Helper()
	tmpl, err := plan.ParseTemplate("leak", text)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	err = tmpl.Execute(&b, map[string]any{"username": "orders", "api_key": shared.canary, "note": "multi\nline 'quoted' $value", "port": 8443})
	if err == nil {
		t.Fatalf("%q renders", text)
	}
	return err.Error()
}

// withPlanSecrets replaces the secrets of the plan in env (WISP_PLAN), as a
// pod that never went through the webhook could.
func withPlanSecrets(t *testing.T, env []string, secrets ...plan.Secret) []string {
	t.Helper()
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if doc, ok := strings.CutPrefix(kv, mutate.EnvPlan+"="); ok {
			p, err := plan.Parse([]byte(doc))
			if err != nil {
				t.Fatalf("injected plan: %v", err)
			}
			p.Secrets = secrets
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			kv = mutate.EnvPlan + "=" + string(b)
		}
		out = append(out, kv)
	}
	return out
}

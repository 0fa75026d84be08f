package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/plan"
)

// Credentials of the split tables, in parts that no rule flags alone.
const (
	awsA, awsB       = "AKIAZ5QWERT", "YUIOP7QAB"
	ghA, ghB         = "ghp_aB3dE5fG7hI9", "jK1lM3nO5pQ7rS9tU1vW3xY5"
	slackA, slackB   = "xoxb-1234567", "89012-1234567890123-"
	slackC           = "AbCdEfGhIjKlMnOpQrStUvWx"
	dsnA, dsnB       = "postgres://app:pa", "ss@db:5432/app"
	pemA, pemB       = "-----BEGIN RSA PRIV", "ATE KEY-----"
	pemBody          = "MIIEowIBAAKCAQEAq3Zx"
	stripeA, stripeB = "sk_live_51Hx7Qk2", "eZvKYlo2C9qQyT3b"
)

// printfChars is `printf "%c%c..." 65 75 ...`: s written as character codes.
func printfChars(s string) string {
	codes := make([]string, len(s))
	for i := range s {
		codes[i] = fmt.Sprint(int(s[i]))
	}
	return `{{ printf "` + strings.Repeat("%c", len(s)) + `" ` + strings.Join(codes, " ") + ` }}`
}

// splitTemplates are templates that render a credential held in no single
// constant or text of theirs.
func splitTemplates() []struct{ name, template string } {
	return []struct{ name, template string }{
		// The constructs of the report.
		{"aws comment", awsA + "{{/* */}}" + awsB},
		{"aws empty string action", awsA + `{{""}}` + awsB},
		{"aws print", `{{ print "` + awsA + `" "` + awsB + `" }}`},
		{"aws slice", `{{ slice "xx` + awsA + awsB + `xx" 2 22 }}`},
		{"aws printf chars", printfChars(awsA + awsB)},
		{"github comment", ghA + "{{/**/}}" + ghB},
		{"dsn comment", "DATABASE_URL=" + dsnA + "{{/**/}}" + dsnB},
		{"dsn bare", dsnA + "{{/**/}}" + dsnB},
		// Other vendors and constructs.
		{"aws trimmed comment", awsA + "{{- /* x */ -}}" + awsB},
		{"aws printf strings", `{{ printf "%s%s" "` + awsA + `" "` + awsB + `" }}`},
		{"aws variable", `{{ $a := "` + awsA + `" }}{{ $a }}` + awsB},
		{"aws variable assigned twice", `{{ $a := "x" }}{{ $a = "` + awsA + `" }}{{ $a }}{{ "` + awsB + `" }}`},
		{"aws with constant", `{{ with "` + awsA + `" }}{{ . }}{{ end }}` + awsB},
		{"aws if true", awsA + `{{ if true }}` + awsB + `{{ end }}`},
		{"aws if on data", `{{ if .enabled }}` + awsA + `{{ end }}` + awsB},
		{"aws else on data", `{{ if .enabled }}{{ else }}` + awsA + `{{ end }}` + awsB},
		{"aws eq on data", `{{ if eq .env "prod" }}` + awsA + `{{ "` + awsB + `" }}{{ end }}`},
		{"aws not eq on data", `{{ if not (eq .env "prod") }}` + awsA + `{{ "` + awsB + `" }}{{ end }}`},
		{"aws with data", `{{ with .data }}` + awsA + `{{ .missing }}` + awsB + `{{ end }}`},
		{"aws range over data", `{{ range $k, $v := . }}` + awsA + `{{ end }}` + awsB},
		{"aws range over a number", `{{ range $i := 2 }}{{ if eq $i 0 }}` + awsA + `{{ else }}` + awsB + `{{ end }}{{ end }}`},
		{"aws around an empty field", awsA + `{{ .suffix }}` + awsB},
		{"aws default", `{{ .prefix | default "` + awsA + `" }}` + awsB},
		{"aws upper", `{{ "` + strings.ToLower(awsA) + `" | upper }}{{ "` + strings.ToLower(awsB) + `" | upper }}`},
		{"aws define", `{{ define "a" }}` + awsA + `{{ end }}{{ template "a" }}` + awsB},
		{"aws split base64", `{{ print "QUtJQVo1UVdF" "UlRZVUlPUDdRQUI=" | b64dec }}`},
		{"aws index bytes", `{{ printf "%c" (index "xA" 1) }}KIAZ5QWERT` + awsB},
		{"aws js", `{{ js "` + awsA + `" }}` + awsB},
		{"github print", `{{ print "` + ghA + `" "` + ghB + `" }}`},
		{"github variables", `{{ $a := "` + ghA + `" }}{{ $b := "` + ghB + `" }}token: {{ $a }}{{ $b }}`},
		{"slack printf", `{{ printf "%s%s%s" "` + slackA + `" "` + slackB + `" "` + slackC + `" }}`},
		{"slack with", `{{ with "` + slackB + `" }}` + slackA + `{{ . }}{{ end }}` + slackC},
		{"pem header comment", pemA + "{{/* */}}" + pemB + "\n" + pemBody + "\n-----END RSA PRIVATE KEY-----\n"},
		{"pem header print", `{{ print "` + pemA + `" "` + pemB + `" }}` + "\n" + pemBody + "\n-----END RSA PRIVATE KEY-----"},
		{"pem body split", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg{{/**/}}4Lz7Qm9Xc2Vb8Np1Rt6Ys3Kw\n-----END EC PRIVATE KEY-----"},
		{"dsn password in printf", `{{ printf "postgres://%s:%s@db/app" "app" "S3cr3tPassw0rd" }}`},
		{"dsn if true", dsnA + "{{ if true }}" + dsnB + "{{ end }}"},
		{"stripe quote", `key = {{ print "` + stripeA + `" "` + stripeB + `" | quote }}`},
		{"password variables", `{{ $a := "Tr0ub4dor" }}{{ $b := "&3xY!q" }}password: {{ $a }}{{ $b }}`},
	}
}

// TestRenderedSplitCredentials: a credential split across template actions
// is denied in enforce, in wisp's template annotation, in the Vault Agent
// alias and in a hand-written WISP_PLAN, and the denial never holds a part
// of it.
func TestRenderedSplitCredentials(t *testing.T) {
	e := mustDefault(t)
	for _, tt := range splitTemplates() {
		for _, where := range []string{"wisp.dev/template-x", "vault.hashicorp.com/agent-inject-template-x", plan.PlanVar} {
			t.Run(tt.name+"/"+where, func(t *testing.T) {
				o := templateObject(t, where, tt.template)
				d := e.Evaluate(o)
				if !d.Denied() {
					t.Fatalf("not denied: %+v", d)
				}
				for _, m := range d.Messages(o) {
					for _, part := range []string{awsA, awsB, ghA, ghB, slackA, slackB, slackC, "S3cr3t", stripeA, stripeB, "Tr0ub4dor"} {
						if strings.Contains(m, part) {
							t.Errorf("message %q holds %q", m, part)
						}
					}
				}
			})
		}
	}
}

// TestRenderedSplitCredentialsVault: a Vault Agent template reads its data
// through `with secret` and Consul Template's helper names.
func TestRenderedSplitCredentialsVault(t *testing.T) {
	e := mustDefault(t)
	for _, tmpl := range []string{
		`{{ with secret "kv/data/app" }}` + awsA + `{{/* */}}` + awsB + `{{ end }}`,
		`{{ with secret "kv/data/app" }}{{ .Data.data.user }}` + awsA + `{{ .Data.data.empty }}` + awsB + `{{ end }}`,
		`{{ "` + strings.ToLower(awsA) + `" | toUpper }}{{ "` + strings.ToLower(awsB) + `" | toUpper }}`,
		`{{ with $s := secret "kv/data/app" }}{{ $s.Data.data.x | toJSON }}` + ghA + `{{""}}` + ghB + `{{ end }}`,
	} {
		o := templateObject(t, "vault.hashicorp.com/agent-inject-template-x", tmpl)
		if d := e.Evaluate(o); !d.Denied() {
			t.Errorf("%s: not denied: %+v", tmpl, d)
		}
	}
}

// TestRenderedTemplatesAllowed: templates that only shape fetched data stay
// allowed, however they read it: the stub never reaches a rule.
func TestRenderedTemplatesAllowed(t *testing.T) {
	e := mustDefault(t)
	tests := []string{
		`{{ index . "api-key" }}`,
		`{{ .password }}`,
		`password={{ .password }}`,
		`{{ default "eu-west-1" .region }}`,
		`{{ .region | default "eu-west-1" }}`,
		`{{ with .data }}{{ .user }}{{ end }}`,
		`{{ with .data }}{{ .user }}{{ else }}none{{ end }}`,
		"[api]\nkey = {{ .api_key | quote }}\n[session]\nsecret = {{ .session_secret | quote }}\n",
		"{{ range $k, $v := . }}{{ $k | upper }}={{ $v }}\n{{ end }}",
		`{"password": {{ .password | json }}, "user": {{ .user | json }}}`,
		"password={{ .password | b64enc }}\ntoken={{ .token | b64dec }}\n",
		"PASSWORD={{ .password | lower }}\nSECRET={{ .secret | upper | trim }}\n",
		"{{ $x := \"%x\" }}{{ $q := \"%q\" }}password={{ printf $x .password }}\nkey={{ printf $q .key }}\n",
		"password={{ slice .password 0 8 }}\nfirst={{ index .password 0 }}\n",
		"password={{ .password | html }}{{ .password | js }}{{ .password | urlquery }}\n",
		"Authorization: Basic {{ printf \"%s:%s\" .user .password | b64enc }}\n",
		"postgres://{{ .username }}:{{ .password }}@db:5432/app?sslmode=require",
		"DATABASE_URL=postgres://{{ .username }}:{{ .password | urlquery }}@{{ .host }}:{{ .port | default \"5432\" }}/app",
		"{{ if eq .env \"prod\" }}sslmode=verify-full{{ else }}sslmode=disable{{ end }}",
		"{{ range .hosts }}{{ . }},{{ end }}",
		"{{- /* the app reads KEY=value lines */ -}}\n{{ range $k, $v := . }}export {{ $k }}={{ $v | quote }}\n{{ end }}",
		`{{ define "kv" }}{{ .key }}={{ .value }}{{ end }}{{ template "kv" . }}`,
		"export DB_PASSWORD_FILE=/vault/secrets/db\npassword_length={{ len .password }}\n",
		// Shapes of Vault Agent and wisp templates as teams write them.
		"{{ with secret \"secret/data/web\" -}}\n  export api_key=\"{{ .Data.data.payments_api_key }}\"\n  export AWS_SECRET_ACCESS_KEY=\"{{ .Data.data.secret_key }}\"\n{{- end }}",
		"{{- with secret \"secret/myapp/config\" -}}\n[database]\nusername = \"{{ .Data.data.username }}\"\npassword = \"{{ .Data.data.password }}\"\n{{- end -}}",
		"{{ with secret \"secret/data/app\" }}\nspring.datasource.username={{ .Data.data.username }}\nspring.datasource.password={{ .Data.data.password }}\n{{ end }}",
		"{\n  \"username\": \"{{ .username }}\",\n  \"password\": \"{{ .password }}\"\n}",
		"DATABASE_URL=\"postgres://{{ .username }}:{{ .password }}@db:5432/app?sslmode=disable\"",
		"[default]\naws_access_key_id = {{ .access_key }}\naws_secret_access_key = {{ .secret_key }}\n",
		"jdbc:postgresql://db:5432/app?user={{ .username }}&password={{ .password }}",
		"mongodb://{{ .username }}:{{ .password }}@mongo:27017/admin?authSource=admin\nredis://:{{ .password }}@redis:6379/0\namqp://{{ .user }}:{{ .pass }}@rabbit:5672/",
		"Authorization: Bearer {{ .token }}\nX-Api-Key: {{ .api_key }}",
		"machine github.com login {{ .user }} password {{ .token }}",
		"db:5432:app:{{ .username }}:{{ .password }}",
		"//registry.npmjs.org/:_authToken={{ .token }}",
		`{"auths":{"registry.example.com":{"auth":"{{ printf "%s:%s" .user .pass | b64enc }}"}}}`,
		"{{ range $k, $v := . }}{{ $k }}: {{ $v | b64enc }}\n{{ end }}",
		"{{ if .tls_key }}-----BEGIN PRIVATE KEY-----\n{{ .tls_key }}\n-----END PRIVATE KEY-----{{ end }}",
		// The vault-k8s templates of the migration guide and of mutate's goldens.
		"{{- with secret \"database/creds/billing-worker\" -}}\npostgres://{{ .Data.username }}:{{ .Data.password }}@postgres.db.svc:5432/billing\n{{- end }}\n",
		"{{- with secret \"database/creds/billing-worker\" -}}\npostgres://{{ .Data.username }}:{{ .Data.password }}@postgres.db.svc:5432/billing?sslmode=verify-full\n{{- end }}\n",
		"{{ with secret \"secret/data/team-billing/smtp\" }}{{ range $k, $v := .Data.data }}{{ $k | toUpper }}={{ $v }}\n{{ end }}{{ end }}\n",
		"{{- with secret \"secret/data/team-orders/orders-api\" -}}\napi_key={{ .Data.data.api_key }}\nwebhook_secret={{ .Data.data.webhook_secret | base64Decode }}\n{{- end }}\n",
		"STRIPE_API_KEY={{ .api_key | quote }}\nSTRIPE_WEBHOOK_SECRET={{ .webhook_secret | quote }}\n",
		"{{ with $s := secret \"secret/data/app\" }}{{ $s.Data.data.a | base64Decode }}{{ end }}",
	}
	for _, tmpl := range tests {
		for _, where := range []string{"wisp.dev/template-x", "vault.hashicorp.com/agent-inject-template-x", plan.PlanVar} {
			o := templateObject(t, where, tmpl)
			if d := e.Evaluate(o); len(d.Violations) > 0 {
				t.Errorf("%s in %s: flagged: %v", tmpl, where, d.Messages(o))
			}
		}
	}
}

// TestRenderedGoldenTemplatesAllowed: every template of mutate's golden
// inputs and of the chart's docs stays allowed.
func TestRenderedGoldenTemplatesAllowed(t *testing.T) {
	e := mustDefault(t)
	files, err := filepath.Glob("../mutate/testdata/inject/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.yaml") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pod struct {
			Metadata struct{ Annotations map[string]string } `json:"metadata"`
		}
		if err := yaml.Unmarshal(data, &pod); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k, v := range pod.Metadata.Annotations {
			if !isTemplateKey(k) {
				continue
			}
			n++
			o := templateObject(t, k, v)
			if d := e.Evaluate(o); len(d.Violations) > 0 {
				t.Errorf("%s: %s flagged: %v", f, k, d.Messages(o))
			}
		}
	}
	doc, err := os.ReadFile("../charts/wisp/docs-migration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)agent-inject-template-[a-z]+: \\|\n(.*?)\n\\s*vault\\.hashicorp").FindAllSubmatch(doc, -1) {
		n++
		o := templateObject(t, "vault.hashicorp.com/agent-inject-template-x", string(m[1]))
		if d := e.Evaluate(o); len(d.Violations) > 0 {
			t.Errorf("docs-migration.md: %q flagged: %v", m[1], d.Messages(o))
		}
	}
	if n < 5 {
		t.Fatalf("%d templates found, want at least 5", n)
	}
}

// templateObject is a pod carrying tmpl in the annotation where, or, when
// where is WISP_PLAN, in a hand-written plan.
func templateObject(t testing.TB, where, tmpl string) Object {
	if where != plan.PlanVar {
		o := podWithEnv()
		o.Annotations = map[string]string{where: tmpl}
		return o
	}
	p := plan.Plan{Version: plan.Version, Role: "app", Dir: "/wisp/secrets",
		Secrets: []plan.Secret{{Name: "c", Path: "secret/data/c", Template: tmpl}}}
	js, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return podWithEnv(lit(plan.PlanVar, string(js)))
}

// TestRenderHelpersClassified: every helper of plan.Funcs has a bound on
// the bytes it produces; a new helper must be classified before it renders
// as itself (until then it renders as a function of the data).
func TestRenderHelpersClassified(t *testing.T) {
	var missing []string
	for name := range plan.Funcs() {
		if _, ok := helperFactor[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("helpers without a bound in helperFactor: %v", missing)
	}
	for alias, name := range consulAliases {
		if _, ok := plan.Funcs()[name]; !ok {
			t.Errorf("alias %s names %s, not a helper", alias, name)
		}
	}
}

// TestRenderBounded: templates built to loop, recurse or grow render within
// the bounds, fast, and what they rendered before the bound is judged.
func TestRenderBounded(t *testing.T) {
	e := mustDefault(t)
	nest := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	grow := `{{ $a := printf "%01000000d" 1 }}` + strings.Repeat(`{{ $a = printf "%s%s%s%s" $a $a $a $a }}`, 30) + `{{ $a }}`
	tests := []struct {
		name, template string
		denied         bool
	}{
		{"range over a billion", `{{ range 1000000000 }}{{ end }}` + awsA + "{{/**/}}" + awsB, true},
		{"nested ranges over numbers", nest("{{ range 1000 }}", "{{ end }}", 8) + awsA + "{{/**/}}" + awsB, true},
		{"nested ranges over data", nest("{{ range . }}", "{{ end }}", 200) + awsA + "{{/**/}}" + awsB, true},
		{"recursion", `{{ define "r" }}x{{ template "r" }}{{ template "r" }}{{ end }}{{ template "r" }}`, false},
		{"fan-out", `{{ define "a" }}` + strings.Repeat("x", 100) + `{{ end }}` + defineChain(20), false},
		{"printf width", `{{ printf "%0999999d%0999999d%0999999d" 1 2 3 }}`, false},
		{"printf star width", `{{ printf "%*d" 1000000000 1 }}`, false},
		{"printf growth", grow, false},
		{"helper growth", `{{ $a := "<<<<<<<<" }}` + strings.Repeat(`{{ $a = print $a $a $a $a | js | quote | json }}`, 30), false},
		{"output cap", `{{ range 256 }}{{ range 256 }}` + strings.Repeat("y", 1000) + `{{ end }}{{ end }}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			o := templateObject(t, "wisp.dev/template-x", tt.template)
			d := e.Evaluate(o)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			if d.Denied() != tt.denied {
				t.Errorf("denied %v, want %v: %v", d.Denied(), tt.denied, d.Messages(o))
			}
		})
	}
}

// defineChain defines t0 ... tn-1, each calling the previous one twice
// (2^n calls of "a" from the last), and calls the last.
func defineChain(n int) string {
	var b strings.Builder
	prev := "a"
	for i := range n {
		name := fmt.Sprintf("t%d", i)
		fmt.Fprintf(&b, `{{ define %q }}{{ template %q }}{{ template %q }}{{ end }}`, name, prev, prev)
		prev = name
	}
	fmt.Fprintf(&b, `{{ template %q }}`, prev)
	return b.String()
}

// renderBoth renders text in both passes (the outputs, the marker cut out).
func renderBoth(t testing.TB, text string) []string {
	t.Helper()
	trees := parseTemplate(text)
	if trees == nil {
		t.Fatalf("%q does not parse", text)
	}
	return renderTemplate(trees, mainTemplate, text)
}

// TestRenderTemplate: what each pass renders: the empty stub, then the
// marker (cut out) with conditions on data true.
func TestRenderTemplate(t *testing.T) {
	tests := []struct {
		name, template string
		empty, marker  string
	}{
		{"fields", `a{{ .x }}b{{ .x.y.z }}c{{ $.x }}d{{ (.x).y }}`, "abcd", "abcd"},
		{"index by key", `{{ index . "api-key" }}|{{ index .data "k" 0 }}`, "|", "|"},
		{"index of a constant", `{{ index "AB" 1 }}`, "66", "66"},
		{"condition on data", `{{ if .x }}then{{ else }}else{{ end }}`, "else", "then"},
		{"comparison with data", `{{ if eq .env "prod" }}then{{ else }}else{{ end }}`, "else", "then"},
		{"ne with data", `{{ if ne .env "prod" }}then{{ end }}`, "then", "then"},
		{"comparison of constants", `{{ if eq 1 2 }}a{{ end }}{{ if lt 1 2 }}b{{ end }}{{ if eq "x" "y" "x" }}c{{ end }}{{ if ge 2.5 2.5 }}d{{ end }}`, "bcd", "bcd"},
		{"with on data", `{{ with .data }}[{{ .user }}]{{ else }}none{{ end }}`, "none", "[]"},
		{"range over data", `{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ else }}empty{{ end }}`, "empty", "=;"},
		{"range over a number", `{{ range $i := 3 }}{{ $i }}{{ end }}`, "012", "012"},
		{"default", `{{ .region | default "eu-west-1" }}`, "eu-west-1", ""},
		{"text helpers keep the marker", `{{ .p | upper }}{{ .p | quote }}{{ .p | json }}{{ .p | trim | lower }}`, `""""`, `""""`},
		{"encoding helpers hide it", `{{ .p | b64enc }}|{{ .p | b64dec }}|{{ printf "%s:%s" .u .p | b64enc }}`, "||Og==", "||"},
		{"printf verbs print it as it is", `{{ printf "%x|%q|%5.2s|%d" .p .p .p .p }}`, `|""|     |%!d(string=)`, "|||"},
		{"slice hides it", `{{ slice .p 0 8 }}|{{ slice "abcdef" 1 3 }}`, "|bc", "|bc"},
		{"escapers keep it", `{{ html .p }}{{ js .p }}{{ urlquery .p }}`, "", ""},
		{"len", `{{ len .p }}`, "0", "24"},
		{"unknown functions give the stub", `{{ env "HOME" }}|{{ with secret "p" }}{{ .Data.data.x }}y{{ end }}`, "|", "|y"},
		{"consul aliases", `{{ "abc" | toUpper }}{{ "YZ" | base64Encode }}`, "ABCWVo=", "ABCWVo="},
		{"template calls", `{{ define "a" }}<{{ . }}>{{ end }}{{ template "a" "k" }}{{ template "a" }}`, "<k><<no value>>", "<k><<no value>>"},
		{"an error ends the render", `a{{ slice "abc" 5 }}b`, "a", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderBoth(t, tt.template)
			if len(got) != 2 || got[0] != tt.empty || got[1] != tt.marker {
				t.Errorf("rendered %q, want [%q %q]", got, tt.empty, tt.marker)
			}
		})
	}
}

// TestRenderTemplateBounds: each bound of a render holds, the rest of the
// template renders (or the render ends) as documented.
func TestRenderTemplateBounds(t *testing.T) {
	nest := func(open, close, body string, n int) string {
		return strings.Repeat(open, n) + body + strings.Repeat(close, n)
	}
	tests := []struct {
		name, template string
		check          func(out string) bool
		want           string
	}{
		{"a range over a number runs at most renderRangeMax times", `{{ range 1000000000 }}x{{ end }}`,
			func(out string) bool { return out == strings.Repeat("x", renderRangeMax) }, "renderRangeMax x"},
		{"nested ranges share the units", nest("{{ range 256 }}", "{{ end }}", "x", 3) + "!",
			func(out string) bool { return strings.Count(out, "x") <= renderUnits && strings.HasSuffix(out, "!") }, "at most renderUnits x, then !"},
		{"ranges over data run once", nest("{{ range . }}", "{{ end }}", "x", 500) + "!",
			func(out string) bool { return out == "!" || out == "x!" }, "x! or !"},
		{"the output stops at renderOutputMax", nest("{{ range 256 }}", "{{ end }}", strings.Repeat("y", 1000), 2) + "!",
			func(out string) bool { return len(out) == renderOutputMax }, "renderOutputMax bytes"},
		{"template calls stop at renderCalls", `{{ define "r" }}x{{ template "r" }}{{ end }}{{ template "r" }}`,
			func(out string) bool { return out == strings.Repeat("x", renderCalls) }, "renderCalls x"},
		{"template calls charge their callee", `{{ define "a" }}` + strings.Repeat("{{ 1 }}", 100) + `{{ end }}` + defineChain(20),
			func(out string) bool { return len(out) <= renderUnits }, "at most renderUnits bytes"},
		{"printf refuses a width past the output", `a{{ printf "%0999999d" 1 }}b`,
			func(out string) bool { return out == "a" }, "a"},
		{"printf refuses a width from an argument", `a{{ printf "%*d" 60000 1 }}b`,
			func(out string) bool { return out == "a" }, "a"},
		{"printf charges every verb", `a{{ printf "` + strings.Repeat("%[1]060000d", 20) + `" 1 }}b`,
			func(out string) bool { return out == "a" }, "a"},
		{"index and slice charge what they read", `{{ $a := printf "%060000d" 1 }}{{ range 256 }}{{ range 64 }}{{ index $a 0 }}{{ slice $a 1 2 }}{{ end }}{{ end }}`,
			func(out string) bool { return strings.Count(out, "48") <= renderBytes/60000 }, "at most renderBytes/60000 reads"},
		{"helpers share the bytes budget", `{{ $a := "<<<<<<<<" }}` + strings.Repeat(`{{ $a = print $a $a $a $a | js }}`, 30) + `{{ len $a }}`,
			func(out string) bool { return out == "" }, "nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			for i, out := range renderBoth(t, tt.template) {
				if !tt.check(out) {
					t.Errorf("pass %d rendered %d bytes (%.40q...), want %s", i, len(out), out, tt.want)
				}
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// FuzzTemplateLiterals renders fuzzed templates: nothing panics, the output
// stays within its bound, and no trace of the stub marker (in any case)
// reaches the rules.
func FuzzTemplateLiterals(f *testing.F) {
	for _, tt := range splitTemplates() {
		f.Add(tt.template)
	}
	f.Add(`{{ range $k, $v := . }}{{ $k | upper }}={{ $v | quote }}{{ else }}none{{ end }}`)
	f.Add(`{{ define "a" }}{{ template "a" . }}{{ end }}{{ with .x }}{{ template "a" .y }}{{ end }}`)
	f.Add(`{{ printf "%[2]*[1]d|%-8.3q|%v" 1 2 .p }}{{ index . 1 }}{{ slice .p 1 }}{{ call .f }}{{ len . }}`)
	f.Add(`{{ with secret "kv/x" }}{{ .Data.data.a | toJSON | base64Encode }}{{ end }}{{ wispStubRange 5 . }}`)
	e := mustDefault(f)
	f.Fuzz(func(t *testing.T, text string) {
		trees := parseTemplate(text)
		if trees == nil {
			return
		}
		sum := sha256.Sum256([]byte(text))
		marker := "wispstub" + hex.EncodeToString(sum[:8])
		for _, out := range renderTemplate(trees, mainTemplate, text) {
			if len(out) > renderOutputMax {
				t.Fatalf("rendered %d bytes", len(out))
			}
			if strings.Contains(strings.ToLower(out), marker) {
				t.Fatalf("the marker is left in %q", out)
			}
		}
		o := podWithEnv()
		o.Annotations = map[string]string{"wisp.dev/template-x": text}
		e.Evaluate(o)
	})
}

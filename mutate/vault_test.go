package mutate_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/plan"
)

const (
	vInject   = mutate.VaultAnnotationAgentInject
	vRole     = mutate.VaultAnnotationRole
	vSecretDB = mutate.VaultAnnotationSecretPrefix + "db"
	vTmplDB   = mutate.VaultAnnotationTemplatePrefix + "db"
	vVolPath  = mutate.VaultAnnotationSecretVolumePath
)

var withAliases = mutate.Config{VaultAgentAnnotations: true}

// TestVaultAliasesEquivalent injects pods written for the Vault Agent
// Injector and the same pods written with wisp's annotations: the injected
// pods must be the same, but for the annotations the pods were written with.
func TestVaultAliasesEquivalent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		vault, wisp map[string]string
	}{
		{
			name:  "minimal",
			vault: map[string]string{vInject: "true", vRole: "app", vSecretDB: "database/creds/app"},
			wisp:  map[string]string{keyInject: "true", keyRole: "app", keySecretDB: "database/creds/app"},
		},
		{
			name: "mount path and two secrets",
			vault: map[string]string{vInject: "true", vRole: "app", vSecretDB: "database/creds/app", vVolPath: "/etc/app/secrets",
				mutate.VaultAnnotationSecretPrefix + "config": "secret/data/app/config"},
			wisp: map[string]string{keyInject: "true", keyRole: "app", keySecretDB: "database/creds/app", keyMountPath: "/etc/app/secrets",
				mutate.AnnotationSecretPrefix + "config": "secret/data/app/config"},
		},
		{
			name: "KV v2 template",
			vault: map[string]string{vInject: "true", vRole: "app", vSecretDB: "secret/data/app/db",
				vTmplDB: "{{- with secret \"secret/data/app/db\" -}}\nuser={{ .Data.data.user }}\npass={{ .Data.data.pass }}\n{{- end }}\n"},
			wisp: map[string]string{keyInject: "true", keyRole: "app", keySecretDB: "secret/data/app/db",
				keyTemplateDB: "user={{.user}}\npass={{.pass}}\n"},
		},
		{
			name: "dynamic secret template with helpers",
			vault: map[string]string{vInject: "true", vRole: "app", vSecretDB: "database/creds/app",
				vTmplDB: `{{ with secret "database/creds/app" }}{{ .Data.username | toUpper }}:{{ .Data.password | base64Encode }}{{ end }}`},
			wisp: map[string]string{keyInject: "true", keyRole: "app", keySecretDB: "database/creds/app",
				keyTemplateDB: `{{.username | upper}}:{{.password | b64enc}}`},
		},
		{
			name:  "agent-inject takes what strconv.ParseBool takes",
			vault: map[string]string{vInject: "True", vRole: "app", vSecretDB: "database/creds/app"},
			wisp:  map[string]string{keyInject: "true", keyRole: "app", keySecretDB: "database/creds/app"},
		},
		{
			name:  "other vault annotations are ignored",
			vault: map[string]string{vInject: "1", vRole: "app", vSecretDB: "database/creds/app", mutate.VaultPrefix + "agent-pre-populate-only": "true", mutate.VaultPrefix + "agent-inject-containers": "app"},
			wisp:  map[string]string{keyInject: "true", keyRole: "app", keySecretDB: "database/creds/app"},
		},
		{
			name:  "mixed: each wisp key wins over its alias",
			vault: map[string]string{vInject: "true", vRole: "legacy", keyRole: "app", vSecretDB: "database/creds/legacy", keySecretDB: "database/creds/app"},
			wisp:  map[string]string{keyInject: "true", keyRole: "app", keySecretDB: "database/creds/app"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fromVault, res, err := mutate.Inject(newPod(tt.vault), withAliases)
			if err != nil || res != mutate.Injected {
				t.Fatalf("Inject of the Vault-annotated pod = %v, %v; want injected", res, err)
			}
			fromWisp, res, err := mutate.Inject(newPod(tt.wisp), withAliases)
			if err != nil || res != mutate.Injected {
				t.Fatalf("Inject of the wisp-annotated pod = %v, %v; want injected", res, err)
			}
			if diff := cmp.Diff(fromWisp.Spec, fromVault.Spec); diff != "" {
				t.Errorf("pod spec (-wisp annotations +Vault annotations):\n%s", diff)
			}
			if got := fromVault.Annotations[mutate.AnnotationStatus]; got != mutate.StatusInjected {
				t.Errorf("status annotation = %q, want %q", got, mutate.StatusInjected)
			}
			// The wisp-annotated pod does not depend on the option.
			plain, _, err := mutate.Inject(newPod(tt.wisp), mutate.Config{})
			if err != nil {
				t.Fatalf("Inject without the option: %v", err)
			}
			if diff := cmp.Diff(plain, fromWisp); diff != "" {
				t.Errorf("the option changed a wisp-annotated pod (-off +on):\n%s", diff)
			}
		})
	}
}

// TestVaultTemplateTranslation checks the translated template and what it
// renders, for the Consul Template forms wisp accepts.
func TestVaultTemplateTranslation(t *testing.T) {
	t.Parallel()
	kv := map[string]any{"user": "u1", "pass": "p1", "n": "3"}
	tests := []struct {
		name, path, vault string
		data              map[string]any
		wantTemplate      string
		wantOut           string
	}{
		{name: "KV v2 fields", path: "secret/data/app",
			vault:        "{{- with secret \"secret/data/app\" -}}\n{{ .Data.data.user }}:{{ .Data.data.pass }}\n{{- end }}",
			data:         kv,
			wantTemplate: "{{.user}}:{{.pass}}", wantOut: "u1:p1"},
		{name: "text around the block is kept", path: "secret/data/app",
			vault:        "# generated\n{{ with secret \"secret/data/app\" }}user={{ .Data.data.user }}{{ end }}\n",
			data:         kv,
			wantTemplate: "# generated\nuser={{.user}}\n", wantOut: "# generated\nuser=u1\n"},
		{name: "whole data as JSON", path: "secret/data/app",
			vault:        `{{ with secret "secret/data/app" }}{{ .Data.data | toJSON }}{{ end }}`,
			data:         kv,
			wantTemplate: "{{. | json}}", wantOut: `{"n":"3","pass":"p1","user":"u1"}`},
		{name: "toJSON as a function", path: "database/creds/app",
			vault:        `{{ with secret "database/creds/app" }}{{ toJSON .Data }}{{ end }}`,
			data:         map[string]any{"username": "v-1"},
			wantTemplate: "{{json .}}", wantOut: `{"username":"v-1"}`},
		{name: "range rebinds the dot", path: "secret/data/app",
			vault:        `{{ with secret "secret/data/app" }}{{ range $k, $v := .Data.data }}{{ $k }}={{ . }};{{ end }}{{ end }}`,
			data:         map[string]any{"b": "2", "a": "1"},
			wantTemplate: "{{range $k, $v := .}}{{$k}}={{.}};{{end}}", wantOut: "a=1;b=2;"},
		{name: "nested with and if", path: "secret/data/app",
			vault:        `{{ with secret "secret/data/app" }}{{ if .Data.data.user }}{{ with .Data.data.pass }}{{ . | trimSpace }}{{ end }}{{ end }}{{ end }}`,
			data:         map[string]any{"user": "u", "pass": " p "},
			wantTemplate: "{{if .user}}{{with .pass}}{{. | trim}}{{end}}{{end}}", wantOut: "p"},
		{name: "secret bound to a variable", path: "secret/data/app",
			vault:        `{{ with $s := secret "secret/data/app" }}{{ range $k, $v := $s.Data.data }}{{ $k }}{{ end }}:{{ $s.Data.data.user }}{{ end }}`,
			data:         map[string]any{"user": "u1", "a": "x"},
			wantTemplate: `{{range $k, $v := $}}{{$k}}{{end}}:{{$.user}}`, wantOut: "auser:u1"},
		{name: "index and printf", path: "secret/data/app",
			vault:        `{{ with secret "secret/data/app" }}{{ printf "%s-%s" (index .Data.data "user") .Data.data.n }}{{ end }}`,
			data:         kv,
			wantTemplate: `{{printf "%s-%s" (index . "user") .n}}`, wantOut: "u1-3"},
		{name: "base64 and case helpers", path: "secret/data/app",
			vault:        `{{ with secret "secret/data/app" }}{{ .Data.data.b | base64Decode | toLower }}{{ end }}`,
			data:         map[string]any{"b": "SEVMTE8="},
			wantTemplate: "{{.b | b64dec | lower}}", wantOut: "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := newPod(map[string]string{vInject: "true", vRole: "app", vSecretDB: tt.path, vTmplDB: tt.vault})
			out, _, err := mutate.Inject(pod, withAliases)
			if err != nil {
				t.Fatalf("Inject: %v", err)
			}
			got := fetchPlan(t, out).Secrets[0].Template
			if got != tt.wantTemplate {
				t.Errorf("translated template = %q, want %q", got, tt.wantTemplate)
			}
			tmpl, err := plan.ParseTemplate("db", got)
			if err != nil {
				t.Fatalf("wisp-fetch would refuse the translated template: %v", err)
			}
			var b bytes.Buffer
			if err := tmpl.Execute(&b, tt.data); err != nil {
				t.Fatalf("execute translated template: %v", err)
			}
			if b.String() != tt.wantOut {
				t.Errorf("rendered %q, want %q", b.String(), tt.wantOut)
			}
		})
	}
}

// TestVaultDenied checks that every problem with a Vault annotation is
// reported under the key the pod carries, with a message that says why.
func TestVaultDenied(t *testing.T) {
	t.Parallel()
	vault := func(kv ...string) map[string]string {
		a := map[string]string{vInject: "true", vRole: "app", vSecretDB: "database/creds/app"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == drop {
				delete(a, kv[i])
				continue
			}
			a[kv[i]] = kv[i+1]
		}
		return a
	}
	const hint = "write it as a wisp template instead"
	tests := []struct {
		name        string
		annotations map[string]string
		wantKeys    []string
		wantText    []string
	}{
		{name: "bad agent-inject", annotations: vault(vInject, "yes"),
			wantKeys: []string{vInject}, wantText: []string{`"yes" is not "true" or "false"`}},
		{name: "empty role", annotations: vault(vRole, ""),
			wantKeys: []string{vRole}, wantText: []string{"is empty"}},
		{name: "missing role names the alias", annotations: vault(vRole, drop),
			wantKeys: []string{keyRole}, wantText: []string{"is missing (or " + vRole + ")"}},
		{name: "no secret names the alias", annotations: vault(vSecretDB, drop),
			wantKeys: []string{mutate.AnnotationSecretPrefix + "<name>"}, wantText: []string{"(or " + mutate.VaultAnnotationSecretPrefix + "<name>)"}},
		{name: "secret name with a dot", annotations: vault(mutate.VaultAnnotationSecretPrefix+"config.json", "secret/data/app"),
			wantKeys: []string{mutate.VaultAnnotationSecretPrefix + "config.json"}, wantText: []string{`"config.json" is not a DNS label`}},
		{name: "bad path", annotations: vault(vSecretDB, "/database/creds/app"),
			wantKeys: []string{vSecretDB}, wantText: []string{"must not start with /"}},
		{name: "bad volume path", annotations: vault(vVolPath, "secrets"),
			wantKeys: []string{vVolPath}, wantText: []string{"not a clean absolute path"}},
		{name: "template of an unknown secret", annotations: vault(mutate.VaultAnnotationTemplatePrefix+"cache", `{{ with secret "kv/cache" }}{{ end }}`),
			wantKeys: []string{mutate.VaultAnnotationTemplatePrefix + "cache"}, wantText: []string{"no " + mutate.VaultAnnotationSecretPrefix + "cache annotation names a secret"}},
		{name: "template and wisp format", annotations: vault(vTmplDB, `{{ with secret "database/creds/app" }}{{ .Data.username }}{{ end }}`, keyFormatDB, "env"),
			wantKeys: []string{keyFormatDB}, wantText: []string{"set either " + vTmplDB + " or " + keyFormatDB}},
		{name: "template reads another path", annotations: vault(vTmplDB, `{{ with secret "database/creds/admin" }}{{ .Data.username }}{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"line 1 column 16: its secret call reads a path other than the one its secret annotation names", hint}},
		{name: "template reads two paths", annotations: vault(vTmplDB, `{{ with secret "database/creds/app" }}{{ end }}{{ with secret "database/creds/app" }}{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"more than one Vault secret"}},
		{name: "write with parameters", annotations: vault(vTmplDB, `{{ with secret "database/creds/app" "common_name=x" }}{{ .Data.certificate }}{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"has parameters"}},
		{name: "computed path", annotations: vault(vTmplDB, `{{ with secret (printf "database/creds/%s" "app") }}{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"does not name a literal path"}},
		{name: "else branch", annotations: vault(vTmplDB, `{{ with secret "database/creds/app" }}{{ .Data.username }}{{ else }}none{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"else branch"}},
		{name: "KV v2 metadata", annotations: vault(vTmplDB, `{{ with secret "database/creds/app" }}{{ .Data.metadata.version }}{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{".Data.metadata"}},
		{name: "lease fields", annotations: vault(vTmplDB, `{{ with secret "database/creds/app" }}{{ .LeaseID }}{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"line 1 column 42: it reads a field of the Vault response other than .Data"}},
		{name: "the whole response", annotations: vault(vTmplDB, `{{ with secret "database/creds/app" }}{{ . | toJSON }}{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"the whole Vault response"}},
		{name: "helper without equivalent", annotations: vault(vTmplDB, `{{ with secret "database/creds/app" }}{{ env "HOME" }}{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"line 1 column 42: it calls a Consul Template helper that has no wisp equivalent", hint}},
		{name: "nested secret", annotations: vault(vTmplDB, `{{ if true }}{{ with secret "database/creds/app" }}{{ end }}{{ end }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"not at the top level"}},
		{name: "define", annotations: vault(vTmplDB, `{{ define "x" }}a{{ end }}{{ template "x" }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"defines templates"}},
		{name: "syntax error", annotations: vault(vTmplDB, `{{ with secret "database/creds/app" }}`),
			wantKeys: []string{vTmplDB}, wantText: []string{"cannot be translated"}},
		{name: "empty template", annotations: vault(vTmplDB, " "),
			wantKeys: []string{vTmplDB}, wantText: []string{"is empty"}},
		{name: "template file", annotations: vault(mutate.VaultPrefix+"agent-inject-template-file-db", "/vault/custom/db.tmpl"),
			wantKeys: []string{mutate.VaultPrefix + "agent-inject-template-file-db"}, wantText: []string{"templates read from a file"}},
		{name: "file rename", annotations: vault(mutate.VaultPrefix+"agent-inject-file-db", "db.conf"),
			wantKeys: []string{mutate.VaultPrefix + "agent-inject-file-db"}, wantText: []string{"renaming a secret's file"}},
		{name: "command", annotations: vault(mutate.VaultPrefix+"agent-inject-command-db", "kill -HUP 1"),
			wantKeys: []string{mutate.VaultPrefix + "agent-inject-command-db"}, wantText: []string{"running a command"}},
		{name: "already injected by the Vault Agent Injector", annotations: vault(mutate.VaultAnnotationAgentInjectStatus, "injected"),
			wantKeys: []string{mutate.VaultAnnotationAgentInjectStatus}, wantText: []string{"one injector per pod"}},
		{name: "every problem at once", annotations: vault(vRole, "", vVolPath, "x", mutate.VaultPrefix+"agent-inject-file-db", "x"),
			wantKeys: []string{mutate.VaultPrefix + "agent-inject-file-db", vRole, vVolPath}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := newPod(tt.annotations)
			before := pod.DeepCopy()
			out, _, err := mutate.Inject(pod, withAliases)
			if err == nil {
				t.Fatalf("Inject accepted the pod; want a denial naming %v", tt.wantKeys)
			}
			if out != nil {
				t.Errorf("Inject returned a pod with its error")
			}
			if diff := cmp.Diff(before, pod); diff != "" {
				t.Errorf("Inject modified its input (-before +after):\n%s", diff)
			}
			var keys []string
			for _, e := range annotationErrors(t, err) {
				keys = append(keys, e.Key)
			}
			if diff := cmp.Diff(tt.wantKeys, keys); diff != "" {
				t.Errorf("denied annotations (-want +got):\n%s\nerror: %v", diff, err)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestVaultAliasesOff checks that without the option the Vault annotations
// mean nothing: not an opt-in, not a secret, not an error.
func TestVaultAliasesOff(t *testing.T) {
	t.Parallel()
	pod := newPod(map[string]string{vInject: "true", vRole: "app", vSecretDB: "database/creds/app", vTmplDB: "{{ env \"X\" }}",
		mutate.VaultPrefix + "agent-inject-file-db": "x"})
	out, res, err := mutate.Inject(pod, mutate.Config{})
	if err != nil || res != mutate.NotRequested || out != pod {
		t.Fatalf("Inject = %v, %v; want the pod itself, not requested", res, err)
	}
	// A wisp opt-in with only Vault secrets has no secret at all.
	pod = newPod(map[string]string{keyInject: "true", keyRole: "app", vSecretDB: "database/creds/app"})
	if _, _, err := mutate.Inject(pod, mutate.Config{}); err == nil || !strings.Contains(err.Error(), "no secret is requested;") {
		t.Fatalf("Inject = %v; want the no-secret denial without a mention of aliases", err)
	}
}

func TestVaultAlias(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		vInject:   keyInject,
		vRole:     keyRole,
		vSecretDB: keySecretDB,
		vTmplDB:   keyTemplateDB,
		vVolPath:  keyMountPath,
		mutate.VaultPrefix + "agent-inject-template-file-db": "",
		mutate.VaultPrefix + "agent-inject-file-db":          "",
		mutate.VaultPrefix + "agent-inject-status":           "",
		mutate.VaultPrefix + "agent-inject-containers":       mutate.AnnotationContainers,
		mutate.VaultPrefix + "namespace":                     "",
		keyRole:                                              "",
	}
	for key, want := range tests {
		got, ok := mutate.VaultAlias(key)
		if got != want || ok != (want != "") {
			t.Errorf("VaultAlias(%q) = %q, %v; want %q, %v", key, got, ok, want, want != "")
		}
	}
}

func TestEffectiveAnnotations(t *testing.T) {
	t.Parallel()
	in := map[string]string{vInject: "true", vRole: "legacy", keyRole: "app", vSecretDB: "database/creds/app", "other": "x"}
	before := map[string]string{}
	for k, v := range in {
		before[k] = v
	}
	if got := mutate.EffectiveAnnotations(in, mutate.Config{}); !cmp.Equal(got, before) {
		t.Errorf("without the option: %v, want the input %v", got, before)
	}
	got := mutate.EffectiveAnnotations(in, withAliases)
	want := map[string]string{vInject: "true", vRole: "legacy", keyRole: "app", vSecretDB: "database/creds/app", "other": "x",
		keyInject: "true", keySecretDB: "database/creds/app"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("with the option (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, in); diff != "" {
		t.Errorf("EffectiveAnnotations modified its input (-before +after):\n%s", diff)
	}
}

// FuzzVaultTemplate injects a pod whose Vault Agent template is fuzzed. It
// checks that Inject never panics, never changes its input, reports problems
// under the template's Vault key only, and that an accepted template is one
// wisp-fetch accepts.
func FuzzVaultTemplate(f *testing.F) {
	f.Add("database/creds/app", `{{ with secret "database/creds/app" }}{{ .Data.username }}{{ end }}`)
	f.Add("secret/data/app", "{{- with secret \"secret/data/app\" -}}\n{{ range $k, $v := .Data.data }}{{ $k | toUpper }}={{ $v }}\n{{ end }}{{- end }}")
	f.Add("secret/data/app", `{{ with $s := secret "secret/data/app" }}{{ $s.Data.data.a | base64Decode }}{{ end }}`)
	f.Add("secret/data/app", `{{ with secret "secret/data/app" }}{{ (.Data).data }}{{ .Data.metadata }}{{ end }}`)
	f.Add("kv/x", `{{ with secret "kv/x" "a=b" }}{{ else }}{{ end }}{{ template "t" }}`)
	f.Add("kv/x", `{{ define "t" }}{{ end }}{{ with secret "kv/x" }}{{ $.Data }}{{ . }}{{ end }}`)
	f.Fuzz(func(t *testing.T, path, tmpl string) {
		pod := newPod(map[string]string{vInject: "true", vRole: "app", vSecretDB: path, vTmplDB: tmpl})
		before := pod.DeepCopy()
		out, _, err := mutate.Inject(pod, withAliases)
		if !cmp.Equal(before, pod) {
			t.Fatalf("Inject modified its input pod")
		}
		if err != nil {
			if out != nil {
				t.Fatalf("Inject returned a pod with its error %q", err)
			}
			for _, e := range annotationErrors(t, err) {
				if e.Key != vTmplDB && e.Key != vSecretDB {
					t.Errorf("denial names %q, not the Vault template or secret: %v", e.Key, err)
				}
			}
			return
		}
		for _, s := range fetchPlan(t, out).Secrets {
			if _, err := plan.ParseTemplate(s.Name, s.Template); s.Template != "" && err != nil {
				t.Errorf("accepted template %q that wisp-fetch refuses: %v", s.Template, err)
			}
		}
	})
}

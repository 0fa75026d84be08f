package mutate_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"wisp.dev/wisp/mutate"
)

// vaultK8sAnnotations are the annotation keys (without the prefix) of
// hashicorp/vault-k8s v1.7.6, agent-inject/agent/annotations.go; a family
// is written as the Vault Agent Injector documents it, -<name> or -*.
var vaultK8sAnnotations = []string{
	"agent-inject-status", "agent-inject", "agent-inject-secret-<name>", "agent-inject-file-<name>",
	"agent-inject-perms-<name>", "agent-inject-template-<name>", "agent-inject-containers",
	"agent-inject-default-template", "agent-inject-template-file-<name>", "agent-template-left-delim-<name>",
	"agent-template-right-delim-<name>", "agent-inject-token", "agent-inject-command-<name>", "agent-image",
	"agent-request-namespace", "agent-init-first", "agent-pre-populate", "agent-pre-populate-only",
	"agent-configmap", "agent-extra-secret", "agent-limits-cpu", "agent-limits-mem", "agent-limits-ephemeral",
	"agent-requests-cpu", "agent-requests-mem", "agent-requests-ephemeral", "agent-revoke-on-shutdown",
	"agent-revoke-grace", "namespace", "agent-run-as-user", "agent-run-as-group", "agent-run-as-same-user",
	"agent-share-process-namespace", "agent-set-security-context", "agent-service-account-token-volume-name",
	"service", "proxy-address", "tls-skip-verify", "tls-secret", "tls-server-name", "ca-cert", "ca-key",
	"client-cert", "client-key", "client-max-retries", "client-timeout", "go-max-procs", "log-level",
	"log-format", "role", "auth-type", "auth-path", "auth-config-*", "secret-volume-path",
	"secret-volume-path-<name>", "preserve-secret-case", "agent-cache-enable", "agent-cache-use-auto-auth-token",
	"agent-cache-listener-port", "agent-cache-exit-on-err", "agent-copy-volume-mounts",
	"template-config-exit-on-retry-failure", "template-static-secret-render-interval",
	"template-max-connections-per-host", "template-lease-renewal-threshold", "agent-enable-quit",
	"auth-min-backoff", "auth-max-backoff", "agent-disable-idle-connections", "agent-disable-keep-alives",
	"agent-json-patch", "agent-init-json-patch", "agent-auto-auth-exit-on-err", "agent-telemetry-*",
	"error-on-missing-key",
}

// TestVaultAnnotationsCoverVaultK8s: the table has one row per vault-k8s
// annotation, and no other.
func TestVaultAnnotationsCoverVaultK8s(t *testing.T) {
	t.Parallel()
	var keys []string
	for _, a := range mutate.VaultAnnotations {
		keys = append(keys, a.Key)
	}
	want := slices.Clone(vaultK8sAnnotations)
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("table keys:\n%v\nvault-k8s v1.7.6 keys:\n%v", keys, want)
	}
}

// vaultSample is an annotation set that exercises one row: the row's key
// (a family with the secret db, or the suffix x) with a value wisp would
// not honour if it could, plus what that needs.
func vaultSample(a mutate.VaultAnnotation) map[string]string {
	key := mutate.VaultPrefix + strings.NewReplacer("<name>", "db", "*", "x").Replace(a.Key)
	extra := map[string]map[string]string{
		"agent-inject":                 {key: "true"},
		"agent-inject-status":          {key: "update"},
		"role":                         {key: "app"},
		"agent-inject-secret-<name>":   {key: "database/creds/app"},
		"agent-inject-template-<name>": {key: `{{ with secret "database/creds/app" }}{{ .Data.password }}{{ end }}`},
		"agent-template-left-delim-<name>": {key: "[[", mutate.VaultAnnotationRightDelimPrefix + "db": "]]",
			vTmplDB: `[[ with secret "database/creds/app" ]]{"p":"[[ .Data.password ]]"}[[ end ]]`},
		"agent-template-right-delim-<name>": {key: ">>", mutate.VaultAnnotationLeftDelimPrefix + "db": "<<",
			vTmplDB: `<< with secret "database/creds/app" >><< .Data.password >><< end >>`},
		"agent-inject-containers":   {key: "app"},
		"secret-volume-path":        {key: "/etc/app/secrets"},
		"secret-volume-path-<name>": {key: "/etc/app/secrets", vVolPath: "/etc/app/secrets"},
		"tls-skip-verify":           {key: "true"},
		"agent-inject-token":        {key: "true"},
	}[a.Key]
	if extra == nil {
		extra = map[string]string{key: "false"}
		if len(a.HonouredIf) > 0 && a.HonouredIf[0] != "false" {
			extra[key] = "false"
		} else {
			extra[key] = "yes"
		}
	}
	ann := map[string]string{vInject: "true", vRole: "app", vSecretDB: "database/creds/app"}
	for k, v := range extra {
		ann[k] = v
	}
	return ann
}

// TestVaultAnnotationTable injects, for every vault-k8s annotation, a pod
// that carries it: an honoured one injects with no warning about it, a
// refused one is refused under its key, a warned one injects with a
// warning that names it.
func TestVaultAnnotationTable(t *testing.T) {
	t.Parallel()
	for _, a := range mutate.VaultAnnotations {
		t.Run(a.Key, func(t *testing.T) {
			t.Parallel()
			ann := vaultSample(a)
			key := mutate.VaultPrefix + strings.NewReplacer("<name>", "db", "*", "x").Replace(a.Key)
			_, res, err := mutate.Inject(newPod(ann, "app", "sidecar"), withAliases)
			warnings := mutate.VaultWarnings(ann, withAliases)
			named := slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, key+" ") })
			switch a.Handling {
			case mutate.VaultHonoured:
				if err != nil || res != mutate.Injected || named {
					t.Errorf("honoured: result %v, err %v, warnings %q", res, err, warnings)
				}
			case mutate.VaultRefused:
				if err == nil || !strings.Contains(err.Error(), key+":") {
					t.Errorf("refused: err %v, want one under %s", err, key)
				}
			case mutate.VaultWarned:
				if err != nil || res != mutate.Injected || !named {
					t.Errorf("warned: result %v, err %v, warnings %q", res, err, warnings)
				}
				if len(a.HonouredIf) > 0 {
					ann[key] = a.HonouredIf[0]
					if w := mutate.VaultWarnings(ann, withAliases); len(w) != 0 {
						t.Errorf("value %q is honoured, warnings %q", a.HonouredIf[0], w)
					}
				}
			default:
				t.Errorf("handling %q", a.Handling)
			}
		})
	}
}

func TestVaultWarnings(t *testing.T) {
	t.Parallel()
	base := map[string]string{vInject: "true", vRole: "app", vSecretDB: "database/creds/app"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	tests := []struct {
		name string
		ann  map[string]string
		cfg  mutate.Config
		want []string
	}{
		{name: "none", ann: base, cfg: withAliases},
		{name: "aliases off", ann: with(mutate.VaultPrefix+"agent-init-first", "false")},
		{name: "not injected", ann: map[string]string{vInject: "false", mutate.VaultPrefix + "agent-image": "vault:1"}, cfg: withAliases},
		{name: "unknown", ann: with(mutate.VaultPrefix+"agent-new-thing", "1"), cfg: withAliases,
			want: []string{mutate.VaultPrefix + "agent-new-thing is not a Vault Agent Injector annotation wisp knows; wisp ignores it"}},
		{name: "alias overridden by its wisp key", ann: with(keyRole, "other"), cfg: withAliases,
			want: []string{vRole + " is not read: " + keyRole + " is set and wins"}},
		{name: "value is never quoted", ann: with(mutate.VaultPrefix+"auth-path", "s3cr3t-value"), cfg: withAliases,
			want: []string{mutate.VaultPrefix + "auth-path is not honoured by wisp: the auth mount: wisp takes it from the platform policy (injection settings), not from the pod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mutate.VaultWarnings(tt.ann, tt.cfg)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestVaultAgentInjectEmpty: like the Vault Agent Injector, an empty
// agent-inject is false: the pod is admitted as is.
func TestVaultAgentInjectEmpty(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", " "} {
		pod := newPod(map[string]string{vInject: v, vRole: "app", vSecretDB: "database/creds/app"})
		out, res, err := mutate.Inject(pod, withAliases)
		if err != nil || res != mutate.NotRequested || out != pod {
			t.Errorf("agent-inject %q: result %v, err %v", v, res, err)
		}
	}
}

// docsMigration is the migration guide, whose annotation table is
// generated from VaultAnnotations (go test ./mutate -run
// TestVaultAnnotationsDoc -update rewrites it).
const docsMigration = "../charts/wisp/docs-migration.md"

const (
	docTableBegin = "<!-- vault-annotations: generated from mutate.VaultAnnotations, do not edit -->\n"
	docTableEnd   = "<!-- end vault-annotations -->\n"
)

func vaultAnnotationsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Vault Agent Injector annotation | wisp | what wisp does |\n| --- | --- | --- |\n")
	for _, a := range mutate.VaultAnnotations {
		note := a.Note
		if len(a.HonouredIf) > 0 {
			note += " (no warning for `" + strings.Join(a.HonouredIf, "`, `") + "`)"
		}
		b.WriteString("| `" + a.Key + "` | " + string(a.Handling) + " | " + strings.ReplaceAll(note, "|", "\\|") + " |\n")
	}
	return b.String()
}

// TestVaultAnnotationsDoc: the migration guide's table is the table.
func TestVaultAnnotationsDoc(t *testing.T) {
	data, err := os.ReadFile(docsMigration)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	before, rest, ok := strings.Cut(doc, docTableBegin)
	_, after, ok2 := strings.Cut(rest, docTableEnd)
	if !ok || !ok2 {
		t.Fatalf("%s has no generated table (%q ... %q)", docsMigration, docTableBegin, docTableEnd)
	}
	want := before + docTableBegin + vaultAnnotationsMarkdown() + docTableEnd + after
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(docsMigration, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's annotation table differs from mutate.VaultAnnotations; run go test ./mutate -run TestVaultAnnotationsDoc -update", docsMigration)
}

// TestVaultHonoured: the annotations wisp honours give the pod the same
// annotations in wisp's form give; the ones it cannot honour exactly are
// refused under their key.
func TestVaultHonoured(t *testing.T) {
	t.Parallel()
	base := func(kv ...string) map[string]string {
		m := map[string]string{vInject: "true", vRole: "app", vSecretDB: "database/creds/app"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	wispBase := func(kv ...string) map[string]string {
		m := map[string]string{keyInject: "true", keyRole: "app", keySecretDB: "database/creds/app"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	left, right := mutate.VaultAnnotationLeftDelimPrefix+"db", mutate.VaultAnnotationRightDelimPrefix+"db"
	tests := []struct {
		name   string
		vault  map[string]string
		wisp   map[string]string // nil: refused
		refuse string            // the refused key and reason
	}{
		{name: "containers", vault: base(mutate.VaultAnnotationContainers, "app"), wisp: wispBase(mutate.AnnotationContainers, "app")},
		{name: "containers the pod does not have", vault: base(mutate.VaultAnnotationContainers, "app,web"),
			refuse: mutate.VaultAnnotationContainers + `: names container "web", which the pod does not have`},
		{name: "mount path over the socket folder", vault: base(vVolPath, "/spiffe-workload-api"),
			refuse: vVolPath + `: "/spiffe-workload-api" is not in a folder the platform allows for secrets`},
		{name: "per-secret folder is the mount path",
			vault: base(vVolPath, "/etc/app/secrets", mutate.VaultAnnotationSecretVolumePath+"-db", "/etc/app/secrets"),
			wisp:  wispBase(keyMountPath, "/etc/app/secrets")},
		{name: "per-secret folder is the default mount path",
			vault: base(mutate.VaultAnnotationSecretVolumePath+"-db", "/vault/secrets"), wisp: wispBase()},
		{name: "per-secret folder elsewhere",
			vault:  base(mutate.VaultAnnotationSecretVolumePath+"-db", "/etc/db"),
			refuse: mutate.VaultAnnotationSecretVolumePath + "-db: wisp mounts all of a pod's secrets in one folder (/vault/secrets)"},
		{name: "per-secret folder not absolute",
			vault:  base(mutate.VaultAnnotationSecretVolumePath+"-db", "etc/db"),
			refuse: mutate.VaultAnnotationSecretVolumePath + "-db: \"etc/db\" is not a clean absolute path"},
		{name: "delimiters",
			vault: base(left, "[[", right, "]]", vTmplDB, "[[- with secret \"database/creds/app\" -]]\n{\"u\":\"[[ .Data.username ]]\"}\n[[- end ]]\n"),
			wisp:  wispBase(keyTemplateDB, "{\"u\":\"{{.username}}\"}\n")},
		{name: "left delimiter only",
			vault: base(left, "<%", vTmplDB, `<% with secret "database/creds/app" }}<% .Data.username }}<% end }}`),
			wisp:  wispBase(keyTemplateDB, `{{.username}}`)},
		{name: "default delimiters named",
			vault: base(left, "{{", right, "}}", vTmplDB, `{{ with secret "database/creds/app" }}{{ .Data.username }}{{ end }}`),
			wisp:  wispBase(keyTemplateDB, `{{.username}}`)},
		{name: "text that would be an action",
			vault:  base(left, "[[", right, "]]", vTmplDB, `[[ with secret "database/creds/app" ]]{{ [[ .Data.username ]] }}[[ end ]]`),
			refuse: vTmplDB + ": this Vault Agent template cannot be read with its delimiters: line 1 column 39: its text holds {{ or }}"},
		{name: "does not parse with its delimiters",
			vault:  base(left, "[[", right, "]]", vTmplDB, `[[ with secret "database/creds/app" ]][[ .Data.username ]]`),
			refuse: vTmplDB + ": this Vault Agent template cannot be read with its delimiters: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _, err := mutate.Inject(newPod(tt.vault, "app", "sidecar"), withAliases)
			if tt.wisp == nil {
				if err == nil || !strings.Contains(err.Error(), tt.refuse) {
					t.Fatalf("err = %v; want %q", err, tt.refuse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _, err := mutate.Inject(newPod(tt.wisp, "app", "sidecar"), mutate.Config{})
			if err != nil {
				t.Fatal(err)
			}
			got.Annotations, want.Annotations = nil, nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-wisp +vault):\n%s", diff)
			}
		})
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"wisp.dev/wisp/internal/workload"
)

// migrationGuideExamples returns the manifests of the migration guide
// written for the Vault Agent Injector (its yaml blocks with a kind).
func migrationGuideExamples(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../charts/wisp/docs-migration.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(data), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.Contains(block, "\nkind: ") && strings.Contains(block, "vault.hashicorp.com/") {
			out = append(out, block)
		}
	}
	if len(out) == 0 {
		t.Fatal("the migration guide has no manifest written for the Vault Agent Injector")
	}
	return out
}

// withoutPodAnnotations decodes wisp inject's output and drops the
// annotations of each pod (template), which migration changes on purpose.
func withoutPodAnnotations(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, d := range readDocuments([]byte(out), false) {
		if d.err != nil {
			t.Fatalf("decode output: %v", d.err)
		}
		pod, err := workload.PodOf(d.obj)
		if err == nil {
			pod.Annotations = nil
			if err := workload.SetPod(d.obj, pod); err != nil {
				t.Fatal(err)
			}
		}
		objs = append(objs, d.obj.Object)
	}
	return objs
}

// Round trip: wisp inject of the migrated manifest (no aliases) equals
// wisp inject of the original with the aliases on, over mutate's Vault
// goldens and the migration guide's examples.
func TestMigrateRoundTrip(t *testing.T) {
	t.Parallel()
	inputs := map[string]string{}
	goldens, _ := filepath.Glob("../../mutate/testdata/inject/vault-agent-*.yaml")
	for _, g := range goldens {
		if !strings.HasSuffix(g, ".golden.yaml") {
			inputs[filepath.Base(g)] = readFile(t, g)
		}
	}
	for i, ex := range migrationGuideExamples(t) {
		inputs["migration guide example "+string(rune('1'+i))] = ex
	}
	if len(inputs) < 5 {
		t.Fatalf("only %d inputs", len(inputs))
	}
	aliases := writeTemp(t, "apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection:\n  vaultAgentAnnotations: true\n")
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "-"
			if strings.HasSuffix(name, ".yaml") {
				src = "../../mutate/testdata/inject/" + name // as the docs show it: a file
			}
			code, migrated, stderr := wisp(t, in, "migrate", "-f", src)
			if code != 0 || strings.Contains(migrated, "vault.hashicorp.com/agent-inject-secret") {
				t.Fatalf("migrate: exit %d, stderr %s\n%s", code, stderr, migrated)
			}
			code, want, stderr := wisp(t, in, "inject", "-f", "-", "--policy", aliases)
			if code != 0 {
				t.Fatalf("inject the original: exit %d: %s", code, stderr)
			}
			code, got, stderr := wisp(t, migrated, "inject", "-f", "-")
			if code != 0 || stderr != "" {
				t.Fatalf("inject the migrated manifest: exit %d: %s", code, stderr)
			}
			if diff := cmp.Diff(withoutPodAnnotations(t, want), withoutPodAnnotations(t, got)); diff != "" {
				t.Errorf("(-original +migrated):\n%s", diff)
			}
		})
	}
}

// What has no exact translation is left, named in a comment and on
// stderr, and the exit status is 1.
func TestMigrateNeedsAPerson(t *testing.T) {
	t.Parallel()
	const in = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations:
        vault.hashicorp.com/agent-inject: "true"
        vault.hashicorp.com/role: web
        vault.hashicorp.com/agent-inject-secret-db: database/creds/web
        vault.hashicorp.com/agent-inject-template-db: '{{ with secret "database/creds/web" }}{{ .Data.password | env }}{{ end }}'
        vault.hashicorp.com/agent-inject-file-db: db.conf
        vault.hashicorp.com/agent-image: hashicorp/vault:1.17
    spec:
      containers: [{name: app, image: web:1}]
`
	code, stdout, stderr := wisp(t, in, "migrate", "-f", "-")
	if code != exitDenied {
		t.Fatalf("exit %d, want 1; stderr %s", code, stderr)
	}
	for _, want := range []string{
		"# wisp migrate: Deployment/web: needs a person: vault.hashicorp.com/agent-inject-file-db: renaming a secret's file is not supported",
		"# wisp migrate: Deployment/web: needs a person: vault.hashicorp.com/agent-inject-template-db: this Vault Agent template cannot be translated: line 1 column 59: it calls a Consul Template helper",
		"vault.hashicorp.com/agent-inject-file-db: db.conf",
		"wisp.dev/secret-db: database/creds/web",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "agent-image") {
		t.Errorf("agent-image not dropped:\n%s", stdout)
	}
	for _, want := range []string{
		"wisp: migrate: document 1 of stdin: Deployment/web: 3 rewritten, 1 dropped, 2 need a person\n",
		"dropped vault.hashicorp.com/agent-image: not honoured by wisp",
		"wisp: migrate: 2 annotation(s) need a person",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

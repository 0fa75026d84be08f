package main

import (
	"strings"
	"testing"
)

// wisp inject prints the webhook's admission warnings about Vault Agent
// Injector annotations on stderr, the same text, and still injects.
func TestInjectVaultWarnings(t *testing.T) {
	t.Parallel()
	const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    vault.hashicorp.com/agent-inject: "true"
    vault.hashicorp.com/role: app
    vault.hashicorp.com/agent-inject-secret-db: database/creds/app
    vault.hashicorp.com/agent-inject-perms-db: "0400"
    vault.hashicorp.com/agent-pre-populate-only: "true"
spec:
  containers:
    - name: app
      image: registry.example.com/app:1.0.0
`
	policy := writeTemp(t, "apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection:\n  vaultAgentAnnotations: true\n")
	code, stdout, stderr := wisp(t, manifest, "inject", "-f", "-", "--policy", policy)
	if code != 0 || !strings.Contains(stdout, "name: wisp-fetch") {
		t.Fatalf("exit %d, stderr %s\nstdout %s", code, stderr, stdout)
	}
	want := "wisp: document 1 of stdin: Pod/web: warning: vault.hashicorp.com/agent-inject-perms-db is not honoured by wisp: " +
		"wisp writes every secret file with mode 0440, readable through the pod's group\n"
	if stderr != want {
		t.Errorf("stderr %q\nwant %q", stderr, want)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const setupPolicy = `apiVersion: wisp.dev/v1alpha1
kind: Policy
injection:
  authPath: spiffe
  audience: vault-prod
roles:
- namespaces: ["team-*"]
  roles: ["{namespace}", "{namespace}.*"]
`

// TestSetupVaultPrint: without --apply, the vault commands, with the
// policy's mount and audience, a note for the glob, and exit 0.
func TestSetupVaultPrint(t *testing.T) {
	t.Parallel()
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(setupPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{
			name: "print",
			args: []string{"--namespace", "team-a", "--namespace", "kube-system", "--jwks-url", "https://oidc/keys"},
			stdout: []string{
				"vault auth enable -path=spiffe jwt\n", "vault write auth/spiffe/config - <<'EOF'\n",
				"# team-a: pods of team-a\n", `"spiffe://example.org/ns/team-a/sa/*"`, `"vault-prod"`,
			},
			stderr: []string{`wisp: note: roles[0].roles[1] "{namespace}.*" is a glob`},
		},
		{
			name:   "a role for the glob, own audience",
			args:   []string{"--namespace", "team-a", "--role", "team-a.db", "--audience", "vault", "--oidc-discovery-url", "https://oidc"},
			stdout: []string{"vault write auth/spiffe/role/team-a.db - <<'EOF'\n", `"vault"`},
		},
		{
			name:   "no key source",
			args:   []string{"--namespace", "team-a"},
			code:   exitInvalid,
			stderr: []string{"exactly one of the OIDC discovery URL"},
		},
		{
			name:   "apply and dry-run",
			args:   []string{"--namespace", "team-a", "--jwks-url", "u", "--apply", "--dry-run"},
			code:   exitInvalid,
			stderr: []string{"none of the others can be"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			args := append([]string{"setup", "vault", "--policy", pol, "--trust-domain", "example.org"}, tt.args...)
			code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

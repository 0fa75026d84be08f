package node

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/test/stack"
)

// buildWispCLI builds cmd/wisp, the CLI of the docs (wisp setup vault),
// into dir.
func buildWispCLI(ctx context.Context, dir string) (string, error) {
	root, err := stack.ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "cli", "wisp")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/wisp")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/wisp: %w: %s", err, b)
	}
	return out, nil
}

// setupVault configures Vault's JWT auth method and one role per role name
// the policy gives the namespaces, by running `wisp setup vault --apply` as
// docs/setup-vault.md shows it: the policy as the chart renders it, the
// stack's trust domain, SPIRE's JWKS, the stack's Vault and root token.
func (e *Env) setupVault(ctx context.Context, policy map[string]any, namespaces []string) error {
	doc := maps.Clone(policy)
	if doc == nil {
		doc = map[string]any{}
	}
	doc["apiVersion"] = "wisp.dev/v1alpha1"
	doc["kind"] = "Policy"
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode the policy for wisp setup vault: %w", err)
	}
	file := filepath.Join(e.dir, "policy.yaml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return fmt.Errorf("write the policy for wisp setup vault: %w", err)
	}
	args := []string{"setup", "vault", "--policy", file, "--trust-domain", e.Stack.TrustDomain(),
		"--jwks-url", e.Stack.JWKSURL(), "--apply"}
	for _, ns := range namespaces {
		args = append(args, "--namespace", ns)
	}
	cmd := exec.CommandContext(ctx, e.WispCLI, args...)
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+e.Stack.VaultAddr(), "VAULT_TOKEN="+e.Stack.VaultToken())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("wisp %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	e.logf("env: wisp setup vault --apply:\n%s", strings.TrimSpace(string(out)))
	return nil
}

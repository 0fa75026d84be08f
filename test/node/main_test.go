package node_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/test/node"
	"wisp.dev/wisp/test/stack"
)

// The tests' namespaces, identities and Vault objects.
const (
	appNS   = "app"
	appSA   = "app"
	otherSA = "other" // has an SVID, but no Vault role is bound to it
	lateSA  = "late"  // logs in with the Vault role app-late; no pod asks for its SVID before TestSPIREServerDown
	appID   = "spiffe://example.org/ns/app/sa/app"
	// otherID is not of the form spiffe://<trust domain>/ns/<namespace>/sa/<sa>
	// that wisp setup vault binds roles to: no role accepts it.
	otherID    = "spiffe://example.org/unbound/other"
	lateID     = "spiffe://example.org/ns/app/sa/late"
	restricted = "restricted" // pod-security.kubernetes.io/enforce: restricted
	// audited's mode label says audit: wisp never refuses anything there.
	audited   = "audited"
	modeLabel = "wisp.dev/policy-mode"
	// fetchDeadline is the policy's injection.fetchDeadline: how long
	// wisp-fetch retries before its container fails.
	fetchDeadline = 30 * time.Second
)

// shared is set up once by TestMain.
var shared struct {
	env *node.Env
	// canary is the KV secret's api_key: it must appear nowhere but in the
	// pods' secret files.
	canary string
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	if os.Getuid() != 0 {
		// The kubelet, containerd and runc need root; CI runs as root.
		fmt.Fprintln(os.Stderr, "test/node: needs root (a real kubelet and containerd); run as root")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	logf := stack.StderrLogf
	t0 := time.Now()
	env, err := node.StartEnv(ctx, node.EnvOptions{
		Workloads: []stack.Workload{
			{SPIFFEID: appID, Selectors: []string{"k8s:ns:" + appNS, "k8s:sa:" + appSA}},
			{SPIFFEID: otherID, Selectors: []string{"k8s:ns:" + appNS, "k8s:sa:" + otherSA}},
			{SPIFFEID: lateID, Selectors: []string{"k8s:ns:" + appNS, "k8s:sa:" + lateSA}},
		},
		Policy: map[string]any{
			"injection":  map[string]any{"fetchDeadline": fetchDeadline.String()},
			"namespaces": map[string]any{"modeLabel": modeLabel},
			// {namespace}.* cannot match a neighbour's role; app-late,
			// named by hand, belongs to namespace app alone.
			"roles": []map[string]any{
				{"namespaces": []string{"*"}, "roles": []string{"{namespace}", "{namespace}.*"}},
				{"namespaces": []string{appNS}, "roles": []string{"app-late"}},
			},
		},
		// wisp setup vault --apply writes Vault's JWT auth and the roles
		// app and app-late, bound to namespace app.
		VaultNamespaces: []string{appNS},
		// Vault keeps its state in files: the fault tests stop, restart
		// and seal it.
		PersistentVault: true,
		// Pods written for the Vault Agent Injector are read too, and what
		// wisp does not honour of them is warned about.
		VaultAliases: true,
		Logf:         logf,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/node: start:", err)
		return 1
	}
	shared.env = env
	defer func() {
		t1 := time.Now()
		if err := env.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "test/node: FAIL: stop:", err)
			code = 1
		}
		logf("test/node: stopped in %s; whole run %s", time.Since(t1).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	}()
	shared.canary = "canary-" + strings.Repeat("k", 4) + fmt.Sprint(time.Now().UnixNano())
	if err := configure(ctx, env); err != nil {
		fmt.Fprintln(os.Stderr, "test/node: configure:", err)
		return 1
	}
	logf("test/node: ready for the cases after %s", time.Since(t0).Round(time.Millisecond))
	return m.Run()
}

// appPolicy is the Vault policy of the roles app and app-late (wisp setup
// vault gives each role the policy of its own name).
const appPolicy = `
path "secret/data/app/*" { capabilities = ["read"] }
path "database/creds/app" { capabilities = ["read"] }
path "database/creds/app-short" { capabilities = ["read"] }
path "database/creds/app-renew" { capabilities = ["read"] }
path "database/creds/broken" { capabilities = ["read"] }
`

// configure writes Vault's policies, database roles and secrets (the JWT
// roles are wisp setup vault's, written by StartEnv), and the namespaces
// and ServiceAccounts of the tests.
func configure(ctx context.Context, env *node.Env) error {
	s, n := env.Stack, env.Node
	steps := []func() error{
		func() error { return s.WritePolicy(ctx, "app", appPolicy) },
		func() error { return s.WritePolicy(ctx, "app-late", appPolicy) },
		func() error {
			return s.WriteDBRole(ctx, "app-renew", stack.DBRole{DefaultTTL: 20 * time.Second, MaxTTL: 10 * time.Minute})
		},
		func() error { return s.WriteBrokenDBRole(ctx) },
		func() error {
			return s.WriteDBRole(ctx, "app", stack.DBRole{DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour})
		},
		func() error {
			return s.WriteDBRole(ctx, "app-short", stack.DBRole{DefaultTTL: 5 * time.Second, MaxTTL: 10 * time.Minute})
		},
		func() error {
			return s.PutKV(ctx, "app/config", map[string]any{"greeting": "hello", "api_key": shared.canary})
		},
		func() error { return n.CreateNamespace(ctx, appNS, nil) },
		func() error {
			return n.CreateNamespace(ctx, restricted, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
		},
		func() error { return n.CreateNamespace(ctx, audited, map[string]string{modeLabel: "audit"}) },
	}
	for _, sa := range []string{appSA, otherSA, lateSA} {
		steps = append(steps, func() error {
			_, err := n.Client().CoreV1().ServiceAccounts(appNS).Create(ctx, &corev1.ServiceAccount{
				ObjectMeta: metav1.ObjectMeta{Name: sa},
			}, metav1.CreateOptions{})
			return err
		})
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

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
	appNS      = "app"
	appSA      = "app"
	otherSA    = "other" // has an SVID, but no Vault role is bound to it
	appID      = "spiffe://example.org/ns/app/sa/app"
	otherID    = "spiffe://example.org/ns/app/sa/other"
	restricted = "restricted" // pod-security.kubernetes.io/enforce: restricted
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
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
	}
	t0 := time.Now()
	env, err := node.StartEnv(ctx, node.EnvOptions{
		Workloads: []stack.Workload{
			{SPIFFEID: appID, Selectors: []string{"k8s:ns:" + appNS, "k8s:sa:" + appSA}},
			{SPIFFEID: otherID, Selectors: []string{"k8s:ns:" + appNS, "k8s:sa:" + otherSA}},
		},
		Policy: map[string]any{
			"roles": []map[string]any{{"namespaces": []string{"*"}, "roles": []string{"{namespace}", "{namespace}-*"}}},
		},
		Logf: logf,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/node: start:", err)
		return 1
	}
	shared.env = env
	defer func() {
		t1 := time.Now()
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "test/node: stop:", err)
			code = 1
		}
		if left := env.Node.Leftovers(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "test/node: FAIL: the node left behind:\n  %s\n", strings.Join(left, "\n  "))
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

// configure writes Vault's policy, roles and secrets, and the namespaces
// and ServiceAccounts of the tests.
func configure(ctx context.Context, env *node.Env) error {
	s, n := env.Stack, env.Node
	steps := []func() error{
		func() error {
			return s.WritePolicy(ctx, "app", `
path "secret/data/app/*" { capabilities = ["read"] }
path "database/creds/app" { capabilities = ["read"] }
path "database/creds/app-short" { capabilities = ["read"] }
`)
		},
		func() error {
			return s.WriteJWTRole(ctx, "app", stack.JWTRole{BoundSubject: appID, Policies: []string{"app"}})
		},
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
	}
	for _, sa := range []string{appSA, otherSA} {
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

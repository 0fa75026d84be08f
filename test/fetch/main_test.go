package fetch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wisp.dev/wisp/test/stack"
)

// SPIFFE IDs and Vault objects of the tests.
const (
	ordersID  = "spiffe://example.org/ns/team-orders/sa/orders-api"
	billingID = "spiffe://example.org/ns/team-billing/sa/ledger"
	lateID    = "spiffe://example.org/ns/team-late/sa/worker"
	lateUID   = 65532 // the injected container's default user
	// rotateTokenTTL is the TTL and max TTL of the orders-rotate role's
	// tokens.
	rotateTokenTTL = 40 * time.Second
)

// shared is the package's stack and wisp-fetch binary, set up by TestMain.
var shared struct {
	stack *stack.Stack
	bin   string // the wisp-fetch binary
	// canary is the KV secret's api_key: it must appear in the files only.
	canary string
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	logf := stack.StderrLogf
	binDir, cleanup, err := buildFetch(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/fetch:", err)
		return 1
	}
	defer cleanup()
	shared.bin = filepath.Join(binDir, "wisp-fetch")

	s, err := stack.Start(ctx, stack.Options{
		Workloads: []stack.Workload{{SPIFFEID: ordersID, UID: 0}},
		Logf:      logf,
		KeepDir:   os.Getenv("WISP_KEEP_STACK") != "",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/fetch: start stack:", err)
		return 1
	}
	defer func() {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "test/fetch: stop stack:", err)
		}
	}()
	shared.stack = s
	shared.canary = "canary-" + randomHex(12)
	if err := configure(ctx, s, shared.canary); err != nil {
		fmt.Fprintln(os.Stderr, "test/fetch: configure vault:", err)
		return 1
	}
	t0 := time.Now()
	if _, err := s.WaitForSVID(ctx, "vault", 30*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "test/fetch:", err)
		return 1
	}
	logf("test/fetch: JWT-SVID for uid 0 issued after %s", time.Since(t0).Round(time.Millisecond))
	return m.Run()
}

// buildFetch builds wisp-fetch into a temporary folder, or uses
// $WISP_BIN_DIR/wisp-fetch when set.
func buildFetch(ctx context.Context) (string, func(), error) {
	if dir := os.Getenv("WISP_BIN_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "wisp-fetch")); err != nil {
			return "", nil, fmt.Errorf("WISP_BIN_DIR=%s: %w", dir, err)
		}
		return dir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "wisp-fetch-bin")
	if err != nil {
		return "", nil, fmt.Errorf("create bin folder: %w", err)
	}
	// World-readable: a test runs the binary as a non-root uid.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("chmod %s: %w", dir, err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "wisp-fetch"), "wisp.dev/wisp/cmd/wisp-fetch")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build wisp-fetch: %w\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "test/fetch: built wisp-fetch in %s\n", time.Since(t0).Round(time.Millisecond))
	return dir, cleanup, nil
}

// configure writes the tests' policies, roles and secrets.
func configure(ctx context.Context, s *stack.Stack, canary string) error {
	policy := `
path "secret/data/team-orders/*" { capabilities = ["read"] }
path "database/creds/orders-api" { capabilities = ["read"] }
path "database/creds/orders-short" { capabilities = ["read"] }
path "database/creds/audit-db" { capabilities = ["read"] }
path "database/creds/stop-db" { capabilities = ["read"] }
path "database/creds/broken" { capabilities = ["read"] }
`
	// rotatePolicy is orders-rotate's: its tokens live 40 s, so its sidecar
	// logs in again while the first token and its leases still live.
	rotatePolicy := `
path "database/creds/rotate-db" { capabilities = ["read"] }
path "database/creds/orders-short" { capabilities = ["read"] }
`
	// tokenPolicy lets token-reader's tokens look themselves up and create
	// child tokens: Vault paths whose answers are Vault tokens.
	tokenPolicy := `
path "secret/data/team-orders/*" { capabilities = ["read"] }
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/create" { capabilities = ["create", "update"] }
`
	steps := []func() error{
		func() error { return s.WritePolicy(ctx, "orders-api", policy) },
		func() error {
			return s.WritePolicy(ctx, "team-billing", `path "secret/data/team-billing/*" { capabilities = ["read"] }`)
		},
		func() error {
			return s.WriteJWTRole(ctx, "orders-api", stack.JWTRole{BoundSubject: ordersID, Policies: []string{"orders-api"}})
		},
		func() error {
			return s.WriteJWTRole(ctx, "team-billing", stack.JWTRole{BoundSubject: billingID, Policies: []string{"team-billing"}})
		},
		func() error {
			return s.WriteJWTRole(ctx, "late-worker", stack.JWTRole{BoundSubject: lateID, Policies: []string{"orders-api"}})
		},
		func() error {
			return s.WriteDBRole(ctx, "orders-api", stack.DBRole{DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour})
		},
		func() error {
			return s.WriteDBRole(ctx, "audit-db", stack.DBRole{DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour})
		},
		func() error {
			return s.WriteDBRole(ctx, "orders-short", stack.DBRole{DefaultTTL: 4 * time.Second, MaxTTL: 14 * time.Second})
		},
		func() error { return s.WritePolicy(ctx, "orders-rotate", rotatePolicy) },
		func() error {
			return s.WriteJWTRole(ctx, "orders-rotate", stack.JWTRole{BoundSubject: ordersID, Policies: []string{"orders-rotate"},
				TokenTTL: rotateTokenTTL, TokenMaxTTL: rotateTokenTTL})
		},
		func() error {
			return s.WriteDBRole(ctx, "rotate-db", stack.DBRole{DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour})
		},
		func() error { return s.WritePolicy(ctx, "token-reader", tokenPolicy) },
		func() error {
			return s.WriteJWTRole(ctx, "token-reader", stack.JWTRole{BoundSubject: ordersID, Policies: []string{"token-reader"}})
		},
		func() error {
			return s.WriteDBRole(ctx, "stop-db", stack.DBRole{DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour})
		},
		func() error { return s.WriteBrokenDBRole(ctx) },
		func() error {
			return s.PutKV(ctx, "team-orders/orders-api", map[string]any{
				"username": "orders", "api_key": canary, "note": "multi\nline 'quoted' $value", "port": 8443,
			})
		},
		func() error { return s.PutKV(ctx, "team-billing/ledger", map[string]any{"token": "billing-" + canary}) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// envFile parses an env-format file of one-line values: KEY=value or
// KEY='quoted' lines.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line without '=': %q", path, line)
		}
		out[k] = strings.Trim(v, "'")
	}
	return out
}

package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	wispfetch "wisp.dev/wisp/fetch"
	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/plan"
	"wisp.dev/wisp/test/stack"
)

// injectedEnv injects testdata/<file> as the webhook would, with the
// secrets mounted at dir, and returns the wisp-fetch container's
// environment (KEY=value), overridden by extra. wisp-fetch's container
// mounts the secrets volume at mutate.FetchSecretsDir, the plan's dir; a
// process outside a container writes to dir instead, so the plan's dir is
// replaced by dir.
func injectedEnv(t testing.TB, file, dir string, extra ...string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(b, &pod); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	cfg := mutate.Config{VaultAddr: shared.stack.VaultAddr(), SocketPath: shared.stack.SocketPath(), MountPath: dir}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("injection config: %v", err)
	}
	out, res, err := mutate.Inject(&pod, cfg)
	if err != nil || res != mutate.Injected {
		t.Fatalf("Inject(%s) = %v, %v", file, res, err)
	}
	var env []string
	for _, c := range out.Spec.InitContainers {
		if c.Name != mutate.FetchContainerName {
			continue
		}
		for _, e := range c.Env {
			if e.Name == mutate.EnvPlan {
				e.Value = planWithDir(t, e.Value, dir)
			}
			env = append(env, e.Name+"="+e.Value)
		}
	}
	if len(env) == 0 {
		t.Fatalf("Inject(%s): no %s container", file, mutate.FetchContainerName)
	}
	return append(env, extra...)
}

// planWithDir returns the plan doc with its dir replaced.
func planWithDir(t testing.TB, doc, dir string) string {
	t.Helper()
	p, err := plan.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("injected plan: %v", err)
	}
	if p.Dir != mutate.FetchSecretsDir {
		t.Fatalf("injected plan's dir %s, want %s", p.Dir, mutate.FetchSecretsDir)
	}
	p.Dir = dir
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// injectedArgs returns the args of the wisp-fetch container that wisp
// injects into the pod of testdata/file.
func injectedArgs(t testing.TB, file string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(b, &pod); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	out, _, err := mutate.Inject(&pod, mutate.Config{})
	if err != nil {
		t.Fatalf("Inject(%s): %v", file, err)
	}
	for _, c := range out.Spec.InitContainers {
		if c.Name == mutate.FetchContainerName {
			if len(c.Command) != 1 || c.Command[0] != mutate.FetchCommand {
				t.Fatalf("injected command %q, want %s", c.Command, mutate.FetchCommand)
			}
			return c.Args
		}
	}
	t.Fatalf("Inject(%s): no %s container", file, mutate.FetchContainerName)
	return nil
}

// result is one wisp-fetch run.
type result struct {
	code    int
	stdout  string
	stderr  string
	elapsed time.Duration
}

// runFetch runs wisp-fetch with env (and nothing else of ours), as cred's
// user when cred is set.
func runFetch(t testing.TB, env []string, cred *syscall.Credential, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, shared.bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	t0 := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(t0)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run wisp-fetch: %v", err)
	}
	return r
}

// plainLines returns stderr's lines that are not JSON log records.
func plainLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if l != "" && !json.Valid([]byte(l)) {
			out = append(out, l)
		}
	}
	return out
}

// noLeak fails when out holds the KV canary, a Vault token, a JWT or any of
// the extra secrets.
func noLeak(t *testing.T, what, out string, extra ...string) {
	t.Helper()
	for _, s := range append([]string{shared.canary}, extra...) {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("%s leaks %q:\n%s", what, s, out)
		}
	}
	if c := stack.Credentials(out); len(c) > 0 {
		t.Errorf("%s leaks %d Vault tokens or JWTs:\n%s", what, len(c), out)
	}
}

// checkFailure: exit 1, one plain line (the last) naming what and where,
// no secret, and an empty secrets folder.
func checkFailure(t *testing.T, r result, dir string, wantSub ...string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	lines := plainLines(r.stderr)
	if len(lines) != 1 {
		t.Fatalf("want exactly one plain line on stderr, got %d:\n%s", len(lines), r.stderr)
	}
	all := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if all[len(all)-1] != lines[0] {
		t.Errorf("the failure line is not the last line of stderr:\n%s", r.stderr)
	}
	if !strings.HasPrefix(lines[0], "wisp-fetch: ") {
		t.Errorf("failure line %q does not start with wisp-fetch:", lines[0])
	}
	for _, sub := range wantSub {
		if !strings.Contains(lines[0], sub) {
			t.Errorf("failure line does not contain %q:\n%s", sub, lines[0])
		}
	}
	noLeak(t, "stderr", r.stderr)
	noLeak(t, "stdout", r.stdout)
	noFilesWritten(t, dir, "the failure")
	t.Logf("%s (exit %d after %s)", lines[0], r.code, r.elapsed.Round(time.Millisecond))
}

// noFilesWritten fails the test when dir holds anything, naming what it
// holds as written despite what (e.g. "the failure").
func noFilesWritten(t *testing.T, dir, what string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files written despite %s: %v", what, names)
	}
}

// TestFetchWritesSecrets: the KV secret (json, raw, template) and a dynamic
// DB credential (env) are written 0440 with metadata; the credential logs in
// to PostgreSQL; a second run gets another user.
func TestFetchWritesSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var users []string
	for i := range 2 {
		dir := t.TempDir()
		r := runFetch(t, injectedEnv(t, "pod.yaml", dir), nil)
		if r.code != 0 {
			t.Fatalf("run %d: exit %d; stderr:\n%s", i, r.code, r.stderr)
		}
		t.Logf("run %d: files written in %s", i, r.elapsed.Round(time.Millisecond))

		var config map[string]any
		b, err := os.ReadFile(filepath.Join(dir, "config"))
		if err != nil || json.Unmarshal(b, &config) != nil {
			t.Fatalf("config: %v: %q", err, b)
		}
		if config["api_key"] != shared.canary || config["username"] != "orders" || config["port"] != 8443.0 {
			t.Errorf("config = %v", config)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "api-key")); string(b) != shared.canary {
			t.Errorf("api-key = %q, want the raw api_key", b)
		}
		wantDSN := "user=orders key=" + shared.canary + ` note="multi\nline 'quoted' $value"` + "\n"
		if b, _ := os.ReadFile(filepath.Join(dir, "dsn")); string(b) != wantDSN {
			t.Errorf("dsn = %q, want %q", b, wantDSN)
		}
		db := envFile(t, filepath.Join(dir, "db"))
		user, password := db["USERNAME"], db["PASSWORD"]
		if user == "" || password == "" {
			t.Fatalf("db env file has no USERNAME/PASSWORD: keys %v", keysOf(db))
		}
		got, err := shared.stack.PGLogin(ctx, user, password)
		if err != nil || got != user {
			t.Fatalf("log in to PostgreSQL as %s: %q, %v", user, got, err)
		}
		users = append(users, user)

		for _, name := range []string{"config", "api-key", "db", "dsn"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o440 {
				t.Errorf("%s: mode %#o, want 0440", name, fi.Mode().Perm())
			}
			mb, err := os.ReadFile(filepath.Join(dir, wispfetch.MetaFileName(name)))
			if err != nil {
				t.Fatalf("metadata of %s: %v", name, err)
			}
			var meta wispfetch.Meta
			if err := json.Unmarshal(mb, &meta); err != nil {
				t.Fatalf("metadata of %s: %v", name, err)
			}
			if meta.Name != name || meta.FetchedAt.IsZero() {
				t.Errorf("metadata of %s: %+v", name, meta)
			}
			if name == "db" && (!strings.HasPrefix(meta.LeaseID, "database/creds/orders-api/") || meta.LeaseDuration != 3600 || !meta.Renewable) {
				t.Errorf("metadata of db: %+v, want its lease", meta)
			}
			if name == "config" && meta.KVVersion < 1 {
				t.Errorf("metadata of config: %+v, want a KV version", meta)
			}
			noLeak(t, "metadata of "+name, string(mb), password)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 8 {
			t.Errorf("folder holds %d entries, want 4 files + 4 metadata files", len(entries))
		}
		noLeak(t, "stderr", r.stderr, password)
		noLeak(t, "stdout", r.stdout, password)
		if len(plainLines(r.stderr)) != 0 {
			t.Errorf("plain lines on stderr after success:\n%s", r.stderr)
		}
	}
	if users[0] == users[1] {
		t.Errorf("both runs got the PostgreSQL user %s, want two", users[0])
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestFetchFailures: each failure exits 1 with one clear line and writes
// nothing. Permanent failures are immediate; unreachable ones end at the
// deadline.
func TestFetchFailures(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1 (tcpmux), and no test binds it.
	const deadPort = 1
	tests := []struct {
		name    string
		pod     string
		extra   []string
		wantSub []string
		// fast: a permanent failure, reported at once.
		fast bool
		// atLeast: a transient failure, retried until the deadline.
		atLeast time.Duration
		// check runs after the failure.
		check func(t *testing.T)
	}{
		{
			name: "unknown role", pod: "unknown-role.yaml", fast: true,
			wantSub: []string{`vault login with role "no-such-role" at auth/jwt/login`, "HTTP 400", "auth/jwt/role/no-such-role"},
		},
		{
			name: "role of another SPIFFE ID", pod: "wrong-role.yaml", fast: true,
			wantSub: []string{`vault login with role "team-billing" at auth/jwt/login`, "bound_subject", ordersID},
		},
		{
			name: "wrong audience", pod: "pod.yaml", extra: []string{"WISP_AUDIENCE=not-vault"}, fast: true,
			wantSub: []string{`vault login with role "orders-api"`, "aud", `bound_audiences contains "not-vault"`},
		},
		{
			name: "forbidden path", pod: "forbidden.yaml", fast: true,
			wantSub: []string{`read secret "ledger" from secret/data/team-billing/ledger: permission denied (HTTP 403)`,
				`policies of role "orders-api" grant read on "secret/data/team-billing/ledger"`},
			check: noAuditUserLeft,
		},
		{
			name: "unreachable vault", pod: "pod.yaml", atLeast: 3 * time.Second,
			extra: []string{"VAULT_ADDR=http://127.0.0.1:" + itoa(deadPort), "WISP_DEADLINE=3s"},
			wantSub: []string{`vault login with role "orders-api" at auth/jwt/login`, "connection refused", "gave up after",
				"check Vault is reachable at http://127.0.0.1:" + itoa(deadPort) + " (VAULT_ADDR)"},
		},
		{
			name: "missing socket", pod: "pod.yaml", atLeast: 3 * time.Second,
			extra: []string{"SPIFFE_ENDPOINT_SOCKET=unix:///tmp/wisp-no-such-agent/api.sock", "WISP_DEADLINE=3s"},
			wantSub: []string{`fetch JWT-SVID for audience "vault" from unix:///tmp/wisp-no-such-agent/api.sock`,
				"no such file or directory", "gave up after", "SPIRE agent"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := runFetch(t, injectedEnv(t, tt.pod, dir, tt.extra...), nil)
			checkFailure(t, r, dir, tt.wantSub...)
			if tt.fast && r.elapsed > 5*time.Second {
				t.Errorf("a permanent failure took %s; want it reported at once", r.elapsed)
			}
			if tt.atLeast > 0 && (r.elapsed < tt.atLeast || r.elapsed > tt.atLeast+5*time.Second) {
				t.Errorf("took %s, want about the %s deadline", r.elapsed, tt.atLeast)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}

// noAuditUserLeft: the database credential read before the failing read
// was revoked with the run's token: no lease left, no PostgreSQL user left.
// (Only the forbidden-path case reads database/creds/audit-db.)
func noAuditUserLeft(t *testing.T) {
	noDBUserLeft(t, "audit-db", "after the failure")
}

// noDBUserLeft fails the test unless, within 10 s, no lease is left under
// database/creds/<role> and no PostgreSQL user that Vault made for role:
// what was read before (when, e.g. "after the stop") was revoked.
func noDBUserLeft(t *testing.T, role, when string) {
	t.Helper()
	ctx := context.Background()
	c, err := shared.stack.VaultClient()
	if err != nil {
		t.Fatal(err)
	}
	var leases, users string
	if !poll(10*time.Second, func() bool {
		sec, err := c.Logical().ListWithContext(ctx, "sys/leases/lookup/database/creds/"+role)
		leases = "?"
		if err == nil {
			leases = ""
			if sec != nil {
				leases = strings.TrimSpace(jsonString(sec.Data["keys"]))
			}
		}
		users, err = shared.stack.PGQuery(ctx, "select count(*) from pg_roles where rolname like 'v-jwt-spif-"+role+"-%'")
		return err == nil && leases == "" && users == "0"
	}) {
		t.Errorf("%s: leases under database/creds/%s %s, PostgreSQL users %s; want none", when, role, leases, users)
	}
}

func jsonString(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestFetchVaultComesUpLate: Vault's address starts answering 3 s after
// wisp-fetch starts; it retries and succeeds.
func TestFetchVaultComesUpLate(t *testing.T) {
	t.Parallel()
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + itoa(port)
	dir := t.TempDir()
	env := injectedEnv(t, "pod.yaml", dir, "VAULT_ADDR=http://"+addr, "WISP_DEADLINE=30s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxyErr := make(chan error, 1)
	go func() {
		time.Sleep(3 * time.Second)
		proxyErr <- proxy(ctx, addr, strings.TrimPrefix(shared.stack.VaultAddr(), "http://"))
	}()
	r := runFetch(t, env, nil)
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if r.elapsed < 3*time.Second {
		t.Errorf("succeeded after %s, before Vault came up", r.elapsed)
	}
	if !strings.Contains(r.stderr, `"msg":"retrying"`) || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("no retry of the refused connection logged:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "db")); err != nil {
		t.Errorf("db not written: %v", err)
	}
	noLeak(t, "stderr", r.stderr)
	cancel()
	select {
	case err := <-proxyErr:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("proxy: %v", err)
		}
	case <-time.After(5 * time.Second):
	}
	t.Logf("succeeded after %s", r.elapsed.Round(time.Millisecond))
}

// proxy listens on addr and forwards each connection to target until ctx
// ends.
func proxy(ctx context.Context, addr, target string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			u, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer u.Close()
			go func() {
				<-ctx.Done()
				c.Close()
				u.Close()
			}()
			go func() { _, _ = io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
			_, _ = io.Copy(c, u)
		}()
	}
}

// TestFetchNewRegistration: a workload of another uid whose SPIRE entry is
// created just before wisp-fetch starts: the agent says "no identity
// issued" until it syncs; wisp-fetch retries and succeeds, writing files
// owned by that uid.
func TestFetchNewRegistration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := shared.stack.RegisterWorkload(ctx, stack.Workload{SPIFFEID: lateID, UID: lateUID}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chown(dir, lateUID, lateUID); err != nil {
		t.Fatal(err)
	}
	// t.TempDir's parent is private to root: let the workload reach dir.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	r := runFetch(t, injectedEnv(t, "late.yaml", dir), &syscall.Credential{Uid: lateUID, Gid: lateUID})
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "no identity issued") {
		t.Logf("the agent issued the identity before the first attempt; stderr:\n%s", r.stderr)
	}
	fi, err := os.Stat(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != lateUID || fi.Mode().Perm() != 0o440 {
		t.Errorf("config: owner %d mode %#o, want %d 0440", st.Uid, fi.Mode().Perm(), lateUID)
	}
	// The env format is for sh: source it and read the values back.
	out, err := exec.Command("/bin/sh", "-c", `set -a; . "$1"; printf '%s|%s|%s' "$API_KEY" "$NOTE" "$PORT"`,
		"sh", filepath.Join(dir, "config")).CombinedOutput()
	if want := shared.canary + "|multi\nline 'quoted' $value|8443"; err != nil || string(out) != want {
		t.Errorf("sourcing the env file: %v: got %q, want %q", err, out, want)
	}
	noLeak(t, "stderr", r.stderr)
	t.Logf("succeeded after %s", r.elapsed.Round(time.Millisecond))
}

func itoa(i int) string { return strconv.Itoa(i) }

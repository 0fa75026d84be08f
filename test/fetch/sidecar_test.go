package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	wispfetch "wisp.dev/wisp/fetch"
)

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// poll calls cond every 100 ms until it is true or timeout passes.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

// fetchProcess is a wisp-fetch that startFetch started in the background.
type fetchProcess struct {
	cmd     *exec.Cmd
	stderr  *syncBuffer
	exited  chan error // cmd.Wait's error, once
	stopped bool       // exited and waited for by terminate
}

// startFetch starts wisp-fetch with args and env (and nothing else of
// ours) in its own process group, its output going to stdout and stderr
// (which may be the same buffer). Unless terminate saw it exit, the test's
// cleanup kills the whole group and waits for it.
func startFetch(t *testing.T, env, args []string, stdout, stderr *syncBuffer) *fetchProcess {
	t.Helper()
	cmd := exec.Command(shared.bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &fetchProcess{cmd: cmd, stderr: stderr, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if !p.stopped {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
	})
	return p
}

// terminate sends the process SIGTERM and waits up to timeout for it to
// exit; still running by then fails the test with its stderr. It returns
// the exit code, and the error of a wait that failed other than by a
// non-zero exit.
func (p *fetchProcess) terminate(t *testing.T, timeout time.Duration) (int, error) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.stopped = true
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), nil
		}
		return 0, err
	case <-time.After(timeout):
		t.Fatalf("still running %s after SIGTERM; output:\n%s", timeout, p.stderr.String())
		return 0, nil
	}
}

// TestSidecar: in sidecar mode wisp-fetch marks itself ready after the
// first write, renews the DB lease past its first TTL (4 s), reads a new
// credential before the lease's max TTL (14 s) and rewrites the file, and on
// SIGTERM revokes its leases and token (Vault drops the user) and exits 0.
func TestSidecar(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	// The env and the args are the injected native sidecar's own
	// (wisp.dev/sidecar: "true").
	env := injectedEnv(t, "sidecar.yaml", dir)
	args := injectedArgs(t, "sidecar.yaml")
	if len(args) == 0 || args[0] != "--sidecar" {
		t.Fatalf("injected sidecar args %q, want --sidecar", args)
	}

	if r := runFetch(t, env, nil, "--check-ready"); r.code != 1 {
		t.Errorf("--check-ready before start: exit %d, want 1", r.code)
	}
	var stderr syncBuffer
	p := startFetch(t, env, args, &stderr, &stderr)

	start := time.Now()
	marker := filepath.Join(dir, wispfetch.ReadyFileName)
	if !poll(30*time.Second, func() bool { _, err := os.Stat(marker); return err == nil }) {
		t.Fatalf("no readiness marker after 30s; output:\n%s", stderr.String())
	}
	ready := time.Now()
	t.Logf("ready after %s", ready.Sub(start).Round(time.Millisecond))
	if r := runFetch(t, env, nil, "--check-ready"); r.code != 0 {
		t.Errorf("--check-ready when ready: exit %d: %s", r.code, r.stderr)
	}

	db := envFile(t, filepath.Join(dir, "db"))
	user1, pw1 := db["USERNAME"], db["PASSWORD"]
	if got, err := shared.stack.PGLogin(ctx, user1, pw1); err != nil || got != user1 {
		t.Fatalf("log in as %s: %q, %v", user1, got, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "db")); err != nil || fi.Mode().Perm() != 0o440 {
		t.Errorf("db: %v, mode %v", err, fi.Mode())
	}

	// Past the first TTL: renewed, so the user still logs in.
	time.Sleep(time.Until(ready.Add(7 * time.Second)))
	if envFile(t, filepath.Join(dir, "db"))["USERNAME"] == user1 {
		if got, err := shared.stack.PGLogin(ctx, user1, pw1); err != nil || got != user1 {
			t.Errorf("log in as %s 7s after a 4s TTL: %q, %v; output:\n%s", user1, got, err, stderr.String())
		}
		var meta wispfetch.Meta
		b, _ := os.ReadFile(filepath.Join(dir, wispfetch.MetaFileName("db")))
		if err := json.Unmarshal(b, &meta); err != nil || meta.RenewedAt == nil {
			t.Errorf("db metadata after renewals: %s (%v), want renewedAt", b, err)
		}
	} else {
		t.Errorf("credential rotated before its max TTL was near")
	}
	if !strings.Contains(stderr.String(), `"msg":"lease renewed"`) {
		t.Errorf("no lease renewal logged:\n%s", stderr.String())
	}

	// Before the max TTL: a new credential, file rewritten.
	var user2, pw2 string
	if !poll(20*time.Second, func() bool {
		db := envFile(t, filepath.Join(dir, "db"))
		user2, pw2 = db["USERNAME"], db["PASSWORD"]
		return user2 != user1
	}) {
		t.Fatalf("db not rewritten with a new user within 20s; output:\n%s", stderr.String())
	}
	t.Logf("rotated %s -> %s after %s", user1, user2, time.Since(ready).Round(time.Millisecond))
	if got, err := shared.stack.PGLogin(ctx, user2, pw2); err != nil || got != user2 {
		t.Fatalf("log in as %s: %q, %v", user2, got, err)
	}

	// SIGTERM: revoke, exit 0; Vault drops the user.
	if code, _ := p.terminate(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM; output:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"token revoked"`) {
		t.Errorf("no token revocation logged:\n%s", stderr.String())
	}
	t0 := time.Now()
	if !poll(10*time.Second, func() bool {
		exists, err := shared.stack.PGRoleExists(ctx, user2)
		return err == nil && !exists
	}) {
		t.Errorf("PostgreSQL user %s still exists 10s after SIGTERM", user2)
	} else {
		t.Logf("user %s dropped %s after exit", user2, time.Since(t0).Round(time.Millisecond))
	}
	out := stderr.String()
	noLeak(t, "output", out, pw1, pw2)
	if lines := plainLines(out); len(lines) != 0 {
		t.Errorf("plain lines on stderr of a clean run: %q", lines)
	}
}

package fetch

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStoppedBeforeFirstFetch: SIGTERM while the first fetch is still
// retrying (the pod is deleted while its init container or native sidecar
// waits for the SPIRE agent, or for a database) is a clean stop, not a
// failure: exit 0, one log line saying so, no plain line, no file, and the
// database credential already read is revoked.
func TestStoppedBeforeFirstFetch(t *testing.T) {
	t.Parallel()
	const missing = "SPIFFE_ENDPOINT_SOCKET=unix:///tmp/wisp-no-such-agent/api.sock"
	tests := []struct {
		name  string
		pod   string
		extra []string
		// ready says when to send SIGTERM (after 1 s when nil).
		ready func(stderr string) bool
		// check runs after the exit.
		check func(t *testing.T)
	}{
		{name: "init container, no agent socket", pod: "pod.yaml", extra: []string{missing}},
		{name: "sidecar, no agent socket", pod: "sidecar.yaml", extra: []string{missing}},
		{name: "init container, database down", pod: "stop.yaml", ready: holdsLease, check: noStopUserLeft},
		{name: "sidecar, database down", pod: "stop.yaml", extra: []string{"WISP_SIDECAR=true"}, ready: holdsLease, check: noStopUserLeft},
	}
	// Sequential: the database cases count stop-db's leases and users.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := injectedEnv(t, tt.pod, dir, append([]string{"WISP_DEADLINE=60s"}, tt.extra...)...)
			cmd := exec.Command(shared.bin, injectedArgs(t, tt.pod)...)
			cmd.Env = env
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					<-exited
				}
			})
			if tt.ready == nil {
				time.Sleep(time.Second)
			} else if !poll(30*time.Second, func() bool { return tt.ready(stderr.String()) }) {
				t.Fatalf("not in the expected state after 30s; output:\n%s", stderr.String())
			}
			if !strings.Contains(stderr.String(), `"msg":"retrying"`) {
				t.Fatalf("not retrying when stopped; output:\n%s", stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			var code int
			select {
			case err := <-exited:
				stopped = true
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("still running 15s after SIGTERM; output:\n%s", stderr.String())
			}
			out := stderr.String()
			if code != 0 {
				t.Errorf("exit %d after SIGTERM, want 0; output:\n%s", code, out)
			}
			if n := strings.Count(out, `"msg":"stopped before the first fetch completed"`); n != 1 {
				t.Errorf("%d stop lines logged, want 1; output:\n%s", n, out)
			}
			if lines := plainLines(out); len(lines) != 0 {
				t.Errorf("plain lines on stderr of a clean stop: %q", lines)
			}
			noLeak(t, "stderr", out)
			noLeak(t, "stdout", stdout.String())
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("files written despite the stop: %v", names)
			}
			t.Logf("exit %d %s after SIGTERM", code, time.Since(t0).Round(time.Millisecond))
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}

// holdsLease: db's credential is read and waiting's read is being retried.
func holdsLease(stderr string) bool {
	return strings.Contains(stderr, `"msg":"secret read","name":"db"`) &&
		strings.Contains(stderr, `read secret \"waiting\"`)
}

// noStopUserLeft: the credential read before the stop was revoked: no
// lease under database/creds/stop-db, no PostgreSQL user of stop-db.
func noStopUserLeft(t *testing.T) {
	ctx := context.Background()
	c, err := shared.stack.VaultClient()
	if err != nil {
		t.Fatal(err)
	}
	var leases, users string
	if !poll(10*time.Second, func() bool {
		sec, err := c.Logical().ListWithContext(ctx, "sys/leases/lookup/database/creds/stop-db")
		leases = "?"
		if err == nil {
			leases = ""
			if sec != nil {
				leases = strings.TrimSpace(jsonString(sec.Data["keys"]))
			}
		}
		users, err = shared.stack.PGQuery(ctx, "select count(*) from pg_roles where rolname like 'v-jwt-spif-stop-db-%'")
		return err == nil && leases == "" && users == "0"
	}) {
		t.Errorf("after the stop: leases under database/creds/stop-db %s, PostgreSQL users %s; want none", leases, users)
	}
}

package fetch

import (
	"strings"
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
			var stdout, stderr syncBuffer
			p := startFetch(t, env, injectedArgs(t, tt.pod), &stdout, &stderr)
			if tt.ready == nil {
				time.Sleep(time.Second)
			} else if !poll(30*time.Second, func() bool { return tt.ready(stderr.String()) }) {
				t.Fatalf("not in the expected state after 30s; output:\n%s", stderr.String())
			}
			if !strings.Contains(stderr.String(), `"msg":"retrying"`) {
				t.Fatalf("not retrying when stopped; output:\n%s", stderr.String())
			}
			t0 := time.Now()
			code, err := p.terminate(t, 15*time.Second)
			if err != nil {
				t.Fatal(err)
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
			noFilesWritten(t, dir, "the stop")
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
	noDBUserLeft(t, "stop-db", "after the stop")
}

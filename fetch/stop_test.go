package fetch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"wisp.dev/wisp/plan"
)

// TestStoppedBeforeFirstFetch: when the context ends while the first fetch
// is still retrying, Fetch and RunSidecar return ErrStopped (not a
// failure), write nothing, revoke what the run had obtained and log one
// line saying so.
func TestStoppedBeforeFirstFetch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		sidecar     bool
		noSVID      bool // the Workload API is unavailable: stop before the login
		wantLogins  int
		wantRevokes int
	}{
		{name: "fetch, before the login", noSVID: true},
		{name: "fetch, after the login", wantLogins: 1, wantRevokes: 1},
		{name: "sidecar, before the login", sidecar: true, noSVID: true},
		{name: "sidecar, after the login", sidecar: true, wantLogins: 1, wantRevokes: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// db is read (a lease), then flaky answers 503 until the stop.
			env := newTestEnv(t,
				plan.Secret{Name: "db", Path: "database/creds/app", Format: plan.FormatEnv},
				plan.Secret{Name: "flaky", Path: "secret/data/flaky"})
			if tt.noSVID {
				env.svid = func(context.Context, string) (string, string, error) {
					return "", "", status.Error(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial unix /nonexistent/agent.sock: connect: no such file or directory\"")
				}
			}
			f := env.fetcher(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// SIGTERM after the third wait between attempts.
			sleeps, inner := 0, f.retry.sleep
			f.retry.sleep = func(c context.Context, d time.Duration) error {
				if sleeps++; sleeps == 3 {
					cancel()
				}
				return inner(c, d)
			}
			var err error
			if tt.sidecar {
				err = f.RunSidecar(ctx)
			} else {
				_, err = f.Fetch(ctx)
			}
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("err = %v, want ErrStopped", err)
			}
			if IsTransient(err) {
				t.Errorf("ErrStopped is transient: %v", err)
			}
			noLeak(t, "error", err.Error())
			logs := env.logs.String()
			noLeak(t, "logs", logs)
			if n := strings.Count(logs, `"msg":"stopped before the first fetch completed"`); n != 1 {
				t.Errorf("%d stop lines logged, want 1:\n%s", n, logs)
			}
			if files := listDir(t, env.dir); len(files) != 0 {
				t.Errorf("files written despite the stop: %v", keysOf(files))
			}
			if env.vault.logins != tt.wantLogins || env.vault.revokes != tt.wantRevokes {
				t.Errorf("logins %d, revokes %d; want %d, %d", env.vault.logins, env.vault.revokes, tt.wantLogins, tt.wantRevokes)
			}
		})
	}
}

// TestStopDuringLogin: a stop while the login is in flight lets the login
// answer (within the grace, stopGrace in a pod) and revokes its token:
// cancelled at once, the request would still create a token in Vault that
// nobody could name. A login that answers later than the grace is
// abandoned.
func TestStopDuringLogin(t *testing.T) {
	t.Parallel()
	const grace = 400 * time.Millisecond
	for _, tc := range []struct {
		name        string
		hold        time.Duration
		wantRevokes int
	}{
		{name: "answer within the grace", hold: 100 * time.Millisecond, wantRevokes: 1},
		{name: "answer after the grace", hold: grace + 300*time.Millisecond, wantRevokes: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t, plan.Secret{Name: "db", Path: "database/creds/app", Format: plan.FormatEnv})
			env.vault.loginArrived, env.vault.releaseLogin = make(chan struct{}), make(chan struct{})
			f := env.fetcher(t)
			f.retry.linger = grace
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := f.Fetch(ctx)
				done <- err
			}()
			<-env.vault.loginArrived
			cancel() // SIGTERM while Vault works on the login
			t0 := time.Now()
			time.AfterFunc(tc.hold, func() { close(env.vault.releaseLogin) })
			err := <-done
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("err = %v, want ErrStopped", err)
			}
			if took := time.Since(t0); took > grace+time.Second {
				t.Errorf("stopped after %s, want about the grace %s at most", took, grace)
			}
			env.vault.mu.Lock()
			defer env.vault.mu.Unlock()
			if env.vault.logins != 1 || env.vault.revokes != tc.wantRevokes {
				t.Errorf("logins %d, revokes %d; want 1, %d:\n%s", env.vault.logins, env.vault.revokes, tc.wantRevokes, env.logs.String())
			}
		})
	}
}

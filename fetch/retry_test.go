package fetch

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	const min, max = 100 * time.Millisecond, 1 * time.Second
	tests := []struct {
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{attempt: 1, rnd: 0, want: 50 * time.Millisecond},
		{attempt: 1, rnd: 0.999999, want: 99999950 * time.Nanosecond},
		{attempt: 2, rnd: 0, want: 100 * time.Millisecond},
		{attempt: 3, rnd: 0.5, want: 300 * time.Millisecond},
		{attempt: 4, rnd: 0, want: 400 * time.Millisecond},
		{attempt: 5, rnd: 0, want: 500 * time.Millisecond}, // 1.6s capped at 1s
		{attempt: 50, rnd: 0.5, want: 750 * time.Millisecond},
		{attempt: 1000, rnd: 0, want: 500 * time.Millisecond}, // no overflow
	}
	for _, tt := range tests {
		got := backoff(tt.attempt, min, max, func() float64 { return tt.rnd })
		if got != tt.want {
			t.Errorf("backoff(%d, rnd %v) = %v, want %v", tt.attempt, tt.rnd, got, tt.want)
		}
		if got < min/2 || got > max {
			t.Errorf("backoff(%d) = %v, outside [%v, %v]", tt.attempt, got, min/2, max)
		}
	}
}

// fakeTime is a clock that only moves when the retrier sleeps.
type fakeTime struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeTime) Now() time.Time { return c.now }

func (c *fakeTime) sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func newRetrier(c *fakeTime) retrier {
	return retrier{
		min: 100 * time.Millisecond, max: time.Second, attemptTimeout: time.Second,
		rnd: func() float64 { return 0 }, now: c.Now, sleep: c.sleep, log: slog.New(slog.DiscardHandler),
	}
}

func TestRetrier(t *testing.T) {
	t.Parallel()
	transient := &Error{Op: "op", Err: errors.New("connection refused"), Transient: true}
	permanent := &Error{Op: "op", Err: errors.New("permission denied")}
	tests := []struct {
		name       string
		results    []error // one per attempt; nil is success
		wantCalls  int
		wantErr    error
		wantSleeps []time.Duration
	}{
		{name: "success", results: []error{nil}, wantCalls: 1},
		{
			name: "transient then success", results: []error{transient, transient, nil}, wantCalls: 3,
			wantSleeps: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
		},
		{name: "permanent fails at once", results: []error{permanent}, wantCalls: 1, wantErr: permanent},
		{
			name: "transient then permanent", results: []error{transient, permanent}, wantCalls: 2,
			wantErr: permanent, wantSleeps: []time.Duration{50 * time.Millisecond},
		},
		{name: "plain error is not retried", results: []error{context.Canceled}, wantCalls: 1, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeTime{now: time.Unix(0, 0)}
			calls := 0
			err := newRetrier(clock).do(context.Background(), func(context.Context) error {
				calls++
				return tt.results[calls-1]
			})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if err != tt.wantErr { // the very error is returned
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantSleeps, clock.sleeps); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRetrierDeadline: transient failures are retried until the context
// ends; the error is the last failure, saying how long it tried.
func TestRetrierDeadline(t *testing.T) {
	t.Parallel()
	clock := &fakeTime{now: time.Unix(0, 0)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRetrier(clock)
	r.sleep = func(ctx context.Context, d time.Duration) error {
		clock.sleeps = append(clock.sleeps, d)
		clock.now = clock.now.Add(d)
		if clock.now.Sub(time.Unix(0, 0)) >= 3*time.Second {
			cancel()
		}
		return ctx.Err()
	}
	calls := 0
	err := r.do(ctx, func(context.Context) error {
		calls++
		return &Error{Op: "vault login", Err: errors.New("dial tcp: connection refused"), Transient: true, Hint: "check Vault"}
	})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if e.Attempts != calls || calls < 5 {
		t.Errorf("Attempts = %d, calls = %d", e.Attempts, calls)
	}
	want := "vault login: dial tcp: connection refused (gave up after"
	if got := e.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("Error() = %q, want prefix %q", got, want)
	}
	for i, d := range clock.sleeps {
		if d > time.Second {
			t.Errorf("sleep %d = %v, above the cap", i, d)
		}
	}
}

// TestRetrierAttemptTimeout: a hanging attempt is cut by the per-attempt
// timeout and retried.
func TestRetrierAttemptTimeout(t *testing.T) {
	t.Parallel()
	clock := &fakeTime{now: time.Unix(0, 0)}
	r := newRetrier(clock)
	r.attemptTimeout = time.Millisecond
	calls := 0
	err := r.do(context.Background(), func(ctx context.Context) error {
		calls++
		if calls == 1 {
			<-ctx.Done()
			return vaultError("read", vaultContext{addr: "http://x"}, ctx.Err(), nil)
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("err = %v after %d calls, want success after 2", err, calls)
	}
}

// TestLingering: a stop lets the lingering context live on for the grace;
// the parent's deadline ends it at once, as does its own cancel.
func TestLingering(t *testing.T) {
	t.Parallel()
	const grace = 150 * time.Millisecond
	tests := []struct {
		name string
		// end ends the parent (or the lingering context) and says how.
		end func(cancelParent, cancelLinger context.CancelFunc)
		// deadline gives the parent a deadline of 20 ms.
		deadline bool
		min, max time.Duration
	}{
		{name: "stop", end: func(cp, _ context.CancelFunc) { cp() }, min: grace, max: grace + 500*time.Millisecond},
		{name: "deadline", end: func(context.CancelFunc, context.CancelFunc) {}, deadline: true, max: 500 * time.Millisecond},
		{name: "own cancel", end: func(_, cl context.CancelFunc) { cl() }, max: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent, cancelParent := context.WithCancel(context.Background())
			defer cancelParent()
			if tt.deadline {
				var c context.CancelFunc
				parent, c = context.WithTimeout(parent, 20*time.Millisecond)
				defer c()
			}
			lctx, cancel := lingering(parent, grace)
			defer cancel()
			t0 := time.Now()
			tt.end(cancelParent, cancel)
			<-lctx.Done()
			if took := time.Since(t0); took < tt.min || took > tt.max {
				t.Errorf("lingering context ended after %s, want %s to %s", took, tt.min, tt.max)
			}
		})
	}
}

func TestRetrierCapped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		min, max, cap    time.Duration
		wantMin, wantMax time.Duration
	}{
		{name: "below the cap", min: 100 * time.Millisecond, max: 500 * time.Millisecond, cap: time.Second,
			wantMin: 100 * time.Millisecond, wantMax: 500 * time.Millisecond},
		{name: "max capped", min: 200 * time.Millisecond, max: 5 * time.Second, cap: time.Second,
			wantMin: 200 * time.Millisecond, wantMax: time.Second},
		{name: "min above the cap", min: 2 * time.Second, max: 5 * time.Second, cap: time.Second,
			wantMin: time.Second, wantMax: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := retrier{min: tt.min, max: tt.max}
			got := r.capped(tt.cap)
			if got.min != tt.wantMin || got.max != tt.wantMax {
				t.Errorf("capped(%v) = [%v, %v], want [%v, %v]", tt.cap, got.min, got.max, tt.wantMin, tt.wantMax)
			}
			if r.min != tt.min || r.max != tt.max {
				t.Errorf("capped changed the retrier it was called on")
			}
		})
	}
}

package fetch

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// backoff returns the wait before attempt+1 (attempt counts from 1): it
// doubles from min, is capped at max, and is jittered into [d/2, d) by rnd,
// a source of numbers in [0, 1).
func backoff(attempt int, min, max time.Duration, rnd func() float64) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + time.Duration(rnd()*float64(d-half))
}

// retrier runs one step until it succeeds, fails permanently, or ctx ends.
type retrier struct {
	min, max       time.Duration
	attemptTimeout time.Duration
	rnd            func() float64
	now            func() time.Time
	// sleep waits for d or until ctx is done; it returns ctx's error then.
	sleep func(ctx context.Context, d time.Duration) error
	// linger is how long doFinishing lets an attempt in flight run on
	// after a stop.
	linger time.Duration
	log    *slog.Logger
}

// capped is r with its backoff capped at max (and its minimum too, when
// that is above max).
func (r retrier) capped(max time.Duration) retrier {
	r.max = min(r.max, max)
	r.min = min(r.min, r.max)
	return r
}

// do calls step with a per-attempt timeout. A transient failure is retried
// after a backoff while ctx lasts; the error returned is the last step's, an
// *Error whose Attempts and Elapsed say how long it tried. An error that is
// not an *Error is returned as is, unretried.
func (r retrier) do(ctx context.Context, step func(ctx context.Context) error) error {
	return r.attempts(ctx, ctx, step)
}

// doFinishing is do for a step whose request creates something in Vault
// (a login's token): when ctx is cancelled (a stop, not its deadline) while
// an attempt is in flight, that attempt may run on for up to r.linger (and
// within its own timeout), so that the caller learns what it created and
// can revoke it. Cancelled at once, the request would still reach Vault,
// and its answer, the only place the token is named, would be lost. No
// attempt starts once ctx has ended.
func (r retrier) doFinishing(ctx context.Context, step func(ctx context.Context) error) error {
	lctx, cancel := lingering(ctx, r.linger)
	defer cancel()
	return r.attempts(ctx, lctx, step)
}

// attempts runs step until it succeeds, fails permanently, or ctx ends;
// each attempt runs under parent, with the attempt timeout.
func (r retrier) attempts(ctx, parent context.Context, step func(ctx context.Context) error) error {
	start := r.now()
	for attempt := 1; ; attempt++ {
		if attempt == 1 && ctx.Err() != nil {
			return ctx.Err()
		}
		actx, cancel := context.WithTimeout(parent, r.attemptTimeout)
		err := step(actx)
		cancel()
		if err == nil {
			return nil
		}
		var e *Error
		if !errors.As(err, &e) || !e.Transient || ctx.Err() != nil {
			return finish(err, attempt, r.now().Sub(start))
		}
		wait := backoff(attempt, r.min, r.max, r.rnd)
		r.log.Info("retrying", "op", e.Op, "attempt", attempt, "wait", wait.String(), "err", e.Err.Error())
		if r.sleep(ctx, wait) != nil {
			return finish(err, attempt, r.now().Sub(start))
		}
	}
}

// finish notes on a transient error, the one that exhausted the deadline,
// how long it was retried.
func finish(err error, attempts int, elapsed time.Duration) error {
	var e *Error
	if errors.As(err, &e) && e.Transient && attempts > 1 {
		c := *e
		c.Attempts, c.Elapsed = attempts, elapsed
		return &c
	}
	return err
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lingering returns a context that ends with ctx's deadline, or grace after
// ctx is cancelled for another reason (a stop), or when cancel is called.
func lingering(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(ctx)
	var (
		lctx   context.Context
		cancel context.CancelFunc
	)
	if deadline, ok := ctx.Deadline(); ok {
		lctx, cancel = context.WithDeadline(base, deadline)
	} else {
		lctx, cancel = context.WithCancel(base)
	}
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cancel()
			return
		}
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(lctx, func() { t.Stop() })
	})
	return lctx, func() {
		stop()
		cancel()
	}
}

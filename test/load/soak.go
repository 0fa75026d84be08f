package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// soakMix is the soak's traffic: about two thirds valid reviews, one third
// hostile requests. Large bodies are rarer, as they would be.
func soakMix(maxBody int) (*mix, error) {
	m := &mix{}
	for name, weight := range map[string]int{scInjected: 30, scDenied: 10, scPlain: 10, scLarge: 10} {
		k, err := scenario(name)
		if err != nil {
			return nil, err
		}
		m.add(k, weight)
	}
	weights := map[string]int{"over-limit": 1, "10000-env-vars": 2, "huge-annotation": 2, "huge-wisp-annotation": 2, "deep-nesting": 2}
	for _, k := range hostileKinds(maxBody) {
		w, ok := weights[k.name]
		if !ok {
			w = 4
		}
		m.add(k, w)
	}
	for _, k := range attackKinds() {
		m.add(k, 1)
	}
	return m, nil
}

// soakReport is the soak's verdict.
type soakReport struct {
	res      *result
	rss      []int64 // one sample a second
	crashed  error   // the server exited, or logged a panic
	problems []string
}

func (r *soakReport) ok() bool { return len(r.problems) == 0 }

// soak runs a started wisp-webhook under the hostile mix at conns for d,
// sampling its resident memory every second. growth is the tolerated rise
// of the last third's mean memory over the middle third's (0.2: 20 %).
func soak(ctx context.Context, s *server, d time.Duration, conns, maxBody int, growth float64) (*soakReport, error) {
	m, err := soakMix(maxBody)
	if err != nil {
		return nil, err
	}
	rep := &soakReport{}
	var mu sync.Mutex
	sample := func(time.Duration) {
		if st := s.stats(); st.valid {
			mu.Lock()
			rep.rss = append(rep.rss, st.rss)
			mu.Unlock()
		}
	}
	rep.res = run(ctx, s, "soak", m, runOpts{conns: conns, duration: d, warmup: 2 * time.Second, tick: sample})
	sample(d)

	if !s.alive() {
		rep.crashed = fmt.Errorf("wisp-webhook exited: %v", s.waitErr)
	} else if log := s.log(); strings.Contains(log, "panic") {
		rep.crashed = fmt.Errorf("wisp-webhook logged a panic:\n%s", log)
	}
	if rep.crashed != nil {
		rep.problems = append(rep.problems, rep.crashed.Error())
	}
	for _, k := range m.kinds {
		c := rep.res.perKind[k.name]
		if c.wrong+c.transport > 0 {
			rep.problems = append(rep.problems, fmt.Sprintf("%s: %d wrong answers, %d transport errors", k.name, c.wrong, c.transport))
		}
		if c.ok == 0 {
			rep.problems = append(rep.problems, fmt.Sprintf("%s: never answered right", k.name))
		}
	}
	if mid, last, ok := thirds(rep.rss); !ok {
		rep.problems = append(rep.problems, fmt.Sprintf("only %d memory samples", len(rep.rss)))
	} else if last > mid*(1+growth) {
		rep.problems = append(rep.problems, fmt.Sprintf("memory grows: last third's mean %.1f MB > middle third's %.1f MB + %.0f%%",
			last/(1<<20), mid/(1<<20), 100*growth))
	}
	return rep, nil
}

// thirds returns the mean of the middle and of the last third of xs.
func thirds(xs []int64) (mid, last float64, ok bool) {
	n := len(xs) / 3
	if n < 1 {
		return 0, 0, false
	}
	mean := func(s []int64) float64 {
		var t float64
		for _, x := range s {
			t += float64(x)
		}
		return t / float64(len(s))
	}
	return mean(xs[n : 2*n]), mean(xs[len(xs)-n:]), true
}

func (r *soakReport) print(w io.Writer) {
	res := r.res
	fmt.Fprintf(w, "soak: %s at c=%d: %d requests answered right (%.0f/s), %d wrong or failed; p50 %s ms, p99 %s ms, max %s ms; server CPU %.2f cores\n",
		res.elapsed.Round(time.Second), res.conns, len(res.latencies), res.rate(), res.errors,
		ms(res.pct(50)), ms(res.pct(99)), ms(res.max()), res.cpu.Seconds()/res.elapsed.Seconds())
	names := make([]string, 0, len(res.perKind))
	for name := range res.perKind {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := res.perKind[name]
		fmt.Fprintf(w, "  %-22s ok %7d  wrong %4d  transport errors %4d\n", name, c.ok, c.wrong, c.transport)
	}
	for e, n := range res.samples {
		fmt.Fprintf(w, "  %d x %s\n", n, e)
	}
	if mid, last, ok := thirds(r.rss); ok {
		lo, hi := slices.Min(r.rss), slices.Max(r.rss)
		fmt.Fprintf(w, "  RSS (%d samples, 1/s): min %s MB, max %s MB, middle-third mean %.1f MB, last-third mean %.1f MB (%+.1f%%), peak (VmHWM) %s MB\n",
			len(r.rss), mb(lo), mb(hi), mid/(1<<20), last/(1<<20), 100*(last-mid)/mid, mb(res.hwm))
	}
	if r.ok() {
		fmt.Fprintln(w, "soak: PASS: no crash, no wrong answer, every bad request refused with a 4xx, memory stable")
	} else {
		fmt.Fprintf(w, "soak: FAIL:\n  %s\n", strings.Join(r.problems, "\n  "))
	}
}

// soakMain builds wisp-webhook, runs the attack's phases (attack long
// each, if set; beside a baseline build too, if set) and soaks it (for d,
// if set).
func soakMain(ctx context.Context, dir, baseline string, attack, d time.Duration, conns, maxBody int, out io.Writer) (bool, error) {
	fmt.Fprintf(os.Stderr, "load: building wisp-webhook into %s\n", dir)
	bins, err := build(dir, false)
	if err != nil {
		return false, err
	}
	bins.baseline = baseline
	ok := true
	if attack > 0 {
		if ok, err = attackMain(ctx, bins, dir, attack, out); err != nil {
			return false, err
		}
	}
	if d <= 0 {
		return ok, nil
	}
	soaked, err := soakRun(ctx, bins, dir, d, conns, maxBody, out)
	return ok && soaked, err
}

// soakRun starts wisp-webhook and soaks it for d.
func soakRun(ctx context.Context, bins *binaries, dir string, d time.Duration, conns, maxBody int, out io.Writer) (bool, error) {
	s, err := start(ctx, bins, srvWispInfo, dir)
	if err != nil {
		return false, err
	}
	defer s.kill()
	fmt.Fprintf(out, "soak: wisp-webhook at --log-level info, c=%d, %s; load average before: %s\n", conns, d, loadAvg())
	rep, err := soak(ctx, s, d, conns, maxBody, 0.2)
	if err != nil {
		return false, err
	}
	rep.print(out)
	fmt.Fprintf(out, "soak: load average after: %s\n", loadAvg())
	if err := s.stop(70 * time.Second); err != nil {
		fmt.Fprintf(out, "soak: FAIL: wisp-webhook did not exit cleanly on SIGTERM: %v\n", err)
		return false, nil
	}
	return rep.ok(), nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The attack's settings: wisp-webhook as the chart runs it (GOMAXPROCS of
// a 2-core limit, the chart's default memory limit, --log-level info), an
// ordinary injected pod arriving at ordinaryRate, and hostileConns
// connections sending the hostile requests back to back.
const (
	attackProcs       = 2
	chartMemoryLimit  = 256 << 20 // charts/wisp/values.yaml resources.limits.memory
	ordinaryRate      = 100       // requests a second
	hostileConns      = 8
	attackWarmup      = 2 * time.Second
	goalOrdinaryP99   = 250 * time.Millisecond
	goalOrdinaryMax   = 2 * time.Second
	goalPeakRSS       = 200 << 20
	maxOrdinaryInFlow = 512 // an open loop never holds more requests than this
)

// attackPhase is one measured run, on a server of its own.
type attackPhase struct {
	name    string
	server  string // srvWispInfo, or srvBaseline
	hostile bool
	extra   []string // wisp-webhook's flags and environment
}

// attackPhases: the ordinary pod alone, beside the attack, and beside it
// with one lane for every request (the lane's effect); with a baseline
// build, beside the attack on it too (GOMEMLIMIT as --memory-limit would
// set it: it has no such flag), its answers recorded, not held to the
// goals.
func attackPhases(baseline bool) []attackPhase {
	procs := "GOMAXPROCS=" + strconv.Itoa(attackProcs)
	base := []string{procs, "--memory-limit=" + strconv.Itoa(chartMemoryLimit)}
	phases := []attackPhase{
		{name: "quiet", server: srvWispInfo, extra: base},
		{name: "under attack", server: srvWispInfo, hostile: true, extra: base},
		{name: "under attack, one lane (--small-request-bytes=-1)", server: srvWispInfo, hostile: true, extra: append(slices.Clone(base), "--small-request-bytes=-1")},
	}
	if baseline {
		phases = append(phases, attackPhase{name: "baseline build under attack", server: srvBaseline, hostile: true,
			extra: []string{procs, "GOMEMLIMIT=" + strconv.Itoa(chartMemoryLimit/10*9), "--log-level=info"}})
	}
	return phases
}

// phaseResult is what one phase saw.
type phaseResult struct {
	name     string
	elapsed  time.Duration
	ordinary []time.Duration // sorted, of the answers that were right
	errors   int             // ordinary requests answered wrong or not at all
	samples  map[string]int
	hostile  map[string]*hostileStat
	cpu      time.Duration
	hwm      int64
}

// hostileStat is how one kind of hostile request was answered.
type hostileStat struct {
	n, wrong int
	lat      []time.Duration
	// the last answer: its status code (200: allowed), first line, length
	code   int32
	first  string
	length int
	err    string // the last wrong answer
}

func (r *phaseResult) pct(p float64) time.Duration {
	if len(r.ordinary) == 0 {
		return 0
	}
	return r.ordinary[int(float64(len(r.ordinary)-1)*p/100)]
}

// attackMain runs the phases, each d long on a fresh wisp-webhook, and
// prints their table; it reports whether the goals were met.
func attackMain(ctx context.Context, bins *binaries, dir string, d time.Duration, out io.Writer) (bool, error) {
	ordinary, err := scenario(scInjected)
	if err != nil {
		return false, err
	}
	kinds := attackKinds()
	fmt.Fprintf(out, "attack: %s per phase, ordinary injected pod at %d/s, %d hostile connections, wisp-webhook at GOMAXPROCS=%d --memory-limit=%d --log-level info; load average before: %s\n",
		d, ordinaryRate, hostileConns, attackProcs, chartMemoryLimit, loadAvg())
	var results []*phaseResult
	for i, ph := range attackPhases(bins.baseline != "") {
		s, err := start(ctx, bins, ph.server, filepath.Join(dir, "attack-"+strconv.Itoa(i)), ph.extra...)
		if err != nil {
			return false, err
		}
		var hostile []*kind
		if ph.hostile {
			hostile = kinds
		}
		r := attackRun(ctx, s, ordinary, hostile, d)
		r.name = ph.name
		alive := s.alive()
		s.kill()
		if !alive {
			return false, fmt.Errorf("wisp-webhook exited during %q: %v; log:\n%s", ph.name, s.waitErr, s.log())
		}
		results = append(results, r)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
	fmt.Fprintf(out, "attack: load average after: %s\n", loadAvg())
	return printAttack(out, results, kinds), nil
}

// attackRun sends the ordinary kind at ordinaryRate (an open loop: each
// request on its own, whatever the others' latency) and, with hostile,
// the hostile kinds back to back on hostileConns connections, for d after
// a warm-up.
func attackRun(ctx context.Context, s *server, ordinary *kind, hostile []*kind, d time.Duration) *phaseResult {
	res := &phaseResult{samples: map[string]int{}, hostile: map[string]*hostileStat{}}
	for _, k := range hostile {
		res.hostile[k.name] = &hostileStat{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var measuring atomic.Bool
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range hostileConns {
		if len(hostile) > 0 {
			wg.Go(func() { hostileLoop(ctx, s, hostile, w, &measuring, &mu, res) })
		}
	}
	client := newClient(s.roots, maxOrdinaryInFlow)
	defer client.CloseIdleConnections()
	ticker := time.NewTicker(time.Second / ordinaryRate)
	defer ticker.Stop()
	warm := time.After(attackWarmup)
	var end <-chan time.Time
	var start time.Time
	var before procStats
	inFlow := make(chan struct{}, maxOrdinaryInFlow)
	for seq := 0; ; seq++ {
		select {
		case <-warm:
			before, start = s.stats(), time.Now()
			measuring.Store(true)
			end = time.After(d)
			continue
		case <-end:
		case <-ctx.Done():
		case <-ticker.C:
			select {
			case inFlow <- struct{}{}:
			default:
				mu.Lock()
				res.errors++
				res.samples["ordinary: more than "+strconv.Itoa(maxOrdinaryInFlow)+" requests waiting"]++
				mu.Unlock()
				continue
			}
			wg.Go(func() {
				defer func() { <-inFlow }()
				ordinaryOne(ctx, client, s, ordinary, "ord-"+strconv.Itoa(seq), measuring.Load(), &mu, res)
			})
			continue
		}
		break
	}
	measuring.Store(false)
	res.elapsed = time.Since(start)
	after := s.stats()
	cancel()
	wg.Wait()
	slices.Sort(res.ordinary)
	if before.valid && after.valid {
		res.cpu, res.hwm = after.cpu-before.cpu, after.hwm
	}
	return res
}

// ordinaryOne sends one ordinary request and records it when measured.
func ordinaryOne(ctx context.Context, client *http.Client, s *server, k *kind, uid string, measured bool, mu *sync.Mutex, res *phaseResult) {
	t0 := time.Now()
	code, body, err := post(ctx, client, s.url+"/mutate", k, uid)
	lat := time.Since(t0)
	if ctx.Err() != nil || !measured {
		return
	}
	if err == nil {
		err = newChecker(k, false).check(uid, code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		res.errors++
		res.samples["ordinary: "+trimErr(err)]++
		return
	}
	res.ordinary = append(res.ordinary, lat)
}

// hostileLoop sends the hostile kinds in turn, starting at worker w's.
func hostileLoop(ctx context.Context, s *server, kinds []*kind, w int, measuring *atomic.Bool, mu *sync.Mutex, res *phaseResult) {
	client := newClient(s.roots, 1)
	defer client.CloseIdleConnections()
	checkers := make([]*checker, len(kinds))
	for i, k := range kinds {
		checkers[i] = newChecker(k, false)
	}
	for seq := 0; ctx.Err() == nil; seq++ {
		i := (w + seq) % len(kinds)
		k := kinds[i]
		uid := "hostile-" + strconv.Itoa(w) + "-" + strconv.Itoa(seq)
		t0 := time.Now()
		code, body, err := post(ctx, client, s.url+"/mutate", k, uid)
		lat := time.Since(t0)
		if ctx.Err() != nil || !measuring.Load() {
			continue
		}
		if err == nil {
			err = checkers[i].check(uid, code, body)
		}
		mu.Lock()
		st := res.hostile[k.name]
		st.n++
		st.lat = append(st.lat, lat)
		if body != nil {
			st.code, st.first, st.length = summarize(code, body)
		}
		if err != nil {
			st.wrong++
			st.err = strings.ReplaceAll(trimErr(err), "\n", " / ")
		}
		mu.Unlock()
	}
}

// summarize reads an answer's status code (200 when allowed), the first
// line of its message and its length.
func summarize(code int, body []byte) (int32, string, int) {
	var a answer
	if code != http.StatusOK || json.Unmarshal(body, &a) != nil || a.Response == nil {
		return int32(code), "", len(body)
	}
	if a.Response.Allowed {
		if len(a.Response.Patch) > 0 {
			return 200, "allowed, patched", len(body)
		}
		return 200, "allowed", len(body)
	}
	var c int32
	var msg string
	if st := a.Response.Status; st != nil {
		c, msg = st.Code, st.Message
	}
	first, _, _ := strings.Cut(msg, "\n")
	if second := strings.SplitN(msg, "\n", 3); len(second) > 1 {
		first += " / " + second[1]
	}
	if len(first) > 160 {
		first = first[:160] + "…"
	}
	return c, first, len(body)
}

// printAttack prints the phases and the hostile answers as tables, then
// the goals; it reports whether they were met.
func printAttack(w io.Writer, results []*phaseResult, kinds []*kind) bool {
	fmt.Fprintln(w, "\n| phase | ordinary injected pod p50 / p99 / max (ms) | answered | errors | wisp CPU (cores) | peak RSS (MB) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %s / %s / %s | %d | %d | %.2f | %s |\n", r.name, ms(r.pct(50)), ms(r.pct(99)), ms(r.pct(100)),
			len(r.ordinary), r.errors, r.cpu.Seconds()/r.elapsed.Seconds(), mb(r.hwm))
		for e, n := range r.samples {
			fmt.Fprintf(w, "|   %d x %s | | | | | |\n", n, e)
		}
	}
	printHostile(w, results[min(1, len(results)-1)], kinds)
	if len(results) > 3 {
		printHostile(w, results[3], kinds)
	}
	return attackGoals(w, results, kinds)
}

// printHostile prints how each hostile request was answered in phase r.
func printHostile(w io.Writer, attacked *phaseResult, kinds []*kind) {
	fmt.Fprintf(w, "\n| hostile request (body) | answered (%s) | answer | latency p50 / max (ms) | sent | wrong |\n", attacked.name)
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, k := range kinds {
		st := attacked.hostile[k.name]
		if st == nil {
			continue
		}
		slices.Sort(st.lat)
		p50, most := time.Duration(0), time.Duration(0)
		if len(st.lat) > 0 {
			p50, most = st.lat[len(st.lat)/2], st.lat[len(st.lat)-1]
		}
		fmt.Fprintf(w, "| %s (%s) | %d: %s | %s | %s / %s | %d | %d |\n", k.name, size(len(k.body)), st.code, st.first, size(st.length), ms(p50), ms(most), st.n, st.wrong)
		if st.err != "" {
			fmt.Fprintf(w, "|   last wrong answer: %s | | | | | |\n", st.err)
		}
	}
}

// attackGoals prints and checks the goals on the attack's phases.
func attackGoals(w io.Writer, results []*phaseResult, kinds []*kind) bool {
	met := true
	check := func(ok bool, format string, args ...any) {
		met = met && ok
		fmt.Fprintf(w, "  %s %s\n", mark(ok), fmt.Sprintf(format, args...))
	}
	fmt.Fprintln(w, "\ngoals (ordinary injected pod beside the attack, lanes on):")
	if len(results) < 2 {
		check(false, "no attack phase")
		return false
	}
	r := results[1]
	check(r.pct(99) <= goalOrdinaryP99, "p99 <= %s: %s ms", goalOrdinaryP99, ms(r.pct(99)))
	check(r.pct(100) < goalOrdinaryMax, "max < %s: %s ms", goalOrdinaryMax, ms(r.pct(100)))
	check(r.errors == 0, "0 errors: %d", r.errors)
	for _, ph := range results[:min(3, len(results))] {
		check(ph.hwm < goalPeakRSS, "peak RSS < %d MB (%s): %s MB", goalPeakRSS>>20, ph.name, mb(ph.hwm))
	}
	for _, k := range kinds {
		st := r.hostile[k.name]
		check(st != nil && st.n > 0 && st.wrong == 0, "%s answered right every time (%s): %d sent, %d wrong", k.name, k.want, st.n, st.wrong)
	}
	return met
}

// size renders a length: 2.7 MB, 250 KiB, 900 bytes.
func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return strconv.Itoa(n) + " bytes"
}

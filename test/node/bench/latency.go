package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"wisp.dev/wisp/mutate"
)

// sample is one pod's start: total and split, in milliseconds, and the
// resources of its init container.
type sample struct {
	kind                           kind
	total, admission, sandbox, app float64
	// initSeen and appSeen: from created to the watch showing the init
	// container ended, and the app running (the kubelet's view).
	initSeen, appSeen float64
	// fetch is the init container's run; svid, login, reads and writes
	// split wisp-fetch's.
	fetch, svid, login, reads, writes float64
	// missed: the sampler never saw the container; only total counts.
	missed bool
	// fetchCore is wisp-fetch's Fetch (from its log): the run less the
	// process's start and exit.
	fetchCore float64
	// memPeak (VmHWM, bytes), cpu (ns) and cgroupPeak (bytes) are those
	// of the init container (the app's in a plain pod).
	memPeak, cpu, cgroupPeak int64
}

// warmup rounds are run first and not counted (first use of each image).
const warmup = 2

// latency runs warmup+n rounds of the three pods, one pod at a time, in a
// rotating order, and deletes each round's pods before the next.
func (b *bench) latency(ctx context.Context, n int, variants bool, res *results) error {
	kinds := []kind{plain, wisp, agent}
	if variants {
		kinds = append(kinds, wispNoCPULimit, agentCSI)
	}
	for r := range warmup + n {
		var names []string
		for i := range kinds {
			k := kinds[(r+i)%len(kinds)]
			name := fmt.Sprintf("%s-%d", k, r)
			s, err := b.measure(ctx, k, name)
			if err != nil {
				return err
			}
			names = append(names, name)
			if r >= warmup {
				res.samples = append(res.samples, s)
			}
		}
		b.logf("bench: round %d/%d done", r+1, warmup+n)
		if err := b.deletePods(ctx, names); err != nil {
			return err
		}
	}
	var err error
	if res.initWispTokens, res.initLeases, err = b.left(ctx, "jwt", wispRole, "database/creds/bench/"); err != nil {
		return err
	}
	res.initAgentTokens, _, err = b.left(ctx, "kubernetes", agentRole, "database/creds/bench/")
	return err
}

// measure starts one pod and splits its time.
func (b *bench) measure(ctx context.Context, k kind, name string) (sample, error) {
	pod := b.podOf(k, name)
	if k == wispNoCPULimit {
		var err error
		if pod, err = b.injected(ctx, name); err != nil {
			return sample{}, err
		}
	}
	// The kubelet looks at its containers every second (PLEG relist) and
	// the previous pod was seen Ready at one of those looks: a random
	// pause keeps each pod's start out of step with them, so that no kind
	// is always lucky or always not.
	if err := sleepCtx(ctx, time.Duration(rand.Int64N(int64(time.Second)))); err != nil {
		return sample{}, err
	}
	var smp *sampler
	st, err := b.startPod(ctx, pod, func(uid string) { smp = startSampler(uid) })
	var use map[string]*usage
	if smp != nil {
		use = smp.Stop()
	}
	if err != nil {
		return sample{}, err
	}
	s := sample{kind: k, total: ms(st.ready.Sub(st.create)), admission: ms(st.created.Sub(st.create)),
		appSeen: ms(st.appSeen.Sub(st.created))}
	if !st.initSeen.IsZero() {
		s.initSeen = ms(st.initSeen.Sub(st.created))
	}
	u := use[map[kind]string{plain: "app", wisp: "wisp-fetch", agent: "vault", wispNoCPULimit: "wisp-fetch", agentCSI: "vault"}[k]]
	if u == nil {
		// Never sampled (a machine too loaded for the sampler's ticks):
		// the sample keeps its total, and counts nowhere else.
		b.logf("bench: pod %s: its container was not sampled; only its total counts", name)
		s.missed = true
		return s, nil
	}
	s.memPeak, s.cpu, s.cgroupPeak = u.peakRSS, u.cpu, u.cgroupPeak
	if k == plain {
		s.sandbox = ms(u.firstSeen.Sub(st.created))
		s.app = ms(st.ready.Sub(u.firstSeen))
		return s, nil
	}
	// The init container's life as the sampler saw it: exec to exit.
	s.sandbox = ms(u.firstSeen.Sub(st.created))
	s.fetch = ms(u.lastSeen.Sub(u.firstSeen))
	s.app = ms(st.ready.Sub(u.lastSeen))
	if k == wisp || k == wispNoCPULimit {
		return s, b.splitFetch(ctx, name, &s)
	}
	return s, nil
}

// splitFetch splits wisp-fetch's run with the times its log gives.
func (b *bench) splitFetch(ctx context.Context, name string, s *sample) error {
	log, err := b.env.Node.Logs(ctx, ns, name, mutate.FetchContainerName, false)
	if err != nil {
		return err
	}
	f, err := parseFetchLog(log)
	if err != nil {
		return fmt.Errorf("pod %s: %w", name, err)
	}
	s.svid, s.login = ms(f.svid), ms(f.login)
	s.reads = ms(f.lastRead.Sub(f.start)) - s.svid - s.login
	s.writes = ms(f.written.Sub(f.lastRead))
	s.fetchCore = ms(f.written.Sub(f.start))
	return nil
}

// sleepCtx waits for d or until ctx ends.
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fetchLog is what wisp-fetch's log says of its run.
type fetchLog struct {
	start, lastRead, written time.Time
	svid, login              time.Duration
}

// parseFetchLog reads wisp-fetch's JSON lines: "logged in" (svid, login),
// "secret read", "secrets written" (elapsed since the fetch began).
func parseFetchLog(log string) (fetchLog, error) {
	var f fetchLog
	for _, line := range strings.Split(log, "\n") {
		var l struct {
			Time                 time.Time
			Msg                  string
			Elapsed, SVID, Login string
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch l.Msg {
		case "logged in":
			f.svid, _ = time.ParseDuration(l.SVID)
			f.login, _ = time.ParseDuration(l.Login)
		case "secret read":
			f.lastRead = l.Time
		case "secrets written":
			f.written = l.Time
			d, err := time.ParseDuration(l.Elapsed)
			if err != nil {
				return f, fmt.Errorf("wisp-fetch log: elapsed %q: %w", l.Elapsed, err)
			}
			f.start = l.Time.Add(-d)
		}
	}
	if f.written.IsZero() || f.lastRead.IsZero() {
		return f, fmt.Errorf("wisp-fetch log has no \"secret read\" or \"secrets written\" line:\n%s", log)
	}
	return f, nil
}

// deletePods deletes the pods and waits until they are gone.
func (b *bench) deletePods(ctx context.Context, names []string) error {
	c := b.env.Node.Client().CoreV1().Pods(ns)
	for _, name := range names {
		if err := c.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("delete pod %s: %w", name, err)
		}
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, name := range names {
			if _, err := c.Get(ctx, name, metav1.GetOptions{}); err == nil {
				return false, nil
			}
		}
		return true, nil
	})
}

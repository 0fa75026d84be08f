package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"wisp.dev/wisp/mutate"
)

// sample is one pod's start: total and split, in milliseconds, and its
// pod cgroup's memory high-water mark (bytes) and CPU time (ns).
type sample struct {
	kind                           kind
	total, admission, sandbox, app float64
	// fetch is the init container's run; svid, login, reads and writes
	// split wisp-fetch's.
	fetch, svid, login, reads, writes float64
	memPeak, cpu                      int64
}

// warmup rounds are run first and not counted (first use of each image).
const warmup = 2

// latency runs warmup+n rounds of the three pods, one pod at a time, in a
// rotating order, and deletes each round's pods before the next.
func (b *bench) latency(ctx context.Context, n int, res *results) error {
	kinds := []kind{plain, wisp, agent}
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
	st, err := b.startPod(ctx, podOf(k, name))
	if err != nil {
		return sample{}, err
	}
	s := sample{kind: k, total: ms(st.ready.Sub(st.create)), admission: ms(st.created.Sub(st.create))}
	s.memPeak, s.cpu = podCgroup(st.uid)
	switch k {
	case plain:
		s.app = ms(st.ready.Sub(st.created))
	case wisp:
		log, err := b.env.Node.Logs(ctx, ns, name, mutate.FetchContainerName, false)
		if err != nil {
			return s, err
		}
		f, err := parseFetchLog(log)
		if err != nil {
			return s, fmt.Errorf("pod %s: %w", name, err)
		}
		s.sandbox = ms(f.start.Sub(st.created))
		s.fetch, s.svid, s.login = ms(f.written.Sub(f.start)), ms(f.svid), ms(f.login)
		s.reads = ms(f.lastRead.Sub(f.start)) - s.svid - s.login
		s.writes = ms(f.written.Sub(f.lastRead))
		s.app = ms(st.ready.Sub(f.written))
	case agent:
		log, err := b.env.Node.Logs(ctx, ns, name, "vault-agent-init", false)
		if err != nil {
			return s, err
		}
		first, last, err := logSpan(log)
		if err != nil {
			return s, fmt.Errorf("pod %s: %w", name, err)
		}
		s.sandbox = ms(first.Sub(st.created))
		s.fetch = ms(last.Sub(first))
		s.app = ms(st.ready.Sub(last))
	}
	return s, nil
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

// logSpan is the time of the first and last lines of Vault Agent's log
// (standard format: an RFC 3339 time first).
func logSpan(log string) (first, last time.Time, err error) {
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		t, perr := time.Parse(time.RFC3339Nano, f[0])
		if perr != nil {
			continue
		}
		if first.IsZero() {
			first = t
		}
		last = t
	}
	if first.IsZero() {
		return first, last, fmt.Errorf("vault agent's log has no timed line:\n%s", log)
	}
	return first, last, nil
}

// podCgroup reads the pod cgroup's memory high-water mark and CPU time
// (cgroup v1: memory.max_usage_in_bytes, cpuacct.usage; v2: memory.peak,
// cpu.stat usage_usec); -1 when not found.
func podCgroup(uid string) (memPeak, cpu int64) {
	memPeak, cpu = -1, -1
	find := func(root string) string {
		for _, pat := range []string{"*/kubepods/pod" + uid, "*/kubepods/*/pod" + uid} {
			if m, _ := filepath.Glob(filepath.Join(root, pat)); len(m) == 1 {
				return m[0]
			}
		}
		return ""
	}
	readInt := func(p string) int64 {
		b, err := os.ReadFile(p)
		if err != nil {
			return -1
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return -1
		}
		return v
	}
	if d := find("/sys/fs/cgroup/memory"); d != "" {
		memPeak = readInt(filepath.Join(d, "memory.max_usage_in_bytes"))
	}
	if d := find("/sys/fs/cgroup/cpuacct"); d != "" {
		cpu = readInt(filepath.Join(d, "cpuacct.usage"))
	}
	if memPeak >= 0 {
		return memPeak, cpu
	}
	if d := find("/sys/fs/cgroup"); d != "" {
		memPeak = readInt(filepath.Join(d, "memory.peak"))
		if b, err := os.ReadFile(filepath.Join(d, "cpu.stat")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					if us, err := strconv.ParseInt(v, 10, 64); err == nil {
						cpu = us * 1000
					}
				}
			}
		}
	}
	return memPeak, cpu
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

package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Goals of the injected scenario (wisp /mutate, policy on), against the
// floor measured in the same run.
const (
	goalRateC64    = 0.9 // req/s at c=64, fraction of the floor's
	goalRateC8     = 0.8 // req/s at c=8
	goalP99        = 1.1 // p99 at c=8 and c=64, at most this times the floor's
	goalIdleRSS    = 30 << 20
	goalRSSAfter   = 40 << 20
	scenarioLabels = "injected: opted-in pod, 2 containers, 3 secrets; injected-cold: the same, with a template no earlier request had (nothing remembered); plain: the same pod not opted in; denied: with a Secret in an env var; large: opted in, 10 containers x 50 env vars"
)

// printTable prints one table of every wisp row against the floor, as
// ratios (absolute figures are only comparable within a run), and the
// goals; it reports whether the goals were met. idle and final are each
// server's memory before and after the load.
func printTable(w io.Writer, conns []int, results []*result, idle, final map[string]procStats) bool {
	type key struct {
		server, scenario string
		conns            int
	}
	byKey := map[key]*result{}
	var rows []key // server/scenario pairs, in run order
	seen := map[key]bool{}
	for _, r := range results {
		byKey[key{r.server, r.scenario, r.conns}] = r
		k := key{r.server, r.scenario, 0}
		if !seen[k] {
			seen[k] = true
			rows = append(rows, k)
		}
	}
	floorOf := func(scenario string, c int) *result { return byKey[key{srvFloor, scenario, c}] }
	refScenario := scInjected
	if floorOf(refScenario, conns[0]) == nil && len(rows) > 0 {
		refScenario = rows[0].scenario
	}

	var hdr, sep []string
	hdr = append(hdr, "server")
	for _, c := range conns {
		hdr = append(hdr, fmt.Sprintf("c=%d req/s vs floor", c))
	}
	for _, c := range conns {
		hdr = append(hdr, fmt.Sprintf("p99 vs floor (c=%d)", c))
	}
	hdr = append(hdr, "RSS MB idle / after")
	for range hdr {
		sep = append(sep, "---")
	}
	line := func(cells []string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	fmt.Fprintln(w)
	line(hdr)
	line(sep)
	rss := func(server string) string {
		i, f := idle[server], final[server]
		if !i.valid || !f.valid {
			return "?"
		}
		return mb(i.rss) + " / " + mb(f.rss)
	}

	// The floor: its figures on the reference pod, for scale.
	cells := []string{"no-op floor (TLS + decode review + decode pod)"}
	for _, c := range conns {
		if f := floorOf(refScenario, c); f != nil {
			cells = append(cells, fmt.Sprintf("1.00 (%.0f req/s)", f.rate()))
		} else {
			cells = append(cells, "-")
		}
	}
	for _, c := range conns {
		if f := floorOf(refScenario, c); f != nil {
			cells = append(cells, fmt.Sprintf("1.00 (%s ms)", ms(f.pct(99))))
		} else {
			cells = append(cells, "-")
		}
	}
	line(append(cells, rss(srvFloor)))

	met, checked := true, 0
	var goals []string
	check := func(ok bool, format string, args ...any) {
		checked++
		met = met && ok
		goals = append(goals, mark(ok)+" "+fmt.Sprintf(format, args...))
	}
	for _, k := range rows {
		if k.server == srvFloor {
			continue
		}
		cells := []string{fmt.Sprintf("%s /mutate, %s", k.server, k.scenario)}
		var rates, p99s []string
		for _, c := range conns {
			r, f := byKey[key{k.server, k.scenario, c}], floorOf(k.scenario, c)
			if r == nil || f == nil || f.rate() == 0 || f.pct(99) == 0 {
				rates, p99s = append(rates, "-"), append(p99s, "-")
				continue
			}
			frac, ratio := r.rate()/f.rate(), float64(r.pct(99))/float64(f.pct(99))
			rates = append(rates, fmt.Sprintf("%.2f", frac))
			p99s = append(p99s, fmt.Sprintf("%.2f", ratio))
			if k.server != srvWisp || k.scenario != scInjected {
				continue
			}
			switch c {
			case 64:
				check(frac >= goalRateC64, "req/s at c=64 >= %.1f of the floor's: %.2f", goalRateC64, frac)
			case 8:
				check(frac >= goalRateC8, "req/s at c=8 >= %.1f of the floor's: %.2f", goalRateC8, frac)
			}
			if c == 8 || c == 64 {
				check(ratio <= goalP99, "p99 at c=%d <= %.1fx the floor's: %.2fx", c, goalP99, ratio)
			}
		}
		cells = append(cells, rates...)
		cells = append(cells, p99s...)
		line(append(cells, rss(k.server)))
	}
	fmt.Fprintf(w, "\nratios to the floor on the same pod, measured back to back in this run; RSS before the first run and after the last.\n%s.\n", scenarioLabels)

	if st := idle[srvWisp]; st.valid {
		check(st.rss < goalIdleRSS, "wisp idle RSS < %d MB: %s MB", goalIdleRSS>>20, mb(st.rss))
	}
	if st := final[srvWisp]; st.valid {
		check(st.rss < goalRSSAfter, "wisp RSS after the run < %d MB: %s MB (peak %s MB)", goalRSSAfter>>20, mb(st.rss), mb(st.hwm))
	}
	if checked > 0 {
		fmt.Fprintf(w, "\ngoals (wisp /mutate, injected pod, policy on):\n  %s\n", strings.Join(goals, "\n  "))
	}
	return met
}

func mark(ok bool) string {
	if ok {
		return "[met] "
	}
	return "[MISS]"
}

// keyOf names a run for profile files.
func keyOf(server, scenario string, c int) string {
	return server + "-" + scenario + "-c" + strconv.Itoa(c)
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	duration  time.Duration
	warmup    time.Duration
	conns     []int
	scenarios []string
	servers   []string
	soak      time.Duration
	attack    time.Duration
	baseline  string
	pprofDir  string
	goals     bool
	maxBody   int
	wispEnv   []string
	out       io.Writer
}

func main() {
	var cfg config
	var conns, scenarios, servers, wispEnv string
	flag.DurationVar(&cfg.duration, "duration", 8*time.Second, "measured time of each run")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured time before each run (connections, heap)")
	flag.StringVar(&conns, "c", "8,64", "concurrencies (workers, one connection each)")
	flag.StringVar(&scenarios, "scenario", strings.Join(scenarioNames, ","), "scenarios: "+strings.Join(scenarioNames, ", "))
	flag.StringVar(&servers, "servers", srvFloor+","+srvWisp, "servers: floor, wisp, wisp-info")
	flag.DurationVar(&cfg.soak, "soak", 0, "run the hostile soak for this long instead of the bench")
	flag.DurationVar(&cfg.attack, "attack", 0, "run the attack's phases, this long each, instead of the bench (before the soak with -soak)")
	flag.StringVar(&cfg.baseline, "baseline-bin", "", "another wisp-webhook binary, measured as server baseline beside wisp in the bench")
	flag.StringVar(&cfg.pprofDir, "pprof", "", "write CPU profiles of wisp's runs and a heap profile into this folder")
	flag.BoolVar(&cfg.goals, "goals", false, "exit 1 when a goal on the injected scenario is missed")
	flag.IntVar(&cfg.maxBody, "max-body", 4<<20, "wisp's body limit (the over-limit soak requests exceed it)")
	flag.StringVar(&wispEnv, "wisp-env", "", "extra environment of wisp-webhook, comma-separated (GOGC=200,GOMEMLIMIT=32MiB)")
	flag.Parse()
	cfg.out = os.Stdout
	var err error
	if cfg.conns, err = parseInts(conns); err != nil {
		fatal(fmt.Errorf("-c: %w", err))
	}
	cfg.scenarios = strings.Split(scenarios, ",")
	cfg.servers = strings.Split(servers, ",")
	if wispEnv != "" {
		cfg.wispEnv = strings.Split(wispEnv, ",")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "wisp-load-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	ok := true
	if cfg.soak > 0 || cfg.attack > 0 {
		c := 64
		if isSet("c") {
			c = slices.Max(cfg.conns)
		}
		ok, err = soakMain(ctx, dir, cfg.baseline, cfg.attack, cfg.soak, c, cfg.maxBody, cfg.out)
	} else {
		ok, err = bench(ctx, dir, cfg)
	}
	if err != nil {
		fatal(err)
	}
	if !ok {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(2)
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// bench runs every scenario at every concurrency on every server and
// prints the results. It reports false when a request got a wrong answer
// or, with cfg.goals, a goal was missed.
func bench(ctx context.Context, dir string, cfg config) (bool, error) {
	kinds := map[string]*kind{}
	for _, name := range cfg.scenarios {
		k, err := scenario(name)
		if err != nil {
			return false, err
		}
		kinds[name] = k
	}
	if cfg.baseline != "" && !slices.Contains(cfg.servers, srvBaseline) {
		cfg.servers = append(cfg.servers, srvBaseline)
	}
	for _, name := range cfg.servers {
		if name != srvFloor && name != srvWisp && name != srvWispInfo && (name != srvBaseline || cfg.baseline == "") {
			return false, fmt.Errorf("unknown server %q (baseline needs -baseline-bin)", name)
		}
	}
	fmt.Fprintf(os.Stderr, "load: building wisp-webhook and the floor into %s\n", dir)
	bins, err := build(dir, cfg.pprofDir != "")
	if err != nil {
		return false, err
	}
	bins.baseline = cfg.baseline
	var pprofAddr string
	servers := map[string]*server{}
	for _, name := range cfg.servers {
		var env []string
		if name != srvFloor {
			env = append(env, cfg.wispEnv...)
		}
		if cfg.pprofDir != "" && name != srvFloor {
			port, err := freePort()
			if err != nil {
				return false, err
			}
			pprofAddr = "127.0.0.1:" + strconv.Itoa(port)
			env = append(env, "WISP_LOAD_PPROF="+pprofAddr)
		}
		s, err := start(ctx, bins, name, dir, env...)
		if err != nil {
			return false, err
		}
		defer s.kill()
		servers[name] = s
	}
	// Idle memory: every server started and ready, none loaded yet.
	time.Sleep(2 * time.Second)
	idle := map[string]procStats{}
	for name, s := range servers {
		idle[name] = s.stats()
	}
	fmt.Fprintf(cfg.out, "load: %s, GOMAXPROCS of the servers: all %d cores; load average before: %s\n", time.Now().Format(time.RFC3339), runtime.NumCPU(), loadAvg())
	fmt.Fprintf(cfg.out, "load: %s measured per run after %s of warm-up", cfg.duration, cfg.warmup)
	if len(cfg.wispEnv) > 0 {
		fmt.Fprintf(cfg.out, "; wisp-webhook's extra environment: %s", strings.Join(cfg.wispEnv, " "))
	}
	fmt.Fprint(cfg.out, "\n\n")
	printRunHeader(cfg.out)

	var results []*result
	wrong := false
	turn := 0
	for _, sc := range cfg.scenarios {
		for _, c := range cfg.conns {
			// Floor and wisp back to back, in alternating order, so that a
			// drift of the machine's load favours neither.
			order := slices.Clone(cfg.servers)
			if turn%2 == 1 {
				slices.Reverse(order)
			}
			turn++
			for _, name := range order {
				s := servers[name]
				o := runOpts{conns: c, duration: cfg.duration, warmup: cfg.warmup, floor: name == srvFloor}
				var prof chan error
				if cfg.pprofDir != "" && name != srvFloor && pprofAddr != "" {
					prof = profileAsync(s, pprofAddr, cfg, keyOf(name, sc, c)+".cpu.pprof")
				}
				r := run(ctx, s, sc, single(kinds[sc]), o)
				if prof != nil {
					if err := <-prof; err != nil {
						fmt.Fprintln(os.Stderr, "load: profile:", err)
					}
				}
				if !s.alive() {
					return false, fmt.Errorf("%s exited during the run: %v; log:\n%s", name, s.waitErr, s.log())
				}
				printRun(cfg.out, r)
				results = append(results, r)
				wrong = wrong || r.errors > 0
				if ctx.Err() != nil {
					return false, ctx.Err()
				}
			}
		}
	}
	if cfg.pprofDir != "" && pprofAddr != "" {
		if err := fetch(pprofAddr, "/debug/pprof/heap", filepath.Join(cfg.pprofDir, "wisp.heap.pprof")); err != nil {
			fmt.Fprintln(os.Stderr, "load: heap profile:", err)
		}
	}
	final := map[string]procStats{}
	for name, s := range servers {
		final[name] = s.stats()
		if fi, err := os.Stat(s.logPath); err == nil && name != srvFloor {
			fmt.Fprintf(cfg.out, "\n%s wrote %d bytes of log", name, fi.Size())
		}
	}
	fmt.Fprintf(cfg.out, "\nload average after: %s\n", loadAvg())
	met := printTable(cfg.out, cfg.conns, results, idle, final)
	ok := !wrong && (!cfg.goals || met)
	return ok, nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
func mb(b int64) string         { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

func printRunHeader(w io.Writer) {
	fmt.Fprintf(w, "%-9s %-10s %4s %9s %8s %8s %8s %8s %6s %5s %7s %5s %7s %7s %7s\n",
		"scenario", "server", "c", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors",
		"cpu", "µs/req", "gen", "µs/req", "rss MB", "peak MB")
}

func printRun(w io.Writer, r *result) {
	perReq := func(d time.Duration) float64 {
		if n := len(r.latencies); n > 0 {
			return float64(d.Microseconds()) / float64(n)
		}
		return 0
	}
	fmt.Fprintf(w, "%-9s %-10s %4d %9.0f %8s %8s %8s %8s %6d %5.2f %7.0f %5.2f %7.0f %7s %7s\n",
		r.scenario, r.server, r.conns, r.rate(), ms(r.pct(50)), ms(r.pct(90)), ms(r.pct(99)), ms(r.max()),
		r.errors, r.cpu.Seconds()/r.elapsed.Seconds(), perReq(r.cpu),
		r.clientCPU.Seconds()/r.elapsed.Seconds(), perReq(r.clientCPU), mb(r.rss), mb(r.hwm))
	for e, n := range r.samples {
		fmt.Fprintf(w, "    %d x %s\n", n, e)
	}
}

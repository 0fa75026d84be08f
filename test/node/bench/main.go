package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"wisp.dev/wisp/test/node"
	"wisp.dev/wisp/test/stack"
)

func main() {
	n := flag.Int("n", 20, "pods of each kind in the start-latency phase (after 2 warm-up rounds)")
	rollout := flag.Int("rollout", 100, "replicas of the rollout (0: skip it)")
	podSelectors := flag.Bool("spire-pod-selectors", true, "the SPIRE agent's k8s attestor answers with pod selectors only (disable_container_selectors); false: as SPIRE's default, it waits until the kubelet's status names the container")
	variants := flag.Bool("variants", false, "also start wisp's pod without the init container's resources and the agent's with the SPIFFE CSI volume (to tell causes apart)")
	verbose := flag.Bool("v", false, "log progress to standard error")
	flag.Parse()
	if os.Getuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (a real kubelet and containerd); run as root")
		os.Exit(1)
	}
	logf := func(string, ...any) {}
	if *verbose {
		logf = stack.StderrLogf
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Minute)
	defer cancel()
	res, err := run(ctx, *n, *rollout, *podSelectors, *variants, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, res)
	b, err := json.Marshal(res.figures())
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Println(string(b))
}

// The benchmark's namespace, identities and Vault objects.
const (
	ns        = "bench"
	wispSA    = "bench" // wisp-injected latency pods
	agentSA   = "agent" // Vault Agent pods (Kubernetes auth)
	rollSA    = "roll"  // the rollout's pods
	wispID    = "spiffe://example.org/ns/bench/sa/bench"
	rollID    = "spiffe://example.org/ns/bench/sa/roll"
	wispRole  = "bench"
	rollRole  = "roll"
	agentRole = "agent"
)

func run(ctx context.Context, n, rollout int, podSelectors, variants bool, logf func(string, ...any)) (*results, error) {
	t0 := time.Now()
	env, err := node.StartEnv(ctx, node.EnvOptions{
		Workloads: []stack.Workload{{SPIFFEID: wispID, Selectors: []string{"k8s:ns:" + ns, "k8s:sa:" + wispSA}}},
		Policy: map[string]any{
			"roles": []map[string]any{{"namespaces": []string{ns}, "roles": []string{wispRole, rollRole}}},
		},
		SPIREPodSelectorsOnly: podSelectors,
		Logf:                  logf,
	})
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	defer func() {
		if serr := env.Close(); serr != nil {
			fmt.Fprintln(os.Stderr, "bench: stop:", serr)
		}
	}()
	b := &bench{env: env, logf: logf}
	defer func() {
		if b.dir != "" {
			_ = os.RemoveAll(b.dir)
		}
	}()
	if err := b.setup(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	logf("bench: ready after %s", time.Since(t0).Round(time.Millisecond))
	res := &results{load: loadAvg(), podSelectors: podSelectors}
	if res.images, err = b.imageSizes(ctx); err != nil {
		return nil, err
	}
	if err := b.latency(ctx, n, variants, res); err != nil {
		return nil, fmt.Errorf("start latency: %w", err)
	}
	if rollout > 0 {
		if err := b.rollout(ctx, rollout, res); err != nil {
			return nil, fmt.Errorf("rollout: %w", err)
		}
	}
	res.loadEnd = loadAvg()
	return res, nil
}

// loadAvg is the machine's 1-minute load average, as /proc/loadavg says.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	var l1 string
	fmt.Sscan(string(b), &l1)
	return l1
}

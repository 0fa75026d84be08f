package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/webhook"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := newCommand(os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "wisp-webhook:", err)
		os.Exit(1)
	}
}

type options struct {
	host            string
	port            int
	policyFile      string
	maxRequestBytes int64
	requestTimeout  time.Duration
	smallRequest    int64
	memoryBudget    int64
	memoryLimit     int64
	logLevel        string
	kubeconfig      string
	certs           certOptions
}

func newCommand(logOut io.Writer) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:           "wisp-webhook",
		Short:         "wisp's admission webhook: rejects static secrets, injects wisp-fetch into opted-in pods",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), o, logOut)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "address to listen on (default all)")
	f.IntVar(&o.port, "port", webhook.DefaultPort, "HTTPS port")
	f.StringVar(&o.policyFile, "policy", "", "policy file (kind: Policy), reloaded on change; default: built-in defaults")
	f.Int64Var(&o.maxRequestBytes, "max-request-bytes", webhook.DefaultMaxRequestBytes, "largest admission request body accepted")
	f.DurationVar(&o.requestTimeout, "request-timeout", webhook.DefaultRequestTimeout, "time to read and answer one request (the API server's shorter timeout applies when it sends one)")
	f.Int64Var(&o.smallRequest, "small-request-bytes", webhook.DefaultSmallRequestBytes, "requests with a body up to this size are judged in a lane of their own, never behind larger ones (negative: one lane for all)")
	f.Int64Var(&o.memoryBudget, "memory-budget", 0, "bytes for the larger requests in flight, their bodies and decoded objects (default: 3/8 of --memory-limit, at most 256 MiB; 96 MiB without it)")
	f.Int64Var(&o.memoryLimit, "memory-limit", 0, "the container's memory limit in bytes (the chart passes limits.memory): the Go runtime's soft memory limit is set to 90% of it unless GOMEMLIMIT is set")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig (default: in-cluster config when in a pod, else none: namespace labels unknown, --cert-mode=auto unavailable)")
	o.certs.addFlags(f)
	return cmd
}

func run(ctx context.Context, o options, logOut io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	handler := slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level})
	log := slog.New(handler)
	ctrllog.SetLogger(logr.FromSlogHandler(handler))

	soft, budget := memorySettings(o.memoryLimit, o.memoryBudget, os.Getenv("GOMEMLIMIT") != "")
	if soft > 0 {
		debug.SetMemoryLimit(soft)
	}
	log.Info("memory", "limit", o.memoryLimit, "goSoftLimit", debug.SetMemoryLimit(-1), "budget", budget)

	reg := ctrlmetrics.Registry
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return fmt.Errorf("register metrics: %w", err)
		}
	}

	var snapshots webhook.Snapshots = config.Static{Snapshot: config.Default()}
	var checks []webhook.Check
	var runnables []func(context.Context) error
	if o.policyFile != "" {
		w, err := config.NewWatcher(o.policyFile, config.WatcherOptions{Logger: log, Registerer: reg})
		if err != nil {
			return err
		}
		snapshots = w
		runnables = append(runnables, w.Start)
		checks = append(checks, webhook.Check{Name: "policy-reload", Degraded: true, Fn: func(*http.Request) error {
			if at, err := w.LastError(); err != nil {
				return fmt.Errorf("%s is bad since %s, serving the last good policy: %w", o.policyFile, at.UTC().Format(time.RFC3339), err)
			}
			return nil
		}})
		log.Info("loaded policy", "path", o.policyFile)
	}

	var client kubernetes.Interface
	restCfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	if restCfg != nil {
		if client, err = kubernetes.NewForConfig(restCfg); err != nil {
			return fmt.Errorf("cluster client: %w", err)
		}
	}

	// Namespace labels (per-namespace modes and exemptions) come from an
	// informer: no API call per request.
	var namespaces webhook.NamespaceLabels
	if client != nil {
		cache, factory := webhook.NewNamespaceCache(client)
		namespaces = cache
		runnables = append(runnables, func(ctx context.Context) error {
			factory.Start(ctx.Done())
			<-ctx.Done()
			factory.Shutdown()
			return nil
		})
		checks = append(checks, webhook.Check{Name: "namespaces", Fn: cache.Ready})
	} else {
		log.Warn("no cluster access (no --kubeconfig, not in a pod): namespace labels are unknown to the policy")
	}

	src, certChecks, cleanup, err := o.certs.source(client, log, reg)
	if err != nil {
		return err
	}
	defer cleanup()
	checks = append(checks, certChecks...)
	runnables = append(runnables, src.Start)

	srv, err := webhook.New(webhook.Options{
		Host:              o.host,
		Port:              o.port,
		GetCertificate:    src.GetCertificate,
		MaxRequestBytes:   o.maxRequestBytes,
		RequestTimeout:    o.requestTimeout,
		SmallRequestBytes: o.smallRequest,
		MemoryBudget:      budget,
		Snapshots:         snapshots,
		Namespaces:        namespaces,
		Checks:            checks,
		Logger:            log,
		Registry:          reg,
	})
	if err != nil {
		return err
	}
	runnables = append(runnables, srv.Start)
	log.Info("starting wisp-webhook", "version", version, "port", o.port, "certMode", o.certs.mode)
	g, ctx := errgroup.WithContext(ctx)
	for _, r := range runnables {
		g.Go(func() error { return r(ctx) })
	}
	return g.Wait()
}

// memorySettings derives from the container's memory limit (0: unknown)
// the Go runtime's soft memory limit (0: leave it, as GOMEMLIMIT is set or
// no limit is known) and the webhook's memory budget (flag, when set).
// The soft limit is 90% of the container's: the rest is for what the
// runtime does not count (the binary, thread stacks outside the heap),
// so that the garbage collector works harder before the kernel kills.
// The budget, 3/8 of the limit, leaves the rest to the idle server (30
// MB), the garbage collector's headroom and the small requests' lane.
func memorySettings(limit, budgetFlag int64, gomemlimitSet bool) (soft, budget int64) {
	budget = budgetFlag
	if limit <= 0 {
		return 0, budget
	}
	if budget <= 0 {
		// Without a limit on the container, limits.memory is the node's
		// memory: never more than 256 MiB in flight.
		budget = min(limit*3/8, 256<<20)
	}
	if !gomemlimitSet {
		soft = limit / 10 * 9
	}
	return soft, budget
}

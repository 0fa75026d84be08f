// Command wisp-webhook is wisp's admission webhook server. See the README for
// its flags and the webhook package for what it serves.
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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"wisp.dev/wisp/certs"
	"wisp.dev/wisp/internal/config"
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
	certDir         string
	certName        string
	keyName         string
	devCerts        bool
	devCertHosts    []string
	devCertValidity time.Duration
	policyFile      string
	maxRequestBytes int64
	requestTimeout  time.Duration
	logLevel        string
}

func newCommand(logOut io.Writer) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:           "wisp-webhook",
		Short:         "wisp's admission webhook: injects wisp-fetch into opted-in pods",
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
	f.StringVar(&o.certDir, "cert-dir", "", "folder with the serving certificate and key, watched and hot reloaded")
	f.StringVar(&o.certName, "cert-name", certs.CertFile, "certificate file name in --cert-dir")
	f.StringVar(&o.keyName, "key-name", certs.KeyFile, "key file name in --cert-dir")
	f.BoolVar(&o.devCerts, "dev-certs", false, "generate an ephemeral CA and serving certificate (for local use; the CA is written to <cert-dir>/ca.crt)")
	f.StringSliceVar(&o.devCertHosts, "dev-cert-hosts", []string{"localhost", "127.0.0.1"}, "host names and IPs of the --dev-certs certificate")
	f.DurationVar(&o.devCertValidity, "dev-cert-validity", 24*time.Hour, "validity of the --dev-certs certificate")
	f.StringVar(&o.policyFile, "policy", "", "policy file (kind: Policy), reloaded on change; default: built-in defaults")
	f.Int64Var(&o.maxRequestBytes, "max-request-bytes", webhook.DefaultMaxRequestBytes, "largest admission request body accepted")
	f.DurationVar(&o.requestTimeout, "request-timeout", webhook.DefaultRequestTimeout, "time to read and answer one request")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
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

	reg := ctrlmetrics.Registry
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return fmt.Errorf("register metrics: %w", err)
		}
	}

	var snapshots webhook.Snapshots = config.Static{Snapshot: config.Default()}
	var checks []webhook.Check
	var watcher *config.Watcher
	if o.policyFile != "" {
		w, err := config.NewWatcher(o.policyFile, config.WatcherOptions{Logger: log, Registerer: reg})
		if err != nil {
			return err
		}
		watcher, snapshots = w, w
		checks = append(checks, webhook.Check{Name: "policy-reload", Degraded: true, Fn: func(*http.Request) error {
			if err, at := w.LastError(); err != nil {
				return fmt.Errorf("%s is bad since %s, serving the last good policy: %w", o.policyFile, at.UTC().Format(time.RFC3339), err)
			}
			return nil
		}})
		log.Info("loaded policy", "path", o.policyFile)
	}

	certDir := o.certDir
	switch {
	case o.devCerts:
		if certDir == "" {
			dir, err := os.MkdirTemp("", "wisp-dev-certs-")
			if err != nil {
				return fmt.Errorf("dev certificates: %w", err)
			}
			defer os.RemoveAll(dir)
			certDir = dir
		}
		b, err := certs.NewDev(o.devCertHosts, time.Now(), o.devCertValidity)
		if err != nil {
			return err
		}
		if err := b.WriteDir(certDir); err != nil {
			return err
		}
		log.Info("generated dev certificates", "hosts", strings.Join(o.devCertHosts, ","), "caFile", filepath.Join(certDir, certs.CAFile))
	case certDir == "":
		return errors.New("set --cert-dir (certificate files) or --dev-certs (ephemeral, for local use)")
	}

	srv, err := webhook.New(webhook.Options{
		Host:            o.host,
		Port:            o.port,
		CertDir:         certDir,
		CertName:        o.certName,
		KeyName:         o.keyName,
		MaxRequestBytes: o.maxRequestBytes,
		RequestTimeout:  o.requestTimeout,
		Snapshots:       snapshots,
		Checks:          checks,
		Logger:          log,
		Registry:        reg,
	})
	if err != nil {
		return err
	}
	log.Info("starting wisp-webhook", "version", version, "port", o.port, "certDir", certDir)
	g, ctx := errgroup.WithContext(ctx)
	if watcher != nil {
		g.Go(func() error { return watcher.Start(ctx) })
	}
	g.Go(func() error { return srv.Start(ctx) })
	return g.Wait()
}

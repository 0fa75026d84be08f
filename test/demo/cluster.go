package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/internal/config"
	"wisp.dev/wisp/internal/testutil"
	"wisp.dev/wisp/webhook"
)

// apiServer is a started kube-apiserver + etcd with wisp's webhook
// configurations installed (they point at the local serving address).
type apiServer struct {
	env    *envtest.Environment
	client kubernetes.Interface
	host   string
}

// startAPIServer starts kube-apiserver and etcd from assets. envtest
// installs wisp's webhook configurations, pointed at a local address and a
// CA of its own; the webhook server is started later by startWebhook.
func startAPIServer(assets string) (*apiServer, error) {
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		// Other tests may share the 2 cores: be patient.
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks:   []*admissionregistrationv1.MutatingWebhookConfiguration{testutil.MutatingConfig()},
			ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{testutil.ValidatingConfig()},
		},
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("start kube-apiserver and etcd (envtest): %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &apiServer{env: env, client: client, host: cfg.Host}, nil
}

func (a *apiServer) stop() error {
	if err := a.env.Stop(); err != nil {
		return fmt.Errorf("stop kube-apiserver and etcd: %w", err)
	}
	return nil
}

// policyFile writes examples/policy.yaml into dir with injection.vaultAddr
// set to vaultAddr (the platform team's policy of this one-machine cluster:
// its Vault is the local one). Every other field is the example's.
func policyFile(examplePolicy, dir, vaultAddr string) (string, error) {
	data, err := os.ReadFile(examplePolicy)
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("%s: %w", examplePolicy, err)
	}
	inj, _ := doc["injection"].(map[string]any)
	if inj == nil {
		inj = map[string]any{}
	}
	inj["vaultAddr"] = vaultAddr
	doc["injection"] = inj
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// webhookServer is wisp's admission server, in-process, as wisp-webhook
// runs it: the policy file watched and reloaded, namespace labels from an
// informer.
type webhookServer struct {
	policy     *config.Watcher
	namespaces *webhook.NamespaceCache
	addr       string
	stop       func() error
}

// startWebhook serves /mutate and /validate where envtest pointed wisp's
// webhook configurations, with envtest's serving certificate.
// Its JSON log lines go to logs.
func startWebhook(ctx context.Context, a *apiServer, policyPath string, logs io.Writer) (*webhookServer, error) {
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	w, err := config.NewWatcher(policyPath, config.WatcherOptions{Registerer: reg, Logger: logger})
	if err != nil {
		return nil, err
	}
	namespaces, factory := webhook.NewNamespaceCache(a.client)
	wo := &a.env.WebhookInstallOptions
	srv, err := webhook.New(webhook.Options{
		Host:       wo.LocalServingHost,
		Port:       wo.LocalServingPort,
		CertDir:    wo.LocalServingCertDir,
		Snapshots:  w,
		Namespaces: namespaces,
		Logger:     logger,
		Registry:   reg,
	})
	if err != nil {
		return nil, err
	}
	srvCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	factory.Start(srvCtx.Done())
	go func() { _ = w.Start(srvCtx) }()
	done := make(chan error, 1)
	go func() { done <- srv.Start(srvCtx) }()
	stop := func() error {
		cancel()
		err := <-done
		factory.Shutdown()
		return err
	}
	addr := net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort))
	if err := waitTLS(ctx, addr, 30*time.Second); err != nil {
		_ = stop()
		return nil, err
	}
	return &webhookServer{policy: w, namespaces: namespaces, addr: addr, stop: stop}, nil
}

func waitTLS(ctx context.Context, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a readiness probe only
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		if ctx.Err() != nil {
			return errInterrupted
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wisp's webhook at %s not serving after %s: %w", addr, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitNamespace waits until wisp's namespace cache knows ns, so that the
// policy sees its labels (a per-namespace mode, say).
func (s *webhookServer) waitNamespace(ctx context.Context, ns string) error {
	deadline := time.Now().Add(15 * time.Second)
	for s.namespaces.Labels(ns) == nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s never reached wisp's namespace cache", ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// denialLines returns the lines of an admission denial's message.
func denialLines(err error) []string {
	msg := err.Error()
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimRight(l, " "); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

package e2e

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/test/testutil"
	"wisp.dev/wisp/webhook"
)

var update = flag.Bool("update", false, "rewrite the golden files from the API server's answers")

// cluster is the package's shared API server with wisp's webhooks registered.
type cluster struct {
	env        *envtest.Environment
	client     kubernetes.Interface
	restConfig *rest.Config
	registry   *prometheus.Registry
	logs       *testutil.SyncBuffer
	policyPath string
	policy     *config.Watcher
	namespaces *webhook.NamespaceCache
}

// testPolicy is the platform policy of the e2e cluster: enforce by default,
// a namespace label picks warn or audit, legacy-* namespaces are exempt, and
// pods may name the payments role or their namespace's own roles.
const testPolicy = `apiVersion: wisp.dev/v1alpha1
kind: Policy
mode: enforce
namespaces:
  modeLabel: wisp.dev/policy-mode
  exempt: ["legacy-*"]
roles:
- namespaces: ["*"]
  roles: ["payments", "{namespace}-*"]
`

var shared *cluster

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if err := testutil.EnsureKubeAssets(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, stop, err := startCluster(ctx)
	if err != nil {
		cancel()
		fmt.Fprintln(os.Stderr, "e2e: start cluster:", err)
		return 1
	}
	shared = c
	code := m.Run()
	cancel()
	stop()
	return code
}

func startCluster(ctx context.Context) (*cluster, func(), error) {
	env := &envtest.Environment{
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks:   []*admissionregistrationv1.MutatingWebhookConfiguration{testutil.MutatingConfig()},
			ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{testutil.ValidatingConfig()},
		},
	}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("envtest: %w", err)
	}
	fmt.Fprintf(os.Stderr, "e2e: kube-apiserver and etcd up in %s\n", time.Since(start).Round(time.Millisecond))

	c := &cluster{env: env, restConfig: cfg, registry: prometheus.NewRegistry(), logs: &testutil.SyncBuffer{}}
	c.client, err = kubernetes.NewForConfig(cfg)
	if err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "wisp-e2e-policy-")
	if err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	c.policyPath = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(c.policyPath, []byte(testPolicy), 0o644); err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	c.policy, err = config.NewWatcher(c.policyPath, config.WatcherOptions{PollInterval: 200 * time.Millisecond, Registerer: c.registry})
	if err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	var factory informers.SharedInformerFactory
	c.namespaces, factory = webhook.NewNamespaceCache(c.client)
	wo := &env.WebhookInstallOptions
	srv, err := webhook.New(webhook.Options{
		Host:       wo.LocalServingHost,
		Port:       wo.LocalServingPort,
		CertDir:    wo.LocalServingCertDir,
		Snapshots:  c.policy,
		Namespaces: c.namespaces,
		Logger:     slog.New(slog.NewJSONHandler(c.logs, nil)),
		Registry:   c.registry,
	})
	if err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	factory.Start(srvCtx.Done())
	go func() { _ = c.policy.Start(srvCtx) }()
	done := make(chan error, 1)
	go func() { done <- srv.Start(srvCtx) }()
	if err := testutil.WaitTLS(net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort)), 10*time.Second); err != nil {
		stopSrv()
		_ = env.Stop()
		return nil, nil, err
	}
	stop := func() {
		// The webhook stops before the API server, as envtest asks.
		stopSrv()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "e2e: webhook:", err)
		}
		factory.Shutdown()
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stop envtest:", err)
		}
		_ = os.RemoveAll(dir)
	}
	return c, stop, nil
}

// namespace creates a fresh team namespace for one test.
func namespace(t *testing.T, c *cluster) string {
	t.Helper()
	return namespaceWith(t, c, "team-", nil)
}

// namespaceWith creates a namespace and waits until wisp's namespace cache
// has it with these labels.
func namespaceWith(t *testing.T, c *cluster, prefix string, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix, Labels: labels}}
	got, err := c.client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	waitNamespaceLabels(t, c, got.Name, labels)
	return got.Name
}

func waitNamespaceLabels(t *testing.T, c *cluster, name string, labels map[string]string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		have := c.namespaces.Labels(name)
		ok := have != nil
		for k, v := range labels {
			ok = ok && have[k] == v
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s with labels %v never reached wisp's cache (have %v)", name, labels, have)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

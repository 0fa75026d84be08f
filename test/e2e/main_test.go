package e2e

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"wisp.dev/wisp/webhook"
)

var update = flag.Bool("update", false, "rewrite the golden files from the API server's answers")

// cluster is the package's shared API server with wisp's webhook registered.
type cluster struct {
	env      *envtest.Environment
	client   kubernetes.Interface
	registry *prometheus.Registry
	logs     *syncBuffer
}

var shared *cluster

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if err := ensureAssets(); err != nil {
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

// ensureAssets points KUBEBUILDER_ASSETS at kube-apiserver and etcd, building
// them (cached) when the variable is unset.
func ensureAssets() error {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
			return fmt.Errorf("KUBEBUILDER_ASSETS=%s: %w", dir, err)
		}
		return nil
	}
	cmd := exec.Command(filepath.Join("..", "scripts", "ensure-k8s.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("build kube-apiserver and etcd (test/scripts/ensure-k8s.sh): %w", err)
	}
	return os.Setenv("KUBEBUILDER_ASSETS", strings.TrimSpace(string(out)))
}

// mutatingConfig is wisp's MutatingWebhookConfiguration as the chart installs
// it; envtest points its service at the local server.
func mutatingConfig() *admissionregistrationv1.MutatingWebhookConfiguration {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	path := webhook.EndpointMutate
	timeout := int32(5)
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "wisp"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "mutate.wisp.dev",
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			ReinvocationPolicy:      &ifNeeded,
			TimeoutSeconds:          &timeout,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{Namespace: "wisp-system", Name: "wisp", Path: &path},
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
				},
			}},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn,
				Values: []string{"kube-system", "wisp-system"},
			}}},
		}},
	}
}

func startCluster(ctx context.Context) (*cluster, func(), error) {
	env := &envtest.Environment{
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{mutatingConfig()},
		},
	}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("envtest: %w", err)
	}
	fmt.Fprintf(os.Stderr, "e2e: kube-apiserver and etcd up in %s\n", time.Since(start).Round(time.Millisecond))

	c := &cluster{env: env, registry: prometheus.NewRegistry(), logs: &syncBuffer{}}
	c.client, err = kubernetes.NewForConfig(cfg)
	if err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	wo := &env.WebhookInstallOptions
	srv, err := webhook.New(webhook.Options{
		Host:     wo.LocalServingHost,
		Port:     wo.LocalServingPort,
		CertDir:  wo.LocalServingCertDir,
		Logger:   slog.New(slog.NewJSONHandler(c.logs, nil)),
		Registry: c.registry,
	})
	if err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Start(srvCtx) }()
	if err := waitTLS(net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort)), 10*time.Second); err != nil {
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
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stop envtest:", err)
		}
	}
	return c, stop, nil
}

func waitTLS(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhook at %s not serving after %s: %w", addr, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T, c *cluster) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "team-"}}
	got, err := c.client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return got.Name
}

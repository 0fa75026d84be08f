package certs_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"wisp.dev/wisp/certs"
	"wisp.dev/wisp/test/testutil"
)

// restConfig reaches the package's shared API server.
var restConfig *rest.Config

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if err := testutil.EnsureKubeAssets(); err != nil {
		fmt.Fprintln(os.Stderr, "test/certs:", err)
		return 1
	}
	env := &envtest.Environment{}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/certs: start envtest:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "test/certs: kube-apiserver and etcd up in %s\n", time.Since(start).Round(time.Millisecond))
	restConfig = cfg
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "test/certs: stop envtest:", err)
	}
	return code
}

// newClient is a client of its own (its own rate limiter), as each replica
// has.
func newClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.QPS, cfg.Burst = 100, 200
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	ns, err := c.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "certs-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = c.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// webhookSpec is one webhook entry: where it is served, which namespaces it
// intercepts (nil: none) and whether a failure to call it fails the request.
type webhookSpec struct {
	name      string
	url       string
	namespace string // intercepts pods in this namespace only; "" intercepts none
}

func (w webhookSpec) selector() *metav1.LabelSelector {
	if w.namespace == "" {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"wisp.dev/never": "true"}}
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": w.namespace}}
}

// createConfigs creates a MutatingWebhookConfiguration and a
// ValidatingWebhookConfiguration named name, with the given webhooks (on pod
// CREATE, failurePolicy Fail, empty caBundle), deleted after the test.
func createConfigs(t *testing.T, c kubernetes.Interface, name string, mutating, validating []webhookSpec) {
	t.Helper()
	ctx := context.Background()
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(15)
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
	mc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, w := range mutating {
		mc.Webhooks = append(mc.Webhooks, admissionregistrationv1.MutatingWebhook{
			Name: w.name, AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			TimeoutSeconds: &timeout, ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &w.url},
			Rules: rules, NamespaceSelector: w.selector(),
		})
	}
	vc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, w := range validating {
		vc.Webhooks = append(vc.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name: w.name, AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			TimeoutSeconds: &timeout, ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &w.url},
			Rules: rules, NamespaceSelector: w.selector(),
		})
	}
	if _, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create mutating configuration: %v", err)
	}
	if _, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create validating configuration: %v", err)
	}
	t.Cleanup(func() {
		// Before the servers stop (cleanups run last-in first-out), so that
		// no later test's pods reach a dead webhook.
		_ = c.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, name, metav1.DeleteOptions{})
		_ = c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, name, metav1.DeleteOptions{})
	})
}

// caBundles returns the caBundle of every webhook of both configurations
// named name, keyed "<kind>/<webhook>".
func caBundles(t *testing.T, c kubernetes.Interface, name string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	mc, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range mc.Webhooks {
		out["mutating/"+w.Name] = w.ClientConfig.CABundle
	}
	vc, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range vc.Webhooks {
		out["validating/"+w.Name] = w.ClientConfig.CABundle
	}
	return out
}

// replica is one running Auto with its own HTTPS server.
type replica struct {
	auto *certs.Auto
	srv  *server
	logs *testutil.SyncBuffer
}

// startReplica starts an Auto (stopped after the test) and serves it.
func startReplica(t *testing.T, opts certs.AutoOptions, handler http.Handler) *replica {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	opts.Logger = slogTo(logs)
	a, err := certs.NewAuto(newClient(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Start(ctx) }()
	r := &replica{auto: a, logs: logs}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Auto.Start: %v", err)
		}
		if t.Failed() {
			t.Logf("replica logs:\n%s", logs.String())
		}
	})
	r.srv = serve(t, a.GetCertificate, handler)
	return r
}

// server is a small HTTPS server over a Source's GetCertificate: what
// wisp's webhook server does, without the webhook package. Keep-alives are
// off, so every request is a new TLS handshake with the certificate served
// at that moment.
type server struct {
	addr       string
	handshakes sync.Map // fingerprint -> *atomic.Int64
	errLog     *testutil.SyncBuffer

	mu      sync.Mutex
	issuers map[string]*span // AuthorityKeyId of the served leaves -> first and last handshake
}

// span is when something was first and last seen.
type span struct{ first, last time.Time }

func serve(t *testing.T, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), handler http.Handler) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String(), errLog: &testutil.SyncBuffer{}, issuers: map[string]*span{}}
	cfg := certs.TLSConfig(func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := getCert(hello)
		if err == nil {
			fp := certs.Fingerprint(c.Certificate[0])
			n, _ := s.handshakes.LoadOrStore(fp, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			if c.Leaf != nil {
				now := time.Now()
				s.mu.Lock()
				sp := s.issuers[string(c.Leaf.AuthorityKeyId)]
				if sp == nil {
					sp = &span{first: now}
					s.issuers[string(c.Leaf.AuthorityKeyId)] = sp
				}
				sp.last = now
				s.mu.Unlock()
			}
		}
		return c, err
	})
	if handler == nil {
		handler = http.NotFoundHandler()
	}
	hs := &http.Server{Handler: handler, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(s.errLog, "", 0)}
	hs.SetKeepAlivesEnabled(false)
	go func() { _ = hs.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = hs.Close() })
	return s
}

func (s *server) url(path string) string { return "https://" + s.addr + path }

func (s *server) leaves() int {
	n := 0
	s.handshakes.Range(func(any, any) bool { n++; return true })
	return n
}

func (s *server) issuerCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.issuers)
}

// issuerSpans copies when leaves of each CA (by key ID) were served.
func (s *server) issuerSpans() map[string]span {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]span{}
	for k, v := range s.issuers {
		out[k] = *v
	}
	return out
}

// peerCert dials addr and returns the certificate it serves, unverified.
func peerCert(addr string) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // inspects the served certificate only
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// verifiedDial dials addr trusting only the PEM bundle, for serverName.
func verifiedDial(addr, serverName string, bundle []byte) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		return fmt.Errorf("bundle holds no certificate")
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12})
	if err != nil {
		return err
	}
	return conn.Close()
}

// admit is a trivial allowing admission handler that counts its calls.
type admit struct{ calls atomic.Int64 }

func (a *admit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	a.calls.Add(1)
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}

// createPod creates a minimal pod through the API server (and so through
// every webhook intercepting the namespace).
func createPod(ctx context.Context, c kubernetes.Interface, ns string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "p-"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}},
	}
	_, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	return err
}

// eventually polls cond until it returns nil or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

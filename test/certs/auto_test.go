package certs_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"wisp.dev/wisp/certs"
)

// baseOptions are auto-mode options for a test namespace whose webhook
// configurations are named cfgName.
func baseOptions(ns, cfgName string) certs.AutoOptions {
	return certs.AutoOptions{
		Namespace:             ns,
		SecretName:            "wisp-tls",
		ServiceName:           "wisp",
		Hosts:                 []string{"127.0.0.1", "localhost"},
		MutatingWebhookName:   cfgName,
		ValidatingWebhookName: cfgName,
	}
}

func servedFingerprint(s certs.Source) (string, error) {
	c, err := s.GetCertificate(nil)
	if err != nil {
		return "", err
	}
	return certs.Fingerprint(c.Certificate[0]), nil
}

// Three replicas start at once on an empty namespace: one Secret results,
// all serve the same chain, and every webhook of both configurations trusts
// its CA.
func TestReplicasConvergeOnOneChain(t *testing.T) {
	start := time.Now()
	ctx := context.Background()
	c := newClient(t)
	ns := namespace(t, c)
	cfgName := "wisp-" + ns
	unused := webhookSpec{url: "https://127.0.0.1:9/unused"} // intercepts nothing
	m1, m2, v1, v2 := unused, unused, unused, unused
	m1.name, m2.name, v1.name, v2.name = "m1.wisp.dev", "m2.wisp.dev", "v1.wisp.dev", "v2.wisp.dev"
	createConfigs(t, c, cfgName, []webhookSpec{m1, m2}, []webhookSpec{v1, v2})

	reg := prometheus.NewRegistry()
	var replicas []*replica
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range 3 {
		wg.Go(func() {
			opts := baseOptions(ns, cfgName)
			if i == 0 {
				opts.Registerer = reg
			}
			r := startReplica(t, opts, nil)
			mu.Lock()
			replicas = append(replicas, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	for i, r := range replicas {
		eventually(t, 60*time.Second, fmt.Sprintf("replica %d ready", i), r.auto.Ready)
	}
	t.Logf("3 replicas ready in %s", time.Since(start).Round(time.Millisecond))

	secrets, err := c.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) != 1 {
		t.Fatalf("%d Secrets in the namespace, want exactly 1", len(secrets.Items))
	}
	sec := secrets.Items[0]
	if sec.Name != "wisp-tls" || sec.Type != "kubernetes.io/tls" {
		t.Errorf("secret %s of type %s", sec.Name, sec.Type)
	}

	// Every replica serves the Secret's leaf: through GetCertificate and on
	// the wire. A replica may still be swapping in the winner's chain for a
	// moment, so poll.
	block, _ := pem.Decode(sec.Data["tls.crt"])
	if block == nil {
		t.Fatal("secret tls.crt is not PEM")
	}
	want := certs.Fingerprint(block.Bytes)
	eventually(t, 30*time.Second, "every replica serves the Secret's certificate", func() error {
		for i, r := range replicas {
			got, err := servedFingerprint(r.auto)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("replica %d: GetCertificate serves %s, the Secret holds %s", i, got[:12], want[:12])
			}
			peer, err := peerCert(r.srv.addr)
			if err != nil {
				return fmt.Errorf("replica %d: dial: %w", i, err)
			}
			if got := certs.Fingerprint(peer.Raw); got != want {
				return fmt.Errorf("replica %d: TLS serves %s, the Secret holds %s", i, got[:12], want[:12])
			}
		}
		return nil
	})

	// Every webhook entry trusts the CA; a verified dial with exactly that
	// bundle succeeds for the Service's name and for 127.0.0.1.
	bundles := caBundles(t, c, cfgName)
	if len(bundles) != 4 {
		t.Fatalf("%d webhooks, want 4", len(bundles))
	}
	for name, b := range bundles {
		if !strings.Contains(string(b), strings.TrimSpace(string(sec.Data["ca.crt"]))) {
			t.Errorf("%s: caBundle lacks the Secret's CA", name)
		}
		for i, r := range replicas {
			for _, host := range []string{"wisp." + ns + ".svc", "127.0.0.1"} {
				if err := verifiedDial(r.srv.addr, host, b); err != nil {
					t.Errorf("%s: replica %d does not verify as %s: %v", name, i, host, err)
				}
			}
		}
	}
	mc, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, cfgName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mc.Annotations[certs.AnnotationCABundleSource], string(sec.UID)+"/"+sec.Annotations[certs.AnnotationRevision]; got != want {
		t.Errorf("bundle source annotation %q, want %q", got, want)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, certs.MetricExpiry); err != nil || n != 2 {
		t.Errorf("%s: %d series, %v; want serving and ca", certs.MetricExpiry, n, err)
	}
	exp := fmt.Sprintf("\n# HELP %s NotAfter of the served certificate (cert=serving) and of its CA (cert=ca), in Unix seconds.\n# TYPE %s gauge\n%s{cert=\"serving\"} %g\n",
		certs.MetricExpiry, certs.MetricExpiry, certs.MetricExpiry, float64(cert.NotAfter.Unix()))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exp+fmt.Sprintf("%s{cert=\"ca\"} %g\n", certs.MetricExpiry, caNotAfter(t, sec.Data["ca.crt"]))), certs.MetricExpiry); err != nil {
		t.Error(err)
	}
}

func caNotAfter(t *testing.T, pemData []byte) float64 {
	t.Helper()
	block, _ := pem.Decode(pemData)
	if block == nil {
		t.Fatal("CA not PEM")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return float64(ca.NotAfter.Unix())
}

// The API server calls a webhook served from the Secret's chain, with
// failurePolicy Fail: pod creation succeeds only if TLS verifies.
func TestAPIServerTrustsTheServedChain(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	ns := namespace(t, c)
	cfgName := "wisp-" + ns
	h := &admit{}
	// The configuration must point at the server, whose port is known once
	// it listens: start the replica first, then create the configuration;
	// the replica's informer sees it appear and writes caBundle.
	r := startReplica(t, baseOptions(ns, cfgName), h)
	createConfigs(t, c, cfgName,
		[]webhookSpec{{name: "m.wisp.dev", url: r.srv.url("/mutate"), namespace: ns}},
		[]webhookSpec{{name: "v.wisp.dev", url: r.srv.url("/validate"), namespace: ns}})
	eventually(t, 60*time.Second, "replica ready", r.auto.Ready)
	eventually(t, 30*time.Second, "caBundle written", func() error {
		for name, b := range caBundles(t, c, cfgName) {
			if len(b) == 0 {
				return fmt.Errorf("%s: empty caBundle", name)
			}
		}
		return nil
	})
	// The API server's webhook client may lag the configuration for a
	// moment: wait for the first pod, then every further one must pass.
	eventually(t, 30*time.Second, "first pod admitted", func() error { return createPod(ctx, c, ns) })
	for i := range 10 {
		if err := createPod(ctx, c, ns); err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
	}
	if got := h.calls.Load(); got < 22 {
		t.Errorf("webhook called %d times for 11 pods and 2 webhooks, want at least 22", got)
	}
}

// Short lifetimes: the serving certificate renews several times and the CA
// rotates while two loops create pods through the API server, whose two
// mutating webhooks and one validating webhook go to two replicas over new
// TLS connections each time. No pod creation fails.
func TestRotationUnderLoadFailsNoRequest(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	ns := namespace(t, c)
	cfgName := "wisp-" + ns
	opts := baseOptions(ns, cfgName)
	opts.CertValidity = 6 * time.Second
	opts.CAValidity = 18 * time.Second
	opts.CAOverlap = 7 * time.Second
	opts.PropagationDelay = 2 * time.Second
	h := &admit{}
	r1 := startReplica(t, opts, h)
	r2 := startReplica(t, opts, h)
	createConfigs(t, c, cfgName,
		[]webhookSpec{
			{name: "r1.m.wisp.dev", url: r1.srv.url("/mutate"), namespace: ns},
			{name: "r2.m.wisp.dev", url: r2.srv.url("/mutate"), namespace: ns},
		},
		[]webhookSpec{{name: "r2.v.wisp.dev", url: r2.srv.url("/validate"), namespace: ns}})
	for _, r := range []*replica{r1, r2} {
		eventually(t, 60*time.Second, "replica ready", r.auto.Ready)
	}
	eventually(t, 30*time.Second, "first pod admitted", func() error { return createPod(ctx, c, ns) })
	firstCA := r1.auto.Status().CAFingerprint
	obs := observeBundles(t, c, cfgName)

	var created, failed atomic.Int64
	var failMu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := createPod(ctx, c, ns); err != nil {
					failed.Add(1)
					failMu.Lock()
					failures = append(failures, time.Now().Format("15:04:05.000")+" "+err.Error())
					failMu.Unlock()
					continue
				}
				created.Add(1)
			}
		})
	}
	// Run until both replicas served at least four leaves from two CAs and
	// the first CA expired (and so left the bundle), then a little more.
	begin := time.Now()
	deadline := begin.Add(120 * time.Second)
	done := func() bool {
		if time.Now().Before(begin.Add(opts.CAValidity + 2*time.Second)) {
			return false
		}
		for _, r := range []*replica{r1, r2} {
			if r.srv.leaves() < 4 || r.srv.issuerCount() < 2 {
				return false
			}
		}
		return true
	}
	for !done() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(begin).Round(time.Millisecond)

	t.Logf("%s: %d pods created, %d failed; replica 1 served %d leaves from %d CAs, replica 2 %d from %d; %d webhook calls",
		elapsed, created.Load(), failed.Load(), r1.srv.leaves(), r1.srv.issuerCount(), r2.srv.leaves(), r2.srv.issuerCount(), h.calls.Load())
	if n := failed.Load(); n > 0 {
		failMu.Lock()
		t.Errorf("%d pod creations failed during rotation; first: %s", n, strings.Join(failures[:min(5, len(failures))], "\n"))
		failMu.Unlock()
	}
	if !done() {
		t.Errorf("rotation did not happen within %s", deadline.Sub(begin))
	}
	if created.Load() < 50 {
		t.Errorf("only %d pods created: too little load to prove anything", created.Load())
	}
	for i, r := range []*replica{r1, r2} {
		if bad := strings.Count(r.srv.errLog.String(), "TLS handshake error"); bad > 0 {
			t.Errorf("replica %d: %d TLS handshake errors:\n%s", i+1, bad, r.srv.errLog.String())
		}
	}
	if got := r1.auto.Status().CAFingerprint; got == firstCA {
		t.Error("the CA did not change")
	}
	// Ordering, as seen from outside: a CA is served only PropagationDelay
	// after every webhook trusts it, and never after one stops trusting it.
	// The observer polls, so it sees each change a little late: the first
	// check allows half the delay for that, the second cannot misfire.
	obs.stop()
	for i, r := range []*replica{r1, r2} {
		for ca, sp := range r.srv.issuerSpans() {
			if sp.first.Before(obs.started) {
				continue // the CA of before the observer started
			}
			trusted, ok := obs.trustedByAll[ca]
			if !ok {
				t.Errorf("replica %d served a leaf of a CA that no observed caBundle held on every webhook", i+1)
				continue
			}
			if gap := sp.first.Sub(trusted); gap < opts.PropagationDelay/2 {
				t.Errorf("replica %d served a new CA's leaf %s after every webhook trusted the CA, want at least ~%s", i+1, gap.Round(time.Millisecond), opts.PropagationDelay)
			} else {
				t.Logf("replica %d: new CA first served %s after it was in every caBundle", i+1, gap.Round(time.Millisecond))
			}
		}
		for ca, sp := range r.srv.issuerSpans() {
			if dropped, ok := obs.droppedByOne[ca]; ok && sp.last.After(dropped) {
				t.Errorf("replica %d served a leaf of a CA %s after a webhook dropped the CA", i+1, sp.last.Sub(dropped).Round(time.Millisecond))
			}
		}
	}
	// The first CA has expired: it left every caBundle.
	eventually(t, 30*time.Second, "bundle holds only unexpired CAs", func() error {
		for name, b := range caBundles(t, c, cfgName) {
			rest := b
			for {
				var block *pem.Block
				block, rest = pem.Decode(rest)
				if block == nil {
					break
				}
				ca, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					return err
				}
				if time.Now().After(ca.NotAfter) {
					return fmt.Errorf("%s: caBundle keeps a CA expired at %s", name, ca.NotAfter)
				}
			}
		}
		return nil
	})
}

// A Secret whose certificate turns to garbage: the running replica reports
// it and keeps serving; a new replica reports it and is not ready. Deleting
// the Secret recovers both onto one new chain.
func TestCorruptSecretKeepsTheServedCertificate(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	ns := namespace(t, c)
	cfgName := "wisp-" + ns
	createConfigs(t, c, cfgName, []webhookSpec{{name: "m.wisp.dev", url: "https://127.0.0.1:9/unused"}}, nil)
	a := startReplica(t, baseOptions(ns, cfgName), nil)
	eventually(t, 60*time.Second, "replica ready", a.auto.Ready)
	before, err := servedFingerprint(a.auto)
	if err != nil {
		t.Fatal(err)
	}

	sec, err := c.CoreV1().Secrets(ns).Get(ctx, "wisp-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data["tls.crt"] = []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
	if _, err := c.CoreV1().Secrets(ns).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "corruption reported", func() error {
		if err := a.auto.Status().Err; !errors.Is(err, certs.ErrCorruptSecret) {
			return fmt.Errorf("Status().Err = %v", err)
		}
		return nil
	})
	if err := a.auto.Status().Err; !strings.Contains(err.Error(), "tls.crt") || !strings.Contains(err.Error(), ns+"/wisp-tls") {
		t.Errorf("error does not name the key and the Secret: %v", err)
	}
	if got, err := servedFingerprint(a.auto); err != nil || got != before {
		t.Errorf("served certificate changed or vanished: %v", err)
	}
	if peer, err := peerCert(a.srv.addr); err != nil || certs.Fingerprint(peer.Raw) != before {
		t.Errorf("TLS no longer serves the previous certificate: %v", err)
	}
	if err := a.auto.Ready(); err != nil {
		t.Errorf("Ready = %v while the previous certificate is valid", err)
	}
	if !strings.Contains(a.logs.String(), "level=ERROR") {
		t.Error("corruption not logged at error level")
	}

	b := startReplica(t, baseOptions(ns, cfgName), nil)
	eventually(t, 30*time.Second, "new replica reports the corruption", func() error {
		err := b.auto.Ready()
		if err == nil {
			return errors.New("ready on a corrupt Secret")
		}
		if !errors.Is(err, certs.ErrNotReady) || !errors.Is(err, certs.ErrCorruptSecret) {
			return fmt.Errorf("Ready = %v", err)
		}
		return nil
	})
	if _, err := b.auto.GetCertificate(nil); err == nil {
		t.Error("new replica serves something from a corrupt Secret")
	}
	// wisp never overwrote the Secret.
	got, err := c.CoreV1().Secrets(ns).Get(ctx, "wisp-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got.Data["tls.crt"]), "garbage") {
		t.Error("the corrupt Secret was overwritten")
	}

	// The operator deletes it: both replicas converge on a new chain.
	if err := c.CoreV1().Secrets(ns).Delete(ctx, "wisp-tls", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "both replicas serve one new chain", func() error {
		fa, errA := servedFingerprint(a.auto)
		fb, errB := servedFingerprint(b.auto)
		if err := errors.Join(errA, errB, a.auto.Ready(), b.auto.Ready()); err != nil {
			return err
		}
		if fa == before || fa != fb {
			return fmt.Errorf("replicas serve %s and %s", fa[:12], fb[:12])
		}
		return nil
	})
}

// An installer may create the Secret empty (so that wisp needs no create
// permission): wisp fills it in place.
func TestPreCreatedEmptySecretIsFilled(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	ns := namespace(t, c)
	cfgName := "wisp-" + ns
	createConfigs(t, c, cfgName, []webhookSpec{{name: "m.wisp.dev", url: "https://127.0.0.1:9/unused"}}, nil)
	pre, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wisp-tls"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := startReplica(t, baseOptions(ns, cfgName), nil)
	eventually(t, 60*time.Second, "replica ready", a.auto.Ready)
	got, err := c.CoreV1().Secrets(ns).Get(ctx, "wisp-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != pre.UID || len(got.Data["tls.crt"]) == 0 {
		t.Errorf("secret replaced (uid %s -> %s) or not filled", pre.UID, got.UID)
	}
}

// bundleObserver polls the webhook configurations and records, per CA (by
// subject key ID), when it was first seen in the caBundle of every webhook
// and when, after that, it was first missing from one.
type bundleObserver struct {
	started      time.Time
	trustedByAll map[string]time.Time
	droppedByOne map[string]time.Time
	stop         func()
}

func observeBundles(t *testing.T, c kubernetes.Interface, cfgName string) *bundleObserver {
	t.Helper()
	o := &bundleObserver{started: time.Now(), trustedByAll: map[string]time.Time{}, droppedByOne: map[string]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var pollErr error
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			now := time.Now()
			bundles, err := readBundles(ctx, c, cfgName)
			if err != nil {
				if ctx.Err() == nil {
					pollErr = err
				}
				return
			}
			count := map[string]int{}
			for _, b := range bundles {
				ids, err := keyIDs(b)
				if err != nil {
					pollErr = err
					return
				}
				for id := range ids {
					count[id]++
				}
			}
			for id, n := range count {
				if _, seen := o.trustedByAll[id]; !seen && n == len(bundles) {
					o.trustedByAll[id] = now
				}
			}
			for id := range o.trustedByAll {
				if _, gone := o.droppedByOne[id]; !gone && count[id] < len(bundles) {
					o.droppedByOne[id] = now
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	o.stop = func() {
		cancel()
		<-done
		if pollErr != nil {
			t.Errorf("observe caBundles: %v", pollErr)
		}
	}
	t.Cleanup(func() { cancel(); <-done })
	return o
}

// readBundles is caBundles for a goroutine: it returns its error.
func readBundles(ctx context.Context, c kubernetes.Interface, name string) ([][]byte, error) {
	var out [][]byte
	mc, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for _, w := range mc.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	vc, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for _, w := range vc.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	return out, nil
}

// keyIDs are the subject key IDs of the certificates in a PEM bundle.
func keyIDs(bundle []byte) (map[string]bool, error) {
	out := map[string]bool{}
	for rest := bundle; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out, nil
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out[string(c.SubjectKeyId)] = true
	}
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"wisp.dev/wisp/test/testutil"
)

const podReview = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",
"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
"namespace":"team-a","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web",
"annotations":{"wisp.dev/inject":"true","wisp.dev/role":"web","wisp.dev/secret-db":"database/creds/web"}},
"spec":{"containers":[{"name":"app","image":"nginx"}]}}}}`

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs wisp-webhook with --dev-certs on a free port and returns a
// client that trusts its CA, the base URL, the log and a stop function that
// returns run's error.
func start(t *testing.T, extra ...string) (*http.Client, string, *testutil.SyncBuffer, func() error) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	logs := &testutil.SyncBuffer{}
	cmd := newCommand(logs)
	cmd.SetArgs(append([]string{"--dev-certs", "--cert-dir", dir, "--host", "127.0.0.1", "--port", fmt.Sprint(port)}, extra...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	var client *http.Client
	deadline := time.Now().Add(10 * time.Second)
	for client == nil {
		ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
		// The file may be caught half written: use it once it parses.
		if pool := x509.NewCertPool(); err == nil && pool.AppendCertsFromPEM(ca) {
			client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		} else if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no CA written: %v; logs:\n%s", err, logs.String())
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("wisp-webhook exited at start-up: %v; logs:\n%s", err, logs.String())
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not ready in time: %v; logs:\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return fmt.Errorf("wisp-webhook did not stop within 15 s")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return client, base, logs, stop
}

func TestServesEveryEndpointOverTLS(t *testing.T) {
	client, base, logs, stop := start(t)

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
	}

	resp, err := client.Post(base+"/mutate", "application/json", strings.NewReader(podReview))
	if err != nil {
		t.Fatal(err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ar.Response == nil || !ar.Response.Allowed || len(ar.Response.Patch) == 0 || ar.Response.UID != "u-1" {
		t.Fatalf("want an allowed patch for uid u-1, got %+v", ar.Response)
	}

	resp, err = client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Counters are process-wide (other tests of this binary add to them):
	// each must be present and positive.
	for _, want := range []string{
		`wisp_admission_requests_total\{endpoint="/mutate",result="injected"\} [1-9]`,
		`wisp_injections_total [1-9]`,
		`wisp_admission_duration_seconds_bucket`,
		`process_resident_memory_bytes`,
	} {
		if !regexp.MustCompile(want).Match(metrics) {
			t.Errorf("/metrics has no %s", want)
		}
	}

	// TLS 1.1 is refused.
	old := &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true} //nolint:gosec // checking the refusal
	if conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), old); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}

	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"admission webhook stopped"`) {
		t.Errorf("no clean stop in the logs:\n%s", logs.String())
	}
}

// A request in flight when SIGTERM arrives completes; new connections are
// refused afterwards.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	client, base, _, stop := start(t)
	pr, pw := io.Pipe()
	type result struct {
		ar  admissionv1.AdmissionReview
		err error
	}
	got := make(chan result, 1)
	go func() {
		var r result
		resp, err := client.Post(base+"/mutate", "application/json", pr)
		if err != nil {
			r.err = err
		} else {
			r.err = json.NewDecoder(resp.Body).Decode(&r.ar)
			resp.Body.Close()
		}
		got <- r
	}()
	half := len(podReview) / 2
	if _, err := pw.Write([]byte(podReview[:half])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the request is now in the handler, reading

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(300 * time.Millisecond) // shutdown has begun
	if _, err := pw.Write([]byte(podReview[half:])); err != nil {
		t.Fatal(err)
	}
	pw.Close()

	r := <-got
	if r.err != nil {
		t.Fatalf("in-flight request failed during shutdown: %v", r.err)
	}
	if r.ar.Response == nil || !r.ar.Response.Allowed || len(r.ar.Response.Patch) == 0 {
		t.Fatalf("in-flight request got %+v, want the injection", r.ar.Response)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
	fresh := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // only checking the refusal
	if _, err := fresh.Get(base + "/healthz"); err == nil {
		t.Error("a new request was served after shutdown")
	}
}

func TestRefusesToStartWithoutCertificates(t *testing.T) {
	cmd := newCommand(io.Discard)
	cmd.SetArgs([]string{"--port", "0"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--cert-dir") {
		t.Fatalf("err = %v, want advice to set --cert-dir or --dev-certs", err)
	}
}

func TestRefusesABadPolicyFileAtStartUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection:\n  imagePullPolicy: Sometimes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := newCommand(io.Discard)
	cmd.SetArgs([]string{"--dev-certs", "--policy", path})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "imagePullPolicy") || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want the file and the bad field named", err)
	}
}

// A policy file that turns bad at run time keeps the last good policy
// serving: the webhook stays ready and /readyz says what is wrong.
func TestBadPolicyAtRunTimeKeepsServing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	good := "apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection:\n  image: example.com/fetch:v1\n"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	client, base, logs, _ := start(t, "--policy", path)
	if err := os.WriteFile(path, []byte("apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection: {image: 3, bogus: x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	var body string
	for {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if strings.Contains(body, "[!]policy-reload degraded") {
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/readyz %d with a degraded policy, want 200 (still serving)", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never reported the bad policy:\n%s\nlogs:\n%s", body, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(body, "serving the last good policy") {
		t.Errorf("/readyz detail: %s", body)
	}
	resp, err := client.Post(base+"/mutate", "application/json", strings.NewReader(podReview))
	if err != nil {
		t.Fatal(err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ar.Response == nil || !strings.Contains(string(ar.Response.Patch), "example.com/fetch:v1") {
		t.Errorf("the last good policy's image is not injected: %+v", ar.Response)
	}
	resp, err = client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), "wisp_policy_reload_failing 1") {
		t.Error("/metrics does not show wisp_policy_reload_failing 1")
	}
}

func insecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // readiness polling only; trust is checked through the API server
}

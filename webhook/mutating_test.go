package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	jsonpatch "gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"wisp.dev/wisp/mutate"
)

func newTestHandler(t testing.TB, logs *bytes.Buffer) (http.Handler, *Metrics) {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var log *slog.Logger
	if logs != nil {
		log = slog.New(slog.NewJSONHandler(logs, nil))
	}
	h := NewMutatingHandler(defaults(), nil, log, m)
	return limit(newWebhook(h, nil).decodingPods(), DefaultMaxRequestBytes, time.Second), m
}

func post(h http.Handler, body []byte, contentType string) *admissionv1.AdmissionReview {
	req := httptest.NewRequest(http.MethodPost, EndpointMutate, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		return nil
	}
	return &out
}

func TestMutateAnswers(t *testing.T) {
	bad := realisticPod()
	bad.Annotations["wisp.dev/secret-../etc"] = "secret/data/x"
	delete(bad.Annotations, "wisp.dev/role")
	injected, _, err := mutate.Inject(realisticPod(), mutate.Config{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		body        []byte
		contentType string
		allowed     bool
		patch       bool
		code        int32    // Result.Code when not allowed
		says        []string // in the result message
	}{
		{name: "opted-in pod is patched", body: review(t, "Pod", admissionv1.Create, realisticPod()), allowed: true, patch: true},
		{name: "plain pod is allowed unchanged", body: review(t, "Pod", admissionv1.Create, plainPod()), allowed: true},
		{name: "injected pod is allowed unchanged", body: review(t, "Pod", admissionv1.Create, injected), allowed: true},
		{name: "pod update is not touched", body: review(t, "Pod", admissionv1.Update, realisticPod()), allowed: true},
		{name: "other kinds are not touched", body: review(t, "ConfigMap", admissionv1.Create, map[string]any{"kind": "ConfigMap"}), allowed: true},
		{name: "malformed annotations are denied", body: review(t, "Pod", admissionv1.Create, bad), code: 403,
			says: []string{"wisp.dev/role: is missing", `wisp.dev/secret-../etc: secret name "../etc" is not a DNS label`}},
		{name: "a pod that is not JSON is a bad request", body: review(t, "Pod", admissionv1.Create, json.RawMessage(`"just a string"`)), code: 400, says: []string{"decode pod"}},
		{name: "malformed review", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{`), code: 400},
		{name: "empty body", body: nil, code: 400},
		{name: "wrong content type", body: review(t, "Pod", admissionv1.Create, realisticPod()), contentType: "text/plain", code: 400, says: []string{"application/json"}},
		{name: "body over the limit", body: bytes.Repeat([]byte(" "), int(DefaultMaxRequestBytes)+1), code: 400, says: []string{"too large"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestHandler(t, nil)
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			out := post(h, tt.body, ct)
			if out == nil {
				t.Fatal("no AdmissionReview in the answer")
			}
			r := out.Response
			if r.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v (result %+v)", r.Allowed, tt.allowed, r.Result)
			}
			if got := len(r.Patch) > 0; got != tt.patch {
				t.Errorf("patch present = %v, want %v", got, tt.patch)
			}
			if !tt.allowed && (r.Result == nil || r.Result.Code != tt.code) {
				t.Errorf("result %+v, want code %d", r.Result, tt.code)
			}
			for _, s := range tt.says {
				if r.Result == nil || !strings.Contains(r.Result.Message, s) {
					t.Errorf("result %+v does not say %q", r.Result, s)
				}
			}
		})
	}
}

// The patch, applied to the pod the API server sent, gives the injected pod.
func TestPatchAppliesToTheOriginal(t *testing.T) {
	h, m := newTestHandler(t, nil)
	out := post(h, review(t, "Pod", admissionv1.Create, realisticPod()), "application/json")
	if out == nil || !out.Response.Allowed || out.Response.PatchType == nil || *out.Response.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("want an allowed JSONPatch answer, got %+v", out)
	}
	if out.Response.UID != "3f1c2a9e-1111-4d2b-9a1e-5f8f0e6c7b21" {
		t.Errorf("uid %q not echoed", out.Response.UID)
	}
	var ops []jsonpatch.Operation
	if err := json.Unmarshal(out.Response.Patch, &ops); err != nil {
		t.Fatalf("patch is not a JSONPatch: %v", err)
	}
	paths := map[string]bool{}
	for _, op := range ops {
		paths[op.Path] = true
	}
	for _, want := range []string{"/spec/initContainers", "/spec/volumes", "/metadata/annotations/wisp.dev~1status"} {
		if !paths[want] {
			t.Errorf("patch has no %s operation; paths: %v", want, paths)
		}
	}
	if got := testutil.ToFloat64(m.injections); got != 1 {
		t.Errorf("injections = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues(EndpointMutate, ResultInjected)); got != 1 {
		t.Errorf("requests{result=injected} = %v, want 1", got)
	}
}

func TestDryRunIsNotCountedAsInjection(t *testing.T) {
	h, m := newTestHandler(t, nil)
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(review(t, "Pod", admissionv1.Create, realisticPod()), &ar); err != nil {
		t.Fatal(err)
	}
	ar.Request.DryRun = ptr(true)
	body, _ := json.Marshal(ar)
	out := post(h, body, "application/json")
	if out == nil || len(out.Response.Patch) == 0 {
		t.Fatal("dry run must still show the injection")
	}
	if got := testutil.ToFloat64(m.injections); got != 0 {
		t.Errorf("injections = %v after a dry run, want 0", got)
	}
}

// One JSON log line per request, with uid, namespace, name, result and
// latency, and nothing from the annotations' values.
func TestOneLogLinePerRequestWithoutValues(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newTestHandler(t, &logs)
	pod := realisticPod()
	const canary = "sk_live_CANARY51H7d9s8d7f6g5h4j3k2l1"
	// (In a template the canary would be a smuggled literal, denied by the
	// policy: see policy.TestTemplateLiterals.)
	pod.Annotations["team.example.com/note"] = canary
	post(h, review(t, "Pod", admissionv1.Create, pod), "application/json")

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", len(lines), logs.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("log line is not JSON: %v", err)
	}
	for key, want := range map[string]any{
		"uid": "3f1c2a9e-1111-4d2b-9a1e-5f8f0e6c7b21", "namespace": "team-a",
		"name": "payments-6f7c9d-*", "result": ResultInjected, "endpoint": EndpointMutate,
	} {
		if entry[key] != want {
			t.Errorf("log %s = %v, want %v", key, entry[key], want)
		}
	}
	if _, ok := entry["latency"]; !ok {
		t.Error("log line has no latency")
	}
	if strings.Contains(logs.String(), canary) || strings.Contains(logs.String(), "secret/data") {
		t.Errorf("log line carries annotation values: %s", logs.String())
	}
}

// A request stuck sending its body is cut off by the request timeout.
func TestSlowBodyTimesOut(t *testing.T) {
	m, _ := NewMetrics(prometheus.NewRegistry())
	hd := NewMutatingHandler(defaults(), nil, nil, m)
	h := limit(&admission.Webhook{Handler: hd}, DefaultMaxRequestBytes, 100*time.Millisecond)
	pr, pw := ioPipe()
	defer pw.Close()
	req := httptest.NewRequest(http.MethodPost, EndpointMutate, pr)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled body held the handler past its timeout")
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
}

// Shutdown cancels the server's context; a request in flight must not see
// that cancellation.
func TestRequestContextSurvivesServerShutdown(t *testing.T) {
	serverCtx, cancel := context.WithCancel(context.Background())
	seen := make(chan error, 1)
	h := limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel()
		time.Sleep(10 * time.Millisecond)
		seen <- r.Context().Err()
		w.WriteHeader(http.StatusOK)
	}), 1024, time.Second)
	req := httptest.NewRequest(http.MethodPost, EndpointMutate, strings.NewReader("{}")).WithContext(serverCtx)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if err := <-seen; err != nil {
		t.Errorf("request context: %v, want live", err)
	}
	if rec.Code != http.StatusOK {
		t.Errorf("status %d, want 200", rec.Code)
	}
}

func TestHandlerDecodesWhatTheAPIServerSends(t *testing.T) {
	// The object arrives as raw JSON; integers stay integers.
	pod := realisticPod()
	raw, _ := json.Marshal(pod)
	hd := NewMutatingHandler(defaults(), nil, nil, nil)
	resp := hd.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "u1", Kind: metaKind("Pod"), Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
	}})
	if !resp.Allowed || len(resp.Patches) == 0 {
		t.Fatalf("want an injection, got %+v", resp.Result)
	}
	var got corev1.Pod
	if err := decodePod(raw, &got); err != nil || got.Spec.Containers[0].Ports[0].ContainerPort != 8080 {
		t.Errorf("decode: %v %+v", err, got.Spec.Containers[0].Ports)
	}
}

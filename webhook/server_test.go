package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// serve runs h behind limit on a real HTTP server, so that connection
// deadlines apply (a recorder cannot set them).
func serve(t *testing.T, h admission.Handler, timeout time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(limit(newWebhook(h, nil), DefaultMaxRequestBytes, timeout))
	t.Cleanup(srv.Close)
	return srv
}

func decodeAnswer(t *testing.T, body io.Reader) *admissionv1.AdmissionResponse {
	t.Helper()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(body).Decode(&out); err != nil || out.Response == nil {
		t.Fatalf("no AdmissionReview in the answer: %v", err)
	}
	return out.Response
}

// On a server connection, a stalled body is cut off by the read deadline
// and answered with a 400 that says so, in about the request timeout.
func TestStalledBodyHitsTheReadDeadline(t *testing.T) {
	t.Parallel()
	srv := serve(t, NewMutatingHandler(defaults(), nil, nil, nil), 200*time.Millisecond)
	pr, pw := io.Pipe()
	defer pw.Close()
	body := review(t, "Pod", admissionv1.Create, realisticPod())
	go func() { _, _ = pw.Write(body[:len(body)/2]) }() // and nothing more

	req, _ := http.NewRequest(http.MethodPost, srv.URL+EndpointMutate, pr)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	defer resp.Body.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %s, want about the 200ms timeout", took)
	}
	r := decodeAnswer(t, resp.Body)
	if r.Allowed || r.Result == nil || r.Result.Code != http.StatusBadRequest || !strings.Contains(r.Result.Message, "not received within the request timeout") {
		t.Errorf("answer %+v, want a 400 saying the body timed out", r.Result)
	}
}

// The deadlines of one request do not outlive it: a keep-alive connection
// idle for longer than the timeout serves its next request.
func TestDeadlinesEndWithTheRequest(t *testing.T) {
	t.Parallel()
	srv := serve(t, NewMutatingHandler(defaults(), nil, nil, nil), 100*time.Millisecond)
	body := review(t, "Pod", admissionv1.Create, realisticPod())
	var reused []bool
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+EndpointMutate, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
		}))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := decodeAnswer(t, resp.Body)
		resp.Body.Close()
		if !r.Allowed || len(r.Patch) == 0 {
			t.Fatalf("want an injection, got %+v", r.Result)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if len(reused) != 2 || !reused[1] {
		t.Errorf("connection reuse %v: the second request did not use the first one's connection", reused)
	}
}

// blocking is a handler that waits until released, counting how many run
// at once.
type blocking struct {
	running, peak atomic.Int32
	release       chan struct{}
}

func (b *blocking) Handle(ctx context.Context, req admission.Request) admission.Response {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	<-b.release
	return admission.Allowed("")
}

// At most as many small requests as the small lane has slots are decoded
// and judged at once; a request that finds no slot before its deadline is
// answered 503.
func TestSlotsBoundConcurrentHandlers(t *testing.T) {
	t.Parallel()
	b := &blocking{release: make(chan struct{})}
	g := newGate(gateConfig{smallSlots: 2, largeSlots: 1, smallBytes: 64 << 10, maxBody: DefaultMaxRequestBytes, bodies: 32 << 20, decoded: 64 << 20})
	h := newWebhook(b, nil).admittedBy(g, EndpointMutate, nil)
	body := review(t, "Pod", admissionv1.Create, plainPod())
	serve := func(ctx context.Context) *admissionv1.AdmissionReview {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, EndpointMutate, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
			t.Errorf("answer %q: %v", rec.Body.Bytes(), err)
		}
		return &out
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { serve(context.Background()) })
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.running.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if r := serve(ctx).Response; r == nil || r.Allowed || r.Result == nil || r.Result.Code != http.StatusServiceUnavailable ||
		!strings.Contains(r.Result.Message, "overloaded") {
		t.Errorf("a request without a slot got %+v, want 503 overloaded", r)
	}
	close(b.release)
	wg.Wait()
	if p := b.peak.Load(); p != 2 {
		t.Errorf("%d handlers ran at once, want 2", p)
	}
}

// The answer's patch, encoded once by the review handler, is the one the
// handler made.
func TestReviewHandlerKeepsThePatch(t *testing.T) {
	t.Parallel()
	hd := NewMutatingHandler(defaults(), nil, nil, nil)
	raw, _ := json.Marshal(realisticPod())
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "u1", Kind: metaKind("Pod"), Operation: admissionv1.Create, Namespace: "team-a",
	}}
	req.Object.Raw = raw
	direct := hd.Handle(context.Background(), req)
	encoded := (&reviewHandler{handler: hd, log: slog.New(slog.DiscardHandler)}).handle(context.Background(), req, new([]byte))
	if len(encoded.Patches) != 0 || encoded.PatchType == nil || *encoded.PatchType != admissionv1.PatchTypeJSONPatch || encoded.UID != "u1" {
		t.Fatalf("review handler answer: patches %d, type %v, uid %q", len(encoded.Patches), encoded.PatchType, encoded.UID)
	}
	want, _ := json.Marshal(direct.Patches)
	var a, b any
	_ = json.Unmarshal(want, &a)
	if err := json.Unmarshal(encoded.Patch, &b); err != nil {
		t.Fatalf("encoded patch is not JSON: %v", err)
	}
	if !jsonEqual(a, b) {
		t.Errorf("encoded patch differs:\n%s\n%s", encoded.Patch, want)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

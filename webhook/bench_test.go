package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/mutate"
)

// BenchmarkMutateHandler measures the whole admission path of one request:
// read and decode the AdmissionReview, decode the pod, inject, compute the
// JSONPatch, encode the answer. TLS and the network are not included; the
// recorder takes deadlines as a server connection does, so the request
// takes the production path (no http.TimeoutHandler).
func BenchmarkMutateHandler(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"injected", review(b, "Pod", admissionv1.Create, realisticPod())},
		{"plain", review(b, "Pod", admissionv1.Create, plainPod())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := newTestHandler(b, nil)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, EndpointMutate, bytes.NewReader(bc.body))
				req.Header.Set("Content-Type", "application/json")
				rec := deadlineRecorder{httptest.NewRecorder()}
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// deadlineRecorder is a ResponseRecorder that accepts read and write
// deadlines, like a server connection's ResponseWriter.
type deadlineRecorder struct{ *httptest.ResponseRecorder }

func (deadlineRecorder) SetReadDeadline(time.Time) error  { return nil }
func (deadlineRecorder) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkEncodePatch measures the encoding of the JSONPatch of one
// injection into the answer: the realistic pod's, and a sidecar's (whose
// init container has a restart policy and a startup probe).
func BenchmarkEncodePatch(b *testing.B) {
	sidecar := realisticPod()
	sidecar.Annotations["wisp.dev/sidecar"] = "true"
	for _, bc := range []struct {
		name string
		pod  *corev1.Pod
	}{
		{"injected", realisticPod()},
		{"sidecar", sidecar},
	} {
		b.Run(bc.name, func(b *testing.B) {
			out, res, err := mutate.Inject(bc.pod, mutate.Config{})
			if err != nil || res != mutate.Injected {
				b.Fatalf("not injected: %v, %v", res, err)
			}
			ops, ok := injectionPatch(bc.pod, out)
			if !ok {
				b.Fatal("injectionPatch gave up")
			}
			b.ReportAllocs()
			var buf []byte // reused, as the review handler does
			for b.Loop() {
				if buf, err = appendPatch(buf[:0], ops); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

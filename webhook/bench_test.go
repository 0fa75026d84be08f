package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// BenchmarkMutateHandler measures the whole admission path of one request:
// read and decode the AdmissionReview, decode the pod, inject, compute the
// JSONPatch, encode the answer. TLS and the network are not included.
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
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

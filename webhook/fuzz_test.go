package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// FuzzMutateRequest feeds arbitrary bodies to /mutate. Whatever arrives, the
// answer is a well-formed AdmissionReview: allowed (with a patch that is a
// JSON array, or none), or refused with a 4xx/5xx code and a message. Never a
// panic, never an empty answer.
func FuzzMutateRequest(f *testing.F) {
	f.Add(review(f, "Pod", admissionv1.Create, realisticPod()))
	f.Add(review(f, "Pod", admissionv1.Create, plainPod()))
	f.Add(review(f, "Pod", admissionv1.Update, realisticPod()))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"annotations":{"wisp.dev/inject":"true"}}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","kind":{"kind":"Pod"},"operation":"CREATE","object":[[[[[[[[[]]]]]]]]]}}`))
	f.Add([]byte(`{`))
	f.Add([]byte(``))
	h, _ := newTestHandler(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, EndpointMutate, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
			t.Fatalf("answer is not an AdmissionReview (%v): %q", err, rec.Body.String())
		}
		r := out.Response
		if r.Allowed {
			if len(r.Patch) > 0 {
				var ops []map[string]any
				if err := json.Unmarshal(r.Patch, &ops); err != nil {
					t.Fatalf("patch is not a JSON array: %v", err)
				}
			}
			return
		}
		if r.Result == nil || r.Result.Code < 400 || r.Result.Message == "" {
			t.Fatalf("refusal without a 4xx/5xx code and a message: %+v", r.Result)
		}
	})
}

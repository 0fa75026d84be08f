package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// appendReview writes what encoding/json's Encoder writes, byte for byte.
func TestAppendReviewAsEncodingJSON(t *testing.T) {
	t.Parallel()
	jp := admissionv1.PatchTypeJSONPatch
	v1 := metav1.TypeMeta{APIVersion: reviewV1, Kind: reviewKind}
	tests := []struct {
		name string
		tm   metav1.TypeMeta
		resp admissionv1.AdmissionResponse
	}{
		{"allowed", v1, admissionv1.AdmissionResponse{UID: "u1", Allowed: true, Result: &metav1.Status{Code: 200}}},
		{"no status", v1, admissionv1.AdmissionResponse{UID: "u1", Allowed: true}},
		{"no type", metav1.TypeMeta{}, admissionv1.AdmissionResponse{UID: "u1", Allowed: true}},
		{"v1beta1", metav1.TypeMeta{APIVersion: reviewV1beta1, Kind: reviewKind}, admissionv1.AdmissionResponse{UID: "u1", Allowed: true}},
		{"denied", v1, admissionv1.AdmissionResponse{UID: "u2", Result: &metav1.Status{
			Status: "Failure", Code: 403, Reason: metav1.StatusReasonForbidden,
			Message: "wisp: 2 static secret(s) in env vars:\ncontainer \"app\": env <DB>&\t\u2028 é \\ \x01",
		}}},
		{"patched", v1, admissionv1.AdmissionResponse{UID: "u3", Allowed: true, Result: &metav1.Status{Code: 200},
			Patch: []byte(`[{"op":"add","path":"/spec/volumes","value":[]}]`), PatchType: &jp}},
		{"warnings and audit", v1, admissionv1.AdmissionResponse{UID: "u4", Allowed: true, Result: &metav1.Status{Code: 200},
			Warnings:         []string{"a \"warning\"", "<b>"},
			AuditAnnotations: map[string]string{"z": "1", "a": "x<y", "m": ""}}},
		{"errored", v1, admissionv1.AdmissionResponse{UID: "", Result: &metav1.Status{Code: 400, Message: "decode pod: invalid character 'j'"}}},
		{"status with details (encoding/json)", v1, admissionv1.AdmissionResponse{UID: "u5", Result: &metav1.Status{Code: 422,
			Details: &metav1.StatusDetails{Name: "x", Causes: []metav1.StatusCause{{Field: "f"}}}}}},
		{"status with its own type (encoding/json)", v1, admissionv1.AdmissionResponse{UID: "u6", Result: &metav1.Status{Code: 500,
			TypeMeta: metav1.TypeMeta{Kind: "Status"}, ListMeta: metav1.ListMeta{ResourceVersion: "1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(admissionv1.AdmissionReview{TypeMeta: tt.tm, Response: &tt.resp}); err != nil {
				t.Fatal(err)
			}
			got, err := appendReview(nil, tt.tm, &tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("appendReview:\n got %s\nwant %s", got, want.Bytes())
			}
		})
	}
}

// The review handler answers like admission.Webhook: bad requests with an
// errored review (code 400), a panic with code 500, the review's apiVersion
// echoed.
func TestReviewHandler(t *testing.T) {
	t.Parallel()
	allow := admission.HandlerFunc(func(_ context.Context, req admission.Request) admission.Response {
		if req.Name == "panic" {
			panic("boom")
		}
		return admission.Allowed("")
	})
	h := newWebhook(allow, nil)
	tests := []struct {
		name        string
		body        string
		contentType string
		apiVersion  string // of the answer
		code        int32
		says        string
	}{
		{name: "v1", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u"}}`, apiVersion: reviewV1, code: 200},
		{name: "v1beta1 echoed", body: `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}`, apiVersion: reviewV1beta1, code: 200},
		{name: "no type: v1", body: `{"request":{"uid":"u"}}`, apiVersion: reviewV1, code: 200},
		{name: "another kind", body: `{"apiVersion":"v1","kind":"Pod","request":{"uid":"u"}}`, apiVersion: reviewV1, code: 400, says: "not an AdmissionReview"},
		{name: "empty body", body: "", apiVersion: reviewV1, code: 400, says: "empty"},
		{name: "not JSON", body: `{"request":`, apiVersion: reviewV1, code: 400, says: "decode AdmissionReview"},
		{name: "wrong content type", body: `{"request":{"uid":"u"}}`, contentType: "text/plain", apiVersion: reviewV1, code: 400, says: "application/json"},
		{name: "keys are case-sensitive", body: `{"request":{"uid":"v","UID":"u"}}`, apiVersion: reviewV1, code: 200},
		{name: "panic", body: `{"request":{"uid":"u","name":"panic"}}`, apiVersion: reviewV1, code: 500, says: "panic: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, EndpointMutate, strings.NewReader(tt.body))
			if tt.body == "" {
				req.Body = http.NoBody
			}
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("HTTP %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var ar admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &ar); err != nil || ar.Response == nil {
				t.Fatalf("answer %s: %v", rec.Body, err)
			}
			r := ar.Response
			if ar.APIVersion != tt.apiVersion || ar.Kind != reviewKind {
				t.Errorf("answer type %s %s, want %s %s", ar.APIVersion, ar.Kind, tt.apiVersion, reviewKind)
			}
			if r.Result == nil || r.Result.Code != tt.code || !strings.Contains(r.Result.Message, tt.says) {
				t.Errorf("status %+v, want code %d saying %q", r.Result, tt.code, tt.says)
			}
			if tt.code == 200 && (!r.Allowed || r.UID == "") {
				t.Errorf("allowed %v uid %q", r.Allowed, r.UID)
			}
			if tt.name == "keys are case-sensitive" && r.UID != "v" {
				t.Errorf("uid %q, want v (UID is not uid)", r.UID)
			}
		})
	}
}

// Answers are written into buffers reused from one request to the next:
// each answer of one handler, in turn and at once, is the answer of a
// fresh handler.
func TestReviewHandlerReusesBuffers(t *testing.T) {
	t.Parallel()
	sidecar := realisticPod()
	sidecar.Annotations["wisp.dev/sidecar"] = "true"
	bodies := [][]byte{
		review(t, "Pod", admissionv1.Create, sidecar), // the largest answer first
		review(t, "Pod", admissionv1.Create, plainPod()),
		review(t, "Pod", admissionv1.Create, realisticPod()),
		[]byte(`{"request":`),
	}
	answer := func(h http.Handler, body []byte) string {
		req := httptest.NewRequest(http.MethodPost, EndpointMutate, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	want := make([]string, len(bodies))
	for i, body := range bodies {
		h, _ := newTestHandler(t, nil)
		want[i] = answer(h, body)
	}
	if !strings.Contains(want[0], `"patch":`) || strings.Contains(want[1], `"patch":`) {
		t.Fatalf("want a patch for the sidecar pod, none for the plain one:\n%s\n%s", want[0], want[1])
	}
	shared, _ := newTestHandler(t, nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				for i, body := range bodies {
					if got := answer(shared, body); got != want[i] {
						t.Errorf("answer %d of a shared handler:\n%s\nwant\n%s", i, got, want[i])
					}
				}
			}
		})
	}
	wg.Wait()
}

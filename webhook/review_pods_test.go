package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	applypatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"

	"wisp.dev/wisp/config"
)

// A review whose pod is decoded with it (the mutating endpoint) is answered
// as one decoded the generic way: the same decision, message and code, and
// a patch that gives the same document. Reviews that are not of a pod, or
// whose object is no pod, take the generic path.
func TestPodsDecodedWithTheReview(t *testing.T) {
	t.Parallel()
	type reviewCase struct {
		name string
		body []byte
		raw  []byte // the object the patch applies to
		snap config.Static
	}
	var cases []reviewCase
	for _, tc := range append(goldenPatchCases(t), moreCases(t)...) {
		snap := defaults()
		s := *snap.Snapshot
		s.Injection = tc.cfg.WithDefaults()
		snap.Snapshot = &s
		for _, op := range []admissionv1.Operation{admissionv1.Create, admissionv1.Update} {
			body := reviewBody(t, "Pod", op, tc.raw)
			cases = append(cases, reviewCase{name: tc.name + "/" + string(op), body: body, raw: tc.raw, snap: snap})
		}
	}
	for name, body := range map[string]string{
		"deployment":         `{"request":{"uid":"u","kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE","object":{"spec":{"replicas":2}}}}`,
		"no pod":             `{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":5}}}}`,
		"null object":        `{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":null}}`,
		"no object":          `{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE"}}`,
		"no uid":             `{"request":{"kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"name":"p"}}}}`,
		"v1beta1":            `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"name":"p","annotations":{"wisp.dev/inject":"true","wisp.dev/role":"r","wisp.dev/secret-a":"secret/data/a"}},"spec":{"containers":[{"name":"app","image":"a"}]}}}}`,
		"not a review":       `{"apiVersion":"v1","kind":"Pod","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"object":{}}}`,
		"case-variant keys":  `{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"name":"p","Annotations":{"wisp.dev/inject":"true"}},"spec":{"containers":[{"name":"app","image":"a","env":[{"name":"AWS_SECRET_ACCESS_KEY","value":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"}]}]}}}}`,
		"denied static":      `{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"n","object":{"metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"a","env":[{"name":"AWS_SECRET_ACCESS_KEY","value":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"}]}]}}}}`,
		"no containers":      `{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"name":"p","annotations":{"wisp.dev/inject":"true","wisp.dev/role":"r","wisp.dev/secret-a":"secret/data/a"}},"spec":{"initContainers":[{"name":"i","image":"i"}]}}}}`,
		"trailing garbage":   `{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{}}} x`,
		"ephemeral resource": `{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"subResource":"ephemeralcontainers","operation":"UPDATE","object":{"metadata":{"name":"p"}}}}`,
	} {
		var raw []byte
		var r struct {
			Request struct {
				Object json.RawMessage `json:"object"`
			} `json:"request"`
		}
		if json.Unmarshal([]byte(body), &r) == nil {
			raw = r.Request.Object
		}
		cases = append(cases, reviewCase{name: name, body: []byte(body), raw: raw, snap: defaults()})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := NewMutatingHandler(tc.snap, nil, nil, nil)
			generic := answer(t, newWebhook(h, nil), tc.body)
			pods := answer(t, newWebhook(h, nil).decodingPods(), tc.body)
			g, p := generic.Response, pods.Response
			if g == nil || p == nil {
				t.Fatalf("no response: generic %v, pods %v", g, p)
			}
			if g.Allowed != p.Allowed || !reflect.DeepEqual(g.Result, p.Result) || generic.APIVersion != pods.APIVersion ||
				!reflect.DeepEqual(g.Warnings, p.Warnings) || !reflect.DeepEqual(g.AuditAnnotations, p.AuditAnnotations) {
				t.Fatalf("answers differ:\ngeneric %+v %+v\npods    %+v %+v", g, g.Result, p, p.Result)
			}
			if (len(g.Patch) == 0) != (len(p.Patch) == 0) {
				t.Fatalf("patch: generic %s, pods %s", g.Patch, p.Patch)
			}
			if len(g.Patch) > 0 && !reflect.DeepEqual(patched(t, tc.raw, g.Patch), patched(t, tc.raw, p.Patch)) {
				t.Errorf("the patches give different documents:\ngeneric %s\npods    %s", g.Patch, p.Patch)
			}
		})
	}
}

// reviewBody is an AdmissionReview of raw as the API server sends it.
func reviewBody(t testing.TB, kind string, op admissionv1.Operation, raw []byte) []byte {
	t.Helper()
	var obj any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	return review(t, kind, op, obj)
}

func answer(t testing.TB, h http.Handler, body []byte) *admissionv1.AdmissionReview {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, EndpointMutate, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := deadlineRecorder{httptest.NewRecorder()}
	limit(h, DefaultMaxRequestBytes, 5*time.Second).ServeHTTP(rec, req)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer: %v\n%s", err, rec.Body.Bytes())
	}
	return &out
}

// patched applies a JSONPatch to raw and returns the document, decoded.
func patched(t testing.TB, raw, patch []byte) any {
	t.Helper()
	p, err := applypatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("decode patch: %v", err)
	}
	doc, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("apply patch: %v", err)
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

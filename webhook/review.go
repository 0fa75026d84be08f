package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	jsoniter "github.com/json-iterator/go"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"
)

// reviewHandler serves one admission endpoint on controller-runtime's
// webhook server, as admission.Webhook does (an empty or unreadable body,
// a content type other than application/json and an undecodable review
// are answered with an errored AdmissionReview, code 400; a panic of the
// handler with code 500; the answer echoes the review's apiVersion), but
// cheaper, which the load bench measures: the review is decoded once with
// sigs.k8s.io/json, or with its pod by the pod decoder (see decode);
// admission.Webhook's universal deserializer decodes it twice, once to find
// its kind, and the pod is decoded a third time. The answer is written
// directly (appendReview), its JSONPatch encoded once (appendPatch), both
// into buffers reused from one request to the next.
//
// The body's limit and deadlines are limit's; the handler's own errors are
// logged without request values, which it does not have then anyway.
type reviewHandler struct {
	handler admission.Handler
	log     *slog.Logger
	// pods, when set, decodes the pod of a pod review together with the
	// review (see decode).
	pods jsoniter.API
	// buffers holds *answerBuffers between requests.
	buffers sync.Pool
	// gate, when set, bounds what is read, decoded and judged at once (see
	// gate); the server's endpoints share one.
	gate *gate
	// endpoint and metrics, when set, count the requests the gate turns
	// away.
	endpoint string
	metrics  *Metrics
}

// answerBuffers are the memory of one answer, reused from one request to
// the next: the JSONPatch, and the AdmissionReview carrying it in base64.
type answerBuffers struct{ body, patch, review []byte }

// maxPooledAnswer bounds the buffers kept for the next request: those of an
// answer larger than this are left to the garbage collector.
const maxPooledAnswer = 256 << 10

// newWebhook serves h; log receives the requests that cannot be read or
// decoded (nil: discard).
func newWebhook(h admission.Handler, log *slog.Logger) *reviewHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &reviewHandler{handler: h, log: log}
}

// admittedBy makes the handler read, decode and judge a request only as g
// admits it; endpoint and metrics count the requests it turns away
// (metrics may be nil).
func (h *reviewHandler) admittedBy(g *gate, endpoint string, metrics *Metrics) *reviewHandler {
	h.gate, h.endpoint, h.metrics = g, endpoint, metrics
	return h
}

// decodingPods makes the handler decode the pod of a pod review together
// with the review, for an endpoint that receives pods only: see decode.
func (h *reviewHandler) decodingPods() *reviewHandler {
	h.pods = podDecoder()
	return h
}

// podDecoder decodes as sigs.k8s.io/json does the documents the API server
// sends (keys matched case-sensitively, as the API server decodes; no
// interface{} field in a pod, so integers need no preserving), in half the
// time: FuzzPodDecoder holds it to sigs.k8s.io/json's result on any input
// both accept, and decode falls back to sigs.k8s.io/json on any error.
func podDecoder() jsoniter.API {
	return jsoniter.Config{CaseSensitive: true, ValidateJsonRawMessage: true}.Froze()
}

// Admission review group versions the handler accepts.
var (
	reviewV1      = admissionv1.SchemeGroupVersion.String() // admission.k8s.io/v1
	reviewV1beta1 = "admission.k8s.io/v1beta1"
)

const reviewKind = "AdmissionReview"

func (h *reviewHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Body == nil || r.Body == http.NoBody {
		h.refuse(ctx, w, errors.New("request body is empty"))
		return
	}
	defer r.Body.Close()
	// A large body is read only once it fits the gate's memory: reading
	// and writing happen outside a slot, so a slow client never holds one,
	// but a body is memory from its first byte.
	t, err := h.gate.enter(ctx, r.ContentLength)
	if err != nil {
		h.turnAway(ctx, w, err, nil)
		return
	}
	defer t.leave()
	bufs, _ := h.buffers.Get().(*answerBuffers)
	if bufs == nil {
		bufs = new(answerBuffers)
	}
	// Nothing decoded from the body refers to it (strings and raw objects
	// are copies), so it is reused once the answer is written.
	defer func() {
		if cap(bufs.body)+cap(bufs.patch)+cap(bufs.review) <= maxPooledAnswer {
			h.buffers.Put(bufs)
		}
	}()
	body, err := readBody(r, bufs.body[:0])
	bufs.body = body
	if err != nil {
		h.refuse(ctx, w, fmt.Errorf("read request body: %w", err))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		h.refuse(ctx, w, fmt.Errorf("contentType=%s, expected application/json", ct))
		return
	}
	if err := t.judge(ctx, body); err != nil {
		h.turnAway(ctx, w, err, body)
		return
	}
	req, tm, err := h.decode(body)
	if err != nil {
		t.judged()
		h.refuse(ctx, w, err)
		return
	}
	resp := h.handle(ctx, req, &bufs.patch)
	t.judged()
	h.write(ctx, w, tm, &resp.AdmissionResponse, &bufs.review)
}

// turnAway answers a request the gate did not admit: 503 when no room came
// free in time, 413 for a body or an object too large ever to be. With the
// body read, the answer carries the request's uid, found without decoding
// the rest: the API server shows the message of an answer to its request,
// and reports any other as a failed call.
func (h *reviewHandler) turnAway(ctx context.Context, w http.ResponseWriter, err error, body []byte) {
	code, budget := http.StatusRequestEntityTooLarge, BudgetMemory
	switch {
	case errors.Is(err, errOverloaded):
		code, budget = http.StatusServiceUnavailable, BudgetCapacity
	case errors.Is(err, errBodyTooLarge):
		budget = ""
	}
	if h.metrics != nil && budget != "" {
		h.metrics.budgetExceeded.WithLabelValues(h.endpoint, budget).Inc()
	}
	h.log.LogAttrs(ctx, slog.LevelWarn, "admission request turned away", slog.String("endpoint", h.endpoint), slog.String("err", err.Error()))
	resp := admission.Errored(int32(code), err)
	if body != nil {
		resp.UID = types.UID(jsoniter.Get(body, "request", "uid").ToString())
	}
	var buf []byte
	h.write(ctx, w, metav1.TypeMeta{APIVersion: reviewV1, Kind: reviewKind}, &resp.AdmissionResponse, &buf)
}

// podReview is an AdmissionReview whose object is decoded as a pod: the
// request's object field shadows the embedded AdmissionRequest's.
type podReview struct {
	metav1.TypeMeta `json:",inline"`
	Request         *podRequest `json:"request,omitempty"`
}

type podRequest struct {
	admissionv1.AdmissionRequest `json:",inline"`
	Object                       *corev1.Pod `json:"object"`
}

// decode decodes the review and returns its request, and the type of the
// answer.
//
// With pods set, a review of a core v1 Pod is decoded together with its
// pod, by the pod decoder, once the body is checked to be valid JSON and
// UTF-8; the pod is handed over in req.Object.Object (req.Object.Raw stays
// empty; the raw object can be had from it). Decoding the object as raw
// JSON first scans it twice more (once to skip it, once to check it before
// decoding it) and copies it. Any other review, or one that the pod
// decoder refuses, is decoded again the generic way, which answers it
// (and reports its errors) exactly as without pods.
func (h *reviewHandler) decode(body []byte) (admission.Request, metav1.TypeMeta, error) {
	if h.pods != nil && validJSON(body) {
		var review podReview
		if err := h.pods.Unmarshal(body, &review); err == nil &&
			review.Request != nil && review.Request.Object != nil && review.Request.Kind == podKind {
			if tm, err := reviewType(review.TypeMeta); err == nil {
				req := admission.Request{AdmissionRequest: review.Request.AdmissionRequest}
				req.Object = runtime.RawExtension{Object: &reviewedPod{Pod: review.Request.Object, body: body}}
				return req, tm, nil
			}
		}
	}
	var review admissionv1.AdmissionReview
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &review); err != nil {
		return admission.Request{}, metav1.TypeMeta{}, fmt.Errorf("decode AdmissionReview: %w", err)
	}
	tm, err := reviewType(review.TypeMeta)
	if err != nil {
		return admission.Request{}, metav1.TypeMeta{}, err
	}
	var req admission.Request
	if review.Request != nil {
		req.AdmissionRequest = *review.Request
	}
	return req, tm, nil
}

// reviewedPod is a pod decoded with its review, and the review's body,
// from which the raw object is read when it is needed (rarely: see
// MutatingHandler.handle).
type reviewedPod struct {
	*corev1.Pod
	body []byte
}

// raw returns the pod's document as the API server sent it.
func (p *reviewedPod) raw() ([]byte, error) {
	var review admissionv1.AdmissionReview
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(p.body, &review); err != nil {
		return nil, fmt.Errorf("decode AdmissionReview: %w", err)
	}
	if review.Request == nil || len(review.Request.Object.Raw) == 0 {
		return nil, errors.New("decode AdmissionReview: the request has no object")
	}
	return review.Request.Object.Raw, nil
}

// validJSON: jsoniter skips what a struct does not know without checking
// it, and keeps invalid UTF-8 where encoding/json puts U+FFFD, so the body
// must be valid JSON and UTF-8 (what the API server sends).
func validJSON(body []byte) bool { return utf8.Valid(body) && json.Valid(body) }

// podKind is the kind of a core v1 Pod in an AdmissionRequest.
var podKind = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}

// readBody appends the whole body to buf, growing it once when the client
// sent its length.
func readBody(r *http.Request, buf []byte) ([]byte, error) {
	b := bytes.NewBuffer(buf)
	if n := r.ContentLength; n > 0 && n <= DefaultMaxRequestBytes {
		b.Grow(int(n) + bytes.MinRead)
	}
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

// reviewType checks the review's apiVersion and kind, and returns those of
// the answer. Missing ones default to admission.k8s.io/v1 AdmissionReview,
// as controller-runtime's decoder has them.
func reviewType(tm metav1.TypeMeta) (metav1.TypeMeta, error) {
	if tm.APIVersion == "" {
		tm.APIVersion = reviewV1
	}
	if tm.Kind == "" {
		tm.Kind = reviewKind
	}
	if tm.Kind != reviewKind || (tm.APIVersion != reviewV1 && tm.APIVersion != reviewV1beta1) {
		return tm, fmt.Errorf("decode AdmissionReview: %s %s is not an AdmissionReview of admission.k8s.io/v1 or v1beta1", tm.APIVersion, tm.Kind)
	}
	return tm, nil
}

// handle runs the handler, recovering a panic as a 500, and completes the
// answer: the request's uid, a status code, the JSONPatch encoded into
// *patch (which keeps the memory for the next answer).
func (h *reviewHandler) handle(ctx context.Context, req admission.Request, patch *[]byte) (resp admission.Response) {
	defer func() {
		if p := recover(); p != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "admission handler panicked", slog.String("uid", string(req.UID)), slog.Any("panic", p))
			resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("panic: %v [recovered]", p))
			resp.UID = req.UID
		}
	}()
	resp = h.handler.Handle(ctx, req)
	resp.UID = req.UID
	if resp.Result == nil {
		resp.Result = &metav1.Status{}
	}
	if resp.Result.Code == 0 {
		resp.Result.Code = http.StatusOK
	}
	if len(resp.Patches) > 0 {
		b, err := appendPatch(slices.Grow((*patch)[:0], 4096), resp.Patches)
		if err != nil {
			// Values are typed Kubernetes objects and strings: a bug.
			resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("encode patch: %w", err))
			resp.UID = req.UID
			return resp
		}
		*patch = b
		resp.Patches = nil
		resp.Patch = b
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType = &pt
	}
	return resp
}

// refuse answers a request that could not be read or decoded.
func (h *reviewHandler) refuse(ctx context.Context, w http.ResponseWriter, err error) {
	h.log.LogAttrs(ctx, slog.LevelError, "bad admission request", slog.String("err", err.Error()))
	resp := admission.Errored(http.StatusBadRequest, err)
	var buf []byte
	h.write(ctx, w, metav1.TypeMeta{APIVersion: reviewV1, Kind: reviewKind}, &resp.AdmissionResponse, &buf)
}

// write sends the AdmissionReview carrying resp, written into *buf (which
// keeps the memory for the next answer).
func (h *reviewHandler) write(ctx context.Context, w http.ResponseWriter, tm metav1.TypeMeta, resp *admissionv1.AdmissionResponse, buf *[]byte) {
	w.Header().Set("Content-Type", "application/json")
	out, err := appendReview(slices.Grow((*buf)[:0], 256+base64.StdEncoding.EncodedLen(len(resp.Patch))), tm, resp)
	*buf = out
	if err == nil {
		// With its length, an answer of over 2 KiB (an injection's) goes
		// out whole rather than chunked.
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		_, err = w.Write(out)
	}
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "write admission response", slog.String("uid", string(resp.UID)), slog.String("err", err.Error()))
	}
}

// appendReview appends the JSON of an AdmissionReview of type tm carrying
// resp, byte for byte what encoding/json's Encoder writes for it (a test
// holds it to that), without reflection for the fields wisp's answers
// have; a status with more (details, its own type or list metadata) goes
// through encoding/json.
func appendReview(b []byte, tm metav1.TypeMeta, resp *admissionv1.AdmissionResponse) ([]byte, error) {
	st := resp.Result
	if st != nil && (st.TypeMeta != (metav1.TypeMeta{}) || !emptyListMeta(&st.ListMeta) || st.Details != nil) {
		var buf bytes.Buffer
		buf.Write(b)
		err := json.NewEncoder(&buf).Encode(admissionv1.AdmissionReview{TypeMeta: tm, Response: resp})
		return buf.Bytes(), err
	}
	b = append(b, '{')
	if tm.Kind != "" {
		b = append(b, `"kind":`...)
		b = appendString(b, tm.Kind)
		b = append(b, ',')
	}
	if tm.APIVersion != "" {
		b = append(b, `"apiVersion":`...)
		b = appendString(b, tm.APIVersion)
		b = append(b, ',')
	}
	b = append(b, `"response":{"uid":`...)
	b = appendString(b, string(resp.UID))
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, resp.Allowed)
	if st != nil {
		b = appendStatus(b, st)
	}
	if len(resp.Patch) > 0 {
		b = append(b, `,"patch":"`...)
		b = base64.StdEncoding.AppendEncode(b, resp.Patch)
		b = append(b, '"')
	}
	if resp.PatchType != nil {
		b = append(b, `,"patchType":`...)
		b = appendString(b, string(*resp.PatchType))
	}
	if len(resp.AuditAnnotations) > 0 {
		b = appendAuditAnnotations(b, resp.AuditAnnotations)
	}
	if len(resp.Warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range resp.Warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, w)
		}
		b = append(b, ']')
	}
	return append(b, "}}\n"...), nil
}

// appendStatus appends the response's status, as encoding/json writes it
// (metadata always, other fields when set).
func appendStatus(b []byte, st *metav1.Status) []byte {
	b = append(b, `,"status":{"metadata":{}`...)
	if st.Status != "" {
		b = append(b, `,"status":`...)
		b = appendString(b, st.Status)
	}
	if st.Message != "" {
		b = append(b, `,"message":`...)
		b = appendString(b, st.Message)
	}
	if st.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, string(st.Reason))
	}
	if st.Code != 0 {
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(st.Code), 10)
	}
	return append(b, '}')
}

// appendAuditAnnotations appends the audit annotations, keys sorted as
// encoding/json sorts them.
func appendAuditAnnotations(b []byte, m map[string]string) []byte {
	b = append(b, `,"auditAnnotations":{`...)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// emptyListMeta: the list metadata encodes as {}.
func emptyListMeta(m *metav1.ListMeta) bool {
	return *m == metav1.ListMeta{}
}

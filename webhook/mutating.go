package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/mutate"
)

// EndpointMutate is the path of the mutating webhook.
const EndpointMutate = "/mutate"

// MutatingHandler injects opted-in pods on CREATE and denies pods whose wisp
// annotations are malformed. Every other request is allowed unchanged.
type MutatingHandler struct {
	snapshots  Snapshots
	namespaces NamespaceLabels
	log        *slog.Logger
	metrics    *Metrics
}

// Snapshots gives the current policy snapshot; config.Watcher (reloading a
// file) and config.Static implement it. Load is called once per request and
// must be cheap (an atomic load).
type Snapshots interface {
	Load() *config.Snapshot
}

var _ admission.Handler = (*MutatingHandler)(nil)

// NewMutatingHandler returns a handler that enforces the current snapshot's
// policy and injects with its injection config. namespaces, log and metrics
// may be nil.
func NewMutatingHandler(snapshots Snapshots, namespaces NamespaceLabels, log *slog.Logger, metrics *Metrics) *MutatingHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MutatingHandler{snapshots: snapshots, namespaces: namespaces, log: log, metrics: metrics}
}

// roleCheck is the role check of namespace under the snapshot's policy.
func roleCheck(snap *config.Snapshot, namespace string) mutate.RoleCheck {
	return func(role string) error { return snap.Policy.AllowedRole(namespace, role) }
}

// Handle implements admission.Handler.
func (h *MutatingHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	resp, result, name := h.handle(ctx, req)
	h.observe(ctx, req, name, result, start)
	return resp
}

func (h *MutatingHandler) handle(ctx context.Context, req admission.Request) (admission.Response, string, string) {
	if req.UID == "" {
		// The API server always sends a uid; without one this is no review.
		return admission.Errored(http.StatusBadRequest, errors.New("the AdmissionReview has no request uid")), ResultErrored, ""
	}
	if !isPodCreate(req) {
		return admission.Allowed(""), ResultAllowed, req.Name
	}
	pod, err := requestPod(req)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err), ResultErrored, req.Name
	}
	name := podName(req, pod)
	snap := h.snapshots.Load()

	// Enforcement first: a pod that carries static secrets where the policy
	// enforces is denied before anything is injected. Warnings and audit
	// annotations are the validating webhook's job, which sees every pod
	// after all mutations, so they are not given twice.
	obj := podObject("Pod", name, pod)
	obj.Namespace, obj.Stop = req.Namespace, ctx
	if h.namespaces != nil && snap.Policy.NeedsNamespaceLabels() {
		obj.NamespaceLabels = h.namespaces.Labels(req.Namespace)
	}
	d := snap.Policy.Evaluate(obj)
	h.metrics.countIncomplete(EndpointMutate, d)
	if d.Denied() {
		if h.metrics != nil {
			h.metrics.countViolations(d.Mode, d.Violations)
		}
		return decide(obj, d), ResultDenied, name
	}

	out, res, err := mutate.InjectCached(pod, snap.Injection, snap.Cache)
	if err != nil {
		return admission.Denied(denial(err)), ResultDenied, name
	}
	// Not opted in, or "already injected" (the status annotation is the
	// pod author's word): any fetch plan the pod carries is checked; an
	// injected pod, with the role of the plan wisp wrote.
	if err := mutate.CheckInjected(pod, out, res, snap.Injection, roleCheck(snap, req.Namespace)); err != nil {
		return admission.Denied("wisp: " + err.Error()), ResultDenied, name
	}
	if res != mutate.Injected && res != mutate.Completed {
		return admission.Allowed(""), ResultAllowed, name
	}
	resp, result := injectedResponse(req, pod, out)
	// The Vault Agent Injector's annotations wisp does not honour: kubectl
	// prints each warning.
	if resp.Allowed {
		resp.Warnings = append(resp.Warnings, mutate.VaultWarnings(pod.Annotations, snap.Injection)...)
	}
	return resp, result, name
}

// injectedResponse is the patch from pod to its injected copy out.
func injectedResponse(req admission.Request, pod, out *corev1.Pod) (admission.Response, string) {
	if ops, ok := injectionPatch(pod, out); ok {
		return admission.Patched("", ops...), ResultInjected
	}
	// Something injectionPatch does not cover changed: diff the documents.
	orig := req.Object.Raw
	if rp, ok := req.Object.Object.(*reviewedPod); ok && len(orig) == 0 {
		// Decoded with the review: the diff needs the document itself (an
		// encoding of the decoded pod is not it: it has empty objects and
		// lacks fields corev1.Pod does not know).
		var err error
		if orig, err = rp.raw(); err != nil {
			return admission.Errored(http.StatusBadRequest, err), ResultErrored
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("encode injected pod: %w", err)), ResultErrored
	}
	resp := admission.PatchResponseFromRaw(orig, raw)
	if !resp.Allowed {
		return resp, ResultErrored
	}
	return resp, ResultInjected
}

func (h *MutatingHandler) observe(ctx context.Context, req admission.Request, name, result string, start time.Time) {
	elapsed := time.Since(start)
	dryRun := req.DryRun != nil && *req.DryRun
	if h.metrics != nil {
		h.metrics.observe(EndpointMutate, result, elapsed)
		if result == ResultInjected && !dryRun {
			h.metrics.injections.Inc()
		}
	}
	if !h.log.Enabled(ctx, slog.LevelInfo) {
		return // the line's attributes cost more than the check
	}
	attrs := requestAttrs(EndpointMutate, req, name, result, elapsed)
	attrs[len(attrs)-1] = slog.Bool("dryRun", dryRun)
	h.log.LogAttrs(ctx, slog.LevelInfo, "admission", attrs[:]...)
}

func isPodCreate(req admission.Request) bool {
	return req.Operation == admissionv1.Create && req.SubResource == "" &&
		req.Kind.Group == "" && req.Kind.Kind == "Pod"
}

// requestPod is the request's pod: the one the review was decoded with
// (reviewHandler.decode), or its raw object decoded.
func requestPod(req admission.Request) (*corev1.Pod, error) {
	if rp, ok := req.Object.Object.(*reviewedPod); ok && rp.Pod != nil {
		return rp.Pod, nil
	}
	pod := &corev1.Pod{}
	if err := decodePod(req.Object.Raw, pod); err != nil {
		return nil, err
	}
	return pod, nil
}

// decodePod decodes the way the API server encodes: case-sensitive keys,
// integers kept as integers.
func decodePod(raw []byte, pod *corev1.Pod) error {
	if len(raw) == 0 {
		return fmt.Errorf("decode pod: the request has no object")
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, pod); err != nil {
		return fmt.Errorf("decode pod: %w", err)
	}
	return nil
}

// podName is the pod's name, or its generateName followed by "*" for a pod
// made by a controller, which has no name yet at admission.
func podName(req admission.Request, pod *corev1.Pod) string {
	switch {
	case pod.Name != "":
		return pod.Name
	case req.Name != "":
		return req.Name
	case pod.GenerateName != "":
		return pod.GenerateName + "*"
	}
	return ""
}

// denial turns mutate's joined errors into one admission message, one
// problem after another.
func denial(err error) string {
	return "wisp: cannot inject: " + strings.ReplaceAll(err.Error(), "\n", "; ")
}

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

	"wisp.dev/wisp/internal/config"
	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/policy"
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

// checkRoles refuses a pod whose fetch plans name a Vault role its
// namespace may not use. Every container of every kind that carries a plan
// (env WISP_PLAN, what wisp-fetch reads) is checked, whatever its name and
// whatever the pod's status annotation says: a pod that arrives "already
// injected" is judged like one wisp injects. requirePlan: the pod was just
// injected, so a plan must be there.
func checkRoles(ev *policy.Evaluator, namespace string, spec *corev1.PodSpec, requirePlan bool) error {
	found := false
	check := func(kind, name string, env []corev1.EnvVar) error {
		for _, e := range env {
			if e.Name != mutate.EnvPlan {
				continue
			}
			if e.ValueFrom != nil {
				return fmt.Errorf("%s %q: env %s must be a literal fetch plan, not valueFrom: its role could not be checked", kind, name, mutate.EnvPlan)
			}
			// Only the role is read: mutate validated the plans it wrote,
			// and plan.Parse would parse every template again.
			var p struct {
				Role string `json:"role"`
			}
			if err := json.Unmarshal([]byte(e.Value), &p); err != nil {
				return fmt.Errorf("%s %q: env %s is not a fetch plan: %w", kind, name, mutate.EnvPlan, err)
			}
			if p.Role == "" {
				return fmt.Errorf("%s %q: the fetch plan names no role", kind, name)
			}
			if err := ev.AllowedRole(namespace, p.Role); err != nil {
				return fmt.Errorf("%s %q: %w", kind, name, err)
			}
			found = true
		}
		return nil
	}
	if spec == nil {
		return nil
	}
	for _, c := range spec.InitContainers {
		if err := check("init container", c.Name, c.Env); err != nil {
			return err
		}
	}
	for _, c := range spec.Containers {
		if err := check("container", c.Name, c.Env); err != nil {
			return err
		}
	}
	for _, c := range spec.EphemeralContainers {
		if err := check("ephemeral container", c.Name, c.Env); err != nil {
			return err
		}
	}
	if requirePlan && !found {
		return errors.New("the injected pod has no fetch plan")
	}
	return nil
}

// checkInjectedRoles refuses an injected pod whose fetch plans name a Vault
// role its namespace may not use. A pod wisp just injected is the pod it
// received plus wisp-fetch, whose plan names the role of the pod's
// annotations (mutate.Role; TestRoleIsThePlanRole holds the two equal):
// the plans the pod carried are checked, then that role, without decoding
// wisp's own plan again. A completed pod (reinvocation) is checked whole.
func checkInjectedRoles(snap *config.Snapshot, namespace string, in, out *corev1.Pod, res mutate.Result) error {
	if res != mutate.Injected {
		return checkRoles(snap.Policy, namespace, &out.Spec, true)
	}
	if err := checkRoles(snap.Policy, namespace, &in.Spec, false); err != nil {
		return err
	}
	if err := snap.Policy.AllowedRole(namespace, mutate.Role(in.Annotations, snap.Injection)); err != nil {
		return fmt.Errorf("init container %q: %w", mutate.FetchContainerName, err)
	}
	return nil
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
	if res != mutate.Injected && res != mutate.Completed {
		// Not opted in, or "already injected": the status annotation is
		// the pod author's word, so any fetch plan it carries is checked.
		if err := checkRoles(snap.Policy, req.Namespace, &pod.Spec, false); err != nil {
			return admission.Denied("wisp: " + err.Error()), ResultDenied, name
		}
		return admission.Allowed(""), ResultAllowed, name
	}
	if err := checkInjectedRoles(snap, req.Namespace, pod, out, res); err != nil {
		return admission.Denied("wisp: cannot inject: " + err.Error()), ResultDenied, name
	}
	if ops, ok := injectionPatch(pod, out); ok {
		return admission.Patched("", ops...), ResultInjected, name
	}
	// Something injectionPatch does not cover changed: diff the documents.
	orig := req.Object.Raw
	if rp, ok := req.Object.Object.(*reviewedPod); ok && len(orig) == 0 {
		// Decoded with the review: the diff needs the document itself (an
		// encoding of the decoded pod is not it: it has empty objects and
		// lacks fields corev1.Pod does not know).
		if orig, err = rp.raw(); err != nil {
			return admission.Errored(http.StatusBadRequest, err), ResultErrored, name
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("encode injected pod: %w", err)), ResultErrored, name
	}
	resp := admission.PatchResponseFromRaw(orig, raw)
	if !resp.Allowed {
		return resp, ResultErrored, name
	}
	return resp, ResultInjected, name
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

package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"wisp.dev/wisp/internal/workload"
	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/policy"
)

// EndpointValidate is the path of the validating webhook.
const EndpointValidate = "/validate"

// AuditAnnotationKey is the auditAnnotations key of audit-mode violations
// (the API server prefixes it with the webhook's name).
const AuditAnnotationKey = "static-secrets"

// NamespaceLabels returns a namespace's labels from a local cache (an
// informer), never from an API call; nil when unknown.
type NamespaceLabels interface {
	Labels(namespace string) map[string]string
}

// ValidatingHandler runs the platform policy on pods and on the pod
// templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
// CronJobs, on CREATE and UPDATE. It sees the final object, after every
// mutating webhook. An UPDATE is judged only on what it changes in the pod
// template, so an existing workload can still scale.
type ValidatingHandler struct {
	snapshots  Snapshots
	namespaces NamespaceLabels
	log        *slog.Logger
	metrics    *Metrics
}

var _ admission.Handler = (*ValidatingHandler)(nil)

// NewValidatingHandler returns the /validate handler. namespaces, log and
// metrics may be nil.
func NewValidatingHandler(snapshots Snapshots, namespaces NamespaceLabels, log *slog.Logger, metrics *Metrics) *ValidatingHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ValidatingHandler{snapshots: snapshots, namespaces: namespaces, log: log, metrics: metrics}
}

// Handle implements admission.Handler.
func (h *ValidatingHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	resp, result, name, d := h.handle(ctx, req)
	h.observe(ctx, req, name, result, d, start)
	return resp
}

func (h *ValidatingHandler) handle(ctx context.Context, req admission.Request) (admission.Response, string, string, *policy.Decision) {
	if req.UID == "" {
		return admission.Errored(http.StatusBadRequest, errors.New("the AdmissionReview has no request uid")), ResultErrored, "", nil
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed(""), ResultAllowed, req.Name, nil
	}
	// Subresources carry no pod spec of their own, except
	// pods/ephemeralcontainers (`kubectl debug`): its object is the whole
	// pod, and the containers it adds are judged like any other.
	if req.SubResource != "" && !isEphemeralContainers(req) {
		return admission.Allowed(""), ResultAllowed, req.Name, nil
	}
	gvk := schema.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind}
	obj, err := decodeObject(gvk, req.Object.Raw)
	if errors.Is(err, workload.ErrUnsupportedKind) {
		return admission.Allowed(""), ResultAllowed, req.Name, nil
	}
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err), ResultErrored, req.Name, nil
	}
	obj.Namespace, obj.Stop = req.Namespace, ctx
	snap := h.snapshots.Load()
	if h.namespaces != nil && snap.Policy.NeedsNamespaceLabels() {
		obj.NamespaceLabels = h.namespaces.Labels(req.Namespace)
	}
	d := snap.Policy.Evaluate(obj)
	if _, err := mutate.CheckPlans(obj.Spec, snap.Injection, roleCheck(snap, req.Namespace)); err != nil {
		return admission.Denied("wisp: " + err.Error()), ResultDenied, obj.Name, &d
	}

	if req.Operation == admissionv1.Update && len(d.Violations) > 0 {
		old, err := decodeObject(gvk, req.OldObject.Raw)
		if err == nil {
			if reflect.DeepEqual(old.Spec, obj.Spec) {
				// Scaling, status, labels: the pod template did not change.
				d.Violations = nil
			} else {
				old.Namespace, old.NamespaceLabels, old.Stop = obj.Namespace, obj.NamespaceLabels, obj.Stop
				d.Violations = policy.NewViolationsOnly(snap.Policy.Evaluate(old).Violations, d.Violations)
			}
		}
	}
	return decide(obj, d), resultOf(d), obj.Name, &d
}

// isEphemeralContainers: an UPDATE of pods/ephemeralcontainers.
func isEphemeralContainers(req admission.Request) bool {
	return req.SubResource == "ephemeralcontainers" && req.Kind.Group == "" && req.Kind.Kind == "Pod"
}

func resultOf(d policy.Decision) string {
	if d.Denied() {
		return ResultDenied
	}
	return ResultAllowed
}

func (h *ValidatingHandler) observe(ctx context.Context, req admission.Request, name, result string, d *policy.Decision, start time.Time) {
	elapsed := time.Since(start)
	if h.metrics != nil {
		h.metrics.observe(EndpointValidate, result, elapsed)
		if d != nil && !d.Exempt {
			h.metrics.countViolations(d.Mode, d.Violations)
			h.metrics.countIncomplete(EndpointValidate, *d)
		}
	}
	if !h.log.Enabled(ctx, slog.LevelInfo) {
		return // the line's attributes cost more than the check
	}
	base := requestAttrs(EndpointValidate, req, name, result, elapsed)
	attrs := base[:len(base)-1]
	if d != nil {
		attrs = append(attrs, slog.String("mode", string(d.Mode)), slog.Int("violations", len(d.Violations)))
		if d.Exempt {
			attrs = append(attrs, slog.Bool("exempt", true))
		}
		if len(d.Violations) > 0 {
			attrs = append(attrs, slog.String("rules", auditSummary(d.Violations)))
		}
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "admission", attrs...)
}

// decodeObject reads a pod, or a workload's pod template, as a policy
// object. Pods are decoded directly; workloads through their template.
func decodeObject(gvk schema.GroupVersionKind, raw []byte) (policy.Object, error) {
	if gvk.Group == "" && gvk.Kind == "Pod" {
		var pod corev1.Pod
		if err := decodePod(raw, &pod); err != nil {
			return policy.Object{}, err
		}
		return podObject("Pod", pod.Name, &pod), nil
	}
	if !workload.Supported(gvk) {
		return policy.Object{}, workload.ErrUnsupportedKind
	}
	if len(raw) == 0 {
		return policy.Object{}, errors.New("decode object: the request has no object")
	}
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(raw); err != nil {
		return policy.Object{}, fmt.Errorf("decode %s: %w", gvk.Kind, err)
	}
	pod, err := workload.PodOf(&u)
	if err != nil {
		return policy.Object{}, fmt.Errorf("decode %s: %w", gvk.Kind, err)
	}
	return podObject(gvk.Kind, u.GetName(), pod), nil
}

func podObject(kind, name string, pod *corev1.Pod) policy.Object {
	if name == "" && pod.GenerateName != "" {
		name = pod.GenerateName + "*"
	}
	return policy.Object{
		Kind:        kind,
		Name:        name,
		Labels:      pod.Labels,
		Annotations: pod.Annotations,
		Spec:        &pod.Spec,
	}
}

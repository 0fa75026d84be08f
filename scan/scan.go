package scan

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"wisp.dev/wisp/policy"
)

// DefaultPageSize is the limit of each list call when Config.PageSize is 0.
const DefaultPageSize = 500

// Config says what Scan judges and how.
type Config struct {
	// Policy judges every object. Required.
	Policy *policy.Evaluator
	// Namespace limits the scan to one namespace. Default: every namespace.
	Namespace string
	// PageSize is the limit of each list call (objects per page). Default
	// DefaultPageSize.
	PageSize int64
}

func (c Config) withDefaults() Config {
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	return c
}

// Ref names one object.
type Ref struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Namespace  string    `json:"namespace,omitempty"`
	Name       string    `json:"name"`
	UID        types.UID `json:"uid,omitempty"`
}

func (r Ref) String() string { return r.Kind + " " + r.Namespace + "/" + r.Name }

// Namespace is what the scan found in one namespace.
type Namespace struct {
	// Name of the namespace.
	Name string
	// Labels of the namespace, as the policy read them.
	Labels map[string]string
	// Mode is the namespace's policy mode.
	Mode policy.Mode
	// Exempt is true when the whole namespace is exempt: nothing in it is
	// judged, and it has no Report.
	Exempt bool
	// Terminating is true for a namespace being deleted: it is judged, but
	// gets no Report (the API server refuses new content there).
	Terminating bool
	// Workloads counts what was judged (or, when exempt, would have been):
	// top-level workloads and pods that no scanned workload owns.
	Workloads int
	// Violations counts the violations by rule id.
	Violations map[string]int
}

// Finding is one violation of one top-level workload (or unowned pod).
type Finding struct {
	// Object is the workload (or pod) that carries the violation.
	Object Ref
	// Owners is Object's chain of controllers that the scan did not judge,
	// nearest first: a pod's ReplicaSet that no longer exists, a custom
	// resource, a Node for a static pod. Empty for a top-level workload.
	Owners []Ref
	// Pods counts the pods that run Object (1 for a pod).
	Pods int
	// Mode is the namespace's mode: what admission does with such a pod.
	Mode policy.Mode
	// Violation is the policy's verdict; it never holds a value.
	Violation policy.Violation
	// Message is the violation's one line, as the webhook and wisp check
	// print it.
	Message string
	// Allowed, in Result.Allowed only, is a Secret reference that the
	// policy's allow.secrets allowed (Violation is then zero).
	Allowed *policy.Allowed
}

// Result is a scan's outcome. Namespaces are sorted by name; Findings by
// namespace, kind, name, then in the policy's order (container, env).
type Result struct {
	Namespaces []Namespace
	Findings   []Finding
	// Allowed are the Secret references allowed by the policy
	// (allow.secrets), in the same order: not violations.
	Allowed []Finding
}

// node is one scanned workload, kept compact for owner resolution.
type node struct {
	ref   Ref
	owner *metav1.OwnerReference // its controller, if any
	// selector selects its pods; nil for a kind that runs no pods itself
	// (Deployment, CronJob) or a selector that does not parse.
	selector labels.Selector
	// hash is a ReplicaSet's pod-template-hash label ("" if none).
	hash string
	pods int
	// findings of its own template; dropped when a scanned workload owns it.
	findings []Finding
}

// Scan lists the namespaces, workloads and pods that cfg selects, through
// c, and judges them. A failed API call returns an *APIError.
func Scan(ctx context.Context, c kubernetes.Interface, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if cfg.Policy == nil {
		return nil, fmt.Errorf("scan: no policy")
	}
	namespaces, err := readNamespaces(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*Namespace, len(namespaces))
	for i := range namespaces {
		byName[namespaces[i].Name] = &namespaces[i]
	}
	nsOf := func(name string) *Namespace {
		ns := byName[name]
		if ns == nil {
			// Created after the namespaces were listed: judged with no
			// labels, like the webhook before its cache catches up.
			mode, exempt := cfg.Policy.Namespace(name, nil)
			namespaces = append(namespaces, Namespace{Name: name, Mode: mode, Exempt: exempt, Violations: map[string]int{}})
			for i := range namespaces {
				byName[namespaces[i].Name] = &namespaces[i]
			}
			ns = byName[name]
		}
		return ns
	}

	nodes := map[types.UID]*node{}
	for _, k := range workloadKinds() {
		err := listAll(ctx, c, k, cfg, func(o object) {
			n := newNode(o)
			nodes[o.ref.UID] = n
			ns := nsOf(o.ref.Namespace)
			if ns.Exempt {
				return
			}
			n.findings = judge(cfg.Policy, o, ns)
		})
		if err != nil {
			return nil, err
		}
	}

	var loose []Finding // of pods that no scanned workload runs, or beyond it
	looseUnits := map[string]int{}
	err = listAll(ctx, c, podKind(), cfg, func(o object) {
		ns := nsOf(o.ref.Namespace)
		owner := podOwner(nodes, o)
		var findings []Finding
		if !ns.Exempt {
			findings = judge(cfg.Policy, o, ns)
		}
		if owner != nil {
			// Reported under its owner, unless it carries what its
			// owner's template does not.
			if findings = beyond(findings, owner.findings); len(findings) == 0 {
				top(nodes, owner).pods++
				return
			}
		}
		looseUnits[o.ref.Namespace]++
		owners := ownerChain(nodes, o.owner)
		if owner == nil && o.owner != nil && nodes[o.owner.UID] != nil {
			owners = []Ref{claimedOwner(o.owner)} // named, but not its owner
		}
		for _, f := range findings {
			f.Pods = 1
			f.Owners = owners
			loose = append(loose, f)
		}
	})
	if err != nil {
		return nil, err
	}

	r := &Result{}
	for _, n := range nodes {
		if n.owner != nil && nodes[n.owner.UID] != nil {
			continue // reported under its owner
		}
		nsOf(n.ref.Namespace).Workloads++
		for _, f := range n.findings {
			f.Pods = n.pods
			f.Owners = ownerChain(nodes, n.owner)
			r.Findings = append(r.Findings, f)
		}
	}
	for ns, count := range looseUnits {
		nsOf(ns).Workloads += count
	}
	r.Findings = append(r.Findings, loose...)
	r.Findings, r.Allowed = splitAllowed(r.Findings)
	for _, f := range r.Findings {
		byName[f.Object.Namespace].Violations[f.Violation.RuleID]++
	}
	sortFindings(r.Findings)
	sortFindings(r.Allowed)
	slices.SortFunc(namespaces, func(a, b Namespace) int { return cmp.Compare(a.Name, b.Name) })
	r.Namespaces = namespaces
	return r, nil
}

func newNode(o object) *node {
	n := &node{ref: o.ref, owner: o.owner}
	if o.selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(o.selector); err == nil {
			n.selector = sel
		}
	}
	if o.ref.Kind == "ReplicaSet" {
		n.hash = o.tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	}
	return n
}

// podOwner returns the scanned workload that runs pod o, or nil. Whoever
// creates a pod writes its ownerReferences, so the one o names counts
// only if it is listed, under that kind and name, runs pods itself
// (ReplicaSet, StatefulSet, DaemonSet, Job: a Deployment or a CronJob
// never does), and selects o's labels; a ReplicaSet's pods also carry its
// pod-template-hash. A pod that names a workload it does not belong to is
// judged as itself.
func podOwner(nodes map[types.UID]*node, o object) *node {
	if o.owner == nil {
		return nil
	}
	n := nodes[o.owner.UID]
	if n == nil || n.selector == nil || n.ref.Kind != o.owner.Kind || n.ref.Name != o.owner.Name {
		return nil
	}
	if !n.selector.Matches(labels.Set(o.tmpl.Labels)) {
		return nil
	}
	if n.hash != "" && o.tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != n.hash {
		return nil
	}
	return n
}

// beyond returns the findings of a pod that its owner's template does not
// have (same rule, container and env var): what the pod carries of its
// own, whatever put it there.
func beyond(pod, owner []Finding) []Finding {
	if len(pod) == 0 {
		return nil
	}
	type key struct{ rule, container, env string }
	known := make(map[key]bool, len(owner))
	for _, f := range owner {
		known[key{f.Violation.RuleID, f.Violation.Container, f.Violation.Env}] = true
	}
	var out []Finding
	for _, f := range pod {
		if !known[key{f.Violation.RuleID, f.Violation.Container, f.Violation.Env}] {
			out = append(out, f)
		}
	}
	return out
}

// claimedOwner is the owner a pod's ownerReference names.
func claimedOwner(owner *metav1.OwnerReference) Ref {
	return Ref{APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: owner.UID}
}

// top returns the top-level scanned workload above n.
func top(nodes map[types.UID]*node, n *node) *node {
	for i := 0; i < 8 && n.owner != nil; i++ { // bounded: ownerReferences may loop
		up := nodes[n.owner.UID]
		if up == nil {
			break
		}
		n = up
	}
	return n
}

// ownerChain returns the controller chain from owner up, as far as the scan
// knows it: an owner the scan did not list ends it.
func ownerChain(nodes map[types.UID]*node, owner *metav1.OwnerReference) []Ref {
	var out []Ref
	for i := 0; i < 8 && owner != nil; i++ {
		n := nodes[owner.UID]
		if n == nil {
			out = append(out, claimedOwner(owner))
			break
		}
		out = append(out, n.ref)
		owner = n.owner
	}
	return out
}

// judge evaluates o's pod (template) in namespace ns.
func judge(ev *policy.Evaluator, o object, ns *Namespace) []Finding {
	po := policy.Object{
		Kind: o.ref.Kind, Namespace: o.ref.Namespace, Name: o.ref.Name,
		Labels: o.tmpl.Labels, Annotations: o.tmpl.Annotations, Spec: &o.tmpl.Spec,
		NamespaceLabels: ns.Labels,
	}
	d := ev.Evaluate(po)
	if d.Exempt || len(d.Violations)+len(d.Allowed) == 0 {
		return nil
	}
	out := make([]Finding, 0, len(d.Violations)+len(d.Allowed))
	for _, v := range d.Violations {
		out = append(out, Finding{Object: o.ref, Mode: d.Mode, Violation: v, Message: v.Message(po)})
	}
	for _, a := range d.Allowed {
		out = append(out, Finding{Object: o.ref, Mode: d.Mode, Allowed: &a, Message: a.Message(po)})
	}
	return out
}

// splitAllowed separates the allowed references from the violations,
// keeping the order of each.
func splitAllowed(fs []Finding) (violations, allowed []Finding) {
	for _, f := range fs {
		if f.Allowed != nil {
			allowed = append(allowed, f)
		} else {
			violations = append(violations, f)
		}
	}
	return violations, allowed
}

func sortFindings(fs []Finding) {
	kindOrder := map[string]int{}
	for i, k := range append(workloadKinds(), podKind()) {
		kindOrder[k.kind] = i
	}
	// Stable: a workload's violations keep the policy's order.
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.Object.Namespace, b.Object.Namespace),
			cmp.Compare(kindOrder[a.Object.Kind], kindOrder[b.Object.Kind]),
			cmp.Compare(a.Object.Name, b.Object.Name),
			cmp.Compare(a.Object.UID, b.Object.UID),
		)
	})
}

// readNamespaces returns the namespaces the scan covers, with their labels,
// modes and exemptions.
func readNamespaces(ctx context.Context, c kubernetes.Interface, cfg Config) ([]Namespace, error) {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	mk := func(n *corev1.Namespace) Namespace {
		mode, exempt := cfg.Policy.Namespace(n.Name, n.Labels)
		return Namespace{Name: n.Name, Labels: n.Labels, Mode: mode, Exempt: exempt, Violations: map[string]int{},
			Terminating: n.DeletionTimestamp != nil || n.Status.Phase == corev1.NamespaceTerminating}
	}
	if cfg.Namespace != "" {
		n, err := c.CoreV1().Namespaces().Get(ctx, cfg.Namespace, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("namespace %q not found", cfg.Namespace)
			}
			return nil, &APIError{Verb: "get", Resource: gvr, Name: cfg.Namespace, Err: err}
		}
		return []Namespace{mk(n)}, nil
	}
	var out []Namespace
	opts := metav1.ListOptions{Limit: cfg.PageSize}
	for {
		list, err := c.CoreV1().Namespaces().List(ctx, opts)
		if err != nil {
			return nil, &APIError{Verb: "list", Resource: gvr, Err: err}
		}
		for i := range list.Items {
			out = append(out, mk(&list.Items[i]))
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

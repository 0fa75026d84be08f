package policy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"wisp.dev/wisp/plan"
)

// ErrRoleNotAllowed is wrapped by AllowedRole's errors.
var ErrRoleNotAllowed = errors.New("vault role not allowed")

// Object is what the Evaluator judges: a pod, or a workload through its pod
// template. Evaluate only reads it.
type Object struct {
	// Kind of the object (Pod, Deployment, CronJob ...), for messages and
	// field paths. Default Pod.
	Kind string
	// Namespace and Name of the object. Name may be empty (generateName).
	Namespace, Name string
	// Labels and Annotations of the pod, or of a workload's pod template.
	Labels, Annotations map[string]string
	// Spec is the pod spec (the template's spec for a workload). Nil means
	// nothing to check.
	Spec *corev1.PodSpec
	// SpecPath is the field path of Spec in the object, for messages
	// (spec.predictor). Empty: the path Kind implies.
	SpecPath string
	// NamespaceLabels are the labels of the namespace, from the webhook's
	// cache. Needed only when NeedsNamespaceLabels says so; nil means none.
	NamespaceLabels map[string]string
	// Stop, if set, ends the evaluation once its Err is not nil: the
	// webhook passes the request's context, done at its deadline.
	// Evaluate asks it between containers and stops judging there (see
	// RuleDeadlineExceeded); it never reads a clock itself.
	Stop interface{ Err() error }
}

// Decision is the Evaluator's verdict on one Object.
type Decision struct {
	// Mode is the namespace's mode: what to do with Violations.
	Mode Mode
	// Exempt is true when the object was not evaluated: an exempt
	// namespace or pod. Violations is then empty.
	Exempt bool
	// ExemptReason says which exemption applied. For the exemption
	// annotation it quotes the pod's reason.
	ExemptReason string
	// Violations found, at most one per env entry (or volume, or downward
	// API file), in spec order (secret volumes, then init containers,
	// containers, ephemeral containers; env then envFrom; then downward API
	// volumes, then template annotations). Those of a WarnOnly rule never
	// deny.
	Violations []Violation
	// Allowed are the Secret references that allow.secrets allowed, in
	// spec order: not violations, reported so that audits see them.
	Allowed []Allowed
	// Notes are things the user should know that are not violations: an
	// exemption annotation that was ignored and why, an invalid mode label.
	// The webhook returns them as admission warnings.
	Notes []string
}

// Denied reports whether the webhook must refuse the object: not exempt,
// mode enforce, at least one violation that is not WarnOnly.
func (d Decision) Denied() bool {
	if d.Exempt || d.Mode != ModeEnforce {
		return false
	}
	for _, v := range d.Violations {
		if !v.WarnOnly {
			return true
		}
	}
	return false
}

// Messages returns one line per violation (see Violation.Message).
func (d Decision) Messages(o Object) []string {
	out := make([]string, len(d.Violations))
	for i, v := range d.Violations {
		out[i] = v.Message(o)
	}
	return out
}

// NeedsNamespaceLabels reports whether the policy reads namespace labels
// (a mode label or a namespace selector). When it does not, callers may
// leave Object.NamespaceLabels nil.
func (e *Evaluator) NeedsNamespaceLabels() bool {
	return e.modeLabel != "" || e.exemptNSSelector != nil
}

// Rules returns the enabled rules, in the order they are tried.
func (e *Evaluator) Rules() []Rule {
	return append([]Rule(nil), e.rules...)
}

// Evaluate judges o. It never returns or embeds an env value, in whole or
// in part.
func (e *Evaluator) Evaluate(o Object) Decision {
	var d Decision
	d.Mode = e.modeOf(o.Namespace, o.NamespaceLabels, &d.Notes)

	if reason := e.exemption(o, &d.Notes); reason != "" {
		d.Exempt, d.ExemptReason = true, reason
		return d
	}
	path := o.SpecPath
	if path == "" {
		path = specPath(o.Kind)
	}
	if over := e.overLimits(o, path); len(over) > 0 {
		d.Violations = over // over a limit: nothing is judged (limits.go)
		return d
	}
	b := budget{stop: o.Stop}
	if o.Spec != nil {
		d.Violations, d.Allowed = e.scan(o, path, &b)
	}
	if len(o.Annotations) > 0 && !b.over() {
		d.Violations = append(d.Violations, e.scanTemplates(o, path)...)
	}
	if b.stopped {
		d.Violations = append(d.Violations, deadlineViolation(path))
	}
	return d
}

// Namespace returns the mode of namespace ns (whose labels are nsLabels)
// and whether the whole namespace is exempt (namespaces.exempt or
// namespaces.exemptSelector): what a scan of a live cluster reports per
// namespace. Evaluate applies the same rules to each object.
func (e *Evaluator) Namespace(ns string, nsLabels map[string]string) (mode Mode, exempt bool) {
	var notes []string
	mode = e.modeOf(ns, nsLabels, &notes)
	exempt = anyGlob(e.exemptNamespaces, ns) ||
		(e.exemptNSSelector != nil && nsLabels != nil && e.exemptNSSelector.Matches(labels.Set(nsLabels)))
	return mode, exempt
}

// modeOf resolves a namespace's mode: its mode label, then
// namespaces.modes, then the default.
func (e *Evaluator) modeOf(ns string, nsLabels map[string]string, notes *[]string) Mode {
	if e.modeLabel != "" {
		if v, ok := nsLabels[e.modeLabel]; ok {
			if m := Mode(v); m.valid() {
				return m
			}
			*notes = append(*notes, fmt.Sprintf("namespace label %s=%q is not enforce, warn or audit: enforcing", e.modeLabel, v))
			return ModeEnforce
		}
	}
	if m, ok := e.modes[ns]; ok {
		return m
	}
	return e.mode
}

// exemption returns why o is exempt, or "".
func (e *Evaluator) exemption(o Object, notes *[]string) string {
	if anyGlob(e.exemptNamespaces, o.Namespace) {
		return fmt.Sprintf("namespace %q is exempt (namespaces.exempt)", o.Namespace)
	}
	if e.exemptNSSelector != nil && o.NamespaceLabels != nil && e.exemptNSSelector.Matches(labels.Set(o.NamespaceLabels)) {
		return fmt.Sprintf("namespace %q is exempt (namespaces.exemptSelector)", o.Namespace)
	}
	if e.exemptPods != nil && e.exemptPods.Matches(labels.Set(o.Labels)) {
		if anyGlob(e.exemptPodNamespaces, o.Namespace) {
			return "pod labels are exempt (exemptPods.selector)"
		}
		*notes = append(*notes, fmt.Sprintf("exemptPods.selector ignored: the platform policy honours it only in namespaces %s, not in %q",
			e.exemptPodNamespacesText, o.Namespace))
	}
	reason, ok := o.Annotations[ExemptAnnotation]
	if !ok {
		return ""
	}
	reason = strings.TrimSpace(reason)
	switch {
	case !e.annotationAllowed:
		*notes = append(*notes, fmt.Sprintf("annotation %s ignored: the platform policy does not allow exemptions by annotation", ExemptAnnotation))
	case len(e.annotationNamespaces) > 0 && !anyGlob(e.annotationNamespaces, o.Namespace):
		*notes = append(*notes, fmt.Sprintf("annotation %s ignored: the platform policy does not allow exemptions by annotation in namespace %q", ExemptAnnotation, o.Namespace))
	case utf8.RuneCountInString(reason) < e.minReasonLength:
		*notes = append(*notes, fmt.Sprintf("annotation %s ignored: the reason must be at least %d characters", ExemptAnnotation, e.minReasonLength))
	default:
		return fmt.Sprintf("annotation %s: %s", ExemptAnnotation, reason)
	}
	return ""
}

// specPath is the field path of the pod spec inside an object of kind.
func specPath(kind string) string {
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		return "spec.template.spec"
	case "CronJob":
		return "spec.jobTemplate.spec.template.spec"
	case "PodTemplate":
		return "template.spec"
	}
	return "spec"
}

// scan runs the rules over every env and envFrom entry of every container,
// then over the pod's volumes (Secret volumes, downward API files), in the
// object's namespace, until b is over.
func (e *Evaluator) scan(o Object, prefix string, b *budget) ([]Violation, []Allowed) {
	spec := o.Spec
	s := scanner{e: e, prefix: prefix, ns: o.Namespace, labels: o.Labels, annotations: o.Annotations, budget: expansionBudget}
	s.secretVolumes(spec.Volumes)
	for i := range spec.InitContainers {
		if b.over() {
			return s.out, s.allowed
		}
		c := &spec.InitContainers[i]
		s.container("initContainers", i, c.Name, c.Env, c.EnvFrom)
	}
	for i := range spec.Containers {
		if b.over() {
			return s.out, s.allowed
		}
		c := &spec.Containers[i]
		s.container("containers", i, c.Name, c.Env, c.EnvFrom)
	}
	for i := range spec.EphemeralContainers {
		if b.over() {
			return s.out, s.allowed
		}
		c := &spec.EphemeralContainers[i].EphemeralContainerCommon
		s.container("ephemeralContainers", i, c.Name, c.Env, c.EnvFrom)
	}
	s.downwardVolumes(spec.Volumes)
	return s.out, s.allowed
}

// scanner walks one pod spec. Its item is reused for every entry, so a
// scan allocates only for what it reports.
type scanner struct {
	e       *Evaluator
	prefix  string
	ns      string // the object's namespace, for allow.secrets
	it      item
	out     []Violation
	allowed []Allowed
	// labels and annotations of the pod (template), which fieldRef and
	// downward API volumes can give a container.
	labels, annotations map[string]string
	// vars holds what the kubelet would know of a container's variables
	// so far, for $(VAR) expansion (nil while no container needs it).
	vars   map[string]string
	lookup func(string) (string, bool) // over vars
	// budget is what expansion may still write (expansionBudget);
	// overflow: the entry being judged was not expanded, for want of it.
	budget   int
	overflow bool
	// resolved is the entry being judged when its value is not the one
	// written (expanded, or read through fieldRef).
	resolved corev1.EnvVar
}

func (s *scanner) container(list string, ci int, name string, env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
	e := s.e
	expand := s.startEnv(env)
	for j := range env {
		ev := &env[j]
		s.overflow = false
		value, via, known := s.envValue(ev, expand)
		switch {
		case s.overflow:
			// A value the container cannot start with, or the budget
			// is spent: the rest of the env is judged as written.
			expand = false
		case expand:
			s.define(ev.Name, value, known)
		}
		// allow.names silences the heuristic rules only: a Secret reference
		// or a known credential format is never allowed by its name.
		s.it = item{env: ev, nameAllowed: len(e.allowNames) > 0 && anyGlob(e.allowNames, ev.Name)}
		if ev.ValueFrom == nil && (ev.Name == plan.PlanVar || ev.Name == plan.EnvSpecVar) {
			// Judged as written: a $( in them is refused (mutate.CheckPlans).
			if lits, ok := e.wispVarLiterals(ev.Name, ev.Value); ok {
				s.wispVar(list, ci, name, j, ev.Name, lits)
				continue
			}
		}
		if known && value != "" {
			if e.allowedValue(value) {
				continue
			}
			s.it.lit = newLiteral(value)
			if isReference(s.it.lit.v) {
				continue // points at a secret store: not a secret
			}
			if via != "" {
				// Judged as the literal the container gets.
				s.resolved = corev1.EnvVar{Name: ev.Name, Value: value}
				s.it.env = &s.resolved
			}
		}
		if ref := ev.ValueFrom; ref != nil && ref.SecretKeyRef != nil && e.secretAllowed(s.ns, ref.SecretKeyRef.Name) {
			s.allow(name, ev.Name, s.field(list, ci, ".env[", j), ref.SecretKeyRef.Name)
			continue
		}
		if id, reason, remedy := e.check(&s.it); id != "" {
			if via != "" && s.it.env == &s.resolved {
				reason = via + ": " + reason
			}
			s.out = append(s.out, Violation{
				RuleID:    id,
				Container: name,
				Env:       ev.Name,
				Field:     s.field(list, ci, ".env[", j),
				Reason:    reason,
				Remedy:    strings.ReplaceAll(remedy, envPlaceholder, ev.Name),
				WarnOnly:  e.warnOnly(id),
			})
		}
	}
	s.envFrom(list, ci, name, envFrom)
}

// envFrom judges the envFrom entries of one container.
func (s *scanner) envFrom(list string, ci int, name string, envFrom []corev1.EnvFromSource) {
	e := s.e
	for j := range envFrom {
		ef := &envFrom[j]
		if ef.SecretRef != nil && e.secretAllowed(s.ns, ef.SecretRef.Name) {
			s.allow(name, envFromPrefix+ef.SecretRef.Name, s.field(list, ci, ".envFrom[", j), ef.SecretRef.Name)
			continue
		}
		s.it = item{from: ef}
		if id, reason, remedy := e.check(&s.it); id != "" {
			from := ""
			switch {
			case ef.SecretRef != nil:
				from = ef.SecretRef.Name
			case ef.ConfigMapRef != nil:
				from = ef.ConfigMapRef.Name
			}
			s.out = append(s.out, Violation{
				RuleID:    id,
				Container: name,
				Env:       envFromPrefix + from,
				Field:     s.field(list, ci, ".envFrom[", j),
				Reason:    reason,
				Remedy:    strings.ReplaceAll(remedy, envPlaceholder, "<VAR>"),
				WarnOnly:  e.warnOnly(id),
			})
		}
	}
}

// wispVar judges the literals inside one of wisp's own variables.
func (s *scanner) wispVar(list string, ci int, container string, j int, name string, lits []templateLiteral) {
	for _, l := range lits {
		if l.value == "" || s.e.allowedValue(l.value) || isReference(l.value) {
			continue
		}
		v := corev1.EnvVar{Name: l.name, Value: l.value}
		it := item{env: &v, lit: newLiteral(l.value)}
		if id, reason, remedy := s.e.check(&it); id != "" {
			s.out = append(s.out, Violation{
				RuleID:    id,
				Container: container,
				Env:       name,
				Field:     s.field(list, ci, ".env[", j),
				Reason:    "wisp's " + name + " holds a " + reason,
				Remedy:    strings.ReplaceAll(remedy, envPlaceholder, name),
			})
			return
		}
	}
}

// field renders <prefix>.<list>[ci]<entry>j], e.g. spec.containers[0].env[2].
func (s *scanner) field(list string, ci int, entry string, j int) string {
	return s.prefix + "." + list + "[" + strconv.Itoa(ci) + "]" + entry + strconv.Itoa(j) + "]"
}

// check runs the enabled rules' checks in order, then their slow stages,
// and returns the first that flags the entry.
func (e *Evaluator) check(it *item) (id, reason, remedy string) {
	for i := range e.rules {
		if r := &e.rules[i]; r.check != nil && !(it.nameAllowed && r.Heuristic) {
			if reason := r.check(e, it); reason != "" {
				return r.ID, reason, r.Remedy
			}
		}
	}
	for i := range e.rules {
		if r := &e.rules[i]; r.slow != nil && !(it.nameAllowed && r.Heuristic) {
			if reason := r.slow(e, it); reason != "" {
				return r.ID, reason, r.Remedy
			}
		}
	}
	return "", "", ""
}

// allowedValue reports whether v is on allow.values or matches
// allow.valuePatterns.
func (e *Evaluator) allowedValue(v string) bool {
	if _, ok := e.allowLens[len(v)]; ok {
		if _, ok := e.allowValues[sha256.Sum256([]byte(v))]; ok {
			return true
		}
	}
	for _, re := range e.allowPatterns {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

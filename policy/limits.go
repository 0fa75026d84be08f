package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/plan"
)

// Limits of what Evaluate judges in one object. An object over any of them
// is not judged at all: Evaluate reports each limit it exceeds as a
// violation of RuleTooLarge, which names what is too large and its size,
// never its content. Within them, judging any object costs at most tens of
// milliseconds, whatever a hostile author writes (measured on the 2-core
// machine: 1 MiB of literal values about 35 ms, 4096 credentials 6 ms,
// 64 KiB of dense template text about 22 ms), where a 2.8 MB template in a
// hand-written WISP_PLAN cost a second and 80 MB before these limits.
//
// The limits sit far above real pods: in the real-world corpus
// (testdata/realworld, 348 documents) the most env entries in one
// document is 66 and the longest literal value in the corpus files 1156
// bytes. Linux refuses to start a program with one environment string over
// 128 KiB (MAX_ARG_STRLEN) anyway.
const (
	// MaxEnvEntries bounds the env and envFrom entries of all the
	// containers of an object together.
	MaxEnvEntries = 4096
	// MaxEnvValueBytes bounds one literal env value (other than WISP_PLAN
	// and WISP_ENV, which MaxWispVarBytes bounds).
	MaxEnvValueBytes = 32 << 10
	// MaxLiteralBytes bounds the names and literal values of all the env
	// entries of an object together (WISP_PLAN and WISP_ENV included).
	MaxLiteralBytes = 1 << 20
	// MaxWispVarBytes bounds one WISP_PLAN or WISP_ENV value, and the
	// WISP_PLAN values of an object together: the largest fetch plan or
	// exec-shim spec wisp writes (mutate.MaxPlanBytes).
	MaxWispVarBytes = 64 << 10
	// MaxTemplateBytes bounds one template: a template annotation (wisp's
	// or a Vault Agent Injector alias) or a template inside a WISP_PLAN
	// (mutate.MaxTemplateBytes).
	MaxTemplateBytes = 16 << 10
	// MaxTemplatesBytes bounds the template annotations of an object
	// together (all of them end up in one fetch plan).
	MaxTemplatesBytes = 64 << 10
)

// IDs of the violations that are not a rule's: they say that Evaluate did
// not judge an object, or not all of it. Modes apply to them as to any
// violation (enforce denies, warn warns, audit records); allow lists,
// rules.disabled and NewViolationsOnly never drop them: an object wisp
// could not judge is never taken for a clean one.
const (
	// RuleTooLarge: the object is over one of the limits above; nothing
	// in it was judged.
	RuleTooLarge = "too-large"
	// RuleDeadlineExceeded: Object.Stop reported the caller's deadline
	// before Evaluate was done; the violations found until then are
	// reported with it.
	RuleDeadlineExceeded = "deadline-exceeded"
)

// Remedies of the limits' violations.
const (
	remedyLargeValue    = "put large configuration in a ConfigMap mounted as a file, and secrets in Vault (wisp.dev/secret-<name>)"
	remedyLargeWispVar  = "let wisp write its own variables: remove the hand-written one and opt in with wisp.dev/inject"
	remedyLargeTemplate = "keep templates small: a template only shapes the data it fetches; put large static text in a ConfigMap"
	remedyTooMany       = "split the workload, or move configuration to a ConfigMap mounted as a file"
	remedyDeadline      = "retry: wisp was too busy to judge the object within the request's deadline"
)

// Incomplete reports whether Evaluate stopped at the caller's deadline
// (see Object.Stop): the violations are then those found until then.
func (d Decision) Incomplete() bool {
	for i := len(d.Violations) - 1; i >= 0; i-- {
		if d.Violations[i].RuleID == RuleDeadlineExceeded {
			return true
		}
	}
	return false
}

// unjudged reports whether a violation says the object was not judged, or
// not in full: such a violation is never dropped as old.
func (v Violation) unjudged() bool {
	return v.RuleID == RuleTooLarge || v.RuleID == RuleDeadlineExceeded
}

// budget follows Object.Stop through one evaluation: once it reports the
// deadline, the evaluation stops.
type budget struct {
	stop    interface{ Err() error }
	stopped bool
}

// over reports whether the deadline has come (and remembers it).
func (b *budget) over() bool {
	if !b.stopped && b.stop != nil && b.stop.Err() != nil {
		b.stopped = true
	}
	return b.stopped
}

// deadlineViolation says that judging stopped at the deadline.
func deadlineViolation(specPath string) Violation {
	return Violation{
		RuleID: RuleDeadlineExceeded,
		Field:  specPath,
		Reason: "not judged in full: the request's deadline came first",
		Remedy: remedyDeadline,
	}
}

// overLimits returns a violation of RuleTooLarge for each limit o exceeds,
// in spec order, then its annotations', then the object's totals. It reads
// only lengths, and the JSON of a WISP_PLAN longer than a template may be
// (to find its templates' lengths): its cost is linear in o's size.
func (e *Evaluator) overLimits(o Object, specPath string) []Violation {
	var l limitCheck
	l.specPath = specPath
	if o.Spec != nil {
		eachContainer(o.Spec, l.container)
	}
	l.templates(o.Annotations)
	l.totals()
	return l.out
}

// limitCheck gathers an object's sizes and the limits they exceed.
type limitCheck struct {
	specPath                   string
	entries, literals, planLen int
	out                        []Violation
}

func (l *limitCheck) container(list string, ci int, name string, env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
	l.entries += len(env) + len(envFrom)
	for j := range env {
		ev := &env[j]
		l.literals += len(ev.Name)
		if ev.ValueFrom != nil {
			continue // its value, if any, is not judged
		}
		n := len(ev.Value)
		l.literals += n
		over := func(reason, remedy string) {
			l.literals -= n // reported on its own, not again in the total
			l.out = append(l.out, Violation{
				RuleID: RuleTooLarge, Container: name, Env: ev.Name,
				Field:  l.specPath + "." + list + "[" + strconv.Itoa(ci) + "].env[" + strconv.Itoa(j) + "]",
				Reason: reason, Remedy: remedy,
			})
		}
		switch ev.Name {
		case plan.PlanVar, plan.EnvSpecVar:
			if ev.Name == plan.PlanVar {
				l.planLen += n
			}
			if n > MaxWispVarBytes {
				over(fmt.Sprintf("wisp's %s is %s; it may have at most %s", ev.Name, size(n), size(MaxWispVarBytes)), remedyLargeWispVar)
			} else if t := largestPlanTemplate(ev.Name, ev.Value); t > MaxTemplateBytes {
				over(fmt.Sprintf("wisp's %s holds a template of %s; a template may have at most %s", ev.Name, size(t), size(MaxTemplateBytes)), remedyLargeWispVar)
			}
		default:
			if n > MaxEnvValueBytes {
				over(fmt.Sprintf("literal value is %s; wisp judges values of at most %s", size(n), size(MaxEnvValueBytes)), remedyLargeValue)
			}
		}
	}
}

// largestPlanTemplate is the length of the longest template of a fetch
// plan, read only when the plan is longer than a template may be (a JSON
// string is never shorter than the text it decodes to); 0 otherwise, and
// for anything that is not a plan (judged as a plain literal).
func largestPlanTemplate(name, value string) int {
	if name != plan.PlanVar || len(value) <= MaxTemplateBytes {
		return 0
	}
	var p struct {
		Secrets []struct {
			Template string `json:"template"`
		} `json:"secrets"`
	}
	if json.Unmarshal([]byte(value), &p) != nil {
		return 0
	}
	most := 0
	for _, s := range p.Secrets {
		most = max(most, len(s.Template))
	}
	return most
}

// templates checks the template annotations, in key order.
func (l *limitCheck) templates(annotations map[string]string) {
	var keys []string
	total := 0
	for k, v := range annotations {
		if isTemplateKey(k) {
			total += len(v)
			if len(v) > MaxTemplateBytes {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 && total <= MaxTemplatesBytes {
		return
	}
	path := annotationsPath(l.specPath)
	sort.Strings(keys)
	for _, k := range keys {
		l.out = append(l.out, Violation{
			RuleID: RuleTooLarge, Env: k, Field: path + "[" + k + "]",
			Reason: fmt.Sprintf("template is %s; a template may have at most %s", size(len(annotations[k])), size(MaxTemplateBytes)),
			Remedy: remedyLargeTemplate,
		})
	}
	if total > MaxTemplatesBytes {
		l.out = append(l.out, Violation{
			RuleID: RuleTooLarge, Field: path,
			Reason: fmt.Sprintf("template annotations of %s together; wisp judges at most %s", size(total), size(MaxTemplatesBytes)),
			Remedy: remedyLargeTemplate,
		})
	}
}

// totals checks the object's totals.
func (l *limitCheck) totals() {
	add := func(reason, remedy string) {
		l.out = append(l.out, Violation{RuleID: RuleTooLarge, Field: l.specPath, Reason: reason, Remedy: remedy})
	}
	if l.entries > MaxEnvEntries {
		add(fmt.Sprintf("%d env and envFrom entries; wisp judges at most %d per object", l.entries, MaxEnvEntries), remedyTooMany)
	}
	if l.literals > MaxLiteralBytes {
		add(fmt.Sprintf("env names and literal values of %s together; wisp judges at most %s per object", size(l.literals), size(MaxLiteralBytes)), remedyTooMany)
	}
	if l.planLen > MaxWispVarBytes && !l.reported(plan.PlanVar) {
		add(fmt.Sprintf("%s values of %s together; at most %s", plan.PlanVar, size(l.planLen), size(MaxWispVarBytes)), remedyLargeWispVar)
	}
}

// reported: a violation already names env var name.
func (l *limitCheck) reported(name string) bool {
	for _, v := range l.out {
		if v.Env == name {
			return true
		}
	}
	return false
}

// isTemplateKey reports whether an annotation holds a template.
func isTemplateKey(k string) bool {
	for _, p := range TemplatePrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// eachContainer calls f with every container of spec: its list's field
// name, its index there, its name, env and envFrom.
func eachContainer(spec *corev1.PodSpec, f func(list string, i int, name string, env []corev1.EnvVar, envFrom []corev1.EnvFromSource)) {
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		f("initContainers", i, c.Name, c.Env, c.EnvFrom)
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		f("containers", i, c.Name, c.Env, c.EnvFrom)
	}
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i].EphemeralContainerCommon
		f("ephemeralContainers", i, c.Name, c.Env, c.EnvFrom)
	}
}

// size renders n bytes for a message: "900 bytes", "40.0 KiB", "2.7 MiB";
// limits, which are whole KiB or MiB, without decimals.
func size(n int) string {
	switch {
	case n < 1<<10:
		return strconv.Itoa(n) + " bytes"
	case n < 1<<20 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	case n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

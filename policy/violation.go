package policy

import (
	"fmt"
	"strings"
)

// envFromPrefix starts Violation.Env for an envFrom entry.
const envFromPrefix = "envFrom:"

// Violation is one env entry that breaks one rule. It never carries the
// value, nor any part of it.
type Violation struct {
	// RuleID is the stable id of the rule that flagged the entry.
	RuleID string
	// Container is the name of the container (of any kind), or of the
	// volume for a file of a downward API volume.
	Container string
	// Env is the env var's name, "envFrom:<Secret or ConfigMap name>" for
	// envFrom, the file's path in its volume for a downward API file, or
	// the annotation's key for a literal in a template annotation (then
	// Container is empty).
	Env string
	// Field is the entry's path in the object, e.g.
	// "spec.template.spec.containers[0].env[2]".
	Field string
	// Reason says what kind of secret was found, e.g. "literal value
	// contains a GitHub token".
	Reason string
	// Remedy says what to do instead.
	Remedy string
	// WarnOnly: the rule only warns (Rule.WarnOnly); the violation never
	// denies, in any mode.
	WarnOnly bool
}

// Message renders v as one line for a denial, a warning or a log:
//
//	Deployment team-a/web: container "app": env DB_PASSWORD: literal value ... (rule env-name-literal); store it in Vault ...
func (v Violation) Message(o Object) string {
	kind, name := o.kindAndName()
	if v.Container == "" && v.Env == "" {
		// About the whole object (see limits.go).
		return fmt.Sprintf("%s %s/%s: %s (rule %s); %s", kind, o.Namespace, name, v.Reason, v.RuleID, v.Remedy)
	}
	if v.Container == "" && strings.Contains(v.Field, "annotations[") {
		// A literal in a template annotation.
		return fmt.Sprintf("%s %s/%s: annotation %s: %s (rule %s); %s", kind, o.Namespace, name, v.Env, v.Reason, v.RuleID, v.Remedy)
	}
	if vol, ok := strings.CutPrefix(v.Env, volumePrefix); ok && v.Container == "" {
		return fmt.Sprintf("%s %s/%s: volume %q: %s (rule %s); %s", kind, o.Namespace, name, vol, v.Reason, v.RuleID, v.Remedy)
	}
	env := "env " + v.Env
	if from, ok := strings.CutPrefix(v.Env, envFromPrefix); ok {
		kind := "Secret"
		if v.RuleID == RuleEnvConfigMapSecret {
			kind = "ConfigMap"
		}
		env = fmt.Sprintf("envFrom %s %q", kind, from)
	} else if strings.Contains(v.Field, ".volumes[") {
		env = "file " + v.Env
	}
	return fmt.Sprintf("%s %s/%s: %s %q: %s: %s (rule %s); %s",
		kind, o.Namespace, name, containerKind(v.Field), v.Container, env, v.Reason, v.RuleID, v.Remedy)
}

// kindAndName name o in messages: its kind (Pod if unset) and its name
// ("(unnamed)" if unset).
func (o Object) kindAndName() (kind, name string) {
	kind, name = o.Kind, o.Name
	if kind == "" {
		kind = "Pod"
	}
	if name == "" {
		name = "(unnamed)"
	}
	return kind, name
}

// containerKind names the container list a field path points into.
func containerKind(field string) string {
	switch {
	case strings.Contains(field, ".initContainers["):
		return "init container"
	case strings.Contains(field, ".ephemeralContainers["):
		return "ephemeral container"
	case strings.Contains(field, ".volumes["):
		return "volume"
	}
	return "container"
}

// NewViolationsOnly returns the violations of updated that old does not
// have (same rule, container and env var), in updated's order. On UPDATE,
// judging only these lets a workload that predates the policy keep rolling
// while refusing new secrets. A violation that says the object was not
// judged, or not in full (RuleTooLarge, RuleDeadlineExceeded), is always
// kept.
func NewViolationsOnly(old, updated []Violation) []Violation {
	type key struct{ rule, container, env string }
	seen := make(map[key]bool, len(old))
	for _, v := range old {
		seen[key{v.RuleID, v.Container, v.Env}] = true
	}
	var out []Violation
	for _, v := range updated {
		if v.unjudged() || !seen[key{v.RuleID, v.Container, v.Env}] {
			out = append(out, v)
		}
	}
	return out
}

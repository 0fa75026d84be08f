package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ErrInvalidSpec is wrapped by every error of Compile: the spec is rejected
// whole and the caller keeps its last good Evaluator.
var ErrInvalidSpec = errors.New("invalid policy spec")

// Mode says what the webhook does with a workload that has violations.
type Mode string

// The modes, from strictest to most lenient.
const (
	// ModeEnforce denies the request, one line per violation.
	ModeEnforce Mode = "enforce"
	// ModeWarn allows it and returns the violations as admission warnings.
	ModeWarn Mode = "warn"
	// ModeAudit allows it silently; the webhook logs, counts and records
	// the violations in auditAnnotations.
	ModeAudit Mode = "audit"
)

// Defaults of Spec. A zero field means its default.
const (
	// DefaultMode applies where neither a namespace label nor
	// namespaces.modes says otherwise.
	DefaultMode = ModeEnforce
	// DefaultMinReasonLength is the shortest reason (in characters, after
	// trimming spaces) an exemption annotation must give.
	DefaultMinReasonLength = 10
	// MaxMinReasonLength bounds exemptPods.annotation.minReasonLength.
	MaxMinReasonLength = 1024
)

// ExemptAnnotation on a pod (or a workload's pod template) asks for the pod
// to be exempt from secret detection; its value is the reason. It is honoured
// only where exemptPods.annotation allows it.
const ExemptAnnotation = "wisp.dev/exempt"

// valid reports whether m is one of the three modes.
func (m Mode) valid() bool {
	return m == ModeEnforce || m == ModeWarn || m == ModeAudit
}

// Spec is the platform team's secret-detection policy: the policy file's
// top-level fields other than apiVersion, kind and injection. It is meant to
// be embedded inline in the file's type (`json:",inline"`), so it has no
// methods that encoding/json would promote. Its zero value is a valid policy:
// every rule on by default, mode enforce, no exemption, no allow list, any
// Vault role.
type Spec struct {
	// Mode is the default mode. Default enforce.
	Mode Mode `json:"mode,omitempty"`
	// Namespaces sets modes and exemptions by namespace.
	Namespaces NamespacePolicy `json:"namespaces,omitempty"`
	// ExemptPods exempts pods by label or by the ExemptAnnotation.
	ExemptPods PodExemptions `json:"exemptPods,omitempty"`
	// Rules switches detection rules off (or default-off rules on).
	Rules RuleSettings `json:"rules,omitempty"`
	// Allow lists literal env vars that are never flagged.
	Allow AllowList `json:"allow,omitempty"`
	// Roles binds namespaces to the Vault roles their pods may name. Empty:
	// any namespace may name any role. Otherwise a namespace that no binding
	// matches may name no role at all.
	Roles []RoleBinding `json:"roles,omitempty"`
}

// NamespacePolicy sets the mode and exemptions of namespaces. The mode of a
// namespace is, first match wins: the value of its ModeLabel label, its
// entry in Modes, the spec's Mode.
type NamespacePolicy struct {
	// Modes maps exact namespace names to their mode.
	Modes map[string]Mode `json:"modes,omitempty"`
	// ModeLabel is a namespace label whose value (enforce, warn or audit)
	// sets the namespace's mode, like pod-security.kubernetes.io/enforce.
	// An invalid value means enforce (and a note in the Decision). Default
	// none: labels are not consulted. Whoever may label namespaces may then
	// relax the policy: restrict that with RBAC.
	ModeLabel string `json:"modeLabel,omitempty"`
	// Exempt lists namespaces (names or globs such as "kube-*") that are
	// never evaluated.
	Exempt []string `json:"exempt,omitempty"`
	// ExemptSelector exempts the namespaces whose labels it selects. An empty
	// selector would select every namespace and is refused.
	ExemptSelector *metav1.LabelSelector `json:"exemptSelector,omitempty"`
}

// PodExemptions exempts individual pods (or workloads, by their pod
// template's metadata).
type PodExemptions struct {
	// Selector exempts the pods whose labels it selects, in Namespaces only.
	// An empty selector would select every pod and is refused.
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Namespaces (names or globs) where Selector is honoured; required with
	// Selector. Pod labels are set by whoever creates the pod, so a selector
	// honoured everywhere would let any tenant exempt itself: list the
	// namespaces whose pod authors the platform trusts ("*" for all,
	// knowingly).
	Namespaces []string `json:"namespaces,omitempty"`
	// Annotation governs the ExemptAnnotation.
	Annotation AnnotationExemption `json:"annotation,omitempty"`
}

// AnnotationExemption says where the ExemptAnnotation is honoured.
type AnnotationExemption struct {
	// Allowed turns the annotation on. Default false: the annotation is
	// ignored (with a note in the Decision).
	Allowed bool `json:"allowed,omitempty"`
	// Namespaces, if set, limits the annotation to these namespaces (names
	// or globs). Default: every namespace. Needs Allowed.
	Namespaces []string `json:"namespaces,omitempty"`
	// MinReasonLength is the shortest accepted reason, in characters after
	// trimming spaces. Default DefaultMinReasonLength.
	MinReasonLength int `json:"minReasonLength,omitempty"`
}

// RuleSettings switches rules by their stable IDs (see DefaultRules).
type RuleSettings struct {
	// Disabled rules never report.
	Disabled []string `json:"disabled,omitempty"`
	// Enabled switches on rules that are off by default: secret-volume.
	Enabled []string `json:"enabled,omitempty"`
}

// AllowList exempts literal env vars. Values and value patterns apply to
// every rule that reads a literal; names to the heuristic rules only. It
// never applies to envFrom.
type AllowList struct {
	// Names are env var name globs ("*" any run, "?" one character),
	// matched case-insensitively, e.g. "*_FILE". A listed name silences the
	// heuristic literal rules only (env-name-literal, high-entropy-literal,
	// env-name-weak-literal),
	// never a Secret reference or a known credential format: pod authors
	// pick names.
	Names []string `json:"names,omitempty"`
	// Values are exact literal values that are never flagged, e.g. a
	// well-known placeholder. Compile keeps only their SHA-256 digests.
	Values Redacted `json:"values,omitempty"`
	// ValuePatterns are regular expressions (Go RE2 syntax, unanchored
	// unless written with ^ and $); a literal value any of them matches is
	// never flagged.
	ValuePatterns Redacted `json:"valuePatterns,omitempty"`
	// Secrets are Kubernetes Secrets that pods may reference: an env var's
	// secretKeyRef, an envFrom secretRef or (rule secret-volume) a Secret
	// volume of a listed Secret is not a violation; the Decision reports it
	// in Allowed. A literal value is never allowed by it.
	Secrets []SecretAllowance `json:"secrets,omitempty"`
}

// SecretAllowance allows the Secrets whose names Names match, in the
// namespaces Namespaces match.
type SecretAllowance struct {
	// Names are Secret name globs ("*" any run, "?" one character), e.g.
	// "safe-*" or "registry-pull". Required.
	Names []string `json:"names"`
	// Namespaces are namespace names or globs where the entry applies.
	// Default: every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
}

// RoleBinding lets the pods of some namespaces name some Vault roles.
type RoleBinding struct {
	// Namespaces are names or globs.
	Namespaces []string `json:"namespaces"`
	// Roles are names or globs; "{namespace}" stands for the pod's
	// namespace, so {namespaces: ["*"], roles: ["{namespace}.*"]} gives each
	// namespace the roles prefixed with its name and a dot. A role that
	// several namespaces could claim through {namespace} goes to the
	// longest of them (see roles.go).
	Roles []string `json:"roles"`
}

// Redacted is a list of strings that must not be shown: fmt, slog and
// encoding/json (hence sigs.k8s.io/yaml and slog's JSON handler) render it
// as "[N redacted]". It decodes normally; an encoded spec does not decode
// back, so a redacted dump cannot be applied by mistake.
type Redacted []string

// MarshalJSON implements json.Marshaler.
func (r Redacted) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// String implements fmt.Stringer.
func (r Redacted) String() string { return fmt.Sprintf("[%d redacted]", len(r)) }

// GoString implements fmt.GoStringer, for %#v.
func (r Redacted) GoString() string { return r.String() }

// LogValue implements slog.LogValuer.
func (r Redacted) LogValue() slog.Value { return slog.StringValue(r.String()) }

// ParseSpec decodes a YAML (or JSON) document holding only a Spec's fields.
// Unknown fields are errors. It does not validate: Compile does.
func ParseSpec(data []byte) (Spec, error) {
	var s Spec
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return Spec{}, fmt.Errorf("decode policy spec: %w", err)
	}
	return s, nil
}

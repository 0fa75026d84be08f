package policy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"wisp.dev/wisp/internal/memo"
)

// Evaluator applies one compiled Spec. It is immutable and safe for
// concurrent use; build a new one (Compile) to change the policy.
type Evaluator struct {
	mode      Mode
	modes     map[string]Mode
	modeLabel string

	exemptNamespaces []glob
	exemptNSSelector labels.Selector // nil: none
	exemptPods       labels.Selector // nil: none
	// exemptPodNamespaces: where exemptPods is honoured (and their text,
	// for notes).
	exemptPodNamespaces     []glob
	exemptPodNamespacesText string

	annotationAllowed    bool
	annotationNamespaces []glob // empty: every namespace
	minReasonLength      int

	rules []Rule // enabled, in order

	allowNames    []glob
	allowValues   map[[sha256.Size]byte]struct{}
	allowLens     map[int]struct{}
	allowPatterns []*regexp.Regexp
	allowSecrets  []secretAllowance

	roles []roleBinding
	// claims are the role patterns with {namespace}, each with its
	// binding's namespaces (roles.go).
	claims []roleClaim

	// warnings are the problems of a valid spec (Warnings).
	warnings []string

	// gitleaks finds what gitleaks' detector with its default rules finds
	// (gitleaks.go); nil when known-credential-format is off.
	gitleaks *gitleaksDetector

	// templates, plans and envSpecs remember the literals of template
	// texts and of wisp's own variables (WISP_PLAN, WISP_ENV): each replica of a workload carries the same
	// ones, and reading them (a template parse) costs more than judging
	// them. Nil (in an Evaluator not made by compile) remembers nothing.
	templates, plans, envSpecs *memo.Strings[[]templateLiteral]
}

// literalsMemoBytes bounds each of an Evaluator's memos of literals (see
// mutate's cacheBytes for why they are small).
const literalsMemoBytes = 256 << 10

// literalsCost estimates an entry's bytes.
func literalsCost(key string, lits []templateLiteral) int {
	n := len(key) + 64
	for _, l := range lits {
		n += len(l.name) + len(l.value) + 32
	}
	return n
}

// Compile validates spec and builds its Evaluator. Every problem is
// reported, each naming its field, joined in one error that wraps
// ErrInvalidSpec. Allow-list problems name the entry by index only: an
// allowed value never appears in an error.
//
// Compile prepares gitleaks' default rules from a generated table; their
// regular expressions are compiled when a value first needs them. Compile
// once per policy change, not per request.
func Compile(spec Spec) (*Evaluator, error) {
	return compile(spec, DefaultRules(), newGitleaksDetector)
}

// compile is Compile with its rule set and gitleaks loader as parameters
// (tests share one loaded detector).
func compile(spec Spec, all []Rule, loadGitleaks func() (*gitleaksDetector, error)) (*Evaluator, error) {
	if err := validateRules(all); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	e := &Evaluator{
		mode: spec.Mode, modeLabel: spec.Namespaces.ModeLabel,
		templates: memo.New(literalsMemoBytes, literalsCost),
		plans:     memo.New(literalsMemoBytes, literalsCost),
		envSpecs:  memo.New(literalsMemoBytes, literalsCost),
	}

	compileModes(e, spec, bad)
	compileExemptions(e, spec, bad)
	compileRules(e, spec, all, bad)
	compileAllow(e, spec, bad)
	compileRoles(e, spec, bad)

	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, errors.Join(errs...))
	}

	if e.ruleEnabled(RuleKnownCredentialFormat) {
		d, err := loadGitleaks()
		if err != nil {
			return nil, fmt.Errorf("load gitleaks rules: %w", err)
		}
		e.gitleaks = d
	}
	return e, nil
}

// problems collects what is wrong with a spec, one message a call.
type problems func(format string, args ...any)

// compileModes reads the global mode and the namespaces' modes.
func compileModes(e *Evaluator, spec Spec, bad problems) {
	if e.mode == "" {
		e.mode = DefaultMode
	} else if !e.mode.valid() {
		bad("mode: %s", modeProblem(spec.Mode))
	}
	e.modes = make(map[string]Mode, len(spec.Namespaces.Modes))
	for _, ns := range sortedKeys(spec.Namespaces.Modes) {
		m := spec.Namespaces.Modes[ns]
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			bad("namespaces.modes[%q]: not a namespace name: %s", ns, strings.Join(msgs, "; "))
		}
		if !m.valid() {
			bad("namespaces.modes[%q]: %s", ns, modeProblem(m))
		}
		e.modes[ns] = m
	}
	if l := spec.Namespaces.ModeLabel; l != "" {
		if msgs := validation.IsQualifiedName(l); len(msgs) > 0 {
			bad("namespaces.modeLabel: %q is not a label key: %s", l, strings.Join(msgs, "; "))
		}
	}
}

// compileExemptions reads the exempt namespaces and the exempt pods
// (selector and annotation).
func compileExemptions(e *Evaluator, spec Spec, bad problems) {
	e.exemptNamespaces = namespaceGlobs("namespaces.exempt", spec.Namespaces.Exempt, bad)
	e.exemptNSSelector = selector("namespaces.exemptSelector", spec.Namespaces.ExemptSelector, bad)
	e.exemptPods = selector("exemptPods.selector", spec.ExemptPods.Selector, bad)
	e.exemptPodNamespaces = namespaceGlobs("exemptPods.namespaces", spec.ExemptPods.Namespaces, bad)
	e.exemptPodNamespacesText = strings.Join(spec.ExemptPods.Namespaces, ", ")
	switch {
	case spec.ExemptPods.Selector != nil && len(spec.ExemptPods.Namespaces) == 0:
		bad("exemptPods.namespaces: required with exemptPods.selector: pod labels are set by whoever creates the pod, so the selector is honoured only in the namespaces listed (\"*\" for all, knowingly)")
	case spec.ExemptPods.Selector == nil && len(spec.ExemptPods.Namespaces) > 0:
		bad("exemptPods.namespaces: set, but exemptPods.selector is not: it would exempt nothing")
	}
	a := spec.ExemptPods.Annotation
	e.annotationAllowed = a.Allowed
	e.annotationNamespaces = namespaceGlobs("exemptPods.annotation.namespaces", a.Namespaces, bad)
	if len(a.Namespaces) > 0 && !a.Allowed {
		bad("exemptPods.annotation.namespaces: set, but allowed is false: the annotation would be honoured nowhere")
	}
	e.minReasonLength = a.MinReasonLength
	switch {
	case a.MinReasonLength == 0:
		e.minReasonLength = DefaultMinReasonLength
	case a.MinReasonLength < 0 || a.MinReasonLength > MaxMinReasonLength:
		bad("exemptPods.annotation.minReasonLength: %d is not between 1 and %d", a.MinReasonLength, MaxMinReasonLength)
	}
}

// compileRules picks the rules on: the default ones less those disabled,
// plus those enabled.
func compileRules(e *Evaluator, spec Spec, all []Rule, bad problems) {
	known := make(map[string]Rule, len(all))
	var ids []string
	for _, r := range all {
		known[r.ID] = r
		ids = append(ids, r.ID)
	}
	off := make(map[string]bool)
	on := make(map[string]bool)
	for i, id := range spec.Rules.Disabled {
		if _, ok := known[id]; !ok {
			bad("rules.disabled[%d]: unknown rule %q (known: %s)", i, id, strings.Join(ids, ", "))
		}
		off[id] = true
	}
	for i, id := range spec.Rules.Enabled {
		if _, ok := known[id]; !ok {
			bad("rules.enabled[%d]: unknown rule %q (known: %s)", i, id, strings.Join(ids, ", "))
		}
		if off[id] {
			bad("rules.enabled[%d]: rule %q is also disabled", i, id)
		}
		on[id] = true
	}
	for _, r := range all {
		if !off[r.ID] && (!r.DefaultOff || on[r.ID]) {
			e.rules = append(e.rules, r)
		}
	}
}

// compileAllow reads the allow lists. Entries are never echoed, only named
// by index: someone may paste a real secret there.
func compileAllow(e *Evaluator, spec Spec, bad problems) {
	for i, n := range spec.Allow.Names {
		if n == "" || strings.ContainsAny(n, "= \t\n") {
			bad("allow.names[%d]: not an env var name glob (empty, or has = or white space)", i)
			continue
		}
		e.allowNames = append(e.allowNames, glob{pattern: n, fold: true})
	}
	e.allowValues = make(map[[sha256.Size]byte]struct{}, len(spec.Allow.Values))
	e.allowLens = make(map[int]struct{})
	for i, v := range spec.Allow.Values {
		if strings.TrimSpace(v) == "" {
			bad("allow.values[%d]: empty value", i)
			continue
		}
		e.allowValues[sha256.Sum256([]byte(v))] = struct{}{}
		e.allowLens[len(v)] = struct{}{}
	}
	for i, p := range spec.Allow.ValuePatterns {
		re, err := regexp.Compile(p)
		if err != nil {
			// Deliberately not wrapped: regexp's error quotes the pattern.
			bad("allow.valuePatterns[%d]: invalid regular expression (%s)", i, regexpProblem(err))
			continue
		}
		if re.MatchString("") {
			bad("allow.valuePatterns[%d]: matches the empty string, so it would allow every value", i)
			continue
		}
		e.allowPatterns = append(e.allowPatterns, re)
	}
	e.allowSecrets = compileAllowSecrets(spec.Allow.Secrets, bad)
}

// compileRoles reads the role bindings, with a warning for each pattern
// that can give one role to two namespaces.
func compileRoles(e *Evaluator, spec Spec, bad problems) {
	for i, b := range spec.Roles {
		path := fmt.Sprintf("roles[%d]", i)
		rb := roleBinding{namespaces: namespaceGlobs(path+".namespaces", b.Namespaces, bad)}
		if len(b.Namespaces) == 0 {
			bad("%s.namespaces: empty: the binding would apply nowhere", path)
		}
		if len(b.Roles) == 0 {
			bad("%s.roles: empty: list the roles (globs) these namespaces may name", path)
		}
		for j, r := range b.Roles {
			if err := checkRoleGlob(r); err != nil {
				bad("%s.roles[%d]: %q: %w", path, j, r, err)
				continue
			}
			rb.roles = append(rb.roles, r)
			if strings.Contains(r, namespacePlaceholder) {
				e.claims = append(e.claims, newRoleClaim(rb.namespaces, r))
			}
			if w := roleWarning(fmt.Sprintf("%s.roles[%d]", path, j), r); w != "" {
				e.warnings = append(e.warnings, w)
			}
		}
		e.roles = append(e.roles, rb)
	}
}

// Warnings returns what Compile found questionable in a valid spec, one
// line each, naming the field: patterns that work, but not as their author
// likely meant. The caller reports them (log, stderr); they never stop a
// policy from loading.
func (e *Evaluator) Warnings() []string { return slices.Clone(e.warnings) }

func (e *Evaluator) ruleEnabled(id string) bool {
	for _, r := range e.rules {
		if r.ID == id {
			return true
		}
	}
	return false
}

func modeProblem(m Mode) string {
	return fmt.Sprintf("mode %q is not %s, %s or %s", m, ModeEnforce, ModeWarn, ModeAudit)
}

// regexpProblem describes a regexp error without the pattern.
func regexpProblem(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code)
	}
	return "cannot compile"
}

func namespaceGlobs(path string, in []string, bad func(string, ...any)) []glob {
	var out []glob
	for i, p := range in {
		if !isNamespaceGlob(p) {
			bad("%s[%d]: %q is not a namespace name or glob (lower case letters, digits, -, * and ?)", path, i, p)
			continue
		}
		out = append(out, glob{pattern: p})
	}
	return out
}

// selector converts a label selector, refusing an empty one: it would
// select everything.
func selector(path string, ls *metav1.LabelSelector, bad func(string, ...any)) labels.Selector {
	if ls == nil {
		return nil
	}
	if len(ls.MatchLabels) == 0 && len(ls.MatchExpressions) == 0 {
		bad("%s: empty selector: it would select everything; omit the field instead", path)
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		bad("%s: %w", path, err)
		return nil
	}
	return sel
}

// checkRoleGlob accepts a Vault role name or glob: no white space, no
// slash, and braces only in {namespace}.
func checkRoleGlob(r string) error {
	if r == "" {
		return errors.New("empty role")
	}
	rest := strings.ReplaceAll(r, namespacePlaceholder, "")
	if strings.ContainsAny(rest, "{}/ \t\n") {
		return errors.New("not a role name or glob (no white space, no /, braces only in {namespace})")
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Package policy decides whether a pod spec (a pod's, or a workload's pod
// template) carries static secrets in env vars, under the platform team's
// policy: which rules run, in which mode per namespace, with which
// exemptions and allow lists, and which Vault roles each namespace may name.
//
// # Use
//
//	spec, err := policy.ParseSpec(data) // or a Spec embedded in the policy file
//	ev, err := policy.Compile(spec)     // validates; once per policy change
//	d := ev.Evaluate(policy.Object{Kind: "Deployment", Namespace: ns, Name: name,
//		Labels: tmpl.Labels, Annotations: tmpl.Annotations, Spec: &tmpl.Spec,
//		NamespaceLabels: nsLabels})
//	switch {
//	case d.Exempt:                 // allow; d.ExemptReason says why
//	case d.Denied():               // enforce: deny with d.Messages(o)
//	case len(d.Violations) > 0:    // warn: warnings; audit: log, metric, auditAnnotations
//	}
//	err = ev.AllowedRole(ns, role) // nil, or a denial naming the allowed roles
//	mode, exempt := ev.Namespace(ns, nsLabels) // a namespace's mode, for a scan
//
// On UPDATE, evaluate the old object too and judge only
// NewViolationsOnly(old.Violations, new.Violations).
//
// # The policy schema
//
// Spec is the part of the policy file this package owns; it has no
// apiVersion or kind and is meant to be embedded inline next to the
// injection section. All keys are lowerCamel; unknown keys are errors.
// testdata/policy-full.yaml is a commented example of every field.
//
//	mode: enforce                  # default mode: enforce | warn | audit (default enforce)
//	namespaces:
//	  modes: {team-a: warn}        # exact namespace name -> mode
//	  modeLabel: wisp.dev/policy-mode  # namespace label whose value sets the mode (default: none)
//	  exempt: [kube-system, "openshift-*"]  # names or globs, never evaluated
//	  exemptSelector: {matchLabels: {wisp.dev/exempt: "true"}}  # on namespace labels
//	exemptPods:
//	  selector: {matchExpressions: [{key: app, operator: In, values: [legacy]}]}  # on pod labels
//	  annotation:                  # wisp.dev/exempt: "<reason>" on the pod (template)
//	    allowed: false             # honoured only when true (default false) ...
//	    namespaces: ["team-*"]     # ... and, if set, only in these namespaces
//	    minReasonLength: 10        # default 10
//	rules:
//	  disabled: [high-entropy-literal]  # rule ids switched off
//	  enabled: []                  # default-off rule ids switched on (none today)
//	allow:                         # literal env vars never flagged (env[] only)
//	  names: ["*_PUBLIC_KEY"]      # env var name globs, case-insensitive
//	  values: ["not-a-secret"]     # exact values; only their SHA-256 is kept, never printed
//	  valuePatterns: ["^dev-"]     # RE2 regular expressions
//	roles:                         # Vault roles per namespace; empty: no restriction
//	- namespaces: ["*"]
//	  roles: ["{namespace}.*"]     # {namespace} is the pod's namespace (roles.go)
//
// The mode of a namespace is, first match wins: its modeLabel label (an
// invalid value means enforce, with a note), its namespaces.modes entry,
// mode. Exemptions are checked in the order namespaces.exempt,
// namespaces.exemptSelector, exemptPods.selector, exemption annotation; an
// exempt object is not evaluated. An annotation the policy does not honour
// is ignored with a note saying why (Decision.Notes). Once role bindings
// exist, a namespace that no binding matches may name no role at all.
//
// # Rules
//
// DefaultRules lists the rules with their stable ids; each rule_<id>.go
// opens with what it detects, the fields it reads, what is allowed and an
// example. Rules read env and envFrom of init, app and ephemeral containers;
// value rules read what the kubelet gives a container where admission can
// know it: literal env[].value after $(VAR) expansion, and the annotations
// and labels that valueFrom.fieldRef or a downward API volume file reads
// (see resolve.go); never what is read at run time (Secrets, ConfigMaps).
// env-config-map-secret-name only warns (Rule.WarnOnly): Decision.Denied
// ignores it. Rules are tried in order (cheap and specific first:
// env-secret-key-ref, env-from-secret, known-credential-format without
// gitleaks, env-name-literal, high-entropy-literal, env-name-weak-literal,
// then gitleaks' rules)
// and the first that flags an entry reports it: one violation per entry.
// Allow lists apply before any rule. The value rules share three
// decisions, each made once (values.go): placeholder (a value that stands
// for one: a reference, a mask, fill-in text, a marker restating the
// name, instructions), objectName (the name of the Kubernetes object that
// holds the secret) and weakValue (under a secret name or key, any other
// value is the secret, however weak); a common word is a weak value, never
// a placeholder, in an env var, a URL's password or a structured value
// alike. secret-volume, off by default, reads
// the pod's volumes instead: one violation per secret volume or projected
// secret source. allow.secrets allows references to named Secrets (env
// secretKeyRef, envFrom secretRef, volumes): they are reported in
// Decision.Allowed, not as violations; it never allows a literal.
//
// known-credential-format uses gitleaks' default rules
// (github.com/zricethezav/gitleaks/v8), minus its catch-all generic-api-key
// rule, behind a prefilter so that short and plain values never reach them.
// The rules come from a table generated from the pinned gitleaks version
// (gitleaks_rules_gen.go, `go generate ./policy`); each rule's pattern is
// compiled the first time a value holds one of its keywords. They receive
// "NAME=value" so that the rules that need a keyword beside the token work.
//
// Templates (TemplatePrefixes annotations, and the templates of a
// hand-written WISP_PLAN) are judged by the same rules on their text (key =
// value lines, words, PEM blocks with a body), their string constants (with
// their base64 decoding), in every branch, and on what they render:
// render.go executes each template over stub data with wisp's helpers,
// once with every field empty and once with every field a marker cut from
// the output, within bounds of output, steps, template calls and helper
// bytes, and says why wisp renders templates rather than restricting them.
//
// # Guarantees
//
// policy is pure: no I/O, no clock, no environment, no globals, no logging;
// it returns data. It imports k8s.io/api, k8s.io/apimachinery,
// sigs.k8s.io/yaml and the standard library (gitleaks' rules are a
// generated table; gitleaks itself is imported only by the generator and
// the tests that prove the table finds what gitleaks finds), and
// internal/memo: an Evaluator remembers the literals it read from template
// texts and from WISP_PLAN/WISP_ENV values (bounded in bytes, dropped with
// the Evaluator), which changes what Evaluate costs, never what it returns;
// and internal/expansion, the kubelet's $(VAR) expansion.
//
// A secret value never leaves Evaluate: no Violation field, Message, Note,
// reason or error contains an env value or any part of one, nor does
// Compile's error contain an allowed value or pattern. Allowed values are
// kept only as SHA-256 digests; Redacted hides them from fmt and slog.
//
// An Evaluator is immutable and safe for concurrent use. Evaluate never
// modifies its Object. Compile takes about 0.1 ms; Evaluate takes
// microseconds for a typical pod, and at most tens of milliseconds for any
// object: one over the limits of limits.go is refused unjudged
// (RuleTooLarge), and Object.Stop ends an evaluation at the caller's
// deadline (RuleDeadlineExceeded).
package policy

package webhook

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"wisp.dev/wisp/policy"
)

// Bounds of an answer's text, whatever the object: a pod with 4,000
// literal passwords would otherwise get a denial of megabytes (25,000
// entries gave 8.9 MB before the limits), which the API server passes on to
// the client, its events and its audit log. `wisp check` lists every
// violation.
const (
	// MaxListed is how many violations a denial, the warnings or an audit
	// annotation list; the rest are counted ("and 4,076 more").
	MaxListed = 20
	// maxLineBytes bounds one listed violation: env var names are not
	// bounded by the API server before admission.
	maxLineBytes = 1024
	// maxWarningRunes bounds an answer's warnings together, well under the
	// API server's 4,096 runes (past them it cuts each warning to 256).
	maxWarningRunes = 3072
	// maxAuditPart bounds one violation in an audit annotation.
	maxAuditPart = 256
)

// AuditAllowedKey is the auditAnnotations key that lists the Secret
// references the policy's allow.secrets allowed, in every mode.
const AuditAllowedKey = "allowed-secrets"

// decide maps a decision to the admission answer of its mode, with the
// Secret references allow.secrets allowed in the auditAnnotations.
func decide(obj policy.Object, d policy.Decision) admission.Response {
	resp := decideMode(obj, d)
	if !d.Exempt && len(d.Allowed) > 0 {
		if resp.AuditAnnotations == nil {
			resp.AuditAnnotations = map[string]string{}
		}
		resp.AuditAnnotations[AuditAllowedKey] = allowedSummary(d.Allowed)
	}
	return resp
}

func decideMode(obj policy.Object, d policy.Decision) admission.Response {
	if d.Exempt || len(d.Violations) == 0 {
		// Notes explain what the policy did not honour (an exemption
		// annotation without permission, say): the team should hear it.
		return admission.Allowed("").WithWarnings(d.Notes...)
	}
	switch d.Mode {
	case policy.ModeWarn:
		return admission.Allowed("").WithWarnings(append(listed(obj, d.Violations, maxWarningRunes), d.Notes...)...)
	case policy.ModeAudit:
		resp := admission.Allowed("")
		resp.AuditAnnotations = map[string]string{AuditAnnotationKey: auditSummary(d.Violations)}
		return resp
	}
	// Enforce: the violations of warn-only rules are warnings.
	deny, warn := d, d
	deny.Violations, warn.Violations = nil, nil
	for _, v := range d.Violations {
		if v.WarnOnly {
			warn.Violations = append(warn.Violations, v)
		} else {
			deny.Violations = append(deny.Violations, v)
		}
	}
	warnings := listed(obj, warn.Violations, maxWarningRunes)
	if len(deny.Violations) == 0 {
		return admission.Allowed("").WithWarnings(append(warnings, d.Notes...)...)
	}
	resp := admission.Denied(denialHeader(deny) + "\n" + strings.Join(listed(obj, deny.Violations, 0), "\n"))
	if len(warnings) > 0 {
		resp = resp.WithWarnings(warnings...)
	}
	return resp
}

// allowedSummary lists container/env=secret per allowed reference (for a
// volume, volume:<name>=secret), no values, at most MaxListed of them, then
// "+N more".
func allowedSummary(as []policy.Allowed) string {
	parts := make([]string, 0, min(len(as), MaxListed)+1)
	for _, a := range as {
		if len(parts) == MaxListed {
			parts = append(parts, "+"+strconv.Itoa(len(as)-MaxListed)+" more")
			break
		}
		part := a.Env + "=" + a.Secret
		if a.Container != "" {
			part = a.Container + "/" + part
		}
		parts = append(parts, clip(part, maxAuditPart))
	}
	return strings.Join(parts, ",")
}

// denialHeader is a denial's first line.
func denialHeader(d policy.Decision) string {
	judged := 0
	for _, v := range d.Violations {
		if v.RuleID != policy.RuleTooLarge && v.RuleID != policy.RuleDeadlineExceeded {
			judged++
		}
	}
	switch {
	case judged < len(d.Violations) && !d.Incomplete():
		return "wisp: not judged: over wisp's limits:"
	case d.Incomplete():
		return fmt.Sprintf("wisp: %d static secret(s) in env vars found before the request's deadline, the rest not judged:", judged)
	}
	return fmt.Sprintf("wisp: %d static secret(s) in env vars:", len(d.Violations))
}

// listed is one line per violation, at most MaxListed and, with runes > 0,
// at most that many runes together, then "and N more".
func listed(obj policy.Object, vs []policy.Violation, runes int) []string {
	lines := make([]string, 0, min(len(vs), MaxListed)+1)
	total := 0
	for _, v := range vs {
		if len(lines) == MaxListed {
			break
		}
		line := clip(v.Message(obj), maxLineBytes)
		if total += utf8.RuneCountInString(line); runes > 0 && total > runes && len(lines) > 0 {
			break
		}
		lines = append(lines, line)
	}
	if more := len(vs) - len(lines); more > 0 {
		lines = append(lines, "and "+thousands(more)+" more (`wisp check` lists them all)")
	}
	return lines
}

// auditSummary lists rule:container/env per violation, no values, at most
// MaxListed of them, then "+N more".
func auditSummary(vs []policy.Violation) string {
	parts := make([]string, 0, min(len(vs), MaxListed)+1)
	for _, v := range vs {
		if len(parts) == MaxListed {
			parts = append(parts, "+"+strconv.Itoa(len(vs)-MaxListed)+" more")
			break
		}
		parts = append(parts, clip(v.RuleID+":"+v.Container+"/"+v.Env, maxAuditPart))
	}
	return strings.Join(parts, ",")
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// thousands renders n with thousands separators: 4,076.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

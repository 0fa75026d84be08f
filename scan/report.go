package scan

import (
	"fmt"
	"strings"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"wisp.dev/wisp/policy"
)

// Reports' fixed names and values.
const (
	// ReportName is the name of wisp's Report in each namespace.
	ReportName = "wisp"
	// ReportSource is the source of the Report and of each result.
	ReportSource = "wisp"
	// ReportCategory is the category of each result.
	ReportCategory = "Static secrets"
	// FieldManager is the server-side apply field manager of the Reports.
	FieldManager = "wisp-scan"
	// ManagedByLabel marks wisp's Reports; value ManagedByValue.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "wisp"
	// DefaultMaxResults is the most results a Report holds when
	// ReportOptions.MaxResults is 0: it keeps a Report far below the API
	// server's object size limit. Its summary still counts every result.
	DefaultMaxResults = 1000
)

// ReportGroupVersion is OpenReports' API group and version.
var ReportGroupVersion = schema.GroupVersion{Group: reportsv1alpha1.GroupName, Version: "v1alpha1"}

// reportsResource is the Reports' resource, for errors.
var reportsResource = ReportGroupVersion.WithResource("reports")

// ReportOptions shape the Reports built from a Result.
type ReportOptions struct {
	// Now is the time a new result is first seen. Default time.Now.
	Now func() time.Time
	// MaxResults is the most results a Report holds. Default
	// DefaultMaxResults.
	MaxResults int
}

func (o ReportOptions) withDefaults() ReportOptions {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxResults <= 0 {
		o.MaxResults = DefaultMaxResults
	}
	return o
}

// Reports returns the Report of each namespace of r that has something to
// report on: every namespace that is not exempt (nor being deleted) and has
// a workload or a Report already (in existing, by namespace), sorted by
// namespace. A
// namespace whose workloads are all clean gets a Report with no results:
// "scanned, nothing found", which a missing Report cannot tell from "never
// scanned". Each result keeps the timestamp of the same result (subject UID
// and rule) in existing, so an unchanged namespace gives an identical Report.
func (r *Result) Reports(existing map[string]*reportsv1alpha1.Report, opts ReportOptions) []*reportsv1alpha1.Report {
	opts = opts.withDefaults()
	byNS := map[string][]Finding{}
	for _, f := range r.Findings {
		byNS[f.Object.Namespace] = append(byNS[f.Object.Namespace], f)
	}
	for _, f := range r.Allowed {
		byNS[f.Object.Namespace] = append(byNS[f.Object.Namespace], f)
	}
	var out []*reportsv1alpha1.Report
	for _, ns := range r.Namespaces {
		if ns.Exempt || ns.Terminating || (ns.Workloads == 0 && existing[ns.Name] == nil) {
			continue
		}
		out = append(out, buildReport(ns.Name, byNS[ns.Name], existing[ns.Name], opts))
	}
	return out
}

// buildReport makes the Report of namespace ns: one result per workload and
// rule.
func buildReport(ns string, findings []Finding, old *reportsv1alpha1.Report, opts ReportOptions) *reportsv1alpha1.Report {
	type key struct {
		uid  types.UID
		rule string
	}
	seen := map[key]metav1.Timestamp{}
	if old != nil {
		for _, res := range old.Results {
			if len(res.Subjects) == 1 {
				seen[key{res.Subjects[0].UID, res.Policy}] = res.Timestamp
			}
		}
	}
	now := opts.Now()

	// Group the findings by workload and rule, in the Result's order (sorted
	// by kind, name, then the policy's order).
	type group struct {
		key      key
		findings []Finding
	}
	var groups []*group
	index := map[key]*group{}
	for _, f := range findings {
		k := key{f.Object.UID, policyOf(f)}
		g := index[k]
		if g == nil {
			g = &group{key: k}
			index[k] = g
			groups = append(groups, g)
		}
		g.findings = append(g.findings, f)
	}
	rep := &reportsv1alpha1.Report{
		TypeMeta: metav1.TypeMeta{APIVersion: ReportGroupVersion.String(), Kind: "Report"},
		ObjectMeta: metav1.ObjectMeta{
			Name: ReportName, Namespace: ns,
			Labels: map[string]string{ManagedByLabel: ManagedByValue},
		},
		Source:  ReportSource,
		Results: []reportsv1alpha1.ReportResult{},
	}
	for _, g := range groups {
		res := result(g.findings)
		if ts, ok := seen[g.key]; ok {
			res.Timestamp = ts
		} else {
			res.Timestamp = metav1.Timestamp{Seconds: now.Unix()}
		}
		switch res.Result {
		case "fail":
			rep.Summary.Fail++
		case "skip":
			rep.Summary.Skip++
		default:
			rep.Summary.Warn++
		}
		if len(rep.Results) < opts.MaxResults {
			rep.Results = append(rep.Results, res)
		}
	}
	if len(groups) > opts.MaxResults {
		rep.Configuration = &reportsv1alpha1.ReportConfiguration{Limits: reportsv1alpha1.Limits{MaxResults: opts.MaxResults}}
	}
	return rep
}

// AllowedPolicy is the policy of the results that list the Secret
// references allow.secrets allowed (result skip, not scored).
const AllowedPolicy = "allowed-by-policy"

// policyOf is the Report policy of a finding: its rule, or AllowedPolicy.
func policyOf(f Finding) string {
	if f.Allowed != nil {
		return AllowedPolicy
	}
	return f.Violation.RuleID
}

// result is the Report result of one workload's violations of one rule,
// or of its references allowed by the policy.
func result(fs []Finding) reportsv1alpha1.ReportResult {
	f := fs[0]
	o := f.Object
	var env, fields, msgs, secrets []string
	for _, f := range fs {
		container, e, field := f.Violation.Container, f.Violation.Env, f.Violation.Field
		if a := f.Allowed; a != nil {
			container, e, field = a.Container, a.Env, a.Field
			secrets = append(secrets, a.Secret)
		}
		if container != "" {
			e = container + "/" + e
		}
		env = append(env, e)
		fields = append(fields, field)
		msgs = append(msgs, f.Message)
	}
	status := reportsv1alpha1.Result("warn")
	if f.Mode == policy.ModeEnforce && !f.Violation.WarnOnly {
		status = "fail"
	}
	rule := policyOf(f)
	res := reportsv1alpha1.ReportResult{
		Source:      ReportSource,
		Policy:      rule,
		Category:    ReportCategory,
		Severity:    severity(rule),
		Result:      status,
		Scored:      true,
		Subjects:    []corev1.ObjectReference{{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, UID: o.UID}},
		Description: strings.Join(msgs, "\n"),
		Properties: map[string]string{
			"mode":   string(f.Mode),
			"env":    strings.Join(env, ","),
			"fields": strings.Join(fields, ","),
			"count":  fmt.Sprint(len(fs)),
		},
	}
	if rule == AllowedPolicy {
		res.Result, res.Scored = "skip", false
		res.Properties["secrets"] = strings.Join(secrets, ",")
	}
	return res
}

// severity of a rule's results: a credential written into the spec (readable
// by anyone who can read the workload) is high; a reference to a Kubernetes
// Secret is medium.
func severity(rule string) reportsv1alpha1.ResultSeverity {
	switch rule {
	case "env-secret-key-ref", "env-from-secret", policy.RuleSecretVolume:
		return "medium"
	case "env-config-map-secret-name":
		return "low" // a name only: the ConfigMap is not read
	case AllowedPolicy:
		return "info"
	}
	return "high"
}

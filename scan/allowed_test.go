package scan

import (
	"context"
	"slices"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"wisp.dev/wisp/policy"
)

// A Secret reference that allow.secrets allows is in Result.Allowed, once
// per top-level workload, and is not a violation.
func TestScanReportsAllowedByPolicy(t *testing.T) {
	t.Parallel()
	ev, err := policy.Compile(policy.Spec{Allow: policy.AllowList{Secrets: []policy.SecretAllowance{{Names: []string{"db"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	web := deployment("team-a", "web", secretRef("DB_PASSWORD"), awsKey())
	c := fake.NewClientset(ns("team-a", nil), web, replicaSet(web, "5d8f"), pod("team-a", "web-5d8f-x", replicaSet(web, "5d8f"), "ReplicaSet"))
	r, err := Scan(context.Background(), c, Config{Policy: ev})
	if err != nil {
		t.Fatal(err)
	}
	var violations, allowed []string
	for _, f := range r.Findings {
		violations = append(violations, f.Violation.RuleID+":"+f.Violation.Env)
	}
	for _, f := range r.Allowed {
		allowed = append(allowed, f.Message)
	}
	want := []string{`Deployment team-a/web: container "app": env DB_PASSWORD: Secret "db" allowed by the policy (allow.secrets)`}
	if !slices.Equal(violations, []string{"known-credential-format:AWS_ACCESS_KEY_ID"}) || !slices.Equal(allowed, want) {
		t.Errorf("violations %q\nallowed %q", violations, allowed)
	}
	if got := r.Namespaces[0].Violations; got[policy.RuleEnvSecretKeyRef] != 0 {
		t.Errorf("counts %v", got)
	}
	// In the namespace's Report: a skip result, not scored.
	reps := r.Reports(nil, ReportOptions{})
	if len(reps) != 1 {
		t.Fatalf("%d reports", len(reps))
	}
	rep := reps[0]
	if rep.Summary.Skip != 1 || rep.Summary.Fail != 1 || len(rep.Results) != 2 {
		t.Fatalf("summary %+v, %d results", rep.Summary, len(rep.Results))
	}
	for _, res := range rep.Results {
		if res.Policy != AllowedPolicy {
			continue
		}
		if res.Result != "skip" || res.Scored || res.Severity != "info" || res.Properties["secrets"] != "db" ||
			res.Properties["env"] != "app/DB_PASSWORD" || res.Description != want[0] {
			t.Errorf("allowed result %+v", res)
		}
	}
}

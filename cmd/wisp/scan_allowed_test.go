package main

import (
	"bytes"
	"strings"
	"testing"

	"wisp.dev/wisp/policy"
	"wisp.dev/wisp/scan"
)

// wisp scan lists what allow.secrets allowed after the violations, in text
// and in JSON (allowedByPolicy), never among them.
func TestScanPrintsAllowedByPolicy(t *testing.T) {
	t.Parallel()
	ref := scan.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "team-a", Name: "web", UID: "u"}
	a := policy.Allowed{Container: "app", Env: "DB_PASSWORD", Field: "spec.template.spec.containers[0].env[0]", Secret: "safe-db"}
	msg := `Deployment team-a/web: container "app": env DB_PASSWORD: Secret "safe-db" allowed by the policy (allow.secrets)`
	r := &scan.Result{
		Namespaces: []scan.Namespace{{Name: "team-a", Mode: policy.ModeEnforce, Workloads: 1, Violations: map[string]int{}}},
		Allowed:    []scan.Finding{{Object: ref, Mode: policy.ModeEnforce, Allowed: &a, Message: msg}},
	}
	var text, js bytes.Buffer
	if err := writeScanText(&text, r, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(text.String(), "\n\n"+msg+"\n") || !strings.Contains(text.String(), "team-a     enforce  1          0\n") {
		t.Errorf("text:\n%s", text.String())
	}
	if err := writeScanJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"violations": []`, `"allowedByPolicy": [`, `"secret": "safe-db"`, `"env": "DB_PASSWORD"`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, js.String())
		}
	}
}

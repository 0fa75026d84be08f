package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// deployment is a Deployment whose one container has env (YAML lines at
// the env's indentation) and whose pod spec has extra (lines at the spec's
// indentation), and whose container has more (lines at its indentation).
func deployment(spec, container, env string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team-a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
` + spec + `      containers:
      - name: app
        image: nginx
` + container + env
}

// A document a strict decoder refuses is judged on what it can read: the
// secret in it is found (exit 1), stderr names the field left out, and no
// value is printed; a document with nothing readable is exit 2.
func TestCheckBestEffort(t *testing.T) {
	const key = "AKIAZ3MHQ7LXK4T2V6PB"
	secretEnv := "        env:\n        - name: AWS_ACCESS_KEY_ID\n          value: " + key + "\n"
	tests := []struct {
		name       string
		doc        string
		wantCode   int
		wantEnv    string
		wantStderr []string
	}{
		{"a number where a string is expected (nodeSelector)",
			deployment("      nodeSelector: {zone: 1}\n", "", secretEnv), exitDenied, "AWS_ACCESS_KEY_ID",
			[]string{"spec.template.spec.nodeSelector", "want a string", "judged on what could be read"}},
		{"a template expression in a quantity",
			deployment("", "        resources: {limits: {cpu: '{{ .Values.cpu }}'}}\n", secretEnv), exitDenied, "AWS_ACCESS_KEY_ID",
			[]string{"spec.template.spec.containers[0]", "judged on its name, image, command, args, env and envFrom"}},
		{"a mapping where a list is expected (env)",
			deployment("", "", "        env:\n          DB_PASSWORD: postgres\n          AWS_ACCESS_KEY_ID: "+key+"\n"), exitDenied, "AWS_ACCESS_KEY_ID",
			[]string{"containers[0].env: a mapping, read as a list of its entries"}},
		{"a number where a string is expected (an env value)",
			deployment("", "", "        env:\n        - name: PORT\n          value: 5432\n        - name: AWS_ACCESS_KEY_ID\n          value: "+key+"\n"), exitDenied, "AWS_ACCESS_KEY_ID",
			[]string{"env[0].value: not a string, read as its text"}},
		{"a duplicate key",
			deployment("", "", secretEnv+"        env:\n        - name: AWS_ACCESS_KEY_ID\n          value: "+key+"\n"), exitDenied, "AWS_ACCESS_KEY_ID",
			[]string{"read leniently", "already set"}},
		{"a wrong field and nothing secret",
			deployment("      nodeSelector: {zone: 1}\n", "", "        env:\n        - name: LOG_LEVEL\n          value: debug\n"), exitOK, "",
			[]string{"spec.template.spec.nodeSelector"}},
		{"nothing readable: containers is a string",
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: app\n", exitInvalid, "",
			[]string{"document 1 of stdin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"check", "-f", "-", "-o", "json"}, strings.NewReader(tt.doc), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if tt.wantEnv != "" {
				var out struct {
					Violations []finding `json:"violations"`
				}
				if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
					t.Fatalf("-o json: %v\n%s", err, stdout.String())
				}
				found := false
				for _, v := range out.Violations {
					found = found || v.Env == tt.wantEnv
				}
				if !found {
					t.Errorf("violations %+v lack %s", out.Violations, tt.wantEnv)
				}
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if all := stdout.String() + stderr.String(); strings.Contains(all, key) || strings.Contains(all, "postgres") {
				t.Errorf("the output carries a value:\n%s", all)
			}
		})
	}
}

// A readable document with a secret makes the exit 1 even when another
// document cannot be read at all; stderr still names that one.
func TestCheckUnreadableBesideASecret(t *testing.T) {
	in := deployment("", "", "        env:\n        - name: AWS_ACCESS_KEY_ID\n          value: AKIAZ3MHQ7LXK4T2V6PB\n") + "---\nkind: [\n"
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "-f", "-"}, strings.NewReader(in), &stdout, &stderr)
	if code != exitDenied || !strings.Contains(stderr.String(), "not checked: document 2 of stdin") {
		t.Fatalf("exit %d, want %d and document 2 named; stderr: %s", code, exitDenied, stderr.String())
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// The acceptance check: a literal AWS key and a secretKeyRef are
// reported, a harmless GIT_COMMIT SHA is not, and the exit code is 1.
func TestCheckReportsExactlyTheStaticSecrets(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "-f", examples + "static-secrets.yaml", "-o", "json"}, nil, &stdout, &stderr)
	if code != exitDenied {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitDenied, stderr.String())
	}
	var out struct {
		Violations []finding `json:"violations"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, stdout.String())
	}
	envs := map[string]string{}
	for _, v := range out.Violations {
		envs[v.Env] = v.Rule
		if v.Kind != "Deployment" || v.Namespace != "team-a" || v.Name != "billing" || v.Container != "app" || v.Message == "" {
			t.Errorf("violation lacks its place: %+v", v)
		}
	}
	if len(out.Violations) != 2 || envs["AWS_ACCESS_KEY_ID"] == "" || envs["DB_PASSWORD"] != "env-secret-key-ref" {
		t.Errorf("violations = %+v, want exactly AWS_ACCESS_KEY_ID and DB_PASSWORD (env-secret-key-ref)", out.Violations)
	}
	if strings.Contains(stdout.String()+stderr.String(), "AKIAZ3MHQ7LXK4T2V6PB") {
		t.Error("the output carries the key's value")
	}
	if stderr.Len() != 0 {
		t.Errorf("-o json wrote to stderr: %s", stderr.String())
	}
}

func TestCheckExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		stdout   []string
		stderr   []string
	}{
		{name: "clean examples", args: []string{"check", "-f", examples + "pod.yaml", "-f", examples + "deployment.yaml", "-f", examples + "plain-pod.yaml"}, wantCode: exitOK},
		{name: "text output names each violation", args: []string{"check", "-f", examples + "static-secrets.yaml"}, wantCode: exitDenied,
			stdout: []string{"AWS_ACCESS_KEY_ID", "DB_PASSWORD"}, stderr: []string{"2 static secret(s) found"}},
		{name: "a folder is read whole", args: []string{"check", "-f", examples}, wantCode: exitDenied, stdout: []string{"Deployment team-a/billing"}},
		{name: "stdin", args: []string{"check", "-f", "-"}, stdin: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: x\n    envFrom:\n    - secretRef: {name: creds}\n",
			wantCode: exitDenied, stdout: []string{`envFrom Secret "creds"`}},
		{name: "garbage input", args: []string{"check", "-f", "-"}, stdin: "kind: [", wantCode: exitInvalid, stderr: []string{"document 1 of stdin"}},
		{name: "bad output format", args: []string{"check", "-f", examples + "pod.yaml", "-o", "xml"}, wantCode: exitInvalid},
		{name: "bad policy", args: []string{"check", "-f", examples + "pod.yaml", "--policy", "testdata/nope.yaml"}, wantCode: exitInvalid, stderr: []string{"read policy"}},
		{name: "no -f", args: []string{"check"}, wantCode: exitInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// Every kind with a pod template is judged: the two core kinds through
// their known paths, custom resources by shape (and said so on stderr), and
// kinds without one are named on stderr, never skipped silently.
func TestCheckEveryKindWithAPodTemplate(t *testing.T) {
	const in = `apiVersion: v1
kind: ReplicationController
metadata: {name: legacy, namespace: team-a}
spec:
  template:
    spec:
      containers:
      - {name: app, image: app:1, env: [{name: DB_PASSWORD, value: password123}]}
---
apiVersion: v1
kind: PodTemplate
metadata: {name: tmpl, namespace: team-a}
template:
  spec:
    containers:
    - name: app
      image: app:1
      env:
      - name: API_TOKEN
        valueFrom: {secretKeyRef: {name: api, key: token}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: team-a}
spec:
  strategy: {canary: {steps: [{setWeight: 20}]}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: web:1, env: [{name: MYSQL_ROOT_PASSWORD, value: rootpass}, {name: LOG_LEVEL, value: info}]}
---
apiVersion: serving.kruise.io/v1beta1
kind: InferenceService
metadata: {name: model, namespace: ml}
spec:
  predictor:
    containers:
    - name: kserve-container
      image: model:1
      env: [{name: HF_TOKEN, value: hf_q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0Jf5Gs3Ae9U}]
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: clean, namespace: team-a}
spec:
  template:
    spec:
      containers: [{image: hello:1, env: [{name: TARGET, value: world}]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team-a}
data: {DB_PASSWORD: not-judged-here}
`
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "-f", "-", "-o", "json"}, strings.NewReader(in), &stdout, &stderr)
	if code != exitDenied {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitDenied, stderr.String())
	}
	var out struct {
		Violations []finding `json:"violations"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("-o json: %v\n%s", err, stdout.String())
	}
	var got []string
	for _, v := range out.Violations {
		got = append(got, v.Kind+" "+v.Namespace+"/"+v.Name+" "+v.Env+" "+v.Rule)
	}
	want := []string{
		"ReplicationController team-a/legacy DB_PASSWORD env-name-weak-literal",
		"PodTemplate team-a/tmpl API_TOKEN env-secret-key-ref",
		"Rollout team-a/web MYSQL_ROOT_PASSWORD env-name-weak-literal",
		"InferenceService ml/model HF_TOKEN known-credential-format",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range []string{"spec.template.spec.containers[0].env[0]", "template.spec.containers[0].env[0]", "spec.predictor.containers[0].env[0]"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("no message names field %s:\n%s", s, stdout.String())
		}
	}
	for _, s := range []string{
		"checked by the shape of their pod templates: 1 Rollout (argoproj.io/v1alpha1), 1 InferenceService (serving.kruise.io/v1beta1), 1 Service (serving.knative.dev/v1)",
		"not checked, no pod template: 1 ConfigMap (v1)",
	} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
		}
	}
	for _, secret := range []string{"password123", "rootpass", "hf_q3Zx9"} {
		if strings.Contains(stdout.String()+stderr.String(), secret) {
			t.Errorf("output carries a value (%s)", secret)
		}
	}
}

// `wisp check` lists every violation: the webhook's answers stop at
// webhook.MaxListed (20), a CI log can hold them all.
func TestCheckListsEveryViolation(t *testing.T) {
	var pod strings.Builder
	pod.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: team-a}\nspec:\n  containers:\n  - name: a\n    image: x\n    env:\n")
	for i := range 30 {
		fmt.Fprintf(&pod, "    - {name: P%d_PASSWORD, value: hunter2}\n", i)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "-f", "-", "-o", "json"}, strings.NewReader(pod.String()), &stdout, &stderr)
	var out struct {
		Violations []finding `json:"violations"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); code != exitDenied || err != nil || len(out.Violations) != 30 {
		t.Errorf("exit %d, %d violations (%v), want %d and all 30; stderr: %s", code, len(out.Violations), err, exitDenied, stderr.String())
	}
}

package main

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/mutate"
)

const rolesPolicy = `apiVersion: wisp.dev/v1alpha1
kind: Policy
roles:
- namespaces: ["team-a"]
  roles: ["team-a-*"]
`

func planJSON(role, path string) string {
	return `{"version":"wisp.dev/v1alpha1","role":"` + role + `","dir":"/wisp/secrets","secrets":[{"name":"db","path":"` + path + `"}]}`
}

// preInjected is a pod in team-a that says wisp injected it, with a
// hand-written wisp-fetch container of the given env, envFrom, args.
func preInjected(t *testing.T, kind string, c corev1.Container) string {
	t.Helper()
	c.Name, c.Image = "wisp-fetch", "ghcr.io/wisp-dev/wisp-fetch:v0.1.0"
	c.Command = append([]string{"/wisp-fetch"}, c.Command...)
	meta := map[string]any{"annotations": map[string]string{mutate.AnnotationStatus: mutate.StatusInjected}}
	spec := map[string]any{"initContainers": []corev1.Container{c}, "containers": []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}}
	var doc map[string]any
	switch kind {
	case "Pod":
		meta["name"], meta["namespace"] = "forged", "team-a"
		doc = map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
	case "CronJob":
		spec["restartPolicy"] = "Never"
		doc = map[string]any{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": map[string]any{"name": "forged", "namespace": "team-a"},
			"spec": map[string]any{"schedule": "0 * * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": meta, "spec": spec}}}}}
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCLIRefusesWhatTheWebhookRefuses: `wisp inject` and `wisp check` with a
// policy refuse a pre-injected pod whose plan names a foreign role, or a
// plan the webhook could not check, with mutate.CheckPlans' message (the
// webhook's, after "wisp: "), and exit 1.
func TestCLIRefusesWhatTheWebhookRefuses(t *testing.T) {
	t.Parallel()
	policyFile := writeTemp(t, rolesPolicy)
	snap, err := config.Parse([]byte(rolesPolicy))
	if err != nil {
		t.Fatal(err)
	}
	cmRef := &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "p"}, Key: "plan"}}
	tests := []struct {
		name string
		c    corev1.Container
	}{
		{"a foreign role", corev1.Container{Env: []corev1.EnvVar{{Name: mutate.EnvPlan, Value: planJSON("team-b-db", "database/creds/team-b-db")}}}},
		{"$( in the plan", corev1.Container{Env: []corev1.EnvVar{{Name: "P", Value: `x","role":"team-b-db`},
			{Name: mutate.EnvPlan, Value: planJSON("team-a-db", "$(P)")}}}},
		{"$( in the role", corev1.Container{Env: []corev1.EnvVar{{Name: "R", Value: "team-b-db"}, {Name: mutate.EnvPlan, Value: planJSON("$(R)", "x")}}}},
		{"WISP_PLAN from a ConfigMap", corev1.Container{Env: []corev1.EnvVar{{Name: mutate.EnvPlan, ValueFrom: cmRef}}}},
		{"envFrom", corev1.Container{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "p"}}}}}},
		{"--plan", corev1.Container{Args: []string{"--plan", "/cm/plan.json"}}},
	}
	for _, tt := range tests {
		for _, kind := range []string{"Pod", "CronJob"} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				manifest := preInjected(t, kind, tt.c)
				var obj struct {
					Spec corev1.PodSpec `json:"spec"`
				}
				if kind == "Pod" {
					if err := yaml.Unmarshal([]byte(manifest), &obj); err != nil {
						t.Fatal(err)
					}
				} else {
					var cj struct {
						Spec struct {
							JobTemplate struct {
								Spec struct {
									Template struct {
										Spec corev1.PodSpec `json:"spec"`
									} `json:"template"`
								} `json:"spec"`
							} `json:"jobTemplate"`
						} `json:"spec"`
					}
					if err := yaml.Unmarshal([]byte(manifest), &cj); err != nil {
						t.Fatal(err)
					}
					obj.Spec = cj.Spec.JobTemplate.Spec.Template.Spec
				}
				_, want := mutate.CheckPlans(&obj.Spec, snap.Injection, roleCheck(snap, "team-a"))
				if want == nil {
					t.Fatal("CheckPlans allows it")
				}

				code, stdout, stderr := wisp(t, manifest, "inject", "-f", "-", "--policy", policyFile)
				if code != exitDenied || stdout != "" || !strings.Contains(stderr, ": "+want.Error()+"\n") {
					t.Errorf("inject: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, want)
				}
				code, stdout, _ = wisp(t, manifest, "check", "-f", "-", "--policy", policyFile)
				if code != exitDenied || !strings.Contains(stdout, kind+" team-a/forged: "+want.Error()+"\n") {
					t.Errorf("check: exit %d, stdout %q; want exit 1 and %q", code, stdout, want)
				}
				code, stdout, _ = wisp(t, manifest, "check", "-f", "-", "--policy", policyFile, "-o", "json")
				var out struct {
					Denials []denial `json:"denials"`
				}
				if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != exitDenied || len(out.Denials) != 1 || out.Denials[0].Message != want.Error() {
					t.Errorf("check -o json: exit %d, %s", code, stdout)
				}
			})
		}
	}

	// The namespace's own role passes both.
	ok := preInjected(t, "Pod", corev1.Container{Env: []corev1.EnvVar{{Name: mutate.EnvPlan, Value: planJSON("team-a-db", "database/creds/team-a-db")}}})
	if code, _, stderr := wisp(t, ok, "inject", "-f", "-", "--policy", policyFile); code != exitOK {
		t.Errorf("inject with the namespace's role: exit %d: %s", code, stderr)
	}
	if code, stdout, _ := wisp(t, ok, "check", "-f", "-", "--policy", policyFile); code != exitOK {
		t.Errorf("check with the namespace's role: exit %d: %s", code, stdout)
	}
}

// TestInjectChecksTheRoleItWrites: `wisp inject` refuses to inject a role
// the namespace may not name, as the webhook does.
func TestInjectChecksTheRoleItWrites(t *testing.T) {
	t.Parallel()
	policyFile := writeTemp(t, rolesPolicy)
	pod := `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: team-a
  annotations: {wisp.dev/inject: "true", wisp.dev/role: ROLE, wisp.dev/secret-db: database/creds/x}
spec:
  containers: [{name: app, image: registry.example.com/app:1}]
`
	code, _, stderr := wisp(t, strings.Replace(pod, "ROLE", "team-b-db", 1), "inject", "-f", "-", "--policy", policyFile)
	if want := `Pod/web: cannot inject: init container "wisp-fetch": vault role not allowed: role "team-b-db" in namespace "team-a"`; code != exitDenied || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	if code, _, stderr := wisp(t, strings.Replace(pod, "ROLE", "team-a-db", 1), "inject", "-f", "-", "--policy", policyFile); code != exitOK {
		t.Errorf("the namespace's own role: exit %d: %s", code, stderr)
	}
}

// TestCheckJudgesWhatTheKubeletGives: `wisp check` reports literals given
// through fieldRef and $(VAR) renames, in pods and CronJob templates; a
// secret-looking name from a ConfigMap is a warning that keeps exit 0.
func TestCheckJudgesWhatTheKubeletGives(t *testing.T) {
	t.Parallel()
	const cron = `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: team-a}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          annotations: {aws-key: AKIAZ5QWERTYUIOP7QAB}
          labels: {pw: postgres}
        spec:
          restartPolicy: Never
          initContainers:
          - name: migrate
            image: registry.example.com/migrate:1
            env:
            - {name: DEFAULT_DB, value: postgres}
            - {name: ALIAS, value: $(DEFAULT_DB)}
            - {name: POSTGRES_PASSWORD, value: $(ALIAS)}
          containers:
          - name: app
            image: registry.example.com/app:1
            env:
            - name: AWS_ACCESS_KEY_ID
              valueFrom: {fieldRef: {fieldPath: "metadata.annotations['aws-key']"}}
            - name: DB_PASSWORD
              valueFrom: {fieldRef: {fieldPath: "metadata.labels['pw']"}}
`
	code, stdout, stderr := wisp(t, cron, "check", "-f", "-")
	for _, want := range []string{
		`CronJob team-a/nightly: init container "migrate": env POSTGRES_PASSWORD: after the kubelet's $(VAR) expansion: `,
		`CronJob team-a/nightly: container "app": env AWS_ACCESS_KEY_ID: annotation "aws-key" through fieldRef: `,
		`CronJob team-a/nightly: container "app": env DB_PASSWORD: label "pw" through fieldRef: `,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if code != exitDenied || strings.Contains(stdout, "ERTYUIOP7QAB") || !strings.Contains(stderr, "3 static secret(s) found") {
		t.Errorf("exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}

	const warnOnly = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: team-a}
spec:
  containers:
  - name: app
    image: registry.example.com/app:1
    env:
    - name: DB_PASSWORD
      valueFrom: {configMapKeyRef: {name: db, key: password}}
`
	code, stdout, _ = wisp(t, warnOnly, "check", "-f", "-")
	if code != exitOK || !strings.HasPrefix(stdout, `warning: Pod team-a/web: container "app": env DB_PASSWORD: value comes from key "password" of ConfigMap "db"`) {
		t.Errorf("warn-only: exit %d, stdout %s", code, stdout)
	}
}

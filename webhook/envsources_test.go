package webhook

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/mutate"
)

const fakeAWSKey = "AKIAZ5QW" + "ERTYUIOP7QAB"

func envPolicy(t *testing.T) *config.Snapshot {
	t.Helper()
	snap, err := config.Parse([]byte(`
apiVersion: wisp.dev/v1alpha1
kind: Policy
roles:
  - namespaces: ["team-a"]
    roles: ["team-a-*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// handle sends obj (a Pod, or a Deployment) to /mutate and /validate as a
// CREATE in team-a, and returns both answers (/mutate only for pods).
func handle(t *testing.T, snap *config.Snapshot, obj any) (mutating, validating admission.Response) {
	t.Helper()
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "u", Kind: metaKind("Pod"), Namespace: "team-a", Operation: admissionv1.Create,
	}}
	if _, ok := obj.(*appsv1.Deployment); ok {
		req.Kind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	}
	req.Object.Raw = mustJSON(t, obj)
	s := config.Static{Snapshot: snap}
	if req.Kind.Kind == "Pod" {
		mutating = NewMutatingHandler(s, nil, nil, nil).Handle(context.Background(), req)
	}
	return mutating, NewValidatingHandler(s, nil, nil, nil).Handle(context.Background(), req)
}

func deploymentOf(p *corev1.Pod) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "payments", Namespace: "team-a"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: p.Labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec},
		},
	}
}

// TestDownwardAPILiteralsDenied: an annotation's value given to an env var
// through fieldRef is judged as that literal, at /mutate and /validate,
// for pods and workloads; the denial never quotes it.
func TestDownwardAPILiteralsDenied(t *testing.T) {
	t.Parallel()
	snap := envPolicy(t)
	for _, tt := range []struct {
		name, env, path string
		meta            func(p *corev1.Pod)
	}{
		{"annotation", "AWS_ACCESS_KEY_ID", "metadata.annotations['aws-key']", func(p *corev1.Pod) { p.Annotations["aws-key"] = fakeAWSKey }},
		{"label", "DB_PASSWORD", "metadata.labels['pw']", func(p *corev1.Pod) { p.Labels["pw"] = "postgres" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := plainPod()
			p.Annotations = map[string]string{}
			tt.meta(p)
			p.Spec.Containers[1].Env = append(p.Spec.Containers[1].Env, corev1.EnvVar{Name: tt.env,
				ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: tt.path}}})
			m, v := handle(t, snap, p)
			_, d := handle(t, snap, deploymentOf(p))
			for what, resp := range map[string]admission.Response{"/mutate": m, "/validate": v, "/validate Deployment": d} {
				if resp.Allowed {
					t.Errorf("%s: allowed", what)
					continue
				}
				msg := resp.Result.Message
				if !strings.Contains(msg, "env "+tt.env+": ") || !strings.Contains(msg, "through fieldRef") ||
					strings.Contains(msg, "ERTYUIOP") || strings.Contains(msg, "postgres") {
					t.Errorf("%s: %s", what, msg)
				}
			}
		})
	}
}

// TestConfigMapSecretNameWarns: in enforce mode, a secret-looking name from
// a ConfigMap is a warning at /validate, never a denial anywhere.
func TestConfigMapSecretNameWarns(t *testing.T) {
	t.Parallel()
	p := plainPod()
	p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "DB_PASSWORD",
		ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}})
	m, v := handle(t, envPolicy(t), p)
	if !m.Allowed || !v.Allowed {
		t.Fatalf("denied: %v %v", m.Result, v.Result)
	}
	if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "(rule env-config-map-secret-name)") {
		t.Errorf("warnings %q", v.Warnings)
	}
	// Beside a violation that denies, it is a warning of the denial.
	p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "AWS_ACCESS_KEY_ID", Value: fakeAWSKey})
	_, v = handle(t, envPolicy(t), p)
	if v.Allowed || !strings.Contains(v.Result.Message, "wisp: 1 static secret(s)") || len(v.Warnings) != 1 {
		t.Errorf("want one denial line and one warning: %v %q", v.Result, v.Warnings)
	}
}

// TestPlanRefusalsSameEverywhere: /mutate and /validate refuse a plan that
// admission could not read as it will run, with mutate.CheckPlans' message.
func TestPlanRefusalsSameEverywhere(t *testing.T) {
	t.Parallel()
	snap := envPolicy(t)
	plan := func(role, path string) string {
		return `{"version":"wisp.dev/v1alpha1","role":"` + role + `","dir":"/wisp/secrets","secrets":[{"name":"db","path":"` + path + `"}]}`
	}
	tests := []struct {
		name string
		c    corev1.Container
	}{
		{"$( in the path", corev1.Container{Name: "fetch", Image: "x:1", Env: []corev1.EnvVar{
			{Name: "P", Value: `x","role":"team-b-db`}, {Name: mutate.EnvPlan, Value: plan("team-a-db", "$(P)")}}}},
		{"WISP_PLAN from a ConfigMap", corev1.Container{Name: "fetch", Image: "x:1", Env: []corev1.EnvVar{{Name: mutate.EnvPlan,
			ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "p"}, Key: "plan"}}}}}},
		{"envFrom on wisp-fetch", corev1.Container{Name: "fetch", Image: "ghcr.io/wisp-dev/wisp-fetch:v0.1.0",
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "p"}}}}}},
		{"--plan", corev1.Container{Name: "fetch", Image: "x:1", Command: []string{"/wisp-fetch", "--plan", "/cm/plan.json"}}},
		{"a foreign role, pre-injected", corev1.Container{Name: "fetch", Image: "x:1", Env: []corev1.EnvVar{{Name: mutate.EnvPlan, Value: plan("team-b-db", "x")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := plainPod()
			p.Annotations = map[string]string{mutate.AnnotationStatus: mutate.StatusInjected}
			p.Spec.InitContainers = []corev1.Container{tt.c}
			_, err := mutate.CheckPlans(&p.Spec, snap.Injection, roleCheck(snap, "team-a"))
			if err == nil {
				t.Fatal("CheckPlans allows it")
			}
			want := "wisp: " + err.Error()
			m, v := handle(t, snap, p)
			_, d := handle(t, snap, deploymentOf(p))
			for what, resp := range map[string]admission.Response{"/mutate": m, "/validate": v, "/validate Deployment": d} {
				if resp.Allowed || resp.Result.Message != want {
					t.Errorf("%s: allowed %v, message %q; want %q", what, resp.Allowed, resp.Result.Message, want)
				}
			}
		})
	}
}

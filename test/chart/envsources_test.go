package chart

import (
	"context"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"wisp.dev/wisp/mutate"
)

// A fake key in AWS's format, and the part of it no message may carry.
const (
	fakeAWSKey = "AKIAZ5QW" + "ERTYUIOP7QAB"
	awsCanary  = "ERTYUIOP7QAB"
)

func fieldRefEnv(name, fieldPath string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: fieldPath}}}
}

// expectDenied checks a wisp denial that names each of names and quotes
// none of the values.
func expectDenied(t *testing.T, what string, err error, names ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: admitted", what)
	}
	msg := err.Error()
	if !apierrors.IsForbidden(err) || !strings.Contains(msg, "wisp") {
		t.Fatalf("%s: want a wisp denial, got %v", what, err)
	}
	for _, n := range names {
		if !strings.Contains(msg, n) {
			t.Errorf("%s: the denial does not name %q: %v", what, n, err)
		}
	}
	if strings.Contains(msg, awsCanary) || strings.Contains(msg, "=postgres") || strings.Contains(msg, `"postgres"`) {
		t.Errorf("%s: the denial quotes a value: %v", what, err)
	}
}

// Literals through the downward API and $(VAR) renames, through the chart's
// webhook configurations in a real API server: the CEL condition sends
// every valueFrom and every downward API file of the metadata to wisp, and
// wisp judges the value the container gets, in an enforcing namespace.
func TestDeployDownwardAPILiteralsDenied(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	ns := c.namespace(t, nil)
	pods := c.client.CoreV1().Pods(ns)

	t.Run("pod: an annotation through fieldRef", func(t *testing.T) {
		p := testPod("aws", map[string]string{"aws-key": fakeAWSKey}, fieldRefEnv("AWS_ACCESS_KEY_ID", "metadata.annotations['aws-key']"))
		c.expectCalls(t, 1, 0, func() {
			_, err := pods.Create(ctx, p, metav1.CreateOptions{})
			expectDenied(t, "pod", err, "env AWS_ACCESS_KEY_ID", `annotation "aws-key" through fieldRef`, "known-credential-format")
		})
	})
	t.Run("init container: a label through fieldRef", func(t *testing.T) {
		p := testPod("pg", nil)
		p.Labels = map[string]string{"pw": "postgres"}
		p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "registry.example.com/migrate:1", Env: []corev1.EnvVar{fieldRefEnv("DB_PASSWORD", "metadata.labels['pw']")}}}
		_, err := pods.Create(ctx, p, metav1.CreateOptions{})
		expectDenied(t, "init container", err, `init container "migrate"`, "env DB_PASSWORD", `label "pw" through fieldRef`)
	})
	t.Run("pod: a one-hop rename", func(t *testing.T) {
		p := testPod("rename", nil, literal("DEFAULT_DB", "postgres"), literal("POSTGRES_PASSWORD", "$(DEFAULT_DB)"))
		_, err := pods.Create(ctx, p, metav1.CreateOptions{})
		expectDenied(t, "rename", err, "env POSTGRES_PASSWORD", "after the kubelet's $(VAR) expansion", "env-name-weak-literal")
	})
	t.Run("pod: a downward API volume of the annotations", func(t *testing.T) {
		p := withVolumes(testPod("files", map[string]string{"aws-key": fakeAWSKey}), downwardVolume("metadata.annotations"))
		c.expectCalls(t, 1, 0, func() {
			_, err := pods.Create(ctx, p, metav1.CreateOptions{})
			expectDenied(t, "volume", err, `volume "podinfo"`, `annotation "aws-key" through the downward API`)
		})
	})
	t.Run("Deployment: its template's annotation through fieldRef, at /validate", func(t *testing.T) {
		labels := map[string]string{"app": "aws"}
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "aws"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"aws-key": fakeAWSKey}},
				Spec:       podSpec(fieldRefEnv("AWS_ACCESS_KEY_ID", "metadata.annotations['aws-key']")),
			},
		}}
		c.expectCalls(t, 0, 1, func() {
			_, err := c.client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
			expectDenied(t, "Deployment", err, "Deployment "+ns+"/aws", "env AWS_ACCESS_KEY_ID", `annotation "aws-key" through fieldRef`)
		})
	})
	t.Run("CronJob: a rename in its template", func(t *testing.T) {
		s := podSpec(literal("A", "admin"), literal("B", "$(A)"), literal("GF_SECURITY_ADMIN_PASSWORD", "$(B)"))
		s.RestartPolicy = corev1.RestartPolicyNever
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "report"}, Spec: batchv1.CronJobSpec{Schedule: "0 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: s}}}}}
		_, err := c.client.BatchV1().CronJobs(ns).Create(ctx, cj, metav1.CreateOptions{})
		expectDenied(t, "CronJob", err, "env GF_SECURITY_ADMIN_PASSWORD")
	})
	t.Run("kubectl debug: an annotation through fieldRef", func(t *testing.T) {
		pod, err := pods.Create(ctx, testPod("debug-me", map[string]string{"aws-key": fakeAWSKey}), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: "busybox:1.36", Env: []corev1.EnvVar{fieldRefEnv("AWS_ACCESS_KEY_ID", "metadata.annotations['aws-key']")},
			TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullIfNotPresent,
		}}}
		_, err = pods.UpdateEphemeralContainers(ctx, pod.Name, pod, metav1.UpdateOptions{})
		expectDenied(t, "ephemeral container", err, `ephemeral container "debugger"`, "env AWS_ACCESS_KEY_ID")
	})
}

// planJSON is a fetch plan naming role, with one secret at path.
func planJSON(role, path string) string {
	return `{"version":"wisp.dev/v1alpha1","role":"` + role + `","dir":"/wisp/secrets","secrets":[{"name":"db","path":"` + path + `"}]}`
}

// A plan the webhook could not read as it will run, in a pod that says it
// is injected: a "$(" the kubelet would expand into a foreign role, a plan
// from a ConfigMap, envFrom on wisp-fetch, --plan with no env at all. Each
// reaches wisp through the chart's CEL condition and is refused.
func TestDeployPlanRefusals(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	ns := c.namespace(t, nil)
	forged := func(name string, fetch corev1.Container) *corev1.Pod {
		p := testPod(name, map[string]string{mutate.AnnotationStatus: mutate.StatusInjected})
		fetch.Name, fetch.Image = mutate.FetchContainerName, "ghcr.io/wisp-dev/wisp-fetch:v0.1.0"
		fetch.Command = append([]string{"/wisp-fetch"}, fetch.Command...)
		p.Spec.InitContainers = []corev1.Container{fetch}
		return p
	}
	cm := corev1.LocalObjectReference{Name: "plan"}
	tests := []struct {
		name  string
		fetch corev1.Container
		says  string
	}{
		{"$( in the path closes the string and adds a role", corev1.Container{Env: []corev1.EnvVar{
			literal("P", `secret/data/x","role":"payments-admin`), literal(mutate.EnvPlan, planJSON("orders", "$(P)"))}},
			`env WISP_PLAN holds "$("`},
		{"$( two hops away", corev1.Container{Env: []corev1.EnvVar{
			literal("A", `payments-admin`), literal("R", "$(A)"), literal(mutate.EnvPlan, planJSON("$(R)", "secret/data/x"))}},
			`env WISP_PLAN holds "$("`},
		{"WISP_PLAN from a ConfigMap", corev1.Container{Env: []corev1.EnvVar{{Name: mutate.EnvPlan,
			ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: cm, Key: "plan"}}}}},
			"env WISP_PLAN must be a literal fetch plan, not valueFrom"},
		{"envFrom a ConfigMap", corev1.Container{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: cm}}}},
			"runs wisp-fetch and has envFrom"},
		{"--plan from a file, no env", corev1.Container{Args: []string{"--plan", "/cm/plan.json"}},
			"passes wisp-fetch's --plan flag"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := forged("forged-"+string(rune('a'+i)), tt.fetch)
			c.expectCalls(t, 1, 0, func() {
				_, err := c.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
				expectDenied(t, "pod", err, `init container "wisp-fetch"`, tt.says)
			})
		})
	}
	t.Run("Deployment with a $( plan, at /validate", func(t *testing.T) {
		p := forged("", tests[0].fetch)
		labels := map[string]string{"app": "forged"}
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "forged"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: p.Annotations}, Spec: p.Spec},
		}}
		c.expectCalls(t, 0, 1, func() {
			_, err := c.client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
			expectDenied(t, "Deployment", err, `env WISP_PLAN holds "$("`)
		})
	})
	t.Run("wisp's own plan, $( in a template, is injected and admitted", func(t *testing.T) {
		a := optIn()
		a[mutate.AnnotationTemplatePrefix+"db"] = `{{ with .username }}export DB_USER={{ . }} DB_HOST=$(hostname){{ end }}`
		got, err := c.client.CoreV1().Pods(ns).Create(ctx, testPod("templated", a), metav1.CreateOptions{})
		if err != nil || !isInjected(got) {
			t.Fatalf("a template with $( was refused or not injected: %v", err)
		}
	})
}

// warnings collects the API server's warnings.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// A secret-looking env var from a ConfigMap is admitted in an enforcing
// namespace, with a warning from /validate (rule env-config-map-secret-name).
func TestDeployConfigMapSecretNameWarns(t *testing.T) {
	c := cluster(t)
	ns := c.namespace(t, nil)
	w := &warnings{}
	cfg := rest.CopyConfig(c.cfg)
	cfg.WarningHandler = w
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := testPod("cm", nil, corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}})
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("refused: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.list) != 1 || !strings.Contains(w.list[0], `env DB_PASSWORD: value comes from key "password" of ConfigMap "db"`) ||
		!strings.Contains(w.list[0], "(rule env-config-map-secret-name)") {
		t.Errorf("warnings %q", w.list)
	}
}

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/mutate"
)

const fakeAWSKey = "AKIAZ3MHQ7LXK4T2V6PB"

func readDeployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(data, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &d
}

// warnings collects the admission warnings client-go receives.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

func clientWithWarnings(t *testing.T) (kubernetes.Interface, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(shared.restConfig)
	cfg.WarningHandler = w
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

func TestDeploymentWithStaticSecretsIsDeniedWhereEnforced(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	_, err := shared.client.AppsV1().Deployments(ns).Create(ctx, readDeployment(t, "deployment-static-secrets.yaml"), metav1.CreateOptions{})
	if err == nil {
		t.Fatal("a Deployment with static secrets was admitted in an enforcing namespace")
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("error %v: want Forbidden", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`admission webhook "validate.wisp.dev" denied the request`,
		"Deployment " + ns + "/billing",
		`container "app"`,
		"AWS_ACCESS_KEY_ID",
		"DB_PASSWORD",
		"env-secret-key-ref",
		"wisp.dev/secret-",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("denial does not say %q:\n%s", want, msg)
		}
	}
	for _, leak := range []string{fakeAWSKey, "GIT_COMMIT", "LOG_LEVEL"} {
		if strings.Contains(msg, leak) {
			t.Errorf("denial mentions %q:\n%s", leak, msg)
		}
	}
	if strings.Contains(shared.logs.String(), fakeAWSKey) {
		t.Error("the webhook logged the secret value")
	}

	// A clean Deployment is admitted in the same namespace.
	if _, err := shared.client.AppsV1().Deployments(ns).Create(ctx, readDeployment(t, "deployment-clean.yaml"), metav1.CreateOptions{}); err != nil {
		t.Errorf("a clean Deployment was refused: %v", err)
	}
}

// A pod with a static secret is refused by /mutate already, before anything
// is injected, with the same message.
func TestPodWithStaticSecretIsDenied(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	pod := readPod(t, filepath.Join("testdata", "plain-pod.yaml"))
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "GITHUB_TOKEN", Value: "ghp_" + "R8x2Lq7Vt4Zp9Km3Nw6Yb1Hc5Jd0Fs2Ga7Qe"})
	_, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) {
		t.Fatalf("create: %v, want Forbidden", err)
	}
	if !strings.Contains(err.Error(), "GITHUB_TOKEN") || strings.Contains(err.Error(), "R8x2Lq7V") {
		t.Errorf("denial must name GITHUB_TOKEN and never its value:\n%v", err)
	}
}

func TestWarnNamespaceAdmitsWithWarnings(t *testing.T) {
	ctx := context.Background()
	ns := namespaceWith(t, shared, "team-", map[string]string{"wisp.dev/policy-mode": "warn"})
	client, w := clientWithWarnings(t)
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, readDeployment(t, "deployment-static-secrets.yaml"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("warn mode refused the Deployment: %v", err)
	}
	got := w.all()
	for _, want := range []string{"AWS_ACCESS_KEY_ID", "DB_PASSWORD"} {
		if !strings.Contains(got, want) {
			t.Errorf("client-go received no warning about %s; warnings:\n%s", want, got)
		}
	}
	if strings.Contains(got, fakeAWSKey) {
		t.Error("a warning carries the secret value")
	}
}

func TestExemptNamespaceAdmitsWithoutWarnings(t *testing.T) {
	ctx := context.Background()
	ns := namespaceWith(t, shared, "legacy-", nil)
	client, w := clientWithWarnings(t)
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, readDeployment(t, "deployment-static-secrets.yaml"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("an exempt namespace refused the Deployment: %v", err)
	}
	if got := w.all(); got != "" {
		t.Errorf("warnings in an exempt namespace: %s", got)
	}
}

// Audit mode admits silently and counts the violations.
func TestAuditNamespaceAdmitsAndCounts(t *testing.T) {
	ctx := context.Background()
	ns := namespaceWith(t, shared, "team-", map[string]string{"wisp.dev/policy-mode": "audit"})
	before := counter(t, shared, "wisp_policy_violations_total", map[string]string{"mode": "audit"})
	client, w := clientWithWarnings(t)
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, readDeployment(t, "deployment-static-secrets.yaml"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("audit mode refused the Deployment: %v", err)
	}
	if got := w.all(); got != "" {
		t.Errorf("audit mode gave warnings: %s", got)
	}
	if d := counter(t, shared, "wisp_policy_violations_total", map[string]string{"mode": "audit"}) - before; d < 2 {
		t.Errorf("audit violations grew by %v, want at least 2", d)
	}
}

// An UPDATE is judged on what it changes: a workload admitted before the
// namespace enforced can still scale, but not gain a new static secret.
func TestUpdateIsJudgedOnWhatChanges(t *testing.T) {
	ctx := context.Background()
	ns := namespaceWith(t, shared, "team-", map[string]string{"wisp.dev/policy-mode": "audit"})
	deps := shared.client.AppsV1().Deployments(ns)
	if _, err := deps.Create(ctx, readDeployment(t, "deployment-static-secrets.yaml"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create in audit mode: %v", err)
	}
	nsObj, err := shared.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Labels["wisp.dev/policy-mode"] = "enforce"
	if _, err := shared.client.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNamespaceLabels(t, shared, ns, map[string]string{"wisp.dev/policy-mode": "enforce"})

	d, err := deps.Get(ctx, "billing", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Replicas = ptrTo(int32(3))
	if d, err = deps.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scaling an existing workload was refused: %v", err)
	}
	d.Spec.Template.Spec.Containers[0].Env = append(d.Spec.Template.Spec.Containers[0].Env,
		corev1.EnvVar{Name: "STRIPE_KEY", Value: "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dcT9xR2m"})
	_, err = deps.Update(ctx, d, metav1.UpdateOptions{})
	if err == nil {
		t.Fatal("an update adding a static secret was admitted")
	}
	if !strings.Contains(err.Error(), "STRIPE_KEY") || strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("the denial must name only the new violation:\n%v", err)
	}
}

// A pod may only name the Vault roles its namespace is bound to.
func TestRoleBindingIsChecked(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	pod := readPod(t, filepath.Join("testdata", "pod.yaml"))
	pod.Annotations[mutate.AnnotationRole] = "platform-admin"
	_, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) {
		t.Fatalf("create with a foreign role: %v, want Forbidden", err)
	}
	if !strings.Contains(err.Error(), "platform-admin") {
		t.Errorf("denial does not name the role:\n%v", err)
	}
	pod = readPod(t, filepath.Join("testdata", "pod.yaml"))
	pod.Annotations[mutate.AnnotationRole] = ns + "-reader"
	if _, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Errorf("the namespace's own role was refused: %v", err)
	}
}

// A policy file that turns bad keeps the last good policy serving.
func TestBadPolicyAtRunTimeKeepsTheOldOneServing(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() {
		if err := os.WriteFile(shared.policyPath, []byte(testPolicy), 0o644); err != nil {
			t.Error(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, err := shared.policy.LastError(); err != nil && time.Now().Before(deadline); _, err = shared.policy.LastError() {
			time.Sleep(20 * time.Millisecond)
		}
	})
	if err := os.WriteFile(shared.policyPath, []byte(testPolicy+"mode: block\nunknownField: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := shared.policy.LastError(); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the bad policy file was never noticed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ns := namespace(t, shared)
	_, err := shared.client.AppsV1().Deployments(ns).Create(ctx, readDeployment(t, "deployment-static-secrets.yaml"), metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) {
		t.Fatalf("with a bad file on disk the last good (enforcing) policy must still deny; got %v", err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// The two core kinds with a pod template that are not workloads of apps or
// batch are judged by /validate too: a ReplicationController with a default
// password and a PodTemplate with a Secret reference are refused, and their
// clean forms admitted.
func TestReplicationControllerAndPodTemplateAreJudged(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	spec := func(env ...corev1.EnvVar) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "legacy"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1", Env: env}}},
		}
	}
	weak := corev1.EnvVar{Name: "MYSQL_ROOT_PASSWORD", Value: "rootpass"}
	ref := corev1.EnvVar{Name: "API_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "api"}, Key: "token"}}}
	clean := corev1.EnvVar{Name: "LOG_LEVEL", Value: "info"}
	rc := func(name string, env corev1.EnvVar) *corev1.ReplicationController {
		tmpl := spec(env)
		return &corev1.ReplicationController{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "legacy"}, Template: &tmpl},
		}
	}
	pt := func(name string, env corev1.EnvVar) *corev1.PodTemplate {
		return &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: name}, Template: spec(env)}
	}

	_, err := shared.client.CoreV1().ReplicationControllers(ns).Create(ctx, rc("legacy", weak), metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) {
		t.Fatalf("ReplicationController with a literal password: %v, want Forbidden", err)
	}
	for _, want := range []string{"ReplicationController " + ns + "/legacy", "MYSQL_ROOT_PASSWORD", "env-name-weak-literal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("denial does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "rootpass") {
		t.Errorf("denial carries the value:\n%v", err)
	}
	_, err = shared.client.CoreV1().PodTemplates(ns).Create(ctx, pt("tmpl", ref), metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "PodTemplate "+ns+"/tmpl") || !strings.Contains(err.Error(), "env-secret-key-ref") {
		t.Fatalf("PodTemplate with a Secret reference: %v, want Forbidden naming the PodTemplate and env-secret-key-ref", err)
	}
	if _, err := shared.client.CoreV1().ReplicationControllers(ns).Create(ctx, rc("clean", clean), metav1.CreateOptions{}); err != nil {
		t.Errorf("a clean ReplicationController was refused: %v", err)
	}
	if _, err := shared.client.CoreV1().PodTemplates(ns).Create(ctx, pt("clean", clean), metav1.CreateOptions{}); err != nil {
		t.Errorf("a clean PodTemplate was refused: %v", err)
	}
}

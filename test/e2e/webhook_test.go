package e2e

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/plan"
)

// The API server calls wisp on CREATE and stores the injected pod: the
// stored object, less what the server stamps on every object, is the golden.
func TestAnnotatedPodIsInjectedByTheAPIServer(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	in := readPod(t, filepath.Join("testdata", "pod.yaml"))

	before := counter(t, shared, "wisp_injections_total", nil)
	created, err := shared.client.CoreV1().Pods(ns).Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	stored, err := shared.client.CoreV1().Pods(ns).Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod: %v", err)
	}
	compareGolden(t, filepath.Join("testdata", "pod.golden.yaml"), normalize(stored))

	// What the API server stored is exactly what wisp's offline path makes.
	offline, res, err := mutate.Inject(in, mutate.Config{})
	if err != nil || res != mutate.Injected {
		t.Fatalf("offline inject: %v %v", res, err)
	}
	if diff := cmp.Diff(offline.Spec.InitContainers[0].Env, stored.Spec.InitContainers[0].Env); diff != "" {
		t.Errorf("stored init container env differs from the offline injection (-offline +stored):\n%s", diff)
	}
	if got := stored.Spec.InitContainers[0].Name; got != mutate.FetchContainerName {
		t.Errorf("first init container %q, want %q", got, mutate.FetchContainerName)
	}
	p := storedPlan(t, stored)
	if p.Role != "payments" || len(p.Secrets) != 3 || p.Dir != mutate.FetchSecretsDir {
		t.Errorf("plan = %s, want role payments, 3 secrets in %s", p, mutate.FetchSecretsDir)
	}
	if got := counter(t, shared, "wisp_injections_total", nil) - before; got != 1 {
		t.Errorf("wisp_injections_total grew by %v, want 1", got)
	}
	if !strings.Contains(shared.logs.String(), `"name":"payments"`) {
		t.Error("no request log line names the pod")
	}
}

func TestPlainPodIsUntouched(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	in := readPod(t, filepath.Join("testdata", "plain-pod.yaml"))
	before := counter(t, shared, "wisp_admission_requests_total", map[string]string{"result": "allowed"})

	created, err := shared.client.CoreV1().Pods(ns).Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if len(created.Spec.InitContainers) != 0 || len(created.Spec.Volumes) != 0 {
		t.Errorf("plain pod got init containers %v and volumes %v", created.Spec.InitContainers, created.Spec.Volumes)
	}
	if _, ok := created.Annotations[mutate.AnnotationStatus]; ok {
		t.Errorf("plain pod got the status annotation")
	}
	if !reflect.DeepEqual(created.Spec.Containers[0].Env, in.Spec.Containers[0].Env) || len(created.Spec.Containers[0].VolumeMounts) != 0 {
		t.Errorf("plain pod's container changed: %+v", created.Spec.Containers[0])
	}
	// It did reach wisp (the configuration sends every pod), which allowed it.
	if got := counter(t, shared, "wisp_admission_requests_total", map[string]string{"result": "allowed"}) - before; got < 1 {
		t.Errorf("allowed requests grew by %v, want at least 1", got)
	}
}

func TestMalformedAnnotationsAreDeniedWithWispsMessage(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	pod := readPod(t, filepath.Join("testdata", "plain-pod.yaml"))
	pod.Name = "broken"
	pod.Annotations = map[string]string{
		mutate.AnnotationInject:                "true",
		mutate.AnnotationSecretPrefix + "../x": "secret/data/x",
		mutate.AnnotationFormatPrefix + "../x": "yaml",
		mutate.AnnotationSecretPrefix + "db":   "database/creds/app",
		mutate.AnnotationTemplatePrefix + "db": "{{ .password ",
		mutate.AnnotationContainers:            "app,sidecar",
	}

	_, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err == nil {
		t.Fatal("pod with malformed annotations was admitted")
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("error %v: want Forbidden", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`admission webhook "mutate.wisp.dev" denied the request`,
		"wisp.dev/role: is missing",
		`wisp.dev/secret-../x: secret name "../x" is not a DNS label`,
		"wisp.dev/template-db",
		`wisp.dev/containers: names container "sidecar"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("denial does not say %q:\n%s", want, msg)
		}
	}
	if _, err := shared.client.CoreV1().Pods(ns).Get(ctx, "broken", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("denied pod exists afterwards (get: %v)", err)
	}
}

// Pods made by controllers have a generateName and no name at admission.
func TestControllerMadePodIsInjected(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	pod := readPod(t, filepath.Join("testdata", "pod.yaml"))
	pod.Name, pod.GenerateName = "", "payments-7d9f8-"

	created, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if !strings.HasPrefix(created.Name, "payments-7d9f8-") {
		t.Errorf("name %q, want the generateName prefix", created.Name)
	}
	if created.Annotations[mutate.AnnotationStatus] != mutate.StatusInjected || created.Spec.InitContainers[0].Name != mutate.FetchContainerName {
		t.Errorf("controller-made pod not injected: %v", created.Spec.InitContainers)
	}
	if !strings.Contains(shared.logs.String(), `"name":"payments-7d9f8-*"`) {
		t.Error("no request log line names the generateName")
	}
}

// A dry run shows the injected pod and stores nothing, and is not counted as
// an injection.
func TestDryRunIsHonoured(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	pod := readPod(t, filepath.Join("testdata", "pod.yaml"))
	before := counter(t, shared, "wisp_injections_total", nil)

	got, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry-run create: %v", err)
	}
	if got.Spec.InitContainers[0].Name != mutate.FetchContainerName {
		t.Errorf("dry run did not show the injection: %v", got.Spec.InitContainers)
	}
	if _, err := shared.client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry run stored the pod (get: %v)", err)
	}
	if d := counter(t, shared, "wisp_injections_total", nil) - before; d != 0 {
		t.Errorf("a dry run counted %v injections, want 0", d)
	}
	if !strings.Contains(shared.logs.String(), `"dryRun":true`) {
		t.Error("the request log does not mark the dry run")
	}
}

// No secret value, template or path detail leaks into the logs: they carry
// names and results only.
func TestLogsCarryNoAnnotationValues(t *testing.T) {
	logs := shared.logs.String()
	for _, leak := range []string{"secret/data/payments", "database/creds", "range $k", "api_key"} {
		if strings.Contains(logs, leak) {
			t.Errorf("webhook logs contain %q", leak)
		}
	}
}

func storedPlan(t *testing.T, pod *corev1.Pod) plan.Plan {
	t.Helper()
	for _, e := range pod.Spec.InitContainers[0].Env {
		if e.Name == mutate.EnvPlan {
			p, err := plan.Parse([]byte(e.Value))
			if err != nil {
				t.Fatalf("stored plan: %v", err)
			}
			return p
		}
	}
	t.Fatal("no plan in the init container")
	return plan.Plan{}
}

// normalize drops what the API server stamps on every object (identity,
// timestamps, managed fields) so the rest can be compared with a golden file.
func normalize(pod *corev1.Pod) *corev1.Pod {
	p := pod.DeepCopy()
	p.Namespace = ""
	p.UID = ""
	p.ResourceVersion = ""
	p.CreationTimestamp = metav1.Time{}
	p.ManagedFields = nil
	p.Generation = 0
	p.Status = corev1.PodStatus{}
	return p
}

func compareGolden(t *testing.T, path string, pod *corev1.Pod) {
	t.Helper()
	got, err := yaml.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./test/e2e -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("stored pod differs from %s (-want +got):\n%s", path, diff)
	}
}

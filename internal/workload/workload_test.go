package workload

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// template is a pod template as a team writes it: no creationTimestamp, no
// resources on the sidecar, quantities in a non-canonical form, and fields
// that k8s.io/api does not know (futureField, x-note).
const template = `
metadata:
  labels:
    app: web
  annotations:
    wisp.dev/inject: "true"
spec:
  futureField: keep me
  containers:
  - name: app
    image: example.com/web:1.2.3
    x-note: keep me too
    ports:
    - containerPort: 8080
    resources:
      limits:
        cpu: "0.5"
    volumeMounts:
    - name: tmp
      mountPath: /tmp
  - name: sidecar
    image: example.com/proxy:1
  volumes:
  - name: tmp
    emptyDir: {}
`

// injected is template after change (below): the untouched parts keep their
// exact form ("0.5", x-note, futureField, no resources on the sidecar).
const injected = `
metadata:
  labels:
    app: web
  annotations:
    wisp.dev/inject: "true"
    wisp.dev/status: injected
spec:
  futureField: keep me
  initContainers:
  - name: fetch
    image: example.com/fetch:1
    resources:
      limits:
        memory: 64Mi
  containers:
  - name: app
    image: example.com/web:1.2.3
    x-note: keep me too
    ports:
    - containerPort: 8080
    resources:
      limits:
        cpu: "0.5"
    volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: secrets
      mountPath: /vault/secrets
      readOnly: true
  - name: sidecar
    image: example.com/proxy:1
  volumes:
  - name: tmp
    emptyDir: {}
  - name: secrets
    emptyDir:
      medium: Memory
`

// change does to a pod what an injection does: an annotation, an init
// container, a volume and a mount in the first container.
func change(pod *corev1.Pod) *corev1.Pod {
	out := pod.DeepCopy()
	out.Annotations["wisp.dev/status"] = "injected"
	out.Spec.InitContainers = append([]corev1.Container{{
		Name:  "fetch",
		Image: "example.com/fetch:1",
		Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
	}}, out.Spec.InitContainers...)
	out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{
		Name:         "secrets",
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}},
	})
	out.Spec.Containers[0].VolumeMounts = append(out.Spec.Containers[0].VolumeMounts,
		corev1.VolumeMount{Name: "secrets", MountPath: "/vault/secrets", ReadOnly: true})
	return out
}

// kinds wraps a pod template into each supported kind.
var kinds = []struct {
	name string
	wrap func(tmpl map[string]any) map[string]any
}{
	{"Pod", func(tmpl map[string]any) map[string]any {
		meta := tmpl["metadata"].(map[string]any)
		meta["name"], meta["namespace"] = "web", "team-a"
		return map[string]any{
			"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": tmpl["spec"],
			"status": map[string]any{"phase": "Pending"},
		}
	}},
	{"Deployment", workload("apps/v1", "Deployment")},
	{"StatefulSet", workload("apps/v1", "StatefulSet")},
	{"DaemonSet", workload("apps/v1", "DaemonSet")},
	{"ReplicaSet", workload("apps/v1", "ReplicaSet")},
	{"Job", workload("batch/v1", "Job")},
	{"CronJob", func(tmpl map[string]any) map[string]any {
		obj := workload("batch/v1", "CronJob")(tmpl)
		obj["spec"] = map[string]any{
			"schedule":    "*/5 * * * *",
			"jobTemplate": map[string]any{"spec": obj["spec"]},
		}
		return obj
	}},
}

// workload builds an object of the given kind with tmpl at spec.template,
// beside fields (selector, status, metadata) that SetPod must keep.
func workload(apiVersion, kind string) func(map[string]any) map[string]any {
	return func(tmpl map[string]any) map[string]any {
		return map[string]any{
			"apiVersion": apiVersion,
			"kind":       kind,
			"metadata": map[string]any{
				"name": "web", "namespace": "team-a",
				"annotations": map[string]any{"owner": "team-a"},
			},
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
				"template": tmpl,
			},
			"status": map[string]any{"observedGeneration": int64(1)},
		}
	}
}

func TestPodOfSetPod(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			obj := &unstructured.Unstructured{Object: k.wrap(decode(t, template))}
			orig := obj.DeepCopy()

			pod, err := PodOf(obj)
			if err != nil {
				t.Fatalf("PodOf: %v", err)
			}
			if pod.Namespace != "team-a" || pod.Kind != "Pod" || pod.APIVersion != "v1" {
				t.Errorf("PodOf: namespace %q, %s %s; want team-a, v1 Pod", pod.Namespace, pod.APIVersion, pod.Kind)
			}
			if got := pod.Annotations["wisp.dev/inject"]; got != "true" {
				t.Errorf("PodOf: annotation wisp.dev/inject = %q, want true", got)
			}
			if len(pod.Spec.Containers) != 2 || pod.Spec.Containers[0].Image != "example.com/web:1.2.3" {
				t.Errorf("PodOf: containers %+v", pod.Spec.Containers)
			}

			pod.Labels["changed"] = "only-in-the-pod" // PodOf returns a copy
			if diff := cmp.Diff(orig.Object, obj.Object); diff != "" {
				t.Fatalf("PodOf changed obj (-want +got):\n%s", diff)
			}
			delete(pod.Labels, "changed")

			// Writing back the same pod changes nothing, not even the form.
			if err := SetPod(obj, pod); err != nil {
				t.Fatalf("SetPod(unchanged): %v", err)
			}
			if diff := cmp.Diff(orig.Object, obj.Object); diff != "" {
				t.Fatalf("SetPod(unchanged) (-want +got):\n%s", diff)
			}

			if err := SetPod(obj, change(pod)); err != nil {
				t.Fatalf("SetPod: %v", err)
			}
			want := k.wrap(decode(t, injected))
			if diff := cmp.Diff(want, obj.Object); diff != "" {
				t.Errorf("SetPod (-want +got):\n%s", diff)
			}
			again, err := PodOf(obj)
			if err != nil {
				t.Fatalf("PodOf after SetPod: %v", err)
			}
			if diff := cmp.Diff(change(pod), again); diff != "" {
				t.Errorf("PodOf after SetPod (-want +got):\n%s", diff)
			}
		})
	}
}

// A workload's namespace is the pod's, but SetPod does not write it into
// the template, nor any other metadata than labels and annotations.
func TestSetPodKeepsTemplateMetadata(t *testing.T) {
	t.Parallel()
	obj := &unstructured.Unstructured{Object: kinds[1].wrap(decode(t, template))}
	pod, err := PodOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	pod.Name, pod.Namespace = "renamed", "elsewhere"
	pod.Labels = map[string]string{"app": "web", "tier": "front"}
	delete(pod.Annotations, "wisp.dev/inject")
	if err := SetPod(obj, pod); err != nil {
		t.Fatal(err)
	}
	meta, _, _ := unstructured.NestedMap(obj.Object, "spec", "template", "metadata")
	want := map[string]any{"labels": map[string]any{"app": "web", "tier": "front"}}
	if diff := cmp.Diff(want, meta); diff != "" {
		t.Errorf("template metadata (-want +got):\n%s", diff)
	}
}

// Duplicate merge keys (two env vars of one name) can defeat a strategic
// merge; SetPod then writes the spec whole and the result is still right.
func TestSetPodDuplicateMergeKeys(t *testing.T) {
	t.Parallel()
	obj := &unstructured.Unstructured{Object: decode(t, `
apiVersion: v1
kind: Pod
metadata: {name: dup}
spec:
  containers:
  - name: app
    image: app
    env:
    - {name: A, value: "1"}
    - {name: A, value: "2"}
`)}
	pod, err := PodOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	want := pod.DeepCopy()
	want.Spec.Containers[0].Env[1].Value = "3"
	want.Spec.Containers[0].Env = append(want.Spec.Containers[0].Env, corev1.EnvVar{Name: "B", Value: "3"})
	if err := SetPod(obj, want); err != nil {
		t.Fatal(err)
	}
	got, err := PodOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "status"); found {
		t.Errorf("SetPod added a status")
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		obj     string
		wantIs  error
		wantErr string
	}{
		{name: "ConfigMap", obj: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", wantIs: ErrUnsupportedKind},
		{name: "Service", obj: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", wantIs: ErrUnsupportedKind},
		{name: "old API version", obj: "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\n", wantIs: ErrUnsupportedKind},
		{name: "no template", obj: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n",
			wantIs: ErrNoPodTemplate, wantErr: "spec.template"},
		{name: "no job template", obj: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: '@daily'}\n",
			wantIs: ErrNoPodTemplate, wantErr: "spec.jobTemplate.spec.template"},
		{name: "template not an object", obj: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: oops}\n",
			wantErr: "read spec.template: want a mapping"},
		{name: "containers not a list", obj: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: {spec: {containers: oops}}}\n",
			wantErr: "decode spec.template: spec.containers: want a list"},
		{name: "pod spec not an object", obj: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: [1]\n",
			wantErr: "decode pod: spec: want a mapping"},
		{name: "unquoted annotation", obj: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {wisp.dev/inject: true}}\n",
			wantErr: "decode pod: metadata.annotations: want a string"},
		{name: "number where a string goes; the value is not echoed", obj: "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\n" +
			"spec: {template: {spec: {containers: [{name: a, env: [{name: PIN, value: 987654}]}]}}}\n",
			wantErr: "decode spec.template: spec.containers.env.value: want a string"},
		{name: "string where an integer goes", obj: "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\n" +
			"spec: {template: {spec: {containers: [{name: a, ports: [{containerPort: '80'}]}]}}}\n",
			wantErr: "decode spec.template: spec.containers.ports.containerPort: want an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj := &unstructured.Unstructured{Object: decode(t, tt.obj)}
			orig := obj.DeepCopy()
			_, err := PodOf(obj)
			check := func(op string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: no error", op)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("%s: error %v, want one wrapping %v", op, err, tt.wantIs)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("%s: error %q, want it to contain %q", op, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "987654") {
					t.Errorf("%s: error %q echoes a value", op, err)
				}
			}
			check("PodOf", err)
			check("SetPod", SetPod(obj, &corev1.Pod{}))
			if diff := cmp.Diff(orig.Object, obj.Object); diff != "" {
				t.Errorf("a failed SetPod changed obj (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTemplatePath(t *testing.T) {
	t.Parallel()
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("batch/v1")
	obj.SetKind("CronJob")
	p, ok := TemplatePath(obj.GroupVersionKind())
	if !ok || strings.Join(p, ".") != "spec.jobTemplate.spec.template" {
		t.Errorf("TemplatePath(CronJob) = %v, %v", p, ok)
	}
	p[0] = "changed" // a copy
	if p, _ := TemplatePath(obj.GroupVersionKind()); p[0] != "spec" {
		t.Errorf("TemplatePath returned shared storage")
	}
	obj.SetKind("ConfigMap")
	obj.SetAPIVersion("v1")
	if Supported(obj.GroupVersionKind()) {
		t.Errorf("Supported(ConfigMap) = true")
	}
}

// decode parses YAML the way a decoder of Kubernetes objects does: integers
// become int64.
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := utiljson.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

package mutate_test

import (
	"errors"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/plan"
)

// readPod decodes one Pod manifest strictly, so a typo in a fixture fails
// loudly instead of being dropped.
func readPod(t testing.TB, path string) *corev1.Pod {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		t.Fatalf("decode fixture %s: %v", path, err)
	}
	return &pod
}

// optedIn returns the annotations of a valid opted-in pod, changed by kv
// pairs: a key with the value drop is removed, any other value replaces or
// adds the key.
func optedIn(kv ...string) map[string]string {
	a := map[string]string{
		mutate.AnnotationInject:              "true",
		mutate.AnnotationRole:                "app",
		mutate.AnnotationSecretPrefix + "db": "database/creds/app",
	}
	if len(kv)%2 != 0 {
		panic("optedIn: odd number of arguments")
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == drop {
			delete(a, kv[i])
			continue
		}
		a[kv[i]] = kv[i+1]
	}
	return a
}

// drop, as a value given to optedIn, removes the key.
const drop = "\x00drop"

// newPod is a small pod with the given annotations and one app container per
// name, each with an image, a port, an env var and resources.
func newPod(annotations map[string]string, containers ...string) *corev1.Pod {
	if len(containers) == 0 {
		containers = []string{"app"}
	}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a", Annotations: annotations},
	}
	for _, name := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name:  name,
			Image: "registry.example.com/team-a/" + name + ":1.0.0",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("100m"),
					corev1.ResourceMemory: resource.MustParse("128Mi"),
				},
			},
		})
	}
	return pod
}

// annotationErrors flattens an error made with errors.Join into its
// *AnnotationError parts. It fails the test on any part that is not one.
func annotationErrors(t testing.TB, err error) []*mutate.AnnotationError {
	t.Helper()
	var parts []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	} else {
		parts = []error{err}
	}
	var out []*mutate.AnnotationError
	for _, p := range parts {
		var ae *mutate.AnnotationError
		if !errors.As(p, &ae) {
			t.Errorf("error part %q is not an *mutate.AnnotationError, so a caller cannot tell which annotation is wrong", p)
			continue
		}
		out = append(out, ae)
	}
	return out
}

// findContainer returns the container called name, or nil.
func findContainer(list []corev1.Container, name string) *corev1.Container {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// findVolume returns the volume called name, or nil.
func findVolume(list []corev1.Volume, name string) *corev1.Volume {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// envValue returns the value of the env var called name and whether it is set.
func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// fetchPlan decodes the WISP_PLAN env var of the pod's wisp-fetch container
// exactly as wisp-fetch would.
func fetchPlan(t testing.TB, pod *corev1.Pod) plan.Plan {
	t.Helper()
	c := findContainer(pod.Spec.InitContainers, mutate.FetchContainerName)
	if c == nil {
		t.Fatalf("injected pod has no %s init container", mutate.FetchContainerName)
	}
	doc, ok := envValue(c, mutate.EnvPlan)
	if !ok {
		t.Fatalf("%s container has no %s env var", mutate.FetchContainerName, mutate.EnvPlan)
	}
	p, err := plan.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("wisp-fetch would refuse the plan in %s: %v", mutate.EnvPlan, err)
	}
	return p
}

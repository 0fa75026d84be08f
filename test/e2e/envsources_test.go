package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/mutate"
)

// Bypass: a literal in an annotation or a label, given to an env var
// through fieldRef (or to a file through a downward API volume), or renamed
// through $(VAR), was never judged. wisp now judges the value the container
// gets.
func TestDownwardAPIAndRenamesAreJudged(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	key := "AKIAZ5QW" + "ERTYUIOP7QAB"
	fieldRef := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	for _, tc := range []struct {
		name   string
		change func(p *corev1.Pod)
		says   string
	}{
		{"annotation", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"aws-key": key}
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, fieldRef("AWS_ACCESS_KEY_ID", "metadata.annotations['aws-key']"))
		}, `env AWS_ACCESS_KEY_ID: annotation "aws-key" through fieldRef`},
		{"label", func(p *corev1.Pod) {
			p.Labels = map[string]string{"pw": "postgres"}
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, fieldRef("DB_PASSWORD", "metadata.labels['pw']"))
		}, `env DB_PASSWORD: label "pw" through fieldRef`},
		{"rename", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env,
				corev1.EnvVar{Name: "DEFAULT_DB", Value: "postgres"}, corev1.EnvVar{Name: "POSTGRES_PASSWORD", Value: "$(DEFAULT_DB)"})
		}, "env POSTGRES_PASSWORD: after the kubelet's $(VAR) expansion"},
		{"downward API volume", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"aws-key": key}
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
				Items: []corev1.DownwardAPIVolumeFile{{Path: "aws/key", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['aws-key']"}}}}}})
		}, `volume "podinfo": file aws/key: annotation "aws-key" through the downward API`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := readPod(t, filepath.Join("testdata", "plain-pod.yaml"))
			pod.Name = "leak-" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))
			tc.change(pod)
			_, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			if err == nil || !apierrors.IsForbidden(err) {
				t.Fatalf("%v, want Forbidden", err)
			}
			if !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "ERTYUIOP") || strings.Contains(err.Error(), `"postgres"`) {
				t.Errorf("the denial must say %q and quote no value:\n%v", tc.says, err)
			}
		})
	}
}

// Bypass: WISP_PLAN holding "path":"$(P)", with P closing the string and
// adding a foreign role: wisp checked the literal role, the kubelet would
// have expanded a plan naming another. A "$(" in a plan is refused.
func TestExpandedPlanIsRefused(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	pod := readPod(t, filepath.Join("testdata", "pod.yaml"))
	pod.Name = "expanded"
	pod.Annotations = map[string]string{mutate.AnnotationStatus: mutate.StatusInjected}
	doc := `{"version":"wisp.dev/v1alpha1","role":"` + ns + `-reader","dir":"/wisp/secrets","secrets":[{"name":"db","path":"$(P)"}]}`
	pod.Spec.InitContainers = []corev1.Container{{Name: mutate.FetchContainerName, Image: "ghcr.io/wisp-dev/wisp-fetch:v0.1.0", Command: []string{"/wisp-fetch"},
		Env: []corev1.EnvVar{{Name: "P", Value: `secret/data/x","role":"platform-admin`}, {Name: mutate.EnvPlan, Value: doc}}}}
	_, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `init container "wisp-fetch": env WISP_PLAN holds "$("`) {
		t.Fatalf("%v, want Forbidden: a $( in WISP_PLAN", err)
	}
	// The same plan without the reference is the namespace's own: admitted.
	pod.Name = "literal"
	pod.Spec.InitContainers[0].Env[1].Value = strings.Replace(doc, "$(P)", "secret/data/x", 1)
	if _, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Errorf("the literal plan was refused: %v", err)
	}
}

package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/mutate"
)

// A neighbour's role through {namespace}: the e2e policy binds
// "{namespace}-*" for every namespace, so <ns>-b-db reads as <ns>'s role
// (b-db) and as the role of a namespace <ns>-b (db); it goes to the longer
// name, and a pod of <ns> that names it is denied.
func TestNeighbourRoleIsRefused(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	pod := readPod(t, filepath.Join("testdata", "pod.yaml"))
	pod.Annotations[mutate.AnnotationRole] = ns + "-b-db"
	_, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `also reads as a role of namespace "`+ns+`-b"`) {
		t.Fatalf("a neighbour's role: %v, want Forbidden naming namespace %s-b", err, ns)
	}
	pod = readPod(t, filepath.Join("testdata", "pod.yaml"))
	pod.Annotations[mutate.AnnotationRole] = ns + "-db"
	if _, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Errorf("the namespace's own role was refused: %v", err)
	}
}

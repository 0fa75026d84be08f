package workload

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// PodsBestEffort reads what Pods refuses, part by part, and names what it
// left out; Pods itself stays strict (wisp inject writes objects back).
func TestPodsBestEffort(t *testing.T) {
	tests := []struct {
		name       string
		doc        string
		wantEnv    []string
		wantUnread []string
	}{
		{"pod, nodeSelector of numbers", `
apiVersion: v1
kind: Pod
metadata: {name: p, annotations: {a: "1", b: 2}}
spec:
  nodeSelector: {zone: 1}
  containers:
  - {name: app, image: x, env: [{name: A, value: x}]}`, []string{"A"}, []string{"spec.nodeSelector: want a string", "metadata.annotations[b]: want a string"}},
		{"custom resource by shape, env value a number", `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  template:
    spec:
      containers:
      - name: app
        env: [{name: PORT, value: 5432}, {name: B, valueFrom: {secretKeyRef: {name: s, key: k}}}]`, []string{"PORT", "B"}, []string{"spec.template.spec.containers[0].env[0].value: not a string"}},
		{"cronjob, init container resources templated, env a mapping", `
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
          - name: init
            resources: {requests: {memory: "{{ .mem }}"}}
            env: {TOKEN: abc, REF: {valueFrom: {secretKeyRef: {name: s, key: k}}}}
          containers: [{name: app}]`, []string{"REF", "TOKEN"}, []string{"initContainers[0].resources: does not decode", "initContainers[0].env: a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := object(t, tt.doc)
			if _, _, err := Pods(obj); err == nil {
				t.Fatal("Pods accepts the object: the case tests nothing")
			}
			found, _, err := PodsBestEffort(obj)
			if err != nil || len(found) != 1 {
				t.Fatalf("PodsBestEffort = %d pods, %v", len(found), err)
			}
			var envs []string
			spec := found[0].Pod.Spec
			for _, c := range append(spec.InitContainers, spec.Containers...) {
				for _, e := range c.Env {
					envs = append(envs, e.Name)
				}
			}
			if strings.Join(envs, ",") != strings.Join(tt.wantEnv, ",") {
				t.Errorf("env = %v, want %v", envs, tt.wantEnv)
			}
			unread := strings.Join(found[0].Unread, "\n")
			for _, w := range tt.wantUnread {
				if !strings.Contains(unread, w) {
					t.Errorf("unread lacks %q:\n%s", w, unread)
				}
			}
		})
	}
}

// Nothing readable is Pods' own error.
func TestPodsBestEffortNothingReadable(t *testing.T) {
	obj := object(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: app}\n")
	if found, _, err := PodsBestEffort(obj); err == nil {
		t.Fatalf("PodsBestEffort = %+v, want an error", found)
	}
}

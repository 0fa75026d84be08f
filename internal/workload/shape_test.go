package workload

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func decodeYAML(t testing.TB, s string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestByShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		obj     string
		want    []string // SpecPath=first container's name;labels app
		wantErr string
	}{
		{name: "Argo Rollout", obj: `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: team-a, labels: {app: outer}}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
`, want: []string{"spec.template.spec=web;app=web"}},
		{name: "KServe predictor and transformer", obj: `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: m}
spec:
  transformer: {containers: [{name: t, image: t:1}]}
  predictor: {model: {modelFormat: {name: sklearn}}, containers: [{name: p, image: p:1}]}
`, want: []string{"spec.predictor=p;app=", "spec.transformer=t;app="}},
		{name: "job template of a custom CronJob-like kind", obj: `apiVersion: example.com/v1
kind: Batch
metadata: {name: b}
spec:
  jobTemplate: {spec: {template: {spec: {containers: [{name: j, image: j:1}]}}}}
`, want: []string{"spec.jobTemplate.spec.template.spec=j;app="}},
		{name: "a list of templates", obj: `apiVersion: example.com/v1
kind: Pipeline
metadata: {name: p}
spec:
  steps:
  - template: {spec: {containers: [{name: a, image: a:1}]}}
  - template: {spec: {containers: [{name: b, image: b:1}]}}
`, want: []string{"spec.steps[0].template.spec=a;app=", "spec.steps[1].template.spec=b;app="}},
		{name: "no pod template", obj: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {containers: x}\n"},
		{name: "containers of strings are not a pod spec", obj: "apiVersion: example.com/v1\nkind: X\nmetadata: {name: x}\nspec: {containers: [a, b]}\n"},
		{name: "status is not searched", obj: "apiVersion: example.com/v1\nkind: X\nmetadata: {name: x}\nstatus: {template: {spec: {containers: [{name: s, image: s}]}}}\n"},
		{name: "a pod spec of the wrong type", obj: "apiVersion: example.com/v1\nkind: X\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: s, image: s, env: 3}]}}}\n",
			wantErr: "decode spec.template.spec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			found, err := ByShape(decodeYAML(t, tt.obj))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range found {
				got = append(got, f.SpecPath+"="+f.Pod.Spec.Containers[0].Name+";app="+f.Pod.Labels["app"])
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("found %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzByShape(f *testing.F) {
	f.Add(`{"apiVersion":"x/v1","kind":"X","spec":{"template":{"spec":{"containers":[{"name":"a","env":[{"name":"A","value":"b"}]}]}}}}`)
	f.Add(`{"spec":[[[[{"containers":[{"image":1}]}]]]]}`)
	f.Fuzz(func(t *testing.T, s string) {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(s), &m); err != nil || m == nil {
			return
		}
		found, err := ByShape(&unstructured.Unstructured{Object: m})
		if err != nil {
			return
		}
		for _, f := range found {
			top, _, _ := strings.Cut(f.SpecPath, ".")
			top, _, _ = strings.Cut(top, "[")
			if f.Pod == nil || len(f.Pod.Spec.Containers) == 0 || top == "metadata" || top == "status" {
				t.Fatalf("ByShape found %q with pod %v", f.SpecPath, f.Pod)
			}
		}
	})
}

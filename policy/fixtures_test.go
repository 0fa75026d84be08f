package policy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestRuleFixtures runs testdata/rules/<id>/{pass,fail}/*.yaml (pods) under
// the default policy with the default-off rules on, PSA-style: every rule
// needs at least one pass and one fail fixture, a fail fixture must trigger
// its rule, a pass fixture must trigger no rule at all, and a folder for an
// unknown rule id fails.
func TestRuleFixtures(t *testing.T) {
	t.Parallel()
	var off []string
	for _, r := range DefaultRules() {
		if r.DefaultOff {
			off = append(off, r.ID)
		}
	}
	e := mustCompile(t, Spec{Rules: RuleSettings{Enabled: off}})
	const root = "testdata/rules"
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range DefaultRules() {
		ids = append(ids, r.ID)
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		if !slices.Contains(ids, d.Name()) {
			t.Errorf("%s/%s: no rule has this id", root, d.Name())
			continue
		}
		seen[d.Name()] = true
		for _, kind := range []string{"pass", "fail"} {
			files, _ := filepath.Glob(filepath.Join(root, d.Name(), kind, "*.yaml"))
			if len(files) == 0 {
				t.Errorf("rule %s: no %s fixture", d.Name(), kind)
			}
			for _, file := range files {
				t.Run(filepath.Join(d.Name(), kind, filepath.Base(file)), func(t *testing.T) {
					data, err := os.ReadFile(file)
					if err != nil {
						t.Fatal(err)
					}
					var pod corev1.Pod
					if err := yaml.UnmarshalStrict(data, &pod); err != nil {
						t.Fatalf("decode: %v", err)
					}
					o := Object{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Labels: pod.Labels,
						Annotations: pod.Annotations, Spec: &pod.Spec}
					d := e.Evaluate(o)
					var got []string
					for _, v := range d.Violations {
						got = append(got, v.RuleID)
					}
					if kind == "fail" && !slices.Contains(got, filepath.Base(filepath.Dir(filepath.Dir(file)))) {
						t.Errorf("fail fixture does not trigger its rule; got %v", d.Messages(o))
					}
					if kind == "pass" && len(got) > 0 {
						t.Errorf("pass fixture triggers %v", d.Messages(o))
					}
				})
			}
		}
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("rule %s: no fixtures in %s/%s", id, root, id)
		}
	}
}

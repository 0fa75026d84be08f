package mutate_test

import (
	"fmt"
	"strings"
	"testing"

	"wisp.dev/wisp/mutate"
)

// manyAnnotations is optedIn with n more annotations made by kv(i).
func manyAnnotations(n int, kv func(i int) (string, string)) map[string]string {
	a := optedIn()
	for i := range n {
		k, v := kv(i)
		a[k] = v
	}
	return a
}

// Templates, plans and exec-shim specs are bounded together, before
// anything is parsed, so that an injection never writes a variable the
// policy would refuse to judge (policy.MaxWispVarBytes).
func TestInjectLimits(t *testing.T) {
	t.Parallel()
	// A valid template of n bytes.
	template := func(n int) string { return strings.Repeat("{{ .password }}", n/15) }
	templates := func(n, each int) map[string]string {
		return manyAnnotations(n, func(i int) (string, string) {
			if i%2 == 0 {
				return fmt.Sprintf("%ss%d", mutate.AnnotationSecretPrefix, i/2), "secret/data/app"
			}
			return fmt.Sprintf("%ss%d", mutate.AnnotationTemplatePrefix, i/2), template(each)
		})
	}
	secrets := func(n int) map[string]string {
		return manyAnnotations(n, func(i int) (string, string) {
			return fmt.Sprintf("%ss%d", mutate.AnnotationSecretPrefix, i), "secret/data/" + strings.Repeat("p", 90)
		})
	}
	envs := func(n int) map[string]string {
		return manyAnnotations(n, func(i int) (string, string) {
			return fmt.Sprintf("%sVAR_%d", mutate.AnnotationEnvPrefix, i), fmt.Sprintf("db#key_%d", i)
		})
	}
	tests := []struct {
		name        string
		annotations map[string]string
		wantKey     string // "": injected
		wantText    string
	}{
		{"templates within the plan's bound", templates(2*4, 15000), "", ""},
		{"templates over the plan's bound together", templates(2*5, 15000), "wisp.dev/template-<name>", "the templates are 75000 bytes together; a pod's templates may have at most 65536"},
		{"a plan within its bound", secrets(300), "", ""},
		{"a plan over its bound", secrets(700), "wisp.dev/secret-<name>", "make a fetch plan of "},
		{"an exec-shim spec within its bound", envs(500), "", ""},
		{"an exec-shim spec over its bound", envs(1500), "wisp.dev/env-<NAME>", "make an exec-shim spec of "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := newPod(tt.annotations)
			pod.Spec.Containers[0].Command = []string{"/app"} // for the exec shim
			out, _, err := mutate.Inject(pod, mutate.Config{})
			if tt.wantKey == "" {
				if err != nil || out == nil {
					t.Fatalf("Inject: %v", err)
				}
				for _, c := range append(out.Spec.InitContainers, out.Spec.Containers...) {
					for _, e := range c.Env {
						if len(e.Value) > mutate.MaxPlanBytes {
							t.Errorf("container %s: env %s of %d bytes, over MaxPlanBytes", c.Name, e.Name, len(e.Value))
						}
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("Inject admitted the pod, want a denial naming %s", tt.wantKey)
			}
			errs := annotationErrors(t, err)
			if len(errs) != 1 || errs[0].Key != tt.wantKey || !strings.Contains(errs[0].Reason, tt.wantText) {
				t.Errorf("denial %v, want one naming %s and saying %q", err, tt.wantKey, tt.wantText)
			}
		})
	}
}

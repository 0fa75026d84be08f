package policy_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/policy"
)

// The policy's limits are the injection's: what wisp writes, it judges.
func TestLimitsMatchTheInjection(t *testing.T) {
	t.Parallel()
	if policy.MaxTemplateBytes != mutate.MaxTemplateBytes {
		t.Errorf("policy.MaxTemplateBytes %d != mutate.MaxTemplateBytes %d", policy.MaxTemplateBytes, mutate.MaxTemplateBytes)
	}
	if policy.MaxWispVarBytes != mutate.MaxPlanBytes {
		t.Errorf("policy.MaxWispVarBytes %d != mutate.MaxPlanBytes %d", policy.MaxWispVarBytes, mutate.MaxPlanBytes)
	}
	if policy.MaxTemplatesBytes < mutate.MaxPlanBytes {
		t.Errorf("policy.MaxTemplatesBytes %d < mutate.MaxPlanBytes %d: an injected pod's templates could be refused", policy.MaxTemplatesBytes, mutate.MaxPlanBytes)
	}
}

// A pod injected with templates as large as the injection allows is
// judged by /validate, not refused as too large.
func TestInjectedPodAtTheLimitsIsJudged(t *testing.T) {
	t.Parallel()
	a := map[string]string{mutate.AnnotationInject: "true", mutate.AnnotationRole: "app"}
	for i := range 4 {
		a[fmt.Sprintf("%ss%d", mutate.AnnotationSecretPrefix, i)] = "secret/data/app"
		a[fmt.Sprintf("%ss%d", mutate.AnnotationTemplatePrefix, i)] = strings.Repeat("{{ .password }}", 15800/15)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a", Annotations: a},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
	}
	out, _, err := mutate.Inject(pod, mutate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := policy.Compile(policy.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	d := ev.Evaluate(policy.Object{Kind: "Pod", Namespace: "team-a", Name: "web", Annotations: out.Annotations, Spec: &out.Spec})
	for _, v := range d.Violations {
		t.Errorf("injected pod: %s", v.Message(policy.Object{Kind: "Pod", Namespace: "team-a", Name: "web"}))
	}
}

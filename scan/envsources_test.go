package scan

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// TestScanJudgesWhatTheKubeletGives: a scan judges an annotation of the pod
// template given through fieldRef like a literal; a warn-only violation is
// a "warn" result, even in an enforcing namespace.
func TestScanJudgesWhatTheKubeletGives(t *testing.T) {
	t.Parallel()
	d := deployment("team-a", "api",
		corev1.EnvVar{Name: "AWS_ACCESS_KEY_ID", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['k']"}}},
		corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}})
	d.Spec.Template.Annotations = map[string]string{"k": "AKIAZ5QW" + "ERTYUIOP7QAB"}
	r, err := Scan(context.Background(), fake.NewClientset([]runtime.Object{ns("team-a", nil), d}...), Config{Policy: testPolicy(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 2 {
		t.Fatalf("findings: %+v", r.Findings)
	}
	if f := r.Findings[0]; f.Violation.RuleID != "known-credential-format" || !strings.Contains(f.Message, `annotation "k" through fieldRef`) || strings.Contains(f.Message, "ERTYUIOP") {
		t.Errorf("finding 0: %+v", f)
	}
	var got []string
	for _, rep := range r.Reports(nil, ReportOptions{}) {
		for _, res := range rep.Results {
			got = append(got, res.Policy+" "+string(res.Result)+" "+string(res.Severity))
		}
	}
	want := "known-credential-format fail high,env-config-map-secret-name warn low"
	if strings.Join(got, ",") != want {
		t.Errorf("results %v, want %s", got, want)
	}
}

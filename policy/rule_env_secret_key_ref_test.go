package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestRuleEnvSecretKeyRef(t *testing.T) {
	t.Parallel()
	e := only(t, RuleEnvSecretKeyRef)
	optional := true
	tests := []struct {
		name string
		env  corev1.EnvVar
		want bool
	}{
		{"secretKeyRef", secretRef, true},
		{"optional secretKeyRef", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k", Optional: &optional}}}, true},
		{"any name", corev1.EnvVar{Name: "LOG_LEVEL", ValueFrom: secretRef.ValueFrom}, true},
		{"configMapKeyRef", corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "k"}}}, false},
		{"fieldRef", corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}, false},
		{"resourceFieldRef", corev1.EnvVar{Name: "LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}}, false},
		{"literal", lit("DB_PASSWORD", "Tr0ub4dor&3xY!"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := flaggedBy(e, tt.env); (len(got) == 1) != tt.want {
				t.Errorf("flagged by %v, want flagged %v", got, tt.want)
			}
		})
	}
}

package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestRuleEnvFromSecret(t *testing.T) {
	t.Parallel()
	e := only(t, RuleEnvFromSecret)
	ref := func(n string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: n} }
	tests := []struct {
		name    string
		from    []corev1.EnvFromSource
		wantEnv []string
	}{
		{"secretRef", []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref("app-env")}}}, []string{"envFrom:app-env"}},
		{"secretRef with prefix", []corev1.EnvFromSource{{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref("db")}}}, []string{"envFrom:db"}},
		{"configMapRef", []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref("cfg")}}}, nil},
		{"both kinds", []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref("cfg")}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref("a")}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref("b")}},
		}, []string{"envFrom:a", "envFrom:b"}},
		{"empty entry", []corev1.EnvFromSource{{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := podWithEnv()
			o.Spec.Containers[0].EnvFrom = tt.from
			var got []string
			for _, v := range e.Evaluate(o).Violations {
				got = append(got, v.Env)
			}
			if len(got) != len(tt.wantEnv) || len(got) > 0 && got[len(got)-1] != tt.wantEnv[len(tt.wantEnv)-1] {
				t.Errorf("violations for %v, want %v", got, tt.wantEnv)
			}
		})
	}
}

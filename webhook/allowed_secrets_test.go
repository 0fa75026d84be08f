package webhook

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/policy"
)

// The Secret references allow.secrets allowed are listed in the
// auditAnnotations, whatever the mode, next to the violations.
func TestAllowedSecretsAreAudited(t *testing.T) {
	t.Parallel()
	spec := policy.Spec{Allow: policy.AllowList{Secrets: []policy.SecretAllowance{{Names: []string{"safe-*"}}}}}
	ref := func(name, secret string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "k"}}}
	}
	for _, tt := range []struct {
		mode    policy.Mode
		env     []corev1.EnvVar
		allowed bool
		want    map[string]string
	}{
		{mode: policy.ModeEnforce, env: []corev1.EnvVar{ref("A", "safe-a")}, allowed: true,
			want: map[string]string{AuditAllowedKey: "app/A=safe-a"}},
		{mode: policy.ModeAudit, env: []corev1.EnvVar{ref("A", "safe-a"), ref("B", "b")}, allowed: true,
			want: map[string]string{AuditAllowedKey: "app/A=safe-a", AuditAnnotationKey: "env-secret-key-ref:app/B"}},
		{mode: policy.ModeEnforce, env: []corev1.EnvVar{ref("A", "safe-a"), ref("B", "b")},
			want: map[string]string{AuditAllowedKey: "app/A=safe-a"}},
		{mode: policy.ModeEnforce, env: []corev1.EnvVar{ref("B", "b")}},
	} {
		spec.Mode = tt.mode
		e, err := policy.Compile(spec)
		if err != nil {
			t.Fatal(err)
		}
		o := policy.Object{Kind: "Pod", Namespace: "prod", Name: "web", Spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: tt.env}}}}
		resp := decide(o, e.Evaluate(o))
		if resp.Allowed != tt.allowed || len(resp.AuditAnnotations) != len(tt.want) {
			t.Errorf("%s %d env: allowed %v, audit %v; want %v, %v", tt.mode, len(tt.env), resp.Allowed, resp.AuditAnnotations, tt.allowed, tt.want)
			continue
		}
		for k, v := range tt.want {
			if resp.AuditAnnotations[k] != v {
				t.Errorf("%s: audit %v, want %v", tt.mode, resp.AuditAnnotations, tt.want)
			}
		}
	}
}

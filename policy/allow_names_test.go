package policy

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestAllowNamesOnlyExemptHeuristics: an allow list of names silences the
// heuristic literal rules (env-name-literal, high-entropy-literal,
// env-name-weak-literal) only. A
// Secret reference or a known credential format under an allowed name is
// still a violation (a tenant picks the name).
func TestAllowNamesOnlyExemptHeuristics(t *testing.T) {
	e := mustCompile(t, Spec{Allow: AllowList{Names: []string{"*_PUBLIC_KEY"}}})
	ref := func(name string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}
	}
	tests := []struct {
		name string
		env  corev1.EnvVar
		want string // rule id, "" for none
	}{
		{"secretKeyRef under an allowed name", ref("DB_PUBLIC_KEY"), RuleEnvSecretKeyRef},
		{"AWS key under an allowed name", lit("AWS_PUBLIC_KEY", "AKIA"+"Z3MHQ7LXK4T2V6PB"), RuleKnownCredentialFormat},
		{"GitHub token under an allowed name", lit("GH_PUBLIC_KEY", "ghp_"+"R8x2Lq7Vt4Zp9Km3Nw6Yb1Hc5Jd0Fs2Ga7Qe"), RuleKnownCredentialFormat},
		{"random public key material under an allowed name", lit("SSH_PUBLIC_KEY", "AAAAC3NzaC1lZDI1NTE5AAAAIGq3b9x7K2mQ8vR4tY6wZ1nP5sL0dF3hJ9cB2eX7uV4a"), ""},
		{"plain value under an allowed name", lit("APP_PUBLIC_KEY", "hello"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Evaluate(podWithEnv(tt.env))
			var got []string
			for _, v := range d.Violations {
				got = append(got, v.RuleID)
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("flagged by %v, want allowed", got)
			case tt.want != "" && !slices.Contains(got, tt.want):
				t.Errorf("violations %v, want %s", got, tt.want)
			}
		})
	}
}

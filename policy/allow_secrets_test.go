package policy

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// allow.secrets exempts references to the Secrets it names (env
// secretKeyRef, envFrom secretRef, Secret volumes), per namespace, and
// reports them in Decision.Allowed; it never exempts a literal value.
func TestAllowSecrets(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, Spec{
		Rules: RuleSettings{Enabled: []string{RuleSecretVolume}},
		Allow: AllowList{Secrets: []SecretAllowance{
			{Names: []string{"safe-*"}},
			{Names: []string{"registry-pull", "*.tls"}, Namespaces: []string{"team-*"}},
		}},
	})
	ref := func(name, secret string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "k"}}}
	}
	from := func(secret string) corev1.EnvFromSource {
		return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}
	}
	vol := func(name, secret string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}
	}
	projected := func(name string, srcs ...corev1.VolumeProjection) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: srcs}}}
	}
	tests := []struct {
		name       string
		ns         string
		env        []corev1.EnvVar
		envFrom    []corev1.EnvFromSource
		volumes    []corev1.Volume
		violations []string // rule:env
		allowed    []string // env:secret
	}{
		{name: "allowed secretKeyRef", ns: "prod", env: []corev1.EnvVar{ref("DB_PASSWORD", "safe-db")}, allowed: []string{"DB_PASSWORD:safe-db"}},
		{name: "other secretKeyRef", ns: "prod", env: []corev1.EnvVar{ref("DB_PASSWORD", "db")}, violations: []string{"env-secret-key-ref:DB_PASSWORD"}},
		{name: "allowed envFrom", ns: "prod", envFrom: []corev1.EnvFromSource{from("safe-env")}, allowed: []string{"envFrom:safe-env:safe-env"}},
		{name: "namespace entry in its namespace", ns: "team-a", envFrom: []corev1.EnvFromSource{from("registry-pull")},
			allowed: []string{"envFrom:registry-pull:registry-pull"}},
		{name: "namespace entry elsewhere", ns: "prod", envFrom: []corev1.EnvFromSource{from("registry-pull")},
			violations: []string{"env-from-secret:envFrom:registry-pull"}},
		{name: "a literal is never allowed by a Secret's name", ns: "prod",
			env:        []corev1.EnvVar{{Name: "SAFE_TOKEN", Value: "ghp_" + "R8x2Lq7Vt4Zp9Km3Nw6Yb1Hc5Jd0Fs2Ga7Qe"}, {Name: "safe-db", Value: "hunter2hunter2"}},
			violations: []string{"known-credential-format:SAFE_TOKEN"}},
		{name: "volumes", ns: "team-a",
			volumes: []corev1.Volume{vol("tls", "web.tls"), vol("key", "web-key"),
				projected("mix", corev1.VolumeProjection{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
					corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "safe-ca"}}},
					corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}})},
			violations: []string{"secret-volume:volume:key", "secret-volume:volume:mix"},
			allowed:    []string{"volume:tls:web.tls", "volume:mix:safe-ca"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := Object{Kind: "Pod", Namespace: tt.ns, Name: "web", Spec: &corev1.PodSpec{
				Volumes:    tt.volumes,
				Containers: []corev1.Container{{Name: "app", Env: tt.env, EnvFrom: tt.envFrom}},
			}}
			d := e.Evaluate(o)
			var violations, allowed []string
			for _, v := range d.Violations {
				violations = append(violations, v.RuleID+":"+v.Env)
			}
			for _, a := range d.Allowed {
				allowed = append(allowed, a.Env+":"+a.Secret)
				if m := a.Message(o); !strings.Contains(m, "allowed by the policy (allow.secrets)") || !strings.Contains(m, a.Secret) {
					t.Errorf("message %q", m)
				}
			}
			if !slices.Equal(violations, tt.violations) || !slices.Equal(allowed, tt.allowed) {
				t.Errorf("violations %q, allowed %q\nwant %q, %q", violations, allowed, tt.violations, tt.allowed)
			}
		})
	}
}

// secret-volume is off by default: the stricter stance is opt in.
func TestSecretVolumeIsOffByDefault(t *testing.T) {
	t.Parallel()
	o := Object{Kind: "Pod", Namespace: "prod", Name: "web", Spec: &corev1.PodSpec{
		Volumes:    []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "web-tls"}}}},
		Containers: []corev1.Container{{Name: "app"}},
	}}
	if d := mustDefault(t).Evaluate(o); len(d.Violations) != 0 {
		t.Errorf("default policy: %v", d.Messages(o))
	}
	d := mustCompile(t, Spec{Rules: RuleSettings{Enabled: []string{RuleSecretVolume}}}).Evaluate(o)
	want := `Pod prod/web: volume "tls": mounts Secret "web-tls" (rule secret-volume); fetch it from Vault`
	if msgs := d.Messages(o); len(msgs) != 1 || !strings.HasPrefix(msgs[0], want) {
		t.Errorf("messages %q, want %q...", msgs, want)
	}
}

func TestAllowSecretsCompileErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []SecretAllowance
		want string
	}{
		{[]SecretAllowance{{}}, "allow.secrets[0].names: empty"},
		{[]SecretAllowance{{Names: []string{"Safe_*"}}}, "allow.secrets[0].names[0]: not a Secret name or glob"},
		{[]SecretAllowance{{Names: []string{"a"}, Namespaces: []string{"Team A"}}}, "allow.secrets[0].namespaces[0]"},
	} {
		_, err := compileShared(Spec{Allow: AllowList{Secrets: tt.in}})
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "Safe_") {
			t.Errorf("%v: err %v, want %q and no entry echoed", tt.in, err, tt.want)
		}
	}
}

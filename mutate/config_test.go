package mutate_test

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/fetch"
	"wisp.dev/wisp/mutate"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	i64 := func(v int64) *int64 { return &v }
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	tests := []struct {
		name string
		cfg  mutate.Config
		// want is empty for a valid config, else text each error must hold.
		want []string
	}{
		{name: "zero value", cfg: mutate.Config{}},
		{name: "http vault", cfg: mutate.Config{VaultAddr: "http://vault:8200"}},
		{name: "nested auth path", cfg: mutate.Config{AuthPath: "team/jwt"}},
		{name: "group 0", cfg: mutate.Config{RunAsGroup: i64(0)}},
		{name: "pull policy", cfg: mutate.Config{ImagePullPolicy: "Sometimes"}, want: []string{"imagePullPolicy"}},
		{name: "vault addr", cfg: mutate.Config{VaultAddr: "vault:8200"}, want: []string{"vaultAddr"}},
		{name: "auth path leading slash", cfg: mutate.Config{AuthPath: "/jwt"}, want: []string{"authPath"}},
		{name: "auth path ..", cfg: mutate.Config{AuthPath: "jwt/../token"}, want: []string{"authPath"}},
		{name: "socket path relative", cfg: mutate.Config{SocketPath: "agent.sock"}, want: []string{"socketPath"}},
		{name: "socket path unclean", cfg: mutate.Config{SocketPath: "/run//agent.sock"}, want: []string{"socketPath"}},
		{name: "mount path unclean", cfg: mutate.Config{MountPath: "/vault/./secrets"}, want: []string{"mountPath"}},
		{name: "mount path root", cfg: mutate.Config{MountPath: "/"}, want: []string{"mountPath"}},
		{name: "mount path with colon", cfg: mutate.Config{MountPath: "/vault:secrets"}, want: []string{"mountPath"}},
		{name: "mount path is socket folder", cfg: mutate.Config{MountPath: "/run/spire", SocketPath: "/run/spire/agent.sock"},
			want: []string{`mountPath "/run/spire": overlaps the socket's folder`}},
		{name: "mount path inside socket folder", cfg: mutate.Config{MountPath: "/run/spire/secrets", SocketPath: "/run/spire/agent.sock"},
			want: []string{"overlaps the socket's folder"}},
		{name: "mount path above socket folder", cfg: mutate.Config{MountPath: "/run", SocketPath: "/run/spire/agent.sock"},
			want: []string{"overlaps the socket's folder"}},
		{name: "negative size", cfg: mutate.Config{VolumeSizeLimit: q("-1Mi")}, want: []string{"volumeSizeLimit"}},
		{name: "root user", cfg: mutate.Config{RunAsUser: i64(0)}, want: []string{"runAsUser"}},
		{name: "negative group", cfg: mutate.Config{RunAsGroup: i64(-5)}, want: []string{"runAsGroup"}},
		{name: "fetch deadline 5s", cfg: mutate.Config{FetchDeadline: dur(5 * time.Second)}},
		{name: "fetch deadline 1h", cfg: mutate.Config{FetchDeadline: dur(time.Hour)}},
		{name: "fetch deadline too short", cfg: mutate.Config{FetchDeadline: dur(time.Second)}, want: []string{"fetchDeadline 1s: want 5s to 1h0m0s"}},
		{name: "fetch deadline too long", cfg: mutate.Config{FetchDeadline: dur(2 * time.Hour)}, want: []string{"fetchDeadline 2h0m0s"}},
		{name: "all at once",
			cfg:  mutate.Config{ImagePullPolicy: "x", VaultAddr: "x", AuthPath: "/x", SocketPath: "x", MountPath: "x", VolumeSizeLimit: q("0"), RunAsUser: i64(-1), RunAsGroup: i64(-1)},
			want: []string{"imagePullPolicy", "vaultAddr", "authPath", "socketPath", "mountPath", "volumeSizeLimit", "runAsUser", "runAsGroup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate rejected a good config: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted a config with a bad %v", tt.want)
			}
			if !strings.HasPrefix(err.Error(), "invalid injection config: ") {
				t.Errorf("error %q does not say it is about the injection config", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q: %v", w, err)
				}
			}
		})
	}
}

func TestConfigWithDefaults(t *testing.T) {
	t.Parallel()
	got := mutate.Config{}.WithDefaults()
	checks := []struct{ field, got, want string }{
		{"Image", got.Image, mutate.DefaultImage},
		{"ImagePullPolicy", string(got.ImagePullPolicy), "IfNotPresent"},
		{"VaultAddr", got.VaultAddr, mutate.DefaultVaultAddr},
		{"AuthPath", got.AuthPath, "jwt"},
		{"Audience", got.Audience, "vault"},
		{"SocketPath", got.SocketPath, mutate.DefaultSocketPath},
		{"CSIDriver", got.CSIDriver, "csi.spiffe.io"},
		{"MountPath", got.MountPath, "/vault/secrets"},
		{"VolumeSizeLimit", got.VolumeSizeLimit.String(), "4Mi"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default %s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if got.FetchDeadline == nil || got.FetchDeadline.Duration != fetch.DefaultDeadline {
		t.Errorf("default FetchDeadline = %v, want wisp-fetch's own default %s", got.FetchDeadline, fetch.DefaultDeadline)
	}
	if got.Resources == nil || got.RunAsUser == nil || *got.RunAsUser != 65532 || got.RunAsGroup == nil || *got.RunAsGroup != 65532 {
		t.Errorf("defaults of Resources/RunAsUser/RunAsGroup not set: %+v", got)
	}

	// Set fields are kept, and the caller's value is not changed.
	in := mutate.Config{Image: "mine", MountPath: "/mine"}
	out := in.WithDefaults()
	if out.Image != "mine" || out.MountPath != "/mine" {
		t.Errorf("WithDefaults overwrote set fields: image %q mountPath %q", out.Image, out.MountPath)
	}
	if in.VaultAddr != "" || in.Resources != nil {
		t.Errorf("WithDefaults changed the caller's Config: %+v", in)
	}
}

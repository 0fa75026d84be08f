package mutate_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"wisp.dev/wisp/mutate"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	size := resource.MustParse("2Mi")
	uid, gid := int64(10001), int64(10001)
	tests := []struct {
		name string
		file string
		want mutate.Config
	}{
		{
			name: "minimal file gets every default",
			file: "apiVersion: wisp.dev/v1alpha1\nkind: InjectionConfig\n",
			want: mutate.Config{}.WithDefaults(),
		},
		{
			name: "every field",
			file: `
apiVersion: wisp.dev/v1alpha1
kind: InjectionConfig
image: registry.internal/wisp/wisp-fetch:v0.2.0
imagePullPolicy: Always
vaultAddr: https://vault.internal:8200
authPath: spiffe/jwt
audience: vault.internal
socketPath: /run/spire/agent.sock
csiDriver: csi.spiffe.io
mountPath: /run/secrets
volumeSizeLimit: 2Mi
resources:
  requests:
    cpu: 5m
    memory: 16Mi
  limits:
    memory: 32Mi
runAsUser: 10001
runAsGroup: 10001
`,
			want: mutate.Config{
				Image:           "registry.internal/wisp/wisp-fetch:v0.2.0",
				ImagePullPolicy: corev1.PullAlways,
				VaultAddr:       "https://vault.internal:8200",
				AuthPath:        "spiffe/jwt",
				Audience:        "vault.internal",
				SocketPath:      "/run/spire/agent.sock",
				CSIDriver:       "csi.spiffe.io",
				MountPath:       "/run/secrets",
				VolumeSizeLimit: &size,
				Resources: &corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
				},
				RunAsUser:  &uid,
				RunAsGroup: &gid,
			},
		},
		{
			name: "JSON",
			file: `{"apiVersion":"wisp.dev/v1alpha1","kind":"InjectionConfig","vaultAddr":"http://127.0.0.1:8200"}`,
			want: mutate.Config{VaultAddr: "http://127.0.0.1:8200"}.WithDefaults(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mutate.ParseConfig([]byte(tt.file))
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	const head = "apiVersion: wisp.dev/v1alpha1\nkind: InjectionConfig\n"
	tests := []struct {
		name string
		file string
		// want must each appear in the error.
		want []string
	}{
		{name: "empty file", file: "", want: []string{"apiVersion", "want wisp.dev/v1alpha1 InjectionConfig"}},
		{name: "not YAML", file: "image: [", want: []string{"decode injection config"}},
		{name: "unknown field", file: head + "vaultAddress: https://vault:8200\n", want: []string{"decode injection config", `unknown field "vaultAddress"`}},
		{name: "duplicate field", file: head + "image: a\nimage: b\n", want: []string{"decode injection config"}},
		{name: "wrong kind", file: "apiVersion: wisp.dev/v1alpha1\nkind: Policy\n", want: []string{`kind "Policy"`, "InjectionConfig"}},
		{name: "wrong apiVersion", file: "apiVersion: v1\nkind: InjectionConfig\n", want: []string{`apiVersion "v1"`}},
		{name: "wrong type", file: head + "runAsUser: nobody\n", want: []string{"decode injection config"}},
		{name: "bad pull policy", file: head + "imagePullPolicy: Sometimes\n", want: []string{`imagePullPolicy "Sometimes"`}},
		{name: "vault address without scheme", file: head + "vaultAddr: vault.vault.svc:8200\n", want: []string{`vaultAddr "vault.vault.svc:8200"`}},
		{name: "auth path with slashes", file: head + "authPath: /jwt/\n", want: []string{`authPath "/jwt/"`}},
		{name: "socket in root", file: head + "socketPath: /agent.sock\n", want: []string{`socketPath "/agent.sock"`}},
		{name: "relative mount path", file: head + "mountPath: secrets\n", want: []string{"mountPath", `"secrets"`}},
		{name: "mount path is the socket folder", file: head + "mountPath: /spiffe-workload-api\n", want: []string{"mountPath", "socket"}},
		{name: "zero volume size", file: head + "volumeSizeLimit: \"0\"\n", want: []string{"volumeSizeLimit 0"}},
		{name: "root user", file: head + "runAsUser: 0\n", want: []string{"runAsUser 0"}},
		{name: "several bad fields", file: head + "imagePullPolicy: always\nrunAsUser: 0\nrunAsGroup: -1\n",
			want: []string{"imagePullPolicy", "runAsUser 0", "runAsGroup -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mutate.ParseConfig([]byte(tt.file))
			if err == nil {
				t.Fatalf("ParseConfig accepted a bad file and returned %+v", got)
			}
			if diff := cmp.Diff(mutate.Config{}, got); diff != "" {
				t.Errorf("ParseConfig returned a config with its error (-want +got):\n%s", diff)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	i64 := func(v int64) *int64 { return &v }
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
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

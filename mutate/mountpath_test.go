package mutate_test

import (
	"path"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/mutate"
)

// wisp.dev/mount-path is an allow rule: the path must lie under one of the
// platform's mountRoots (or be its mountPath), and never over a system
// path. Paths are compared as written: the image's symlinks are unknown at
// admission, so the roots are folders images leave alone.
func TestMountPathRoots(t *testing.T) {
	t.Parallel()
	const notAllowed = "is not in a folder the platform allows for secrets: /vault, /secrets, /etc/secrets, /etc/*/secrets"
	tests := []struct {
		path string
		want string // "": allowed; else a part of the denial
	}{
		// Allowed: the roots and folders below them.
		{"/vault/secrets", ""},
		{"/vault/app", ""},
		{"/vault", ""},
		{"/secrets", ""},
		{"/secrets/db", ""},
		{"/etc/secrets", ""},
		{"/etc/billing/secrets", ""},
		{"/etc/billing_v2/secrets/db", ""},
		{"/var/secrets/google", ""},
		{"/mnt/secrets-store", ""},
		{"/app/secrets", ""},
		{"/opt/shop/secrets", ""},
		// The paths: startup scripts, the dynamic loader, ssh, a
		// JVM's trust store.
		{"/etc/profile.d", notAllowed},
		{"/etc/ld.so.preload", notAllowed},
		{"/etc/ssh", notAllowed},
		{path.Join("/", "root", ".ssh"), notAllowed}, // paths in the container, not on this machine
		{"/usr/lib/jvm/java-17-openjdk/lib/security", "overlaps the system path /usr"},
		{"/opt/java/openjdk/lib/security", notAllowed},
		// Variations.
		{"/etc/profile.d/secrets", notAllowed},    // * is no name with a dot
		{"/etc/ld.so.conf.d/secrets", notAllowed}, // nor this
		{path.Join("/", "home", "app", ".ssh"), notAllowed},
		{path.Join("/", "home", "app", "secrets"), notAllowed},
		{"/etc/ssl/secrets", "overlaps the system path /etc/ssl"}, // a root's * does not open a system folder
		{"/etc/pki/secrets", "overlaps the system path /etc/pki"},
		{"/etc/cron.d", notAllowed},
		{"/etc/sudoers.d", notAllowed},
		{"/etc/secrets2", notAllowed},
		{"/vaultx", notAllowed},
		{"/Vault/secrets", notAllowed}, // case matters
		{"/ETC/secrets", notAllowed},
		{"/etc/app", notAllowed},
		{"/etc/app/secret", notAllowed},
		{"/app", notAllowed},
		{"/opt/shop", notAllowed},
		{"/data", notAllowed},
		{"/tmp", notAllowed},
		{"/lib/security", "overlaps the system path /lib"},
		{"/run/secrets/app", "overlaps the system path /run/secrets"}, // /run's alias of /var/run
		{"/var/run/secrets/app", "overlaps the system path /var/run/secrets"},
		{"/var/run/secrets/kubernetes.io/serviceaccount", "overlaps the system path /var/run/secrets"},
		{"/etc", `would hide the system folder /etc`},
		{"/", "not a clean absolute path"},
		{"/vault/secrets/", "not a clean absolute path"},
		{"/vault//secrets", "not a clean absolute path"},
		{"/vault/./secrets", "not a clean absolute path"},
		{"/vault/secrets/..", "not a clean absolute path"},
		{"/vault/../etc/profile.d", "not a clean absolute path"},
		{"/etc/secrets/../profile.d", "not a clean absolute path"},
		{"/etc/*/secrets", notAllowed}, // a root's * is not a name
		{"vault/secrets", "not a clean absolute path"},
		{" /vault/secrets", "not a clean absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			out, _, err := mutate.Inject(newPod(optedIn(keyMountPath, tt.path)), mutate.Config{})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := out.Spec.Containers[0].VolumeMounts[0].MountPath; got != tt.path {
					t.Errorf("mounted at %q", got)
				}
				return
			}
			if err == nil {
				t.Fatal("admitted")
			}
			if msg := err.Error(); !strings.Contains(msg, "annotation "+keyMountPath+": ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want it to name %s and say %q", msg, keyMountPath, tt.want)
			}
			if errs := annotationErrors(t, err); len(errs) != 1 {
				t.Errorf("%d problems, want 1: %v", len(errs), err)
			}
		})
	}
}

// The platform's mountRoots replace the default list; its mountPath is
// always allowed; an empty list allows mountPath alone. The Vault alias is
// named in a denial as the pod spells it.
func TestMountPathConfiguredRoots(t *testing.T) {
	t.Parallel()
	custom := mutate.Config{MountPath: "/srv/secrets", MountRoots: []string{"/data/*/keys"}}
	only := mutate.Config{MountRoots: []string{}}
	aliases := mutate.Config{VaultAgentAnnotations: true}
	vaultPod := func(path string) map[string]string {
		return map[string]string{mutate.VaultAnnotationAgentInject: "true", mutate.VaultAnnotationRole: "app",
			mutate.VaultAnnotationSecretPrefix + "db": "database/creds/app", mutate.VaultAnnotationSecretVolumePath: path}
	}
	tests := []struct {
		name string
		cfg  mutate.Config
		ann  map[string]string
		want string // "": allowed
	}{
		{"a configured root", custom, optedIn(keyMountPath, "/data/shop/keys"), ""},
		{"below the configured mountPath", custom, optedIn(keyMountPath, "/srv/secrets/db"), ""},
		{"a default root is no longer one", custom, optedIn(keyMountPath, "/vault/secrets"), `allows for secrets: /srv/secrets, /data/*/keys (`},
		{"empty roots: the mountPath", only, optedIn(keyMountPath, "/vault/secrets"), ""},
		{"empty roots: nothing else", only, optedIn(keyMountPath, "/secrets"), `allows for secrets: /vault/secrets (`},
		{"the Vault alias, allowed", aliases, vaultPod("/etc/billing/secrets"), ""},
		{"the Vault alias, refused", aliases, vaultPod("/etc/profile.d"), "annotation " + mutate.VaultAnnotationSecretVolumePath + `: "/etc/profile.d" is not in a folder`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := mutate.Inject(newPod(tt.ann), tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// A pod that arrives "already injected" with a mount path outside the
// roots is not completed: wisp adds no secrets mount there.
func TestMountPathNotCompletedOutsideRoots(t *testing.T) {
	t.Parallel()
	first, _, err := mutate.Inject(newPod(optedIn()), mutate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	forged := first.DeepCopy()
	forged.Annotations[keyMountPath] = "/etc/profile.d"
	forged.Spec.Containers = append(forged.Spec.Containers, corev1.Container{Name: "shell", Image: "busybox:1"})
	out, res, err := mutate.Inject(forged, mutate.Config{})
	if err != nil || res != mutate.AlreadyInjected || len(out.Spec.Containers[1].VolumeMounts) != 0 {
		t.Errorf("got %v %v, mounts %+v; want the pod unchanged", res, err, out.Spec.Containers[1].VolumeMounts)
	}
}

func TestConfigMountRoots(t *testing.T) {
	t.Parallel()
	tests := []struct {
		roots []string
		want  string // "": valid
	}{
		{[]string{"/data", "/etc/*/secrets", "/srv/*/*/keys"}, ""},
		{[]string{"/etc"}, `mountRoots[0] "/etc": "/etc" would hide the system folder /etc`},
		{[]string{"/usr/local/secrets"}, "overlaps the system path /usr"},
		{[]string{"/etc/*"}, `mountRoots[0] "/etc/*": ends with * right below the system folder /etc`},
		{[]string{"/home/*"}, "right below the system folder /home"},
		{[]string{"/home/*/secrets"}, ""},
		{[]string{"/*/secrets"}, "starts with a folder name"},
		{[]string{"/etc/app*/secrets"}, "* must be a whole folder name"},
		{[]string{"relative"}, "want a clean absolute path"},
		{[]string{"/data/"}, "not a clean absolute path"},
		{[]string{"/data/../etc"}, "not a clean absolute path"},
		{[]string{"/run/secrets/app"}, "overlaps the system path /run/secrets"},
	}
	for _, tt := range tests {
		err := mutate.Config{MountRoots: tt.roots}.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.roots, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.roots, err, tt.want)
		}
	}
}

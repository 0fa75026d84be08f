package mutate_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/plan"
)

const (
	keyInject     = mutate.AnnotationInject
	keyRole       = mutate.AnnotationRole
	keyContainers = mutate.AnnotationContainers
	keyMountPath  = mutate.AnnotationMountPath
	keySocket     = mutate.AnnotationSocket
	keySecretDB   = mutate.AnnotationSecretPrefix + "db"
	keyFormatDB   = mutate.AnnotationFormatPrefix + "db"
	keyTemplateDB = mutate.AnnotationTemplatePrefix + "db"
)

func TestInjectDenied(t *testing.T) {
	t.Parallel()
	addMount := func(container, name, mountPath string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			c := findContainer(p.Spec.Containers, container)
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: mountPath})
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: name,
				VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}
	}
	socketRoot := mutate.Config{MountRoots: []string{"/spiffe-workload-api"}}
	tests := []struct {
		name        string
		annotations map[string]string
		cfg         mutate.Config
		// tweak changes the pod before Inject; nil leaves it.
		tweak func(*corev1.Pod)
		// wantKeys are the annotation keys the denial names, in order.
		wantKeys []string
		// wantText must each appear in the error message.
		wantText []string
	}{
		{name: "missing role", annotations: optedIn(keyRole, drop),
			wantKeys: []string{keyRole}, wantText: []string{"is missing"}},
		{name: "empty role", annotations: optedIn(keyRole, ""),
			wantKeys: []string{keyRole}, wantText: []string{"is empty"}},
		{name: "blank role", annotations: optedIn(keyRole, " \t"),
			wantKeys: []string{keyRole}, wantText: []string{"is empty"}},
		{name: "role with a slash", annotations: optedIn(keyRole, "team-a/app"),
			wantKeys: []string{keyRole}, wantText: []string{`"team-a/app" is not a Vault role name`}},
		{name: "role not UTF-8", annotations: optedIn(keyRole, "app\xc3"),
			wantKeys: []string{keyRole}, wantText: []string{"is not a Vault role name"}},
		{name: "role too long", annotations: optedIn(keyRole, strings.Repeat("r", 129)),
			wantKeys: []string{keyRole}, wantText: []string{"is not a Vault role name"}},

		{name: "secret name with ..", annotations: optedIn("wisp.dev/secret-../x", "secret/data/x"),
			wantKeys: []string{"wisp.dev/secret-../x"}, wantText: []string{"not a DNS label"}},
		{name: "secret name with a slash", annotations: optedIn("wisp.dev/secret-a/b", "secret/data/x"),
			wantKeys: []string{"wisp.dev/secret-a/b"}, wantText: []string{"not a DNS label"}},
		{name: "secret name in upper case", annotations: optedIn("wisp.dev/secret-DB", "secret/data/x"),
			wantKeys: []string{"wisp.dev/secret-DB"}, wantText: []string{`"DB" is not a DNS label`}},
		{name: "secret name empty", annotations: optedIn("wisp.dev/secret-", "secret/data/x"),
			wantKeys: []string{"wisp.dev/secret-"}, wantText: []string{"not a DNS label"}},
		{name: "secret name starting with -", annotations: optedIn("wisp.dev/secret--db", "secret/data/x"),
			wantKeys: []string{"wisp.dev/secret--db"}, wantText: []string{"not a DNS label"}},
		{name: "secret name longer than 63", annotations: optedIn("wisp.dev/secret-"+strings.Repeat("a", 64), "secret/data/x"),
			wantKeys: []string{"wisp.dev/secret-" + strings.Repeat("a", 64)}, wantText: []string{"at most 63"}},

		{name: "vault path empty", annotations: optedIn(keySecretDB, ""),
			wantKeys: []string{keySecretDB}, wantText: []string{"vault path is empty"}},
		// wisp.dev/env-<NAME>: what the exec shim cannot provide is denied.
		{name: "env names an unknown secret", annotations: optedIn(mutate.AnnotationEnvPrefix+"DB_PASSWORD", "cache#password"),
			tweak: withCommand, wantKeys: []string{mutate.AnnotationEnvPrefix + "DB_PASSWORD"}, wantText: []string{`names a secret "cache"`}},
		{name: "env without a key", annotations: optedIn(mutate.AnnotationEnvPrefix+"DB_PASSWORD", "db"),
			tweak: withCommand, wantKeys: []string{mutate.AnnotationEnvPrefix + "DB_PASSWORD"}, wantText: []string{`want "<secret name>#<key>"`}},
		{name: "env name not an identifier", annotations: optedIn(mutate.AnnotationEnvPrefix+"DB-PASSWORD", "db#password"),
			tweak: withCommand, wantKeys: []string{mutate.AnnotationEnvPrefix + "DB-PASSWORD"}, wantText: []string{"not an environment variable name"}},
		{name: "env from a templated secret", annotations: optedIn(mutate.AnnotationEnvPrefix+"DB_PASSWORD", "db#password", keyTemplateDB, "{{ .password }}"),
			tweak: withCommand, wantKeys: []string{mutate.AnnotationEnvPrefix + "DB_PASSWORD"}, wantText: []string{"rendered by a template, whose output has no keys"}},
		{name: "env key a raw format cannot give", annotations: optedIn(mutate.AnnotationEnvPrefix+"DB_PASSWORD", "db#password", keyFormatDB, "raw:username"),
			tweak: withCommand, wantKeys: []string{mutate.AnnotationEnvPrefix + "DB_PASSWORD"}, wantText: []string{"provides the key username only"}},
		{name: "env collides with the container's env", annotations: optedIn(mutate.AnnotationEnvPrefix+"LOG_LEVEL", "db#password"),
			tweak: withCommand, wantKeys: []string{mutate.AnnotationEnvPrefix + "LOG_LEVEL"}, wantText: []string{`container "app" already sets LOG_LEVEL`}},
		{name: "env on a container without a command", annotations: optedIn(mutate.AnnotationEnvPrefix+"DB_PASSWORD", "db#password"),
			wantKeys: []string{mutate.AnnotationEnvPrefix + "DB_PASSWORD"}, wantText: []string{`container "app" has no command in its spec`, "without a registry call", `command: ["/app"]`}},
		{name: "vault path returns a token", annotations: optedIn(keySecretDB, "auth/token/create"),
			wantKeys: []string{keySecretDB}, wantText: []string{`vault path "auth/token/create" is refused`}},
		{name: "vault path looks up the token", annotations: optedIn(keySecretDB, "auth/token/lookup-self"),
			wantKeys: []string{keySecretDB}, wantText: []string{"never a Vault token"}},
		{name: "vault path with leading slash", annotations: optedIn(keySecretDB, "/database/creds/app"),
			wantKeys: []string{keySecretDB}, wantText: []string{"must not start with /"}},
		{name: "vault path with ..", annotations: optedIn(keySecretDB, "database/../sys/raw"),
			wantKeys: []string{keySecretDB}, wantText: []string{".. segment"}},
		{name: "vault path with empty segment", annotations: optedIn(keySecretDB, "database//creds"),
			wantKeys: []string{keySecretDB}, wantText: []string{"empty"}},
		{name: "vault path not UTF-8", annotations: optedIn(keySecretDB, "database/creds/\xff"),
			wantKeys: []string{keySecretDB}, wantText: []string{"not valid UTF-8"}},
		{name: "vault path with a space", annotations: optedIn(keySecretDB, "database/creds/my app"),
			wantKeys: []string{keySecretDB}, wantText: []string{"whitespace"}},
		{name: "bad vault path keeps its format checked, not reported as unknown secret",
			annotations: optedIn(keySecretDB, "/abs", keyFormatDB, "yaml"),
			wantKeys:    []string{keyFormatDB, keySecretDB}, wantText: []string{`format "yaml" is unknown`, "must not start with /"}},

		{name: "unknown format", annotations: optedIn(keyFormatDB, "yaml"),
			wantKeys: []string{keyFormatDB}, wantText: []string{`format "yaml" is unknown, want json, env or raw:<key>`}},
		{name: "raw without key", annotations: optedIn(keyFormatDB, "raw:"),
			wantKeys: []string{keyFormatDB}, wantText: []string{"names no key"}},
		{name: "template does not parse", annotations: optedIn(keyTemplateDB, "user={{ .username "),
			wantKeys: []string{keyTemplateDB}, wantText: []string{"parse template"}},
		{name: "template not UTF-8", annotations: optedIn(keyTemplateDB, "{{ \"\xff\" }}"),
			wantKeys: []string{keyTemplateDB}, wantText: []string{"not valid UTF-8"}},
		{name: "raw key not UTF-8", annotations: optedIn(keyFormatDB, "raw:\xff"),
			wantKeys: []string{keyFormatDB}, wantText: []string{"not valid UTF-8"}},
		{name: "template calls an unknown function", annotations: optedIn(keyTemplateDB, `{{ sha256 .password }}`),
			wantKeys: []string{keyTemplateDB}, wantText: []string{`function … not defined`}},
		{name: "both template and format", annotations: optedIn(keyTemplateDB, "{{ .username }}", keyFormatDB, "env"),
			wantKeys: []string{keyFormatDB}, wantText: []string{"set either wisp.dev/template-db or wisp.dev/format-db, not both"}},
		{name: "template for an unknown secret", annotations: optedIn("wisp.dev/template-cache", "{{ .password }}"),
			wantKeys: []string{"wisp.dev/template-cache"}, wantText: []string{`no wisp.dev/secret-cache annotation names a secret "cache"`}},
		{name: "format for an unknown secret", annotations: optedIn("wisp.dev/format-cache", "env"),
			wantKeys: []string{"wisp.dev/format-cache"}, wantText: []string{`names a secret "cache"`}},
		{name: "format of a secret with a bad name is not reported again",
			annotations: optedIn("wisp.dev/secret-DB", "database/creds/app", "wisp.dev/format-DB", "env"),
			wantKeys:    []string{"wisp.dev/secret-DB"}, wantText: []string{"not a DNS label"}},
		{name: "template key naming a format key", annotations: optedIn("wisp.dev/template-wisp.dev/format-db", "{{ .password }}"),
			wantKeys: []string{"wisp.dev/template-wisp.dev/format-db"}, wantText: []string{"names a secret"}},

		{name: "containers names a missing container", annotations: optedIn(keyContainers, "app,worker"),
			wantKeys: []string{keyContainers}, wantText: []string{`names container "worker", which the pod does not have`}},
		{name: "containers names an init container", annotations: optedIn(keyContainers, "migrate"),
			tweak: func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "migrate:1"}}
			},
			wantKeys: []string{keyContainers}, wantText: []string{`"migrate"`}},
		{name: "containers with an empty entry", annotations: optedIn(keyContainers, "app,,"),
			wantKeys: []string{keyContainers, keyContainers}, wantText: []string{"empty container name"}},

		{name: "mount-path relative", annotations: optedIn(keyMountPath, "vault/secrets"),
			wantKeys: []string{keyMountPath}, wantText: []string{"not a clean absolute path"}},
		{name: "mount-path unclean", annotations: optedIn(keyMountPath, "/vault/../secrets"),
			wantKeys: []string{keyMountPath}, wantText: []string{"not a clean absolute path"}},
		{name: "mount-path with trailing slash", annotations: optedIn(keyMountPath, "/vault/secrets/"),
			wantKeys: []string{keyMountPath}, wantText: []string{"not a clean absolute path"}},
		{name: "mount-path not UTF-8", annotations: optedIn(keyMountPath, "/vault/\xff"),
			wantKeys: []string{keyMountPath}, wantText: []string{"not a clean absolute path"}},
		{name: "mount-path root", annotations: optedIn(keyMountPath, "/"),
			wantKeys: []string{keyMountPath}, wantText: []string{"not a clean absolute path"}},
		{name: "mount-path clashes with an existing mount", annotations: optedIn(),
			tweak:    addMount("app", "cache", "/vault/secrets"),
			wantKeys: []string{keyMountPath}, wantText: []string{`container "app" already mounts "cache" at "/vault/secrets"`}},
		{name: "mount-path has an existing mount below it", annotations: optedIn(keyMountPath, "/etc/app/secrets"),
			tweak:    addMount("app", "config", "/etc/app/secrets/conf.d"),
			wantKeys: []string{keyMountPath}, wantText: []string{`already mounts "config" at "/etc/app/secrets/conf.d"`}},
		// System folders: the secrets volume would hide what the image or
		// the pod needs (certificates, the token, wisp-fetch itself).
		{name: "mount-path is /etc", annotations: optedIn(keyMountPath, "/etc"),
			wantKeys: []string{keyMountPath}, wantText: []string{`"/etc" would hide the system folder /etc`}},
		{name: "mount-path is the certificate store", annotations: optedIn(keyMountPath, "/etc/ssl/certs"),
			wantKeys: []string{keyMountPath}, wantText: []string{"overlaps the system path /etc/ssl"}},
		{name: "mount-path is wisp-fetch", annotations: optedIn(keyMountPath, "/wisp-fetch"),
			wantKeys: []string{keyMountPath}, wantText: []string{"overlaps the system path /wisp-fetch"}},
		{name: "mount-path is the token folder by its /run alias", annotations: optedIn(keyMountPath, "/run/secrets/kubernetes.io"),
			wantKeys: []string{keyMountPath}, wantText: []string{"overlaps the system path /run/secrets"}},
		{name: "mount-path is the token folder", annotations: optedIn(keyMountPath, "/var/run/secrets/kubernetes.io/serviceaccount"),
			wantKeys: []string{keyMountPath}, wantText: []string{"overlaps the system path /var/run/secrets"}},
		{name: "mount-path hides /var/run", annotations: optedIn(keyMountPath, "/var"),
			wantKeys: []string{keyMountPath}, wantText: []string{"would hide the system folder /var"}},
		{name: "mount-path replaces /etc/passwd", annotations: optedIn(keyMountPath, "/etc/passwd"),
			wantKeys: []string{keyMountPath}, wantText: []string{"would replace the system file /etc/passwd"}},
		// Even where the platform's mountRoots would allow it.
		{name: "mount-path is the socket folder", annotations: optedIn(keyMountPath, "/spiffe-workload-api"), cfg: socketRoot,
			wantKeys: []string{keyMountPath}, wantText: []string{"overlaps the Workload API socket folder"}},
		{name: "mount-path inside the socket folder", annotations: optedIn(keyMountPath, "/spiffe-workload-api/secrets"), cfg: socketRoot,
			wantKeys: []string{keyMountPath}, wantText: []string{"overlaps the Workload API socket folder"}},

		{name: "socket not a boolean", annotations: optedIn(keySocket, "yes"),
			wantKeys: []string{keySocket}, wantText: []string{`"yes" is not "true" or "false"`}},
		{name: "socket folder already mounted", annotations: optedIn(keySocket, "true"),
			tweak:    addMount("app", "spire", "/spiffe-workload-api"),
			wantKeys: []string{keySocket}, wantText: []string{`container "app" already mounts "spire" at the socket folder`}},

		{name: "volume named wisp-secrets", annotations: optedIn(),
			tweak: func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: mutate.SecretsVolumeName})
			},
			wantKeys: []string{keyInject}, wantText: []string{`a volume named "wisp-secrets"`}},
		{name: "volume named wisp-spiffe", annotations: optedIn(),
			tweak: func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: mutate.SocketVolumeName})
			},
			wantKeys: []string{keyInject}, wantText: []string{`a volume named "wisp-spiffe"`}},
		{name: "init container named wisp-fetch", annotations: optedIn(),
			tweak: func(p *corev1.Pod) {
				p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: mutate.FetchContainerName, Image: "x"})
			},
			wantKeys: []string{keyInject}, wantText: []string{`a container named "wisp-fetch"`}},
		{name: "app container named wisp-fetch", annotations: optedIn(), tweak: func(p *corev1.Pod) { p.Spec.Containers[0].Name = mutate.FetchContainerName },
			wantKeys: []string{keyInject}, wantText: []string{`a container named "wisp-fetch"`}},

		{name: "inject yes", annotations: optedIn(keyInject, "yes"),
			wantKeys: []string{keyInject}, wantText: []string{`"yes" is not "true" or "false"`}},
		{name: "inject empty", annotations: optedIn(keyInject, ""),
			wantKeys: []string{keyInject}, wantText: []string{`"" is not "true" or "false"`}},
		{name: "inject True", annotations: optedIn(keyInject, "True"),
			wantKeys: []string{keyInject}},
		{name: "unknown wisp.dev key", annotations: optedIn("wisp.dev/foo", "bar"),
			wantKeys: []string{"wisp.dev/foo"}, wantText: []string{"is not a wisp annotation"}},
		{name: "misspelt secret prefix", annotations: optedIn("wisp.dev/secrets-db", "database/creds/app"),
			wantKeys: []string{"wisp.dev/secrets-db"}, wantText: []string{"is not a wisp annotation"}},
		{name: "template over the size limit", annotations: optedIn("wisp.dev/template-db", strings.Repeat("{{ .password }}", mutate.MaxTemplateBytes/15+1)),
			wantKeys: []string{"wisp.dev/template-db"}, wantText: []string{"a template may have at most 16384"}},
		{name: "sidecar not a boolean", annotations: optedIn("wisp.dev/sidecar", "yes"),
			wantKeys: []string{"wisp.dev/sidecar"}, wantText: []string{`"yes" is not "true" or "false"`}},
		{name: "reserved auth-path", annotations: optedIn("wisp.dev/auth-path", "kubernetes"),
			wantKeys: []string{"wisp.dev/auth-path"}, wantText: []string{"not allowed by the platform policy"}},
		{name: "reserved audience", annotations: optedIn("wisp.dev/audience", "other"),
			wantKeys: []string{"wisp.dev/audience"}, wantText: []string{"not allowed"}},
		{name: "reserved vault-namespace", annotations: optedIn("wisp.dev/vault-namespace", "admin"),
			wantKeys: []string{"wisp.dev/vault-namespace"}, wantText: []string{"not allowed"}},
		{name: "no secret at all", annotations: optedIn(keySecretDB, drop),
			wantKeys: []string{"wisp.dev/secret-<name>"}, wantText: []string{"no secret is requested"}},

		{name: "every bad annotation at once",
			annotations: optedIn(
				keyRole, "",
				"wisp.dev/secret-Cache", "secret/data/cache",
				keyFormatDB, "xml",
				keyMountPath, "relative",
				"wisp.dev/foo", "bar",
				"wisp.dev/sidecar", "sometimes",
			),
			wantKeys: []string{"wisp.dev/foo", keyFormatDB, keyMountPath, keyRole, "wisp.dev/secret-Cache", "wisp.dev/sidecar"},
			wantText: []string{"is empty", `"Cache" is not a DNS label`, `"xml" is unknown`, "not a clean absolute path", "not a wisp annotation", `"sometimes" is not "true" or "false"`}},
		{name: "every pod clash at once",
			annotations: optedIn(keyContainers, "app,ghost"),
			tweak: func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: mutate.SocketVolumeName})
				p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: mutate.FetchContainerName})
				addMount("app", "cache", "/vault/secrets/cache")(p)
			},
			wantKeys: []string{keyContainers, keyInject, keyInject, keyMountPath},
			wantText: []string{`"ghost"`, `"wisp-spiffe"`, `"wisp-fetch"`, `"/vault/secrets/cache"`}},
		{name: "annotation and pod problems at once",
			annotations: optedIn(keyRole, "", keyContainers, "ghost"),
			tweak: func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: mutate.SecretsVolumeName})
			},
			wantKeys: []string{keyContainers, keyInject, keyRole},
			wantText: []string{`"ghost"`, `"wisp-secrets"`, "is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := newPod(tt.annotations)
			if tt.tweak != nil {
				tt.tweak(pod)
			}
			before := pod.DeepCopy()
			out, _, err := mutate.Inject(pod, tt.cfg)
			if err == nil {
				t.Fatalf("Inject admitted the pod, want a denial naming %v", tt.wantKeys)
			}
			if out != nil {
				t.Errorf("Inject returned a pod with its error; a denial must never carry a half-mutated pod")
			}
			if diff := cmp.Diff(before, pod); diff != "" {
				t.Errorf("a denied Inject modified its input pod (-before +after):\n%s", diff)
			}
			var ae *mutate.AnnotationError
			if !errors.As(err, &ae) {
				t.Errorf("errors.As(err, *AnnotationError) = false for %q", err)
			}
			var gotKeys []string
			for _, e := range annotationErrors(t, err) {
				gotKeys = append(gotKeys, e.Key)
				if e.Reason == "" {
					t.Errorf("annotation %s is denied with an empty reason", e.Key)
				}
			}
			if diff := cmp.Diff(tt.wantKeys, gotKeys); diff != "" {
				t.Errorf("denied annotations (-want +got):\n%s\nerror: %v", diff, err)
			}
			msg := err.Error()
			for _, k := range tt.wantKeys {
				if !strings.Contains(msg, "annotation "+k+":") {
					t.Errorf("error does not name annotation %s: %q", k, msg)
				}
			}
			for _, s := range tt.wantText {
				if !strings.Contains(msg, s) {
					t.Errorf("error does not say %q: %q", s, msg)
				}
			}
		})
	}
}

// TestInjectDeniedTruncatesInput checks that a huge annotation is not echoed
// whole into the denial (which ends up in events and kubectl output).
func TestInjectDeniedTruncatesInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 4096)
	pod := newPod(optedIn(keyRole, "a/"+long, keyContainers, "c"+long))
	_, _, err := mutate.Inject(pod, mutate.Config{})
	if err == nil {
		t.Fatal("Inject admitted a role with a slash and a missing container")
	}
	if strings.Contains(err.Error(), strings.Repeat("x", 100)) {
		t.Errorf("denial echoes more than 64 bytes of user input (%d bytes total)", len(err.Error()))
	}
}

func TestInjectNotRequested(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		annotations map[string]string
		want        mutate.Result
	}{
		{name: "no annotations", annotations: nil, want: mutate.NotRequested},
		{name: "other annotations only", annotations: map[string]string{"vault.hashicorp.com/agent-inject": "true"}, want: mutate.NotRequested},
		{name: "wisp annotations without inject", annotations: optedIn(keyInject, drop, "wisp.dev/foo", "bad"), want: mutate.NotRequested},
		{name: "inject false with bad annotations", annotations: optedIn(keyInject, "false", keyRole, ""), want: mutate.NotRequested},
		{name: "inject false with spaces", annotations: optedIn(keyInject, " false "), want: mutate.NotRequested},
		{name: "status injected", annotations: optedIn(mutate.AnnotationStatus, mutate.StatusInjected), want: mutate.AlreadyInjected},
		{name: "status injected ignores bad annotations", annotations: optedIn(mutate.AnnotationStatus, mutate.StatusInjected, keyRole, drop), want: mutate.AlreadyInjected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := newPod(tt.annotations)
			before := pod.DeepCopy()
			out, res, err := mutate.Inject(pod, mutate.Config{})
			if err != nil {
				t.Fatalf("Inject: %v", err)
			}
			if res != tt.want {
				t.Errorf("result = %v, want %v", res, tt.want)
			}
			if out != pod {
				t.Errorf("Inject returned a copy; a pod it does not change must be returned as is")
			}
			if diff := cmp.Diff(before, pod); diff != "" {
				t.Errorf("pod changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestInjectedPod checks every piece wisp adds to a pod with the built-in
// defaults.
func TestInjectedPod(t *testing.T) {
	t.Parallel()
	pod := newPod(optedIn(
		"wisp.dev/secret-api", "secret/data/team-a/api",
		"wisp.dev/template-api", `TOKEN={{ .token | quote }}`,
		keyFormatDB, "env",
		"wisp.dev/secret-cert", "pki/issue/web",
		"wisp.dev/format-cert", "raw:certificate",
		"team-a.example.com/owner", "alice",
	), "web", "worker")
	pod.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "registry.example.com/team-a/migrate:1.0.0"}}

	out, res, err := mutate.Inject(pod, mutate.Config{})
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	if res != mutate.Injected {
		t.Fatalf("result = %v, want %v", res, mutate.Injected)
	}
	if out == pod {
		t.Fatal("Inject returned its input; an injected pod must be a copy")
	}

	t.Run("annotations", func(t *testing.T) {
		if got := out.Annotations[mutate.AnnotationStatus]; got != mutate.StatusInjected {
			t.Errorf("%s = %q, want %q", mutate.AnnotationStatus, got, mutate.StatusInjected)
		}
		if got := out.Annotations["team-a.example.com/owner"]; got != "alice" {
			t.Errorf("foreign annotation lost: team-a.example.com/owner = %q, want alice", got)
		}
	})

	t.Run("init containers", func(t *testing.T) {
		var names []string
		for _, c := range out.Spec.InitContainers {
			names = append(names, c.Name)
		}
		if diff := cmp.Diff([]string{mutate.FetchContainerName, "migrate"}, names); diff != "" {
			t.Errorf("init containers (-want +got); wisp-fetch must run first:\n%s", diff)
		}
	})

	fetch := &out.Spec.InitContainers[0]
	t.Run("fetch container", func(t *testing.T) {
		if fetch.Image != mutate.DefaultImage || fetch.ImagePullPolicy != corev1.PullIfNotPresent {
			t.Errorf("image = %s (%s), want %s (IfNotPresent)", fetch.Image, fetch.ImagePullPolicy, mutate.DefaultImage)
		}
		if fetch.RestartPolicy != nil {
			t.Errorf("restartPolicy = %v, want unset: wisp-fetch is a plain init container, not a sidecar", *fetch.RestartPolicy)
		}
		wantEnv := map[string]string{
			mutate.EnvSocket:   "unix://" + mutate.DefaultSocketPath,
			mutate.EnvVaultAdr: mutate.DefaultVaultAddr,
			mutate.EnvAuthPath: mutate.DefaultAuthPath,
			mutate.EnvAudience: mutate.DefaultAudience,
		}
		for name, want := range wantEnv {
			if got, ok := envValue(fetch, name); !ok || got != want {
				t.Errorf("env %s = %q (set %v), want %q", name, got, ok, want)
			}
		}
		for _, e := range fetch.Env {
			if e.ValueFrom != nil {
				t.Errorf("env %s reads from %v; wisp-fetch gets no secret through its env", e.Name, e.ValueFrom)
			}
		}
		wantMounts := []corev1.VolumeMount{
			// wisp-fetch writes at a fixed path of its own, whatever the
			// app's mount path.
			{Name: mutate.SecretsVolumeName, MountPath: mutate.FetchSecretsDir},
			{Name: mutate.SocketVolumeName, MountPath: "/spiffe-workload-api", ReadOnly: true},
		}
		if diff := cmp.Diff(wantMounts, fetch.VolumeMounts); diff != "" {
			t.Errorf("wisp-fetch mounts (-want +got):\n%s", diff)
		}
		wantRes := corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		}
		if diff := cmp.Diff(wantRes, fetch.Resources); diff != "" {
			t.Errorf("wisp-fetch resources (-want +got):\n%s", diff)
		}
	})

	t.Run("security context", func(t *testing.T) {
		sc := fetch.SecurityContext
		if sc == nil {
			t.Fatal("wisp-fetch has no security context")
		}
		isTrue := func(b *bool) bool { return b != nil && *b }
		isFalse := func(b *bool) bool { return b != nil && !*b }
		if !isTrue(sc.RunAsNonRoot) {
			t.Errorf("runAsNonRoot = %v, want true", sc.RunAsNonRoot)
		}
		if sc.RunAsUser == nil || *sc.RunAsUser != mutate.DefaultRunAsUser {
			t.Errorf("runAsUser = %v, want %d", sc.RunAsUser, mutate.DefaultRunAsUser)
		}
		if sc.RunAsGroup == nil || *sc.RunAsGroup != mutate.DefaultRunAsGroup {
			t.Errorf("runAsGroup = %v, want %d", sc.RunAsGroup, mutate.DefaultRunAsGroup)
		}
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			t.Errorf("readOnlyRootFilesystem = %v, want true", sc.ReadOnlyRootFilesystem)
		}
		if !isFalse(sc.AllowPrivilegeEscalation) {
			t.Errorf("allowPrivilegeEscalation = %v, want false", sc.AllowPrivilegeEscalation)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Error("privileged = true, want false")
		}
		if sc.Capabilities == nil || len(sc.Capabilities.Add) != 0 || !cmp.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("capabilities = %+v, want drop [ALL] and add nothing", sc.Capabilities)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("seccompProfile = %+v, want RuntimeDefault", sc.SeccompProfile)
		}
	})

	t.Run("volumes", func(t *testing.T) {
		csi := findVolume(out.Spec.Volumes, mutate.SocketVolumeName)
		if csi == nil || csi.CSI == nil {
			t.Fatalf("volume %s = %+v, want a CSI volume", mutate.SocketVolumeName, csi)
		}
		if csi.CSI.Driver != "csi.spiffe.io" || csi.CSI.ReadOnly == nil || !*csi.CSI.ReadOnly {
			t.Errorf("CSI volume = driver %q readOnly %v, want driver csi.spiffe.io readOnly true", csi.CSI.Driver, csi.CSI.ReadOnly)
		}
		dir := findVolume(out.Spec.Volumes, mutate.SecretsVolumeName)
		if dir == nil || dir.EmptyDir == nil {
			t.Fatalf("volume %s = %+v, want an emptyDir", mutate.SecretsVolumeName, dir)
		}
		if dir.EmptyDir.Medium != corev1.StorageMediumMemory {
			t.Errorf("emptyDir medium = %q, want Memory: secrets must never reach the node's disk", dir.EmptyDir.Medium)
		}
		if dir.EmptyDir.SizeLimit == nil || dir.EmptyDir.SizeLimit.Cmp(resource.MustParse("4Mi")) != 0 {
			t.Errorf("emptyDir sizeLimit = %v, want 4Mi", dir.EmptyDir.SizeLimit)
		}
		if len(out.Spec.Volumes) != 2 {
			t.Errorf("pod has %d volumes, want 2 (nothing else added)", len(out.Spec.Volumes))
		}
	})

	t.Run("plan", func(t *testing.T) {
		want := plan.Plan{
			Version: plan.Version,
			Role:    "app",
			Dir:     mutate.FetchSecretsDir,
			Secrets: []plan.Secret{
				{Name: "api", Path: "secret/data/team-a/api", Template: `TOKEN={{ .token | quote }}`},
				{Name: "cert", Path: "pki/issue/web", Format: "raw:certificate"},
				{Name: "db", Path: "database/creds/app", Format: plan.FormatEnv},
			},
		}
		if diff := cmp.Diff(want, fetchPlan(t, out)); diff != "" {
			t.Errorf("WISP_PLAN (-want +got):\n%s", diff)
		}
	})

	t.Run("app containers", func(t *testing.T) {
		for _, c := range out.Spec.Containers {
			want := []corev1.VolumeMount{{Name: mutate.SecretsVolumeName, MountPath: mutate.DefaultMountPath, ReadOnly: true}}
			if diff := cmp.Diff(want, c.VolumeMounts); diff != "" {
				t.Errorf("container %s mounts (-want +got); the app must see the secrets read-only:\n%s", c.Name, diff)
			}
			if _, ok := envValue(&c, mutate.EnvSocket); ok {
				t.Errorf("container %s got %s without wisp.dev/socket", c.Name, mutate.EnvSocket)
			}
		}
		if got := out.Spec.InitContainers[1].VolumeMounts; len(got) != 0 {
			t.Errorf("init container migrate got mounts %v; only app containers get the secrets", got)
		}
	})
}

func TestInjectSocket(t *testing.T) {
	t.Parallel()
	pod := newPod(optedIn(keySocket, "true"), "web", "proxy")
	pod.Spec.Containers[1].Env = append(pod.Spec.Containers[1].Env,
		corev1.EnvVar{Name: mutate.EnvSocket, Value: "unix:///run/custom.sock"})

	out, _, err := mutate.Inject(pod, mutate.Config{})
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	for _, c := range out.Spec.Containers {
		want := []corev1.VolumeMount{
			{Name: mutate.SecretsVolumeName, MountPath: mutate.DefaultMountPath, ReadOnly: true},
			{Name: mutate.SocketVolumeName, MountPath: "/spiffe-workload-api", ReadOnly: true},
		}
		if diff := cmp.Diff(want, c.VolumeMounts); diff != "" {
			t.Errorf("container %s mounts (-want +got):\n%s", c.Name, diff)
		}
	}
	if got, _ := envValue(&out.Spec.Containers[0], mutate.EnvSocket); got != "unix://"+mutate.DefaultSocketPath {
		t.Errorf("web: %s = %q, want the default socket", mutate.EnvSocket, got)
	}
	var n int
	for _, e := range out.Spec.Containers[1].Env {
		if e.Name == mutate.EnvSocket {
			n++
			if e.Value != "unix:///run/custom.sock" {
				t.Errorf("proxy: %s = %q, want the container's own value kept", e.Name, e.Value)
			}
		}
	}
	if n != 1 {
		t.Errorf("proxy has %s %d times, want once", mutate.EnvSocket, n)
	}
}

func TestInjectSocketFalse(t *testing.T) {
	t.Parallel()
	out, _, err := mutate.Inject(newPod(optedIn(keySocket, "false")), mutate.Config{})
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	for _, m := range out.Spec.Containers[0].VolumeMounts {
		if m.Name == mutate.SocketVolumeName {
			t.Errorf("wisp.dev/socket: \"false\" still mounted the socket at %s", m.MountPath)
		}
	}
}

func TestInjectContainers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string // wisp.dev/containers; drop means unset
		want  []string
	}{
		{name: "unset means every app container", value: drop, want: []string{"web", "worker", "envoy"}},
		{name: "one", value: "worker", want: []string{"worker"}},
		{name: "two with spaces", value: " web , envoy ", want: []string{"web", "envoy"}},
		{name: "duplicates", value: "web,web", want: []string{"web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := mutate.Inject(newPod(optedIn(keyContainers, tt.value), "web", "worker", "envoy"), mutate.Config{})
			if err != nil {
				t.Fatalf("Inject: %v", err)
			}
			var got []string
			for _, c := range out.Spec.Containers {
				switch len(c.VolumeMounts) {
				case 0:
				case 1:
					got = append(got, c.Name)
				default:
					t.Errorf("container %s got %d mounts, want 1", c.Name, len(c.VolumeMounts))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("containers with the secrets mount (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInjectConfig checks that every field of Config reaches the pod, and
// that wisp.dev/mount-path wins over the config's mount path.
func TestInjectConfig(t *testing.T) {
	t.Parallel()
	size := resource.MustParse("1Mi")
	uid, gid := int64(1000), int64(2000)
	cfg := mutate.Config{
		Image:           "registry.internal/wisp-fetch@sha256:0123",
		ImagePullPolicy: corev1.PullAlways,
		VaultAddr:       "https://vault.example.com",
		AuthPath:        "spiffe-jwt",
		Audience:        "vault.example.com",
		SocketPath:      "/run/spire/sockets/agent.sock",
		CSIDriver:       "csi.spiffe.example.com",
		MountPath:       "/srv/secrets/app",
		VolumeSizeLimit: &size,
		Resources: &corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
		},
		RunAsUser:  &uid,
		RunAsGroup: &gid,
	}
	cfgBefore := *cfg.Resources.DeepCopy()

	out, _, err := mutate.Inject(newPod(optedIn(keySocket, "true")), cfg)
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	fetch := &out.Spec.InitContainers[0]
	checks := []struct{ what, got, want string }{
		{"image", fetch.Image, cfg.Image},
		{"imagePullPolicy", string(fetch.ImagePullPolicy), "Always"},
		{mutate.EnvVaultAdr, mustEnv(t, fetch, mutate.EnvVaultAdr), cfg.VaultAddr},
		{mutate.EnvAuthPath, mustEnv(t, fetch, mutate.EnvAuthPath), cfg.AuthPath},
		{mutate.EnvAudience, mustEnv(t, fetch, mutate.EnvAudience), cfg.Audience},
		{mutate.EnvSocket, mustEnv(t, fetch, mutate.EnvSocket), "unix:///run/spire/sockets/agent.sock"},
		{"app " + mutate.EnvSocket, mustEnv(t, &out.Spec.Containers[0], mutate.EnvSocket), "unix:///run/spire/sockets/agent.sock"},
		{"CSI driver", findVolume(out.Spec.Volumes, mutate.SocketVolumeName).CSI.Driver, cfg.CSIDriver},
		{"sizeLimit", findVolume(out.Spec.Volumes, mutate.SecretsVolumeName).EmptyDir.SizeLimit.String(), "1Mi"},
		{"plan dir", fetchPlan(t, out).Dir, mutate.FetchSecretsDir},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q (from Config)", c.what, c.got, c.want)
		}
	}
	if *fetch.SecurityContext.RunAsUser != uid || *fetch.SecurityContext.RunAsGroup != gid {
		t.Errorf("runAsUser/Group = %d/%d, want %d/%d", *fetch.SecurityContext.RunAsUser, *fetch.SecurityContext.RunAsGroup, uid, gid)
	}
	if diff := cmp.Diff(*cfg.Resources, fetch.Resources); diff != "" {
		t.Errorf("wisp-fetch resources (-config +got):\n%s", diff)
	}
	wantApp := []corev1.VolumeMount{
		{Name: mutate.SecretsVolumeName, MountPath: "/srv/secrets/app", ReadOnly: true},
		{Name: mutate.SocketVolumeName, MountPath: "/run/spire/sockets", ReadOnly: true},
	}
	if diff := cmp.Diff(wantApp, out.Spec.Containers[0].VolumeMounts); diff != "" {
		t.Errorf("app mounts (-want +got):\n%s", diff)
	}

	// The pod's resources must not alias the config, which is shared by
	// every request of the webhook.
	fetch.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
	*fetch.SecurityContext.RunAsUser = 0
	if diff := cmp.Diff(cfgBefore, *cfg.Resources); diff != "" {
		t.Errorf("changing the injected pod changed the Config's resources (-before +after):\n%s", diff)
	}
	if uid != 1000 {
		t.Errorf("changing the injected pod changed Config.RunAsUser to %d", uid)
	}

	// The deadline: injected when it is not wisp-fetch's default, and the
	// sidecar's startup probe outlasts it.
	for _, tc := range []struct {
		deadline      *metav1.Duration
		wantEnv       string
		wantThreshold int32
	}{
		{nil, "", 150},
		{&metav1.Duration{Duration: mutate.DefaultFetchDeadline}, "", 150},
		{&metav1.Duration{Duration: 30 * time.Second}, "30s", 150},
		{&metav1.Duration{Duration: 10 * time.Minute}, "10m0s", 630},
	} {
		c := cfg
		c.FetchDeadline = tc.deadline
		out, _, err := mutate.Inject(newPod(optedIn(mutate.AnnotationSidecar, "true")), c)
		if err != nil {
			t.Fatalf("Inject with fetchDeadline %v: %v", tc.deadline, err)
		}
		fc := &out.Spec.InitContainers[0]
		if got, _ := envValue(fc, mutate.EnvDeadline); got != tc.wantEnv {
			t.Errorf("fetchDeadline %v: %s = %q, want %q", tc.deadline, mutate.EnvDeadline, got, tc.wantEnv)
		}
		if got := fc.StartupProbe.FailureThreshold; got != tc.wantThreshold {
			t.Errorf("fetchDeadline %v: startup probe failureThreshold %d, want %d", tc.deadline, got, tc.wantThreshold)
		}
	}

	out, _, err = mutate.Inject(newPod(optedIn(keyMountPath, "/etc/app/secrets")), cfg)
	if err != nil {
		t.Fatalf("Inject with mount-path: %v", err)
	}
	if got := out.Spec.Containers[0].VolumeMounts[0].MountPath; got != "/etc/app/secrets" {
		t.Errorf("app mount = %q, want the pod's wisp.dev/mount-path over the Config's", got)
	}
	if got := fetchPlan(t, out).Dir; got != mutate.FetchSecretsDir {
		t.Errorf("plan dir = %q, want %s whatever the mount path", got, mutate.FetchSecretsDir)
	}
}

func mustEnv(t *testing.T, c *corev1.Container, name string) string {
	t.Helper()
	v, ok := envValue(c, name)
	if !ok {
		t.Errorf("container %s has no env var %s", c.Name, name)
	}
	return v
}

func TestRequested(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value   string // drop: annotation absent
		want    bool
		wantErr bool
	}{
		{value: drop, want: false},
		{value: "true", want: true},
		{value: "false", want: false},
		{value: " true\n", want: true},
		{value: "TRUE", wantErr: true},
		{value: "1", wantErr: true},
		{value: "yes", wantErr: true},
		{value: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			a := map[string]string{}
			if tt.value != drop {
				a[mutate.AnnotationInject] = tt.value
			}
			got, err := mutate.Requested(a)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Requested(%q) error = %v, want error %v", tt.value, err, tt.wantErr)
			}
			var ae *mutate.AnnotationError
			if err != nil && (!errors.As(err, &ae) || ae.Key != mutate.AnnotationInject) {
				t.Errorf("error %v does not name %s", err, mutate.AnnotationInject)
			}
			if got != tt.want {
				t.Errorf("Requested(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestParseAnnotations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		annotations map[string]string
		want        *mutate.Request
	}{
		{
			name:        "defaults",
			annotations: optedIn(),
			want: &mutate.Request{Role: "app", MountPath: "/default",
				Secrets: []plan.Secret{{Name: "db", Path: "database/creds/app"}}},
		},
		{
			name: "everything, secrets sorted by name",
			annotations: optedIn(
				keyRole, "  app  ",
				"wisp.dev/secret-zeta", "secret/data/zeta",
				"wisp.dev/secret-alpha", "secret/data/alpha",
				"wisp.dev/template-alpha", "{{ .a }}",
				keyFormatDB, "raw:password",
				keyContainers, "web,worker",
				keyMountPath, "/etc/secrets",
				keySocket, "true",
				mutate.AnnotationStatus, "pending",
				"example.com/other", "ignored",
			),
			want: &mutate.Request{
				Role: "app",
				Secrets: []plan.Secret{
					{Name: "alpha", Path: "secret/data/alpha", Template: "{{ .a }}"},
					{Name: "db", Path: "database/creds/app", Format: "raw:password"},
					{Name: "zeta", Path: "secret/data/zeta"},
				},
				Containers: []string{"web", "worker"},
				MountPath:  "/etc/secrets",
				Socket:     true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mutate.ParseAnnotations(tt.annotations, "/default")
			if err != nil {
				t.Fatalf("ParseAnnotations: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAnnotationsErrors(t *testing.T) {
	t.Parallel()
	got, err := mutate.ParseAnnotations(optedIn(keyRole, drop, keyFormatDB, "xml", "wisp.dev/foo", "x"), "/default")
	if got != nil {
		t.Errorf("ParseAnnotations returned a request with its error: %+v", got)
	}
	var keys []string
	for _, e := range annotationErrors(t, err) {
		keys = append(keys, e.Key)
	}
	if diff := cmp.Diff([]string{"wisp.dev/foo", keyFormatDB, keyRole}, keys); diff != "" {
		t.Errorf("denied annotations, sorted by key (-want +got):\n%s", diff)
	}
}

func TestResultString(t *testing.T) {
	t.Parallel()
	for r, want := range map[mutate.Result]string{
		mutate.NotRequested:    "not-requested",
		mutate.AlreadyInjected: "already-injected",
		mutate.Injected:        "injected",
		mutate.Result(42):      "Result(42)",
	} {
		if got := r.String(); got != want {
			t.Errorf("Result(%d).String() = %q, want %q", int(r), got, want)
		}
	}
}

func TestAnnotationErrorMessage(t *testing.T) {
	t.Parallel()
	err := &mutate.AnnotationError{Key: "wisp.dev/role", Reason: "is empty"}
	if got, want := err.Error(), "annotation wisp.dev/role: is empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestInjectGroup checks that the app containers can read the 0440 files:
// wisp-fetch writes with the pod's fsGroup when there is one, and otherwise
// the pod gets wisp-fetch's group as a supplemental group.
func TestInjectGroup(t *testing.T) {
	t.Parallel()
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		name      string
		sc        *corev1.PodSecurityContext
		wantGroup int64
		wantSupp  []int64
	}{
		{name: "no security context", sc: nil, wantGroup: 65532, wantSupp: []int64{65532}},
		{name: "runAsUser only", sc: &corev1.PodSecurityContext{RunAsUser: i64(1000)}, wantGroup: 65532, wantSupp: []int64{65532}},
		{name: "fsGroup", sc: &corev1.PodSecurityContext{FSGroup: i64(3000)}, wantGroup: 3000},
		{name: "fsGroup with other supplemental groups", sc: &corev1.PodSecurityContext{FSGroup: i64(3000), SupplementalGroups: []int64{10}},
			wantGroup: 3000, wantSupp: []int64{10}},
		{name: "supplemental groups kept", sc: &corev1.PodSecurityContext{SupplementalGroups: []int64{10}}, wantGroup: 65532, wantSupp: []int64{10, 65532}},
		{name: "group already supplemental", sc: &corev1.PodSecurityContext{SupplementalGroups: []int64{65532}}, wantGroup: 65532, wantSupp: []int64{65532}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := newPod(optedIn())
			pod.Spec.SecurityContext = tt.sc
			out, _, err := mutate.Inject(pod, mutate.Config{})
			if err != nil {
				t.Fatalf("Inject: %v", err)
			}
			fetch := findContainer(out.Spec.InitContainers, mutate.FetchContainerName)
			if got := fetch.SecurityContext.RunAsGroup; got == nil || *got != tt.wantGroup {
				t.Errorf("wisp-fetch runAsGroup = %v, want %d", got, tt.wantGroup)
			}
			var supp []int64
			if out.Spec.SecurityContext != nil {
				supp = out.Spec.SecurityContext.SupplementalGroups
			}
			if diff := cmp.Diff(tt.wantSupp, supp); diff != "" {
				t.Errorf("pod supplementalGroups (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReinvocationCompletesNewContainers: with reinvocationPolicy
// IfNeeded, wisp is called again after a later webhook added a container;
// that container gets the secrets mount (and only it is changed), unless
// wisp.dev/containers leaves it out; a third call changes nothing.
func TestReinvocationCompletesNewContainers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ann       map[string]string
		wantMount bool
	}{
		{name: "all app containers", ann: optedIn(mutate.AnnotationSocket, "true"), wantMount: true},
		{name: "containers selected", ann: optedIn(mutate.AnnotationContainers, "app"), wantMount: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, res, err := mutate.Inject(newPod(tc.ann), mutate.Config{})
			if err != nil || res != mutate.Injected {
				t.Fatalf("first call: %v %v", res, err)
			}
			later := first.DeepCopy()
			later.Spec.Containers = append(later.Spec.Containers, corev1.Container{Name: "proxy", Image: "proxy:1"})
			before := later.DeepCopy()
			second, res, err := mutate.Inject(later, mutate.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, later); diff != "" {
				t.Fatalf("Inject changed its input:\n%s", diff)
			}
			proxy := second.Spec.Containers[len(second.Spec.Containers)-1]
			hasMount := slices.ContainsFunc(proxy.VolumeMounts, func(m corev1.VolumeMount) bool {
				return m.Name == mutate.SecretsVolumeName && m.MountPath == mutate.DefaultMountPath && m.ReadOnly
			})
			if hasMount != tc.wantMount {
				t.Fatalf("result %v: proxy mounts %+v, want the secrets mount %v", res, proxy.VolumeMounts, tc.wantMount)
			}
			if !tc.wantMount {
				if res != mutate.AlreadyInjected || second != later {
					t.Errorf("nothing to add: got %v, want the pod itself, already-injected", res)
				}
				return
			}
			if res != mutate.Completed {
				t.Errorf("result %v, want completed", res)
			}
			if _, ok := findEnv(proxy.Env, mutate.EnvSocket); !ok {
				t.Errorf("wisp.dev/socket: the proxy has no %s", mutate.EnvSocket)
			}
			// Everything else is as the first call left it.
			trimmed := second.DeepCopy()
			trimmed.Spec.Containers[len(trimmed.Spec.Containers)-1] = before.Spec.Containers[len(before.Spec.Containers)-1]
			if diff := cmp.Diff(before, trimmed); diff != "" {
				t.Errorf("the second call changed more than the new container:\n%s", diff)
			}
			third, res, err := mutate.Inject(second, mutate.Config{})
			if err != nil || res != mutate.AlreadyInjected || third != second {
				t.Errorf("third call: %v %v, want already-injected and the pod itself", res, err)
			}
		})
	}
}

func findEnv(env []corev1.EnvVar, name string) (string, bool) {
	for _, e := range env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// withCommand gives every app container a command (the exec shim needs one).
func withCommand(p *corev1.Pod) {
	for i := range p.Spec.Containers {
		p.Spec.Containers[i].Command = []string{"/app"}
	}
}

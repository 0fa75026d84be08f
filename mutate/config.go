package mutate

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of Config. A zero field means its default.
const (
	DefaultImage           = "ghcr.io/wisp-dev/wisp-fetch:v0.1.0"
	DefaultImagePullPolicy = corev1.PullIfNotPresent
	DefaultVaultAddr       = "https://vault.vault.svc:8200"
	DefaultAuthPath        = "jwt"
	DefaultAudience        = "vault"
	DefaultSocketPath      = "/spiffe-workload-api/spire-agent.sock"
	DefaultCSIDriver       = "csi.spiffe.io"
	DefaultMountPath       = "/vault/secrets"
	DefaultVolumeSizeLimit = "4Mi"
	DefaultRunAsUser       = int64(65532)
	DefaultRunAsGroup      = int64(65532)
	// DefaultFetchDeadline is wisp-fetch's own default deadline
	// (fetch.DefaultDeadline): with it, no WISP_DEADLINE is injected.
	DefaultFetchDeadline = 2 * time.Minute
	// MinFetchDeadline and MaxFetchDeadline bound FetchDeadline.
	MinFetchDeadline = 5 * time.Second
	MaxFetchDeadline = time.Hour
)

// Config holds the platform's injection defaults. Its zero value is usable:
// every zero field means the default named in its comment.
type Config struct {
	// Image of the wisp-fetch init container. Default DefaultImage.
	Image string `json:"image,omitempty"`
	// ImagePullPolicy of that container. Default IfNotPresent.
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// VaultAddr is the Vault address wisp-fetch talks to. Default DefaultVaultAddr.
	VaultAddr string `json:"vaultAddr,omitempty"`
	// AuthPath is the mount of Vault's JWT auth method (login at
	// auth/<AuthPath>/login). Default "jwt".
	AuthPath string `json:"authPath,omitempty"`
	// Audience of the JWT-SVID, as bound in the Vault role. Default "vault".
	Audience string `json:"audience,omitempty"`
	// SocketPath is where the Workload API socket appears in a container; the
	// CSI volume is mounted at its folder. Default DefaultSocketPath.
	SocketPath string `json:"socketPath,omitempty"`
	// CSIDriver is the SPIFFE CSI driver's name. Default "csi.spiffe.io".
	CSIDriver string `json:"csiDriver,omitempty"`
	// MountPath is where the secrets appear unless a pod says otherwise.
	// Default "/vault/secrets".
	MountPath string `json:"mountPath,omitempty"`
	// MountRoots are the folders a pod's wisp.dev/mount-path must name or
	// lie below; a "*" segment is one folder name of letters, digits, "-"
	// and "_". MountPath is always allowed. Nil means DefaultMountRoots();
	// empty allows MountPath alone. A root may not cover a system path
	// (the checks of a mount path apply to it, each "*" read as a name).
	MountRoots []string `json:"mountRoots,omitempty"`
	// VolumeSizeLimit caps the in-memory secrets volume. Default 4Mi.
	VolumeSizeLimit *resource.Quantity `json:"volumeSizeLimit,omitempty"`
	// Resources of the init container. Default: requests 10m CPU, 32Mi
	// memory; limits 200m CPU, 64Mi memory.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// RunAsUser and RunAsGroup of the init container. Default 65532 (the
	// distroless nonroot user). The files are 0440: when the pod sets an
	// fsGroup, wisp-fetch runs with that group; otherwise RunAsGroup is added
	// to the pod's supplementalGroups so the app containers can read them.
	RunAsUser  *int64 `json:"runAsUser,omitempty"`
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
	// FetchDeadline is how long wisp-fetch tries (retries included) before
	// its container fails, and the kubelet restarts it with back-off: a
	// Vault or SPIRE outage shorter than this delays the pod, a longer one
	// shows in the pod's status. Injected as WISP_DEADLINE when it is not
	// the default. Default 2m; 5s to 1h.
	FetchDeadline *metav1.Duration `json:"fetchDeadline,omitempty"`
	// VaultAgentAnnotations, for the move from the Vault Agent Injector,
	// makes wisp read the Vault Agent Injector's annotations as aliases of
	// its own: vault.hashicorp.com/agent-inject, role,
	// agent-inject-secret-<name>, agent-inject-template-<name> (Consul
	// Template's common `with secret` form, translated) and
	// secret-volume-path. A wisp.dev/* key set on the same pod wins over its
	// alias. Default false: vault.hashicorp.com/* annotations are ignored.
	VaultAgentAnnotations bool `json:"vaultAgentAnnotations,omitempty"`
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Image == "" {
		c.Image = DefaultImage
	}
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = DefaultImagePullPolicy
	}
	if c.VaultAddr == "" {
		c.VaultAddr = DefaultVaultAddr
	}
	if c.AuthPath == "" {
		c.AuthPath = DefaultAuthPath
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.SocketPath == "" {
		c.SocketPath = DefaultSocketPath
	}
	if c.CSIDriver == "" {
		c.CSIDriver = DefaultCSIDriver
	}
	if c.MountPath == "" {
		c.MountPath = DefaultMountPath
	}
	if c.MountRoots == nil {
		c.MountRoots = DefaultMountRoots()
	}
	if c.VolumeSizeLimit == nil {
		q := resource.MustParse(DefaultVolumeSizeLimit)
		c.VolumeSizeLimit = &q
	}
	if c.Resources == nil {
		c.Resources = &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("10m"),
				corev1.ResourceMemory: resource.MustParse("32Mi"),
			},
			Limits: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("200m"),
				corev1.ResourceMemory: resource.MustParse("64Mi"),
			},
		}
	}
	if c.RunAsUser == nil {
		u := DefaultRunAsUser
		c.RunAsUser = &u
	}
	if c.RunAsGroup == nil {
		g := DefaultRunAsGroup
		c.RunAsGroup = &g
	}
	if c.FetchDeadline == nil {
		c.FetchDeadline = &metav1.Duration{Duration: DefaultFetchDeadline}
	}
	return c
}

// Validate names every bad field of c (after defaults).
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	switch c.ImagePullPolicy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, fmt.Errorf("imagePullPolicy %q: want Always, IfNotPresent or Never", c.ImagePullPolicy))
	}
	if !strings.HasPrefix(c.VaultAddr, "https://") && !strings.HasPrefix(c.VaultAddr, "http://") {
		errs = append(errs, fmt.Errorf("vaultAddr %q: want an http(s):// URL", c.VaultAddr))
	}
	if strings.Trim(c.AuthPath, "/") != c.AuthPath || strings.Contains(c.AuthPath, "..") {
		errs = append(errs, fmt.Errorf("authPath %q: want a mount such as jwt, without leading or trailing /", c.AuthPath))
	}
	if err := checkAbsPath(c.SocketPath); err != nil || path.Dir(c.SocketPath) == "/" {
		errs = append(errs, fmt.Errorf("socketPath %q: want a clean absolute file path inside a folder", c.SocketPath))
	}
	if err := checkMountPath(c.MountPath); err != nil {
		errs = append(errs, fmt.Errorf("mountPath: %w", err))
	}
	if overlaps(c.MountPath, path.Dir(c.SocketPath)) {
		errs = append(errs, fmt.Errorf("mountPath %q: overlaps the socket's folder %q", c.MountPath, path.Dir(c.SocketPath)))
	}
	for i, r := range c.MountRoots {
		if err := checkMountRoot(r); err != nil {
			errs = append(errs, fmt.Errorf("mountRoots[%d] %q: %w", i, r, err))
		}
	}
	if c.VolumeSizeLimit.Sign() <= 0 {
		errs = append(errs, fmt.Errorf("volumeSizeLimit %s: want a positive size", c.VolumeSizeLimit.String()))
	}
	if *c.RunAsUser <= 0 {
		errs = append(errs, fmt.Errorf("runAsUser %d: want a non-root user id", *c.RunAsUser))
	}
	if *c.RunAsGroup < 0 {
		errs = append(errs, fmt.Errorf("runAsGroup %d: want a group id", *c.RunAsGroup))
	}
	if d := c.FetchDeadline.Duration; d < MinFetchDeadline || d > MaxFetchDeadline {
		errs = append(errs, fmt.Errorf("fetchDeadline %s: want %s to %s", d, MinFetchDeadline, MaxFetchDeadline))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid injection config: %w", err)
	}
	return nil
}

// sealedDirs are folders a secrets mount may not cover, contain or nest
// in: the kernel's, the image's programs and libraries, the certificate
// stores, the service account token's folder (both /run aliases) and
// wisp-fetch's own paths.
var sealedDirs = []string{
	"/proc", "/sys", "/dev", "/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/boot",
	"/etc/ssl", "/etc/pki", "/etc/ca-certificates", "/run/secrets", "/var/run/secrets",
	FetchCommand, FetchSecretsDir,
}

// systemDirs may hold a secrets mount below them (/etc/app/secrets), but a
// mount at or above one would hide the image's files.
var systemDirs = []string{"/etc", "/run", "/var", "/var/run", "/var/lib", "/root", "/home"}

// systemFiles are files a mount must never replace.
var systemFiles = []string{
	"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
	"/etc/nsswitch.conf", "/etc/localtime", "/etc/os-release",
}

// checkMountPath refuses a secrets mount path that is not a clean absolute
// path, or that would hide what the image or the pod needs: mounted there,
// the secrets volume would shadow certificates, the dynamic loader, the
// service account token or wisp-fetch itself.
func checkMountPath(p string) error {
	if err := checkAbsPath(p); err != nil {
		return err
	}
	for _, f := range systemFiles {
		if p == f {
			return fmt.Errorf("%q would replace the system file %s; choose a folder of the app's own, such as %s", p, f, DefaultMountPath)
		}
	}
	for _, d := range systemDirs {
		if p == d || isBelow(d, p) {
			return fmt.Errorf("%q would hide the system folder %s; choose a folder of the app's own, such as %s", p, d, DefaultMountPath)
		}
	}
	for _, d := range sealedDirs {
		if overlaps(p, d) {
			return fmt.Errorf("%q overlaps the system path %s; choose a folder of the app's own, such as %s", p, d, DefaultMountPath)
		}
	}
	return nil
}

func checkAbsPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.ContainsAny(p, ":\x00") || !utf8.ValidString(p) {
		return fmt.Errorf("%q is not a clean absolute path below /", p)
	}
	return nil
}

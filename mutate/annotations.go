package mutate

import (
	"strings"

	"wisp.dev/wisp/plan"
)

// The app team's annotations. Each key is documented in the README.
const (
	// Prefix is the common prefix of wisp's annotations.
	Prefix = "wisp.dev/"

	// AnnotationInject opts a pod in ("true") or out ("false").
	AnnotationInject = Prefix + "inject"
	// AnnotationRole names the Vault JWT-auth role to log in with.
	AnnotationRole = Prefix + "role"
	// AnnotationSecretPrefix + <name>: a Vault path fetched into <mount>/<name>.
	AnnotationSecretPrefix = Prefix + "secret-"
	// AnnotationTemplatePrefix + <name>: a Go text/template rendering that secret.
	AnnotationTemplatePrefix = Prefix + "template-"
	// AnnotationFormatPrefix + <name>: json, env or raw:<key>.
	AnnotationFormatPrefix = Prefix + "format-"
	// AnnotationContainers is a comma list of the app containers that get the
	// secrets mount (default: all of them).
	AnnotationContainers = Prefix + "containers"
	// AnnotationMountPath is where app containers see the secrets.
	AnnotationMountPath = Prefix + "mount-path"
	// AnnotationSocket "true" also mounts the Workload API socket into the app
	// containers and sets SPIFFE_ENDPOINT_SOCKET there.
	AnnotationSocket = Prefix + "socket"
	// AnnotationSidecar "true" runs wisp-fetch as a native sidecar (an init
	// container with restartPolicy Always) that keeps the Vault token and
	// leases renewed, re-fetches before they expire, and revokes them when
	// the pod stops.
	AnnotationSidecar = Prefix + "sidecar"
	// AnnotationEnvPrefix + <ENV_NAME>: "<secret>#<key>": the selected app
	// containers start, through the exec shim, with ENV_NAME set to that
	// key of that secret (the value is never in the pod spec).
	AnnotationEnvPrefix = Prefix + "env-"
	// AnnotationStatus is written by wisp: StatusInjected once injected.
	AnnotationStatus = Prefix + "status"

	// AnnotationExempt asks the platform policy to exempt the pod from secret
	// detection; its value is the reason. The policy package reads it;
	// injection ignores it.
	AnnotationExempt = Prefix + "exempt"

	// MaxTemplateBytes bounds a wisp.dev/template-<name> annotation.
	MaxTemplateBytes = 16 << 10

	// StatusInjected is the value of AnnotationStatus on an injected pod.
	StatusInjected = "injected"
)

// Annotations that the design reserves for later features. They are refused
// rather than silently ignored, so nobody believes they took effect.
var reservedAnnotations = map[string]string{
	Prefix + "auth-path":       "overriding the auth mount is not allowed by the platform policy",
	Prefix + "audience":        "overriding the audience is not allowed by the platform policy",
	Prefix + "vault-namespace": "overriding the Vault namespace is not allowed by the platform policy",
}

// Names of the objects wisp adds to a pod. A pod that already has one of them
// (and is not marked injected) is refused rather than half-merged.
const (
	// FetchCommand runs wisp-fetch in wisp's image.
	FetchCommand = "/wisp-fetch"
	// FetchSecretsDir is where wisp-fetch writes the secrets in its own
	// container, whatever the app's mount path (wisp.dev/mount-path only
	// moves the app containers' mount): the plan's dir.
	FetchSecretsDir = "/wisp/secrets"
	// FetchContainerName is the injected init container.
	FetchContainerName = "wisp-fetch"
	// SecretsVolumeName is the in-memory volume the secrets are written to.
	SecretsVolumeName = "wisp-secrets"
	// SocketVolumeName is the SPIFFE CSI driver's Workload API volume.
	SocketVolumeName = "wisp-spiffe"
	// BinVolumeName holds the exec shim, placed there by wisp-fetch, when a
	// wisp.dev/env-<NAME> annotation asks for one.
	BinVolumeName = "wisp-bin"
	// ShimDir is where the bin volume is mounted (in wisp-fetch and in the
	// app containers), and ShimPath the shim in it.
	ShimDir  = "/wisp/bin"
	ShimPath = ShimDir + "/wisp-env"
	// EnvInstallShim tells wisp-fetch where to place the shim.
	EnvInstallShim = plan.InstallShimVar
)

// Environment variables of the injected container, read by wisp-fetch.
const (
	EnvSocket   = "SPIFFE_ENDPOINT_SOCKET"
	EnvVaultAdr = "VAULT_ADDR"
	EnvAuthPath = "WISP_AUTH_PATH"
	EnvAudience = "WISP_AUDIENCE"
	EnvPlan     = plan.PlanVar
	// EnvDeadline is wisp-fetch's deadline, set when Config.FetchDeadline
	// is not the default.
	EnvDeadline = "WISP_DEADLINE"
)

// The Vault Agent Injector's annotations (prefix vault.hashicorp.com/) that
// wisp reads when the platform policy turns on Config.VaultAgentAnnotations,
// so that teams can move from the Vault Agent Injector to wisp without
// rewriting their manifests. See vaultAliases for what each one stands for.
const (
	// VaultPrefix is the Vault Agent Injector's annotation prefix.
	VaultPrefix = "vault.hashicorp.com/"

	// VaultAnnotationAgentInject is an alias of AnnotationInject. Like the
	// Vault Agent Injector, it accepts what strconv.ParseBool accepts.
	VaultAnnotationAgentInject = VaultPrefix + "agent-inject"
	// VaultAnnotationRole is an alias of AnnotationRole. The role is logged
	// in to with Vault's JWT auth method (AuthPath), not the Kubernetes one.
	VaultAnnotationRole = VaultPrefix + "role"
	// VaultAnnotationSecretPrefix + <name> is an alias of
	// AnnotationSecretPrefix + <name>.
	VaultAnnotationSecretPrefix = VaultPrefix + "agent-inject-secret-"
	// VaultAnnotationTemplatePrefix + <name> is an alias of
	// AnnotationTemplatePrefix + <name>. Its Consul Template text is
	// translated to a wisp template (see translateVaultTemplate).
	VaultAnnotationTemplatePrefix = VaultPrefix + "agent-inject-template-"
	// VaultAnnotationSecretVolumePath is an alias of AnnotationMountPath.
	// Its per-secret form (+ "-<name>") is honoured when it names the same
	// folder and refused otherwise (see vaultVolumePathErrors).
	VaultAnnotationSecretVolumePath = VaultPrefix + "secret-volume-path"
	// VaultAnnotationContainers is an alias of AnnotationContainers.
	VaultAnnotationContainers = VaultPrefix + "agent-inject-containers"
	// VaultAnnotationLeftDelimPrefix and VaultAnnotationRightDelimPrefix +
	// <name> are the delimiters of that secret's template alias, which is
	// read with them (see redelimit).
	VaultAnnotationLeftDelimPrefix  = VaultPrefix + "agent-template-left-delim-"
	VaultAnnotationRightDelimPrefix = VaultPrefix + "agent-template-right-delim-"

	// VaultAnnotationAgentInjectStatus is written by the Vault Agent
	// Injector once it injected a pod. With the aliases on, wisp refuses to
	// inject such a pod a second time.
	VaultAnnotationAgentInjectStatus = VaultPrefix + "agent-inject-status"
)

// vaultAlias maps one Vault Agent Injector annotation (or, with prefix set,
// a family of them) to wisp's.
type vaultAlias struct {
	vault, wisp string
	prefix      bool
}

// vaultAliases is the alias table. When a pod sets both an alias and its
// wisp key, the wisp key wins and the alias is ignored: that lets a team opt
// a pod out of wisp (wisp.dev/inject: "false") while the Vault Agent Injector
// keeps serving it, and lets wisp.dev/* keys override a manifest's Vault ones
// during the move. What wisp does with every other vault.hashicorp.com/*
// annotation is in VaultAnnotations: refused (vaultRefused), honoured
// otherwise, or warned about (VaultWarnings).
var vaultAliases = []vaultAlias{
	{vault: VaultAnnotationAgentInject, wisp: AnnotationInject},
	{vault: VaultAnnotationRole, wisp: AnnotationRole},
	{vault: VaultAnnotationSecretPrefix, wisp: AnnotationSecretPrefix, prefix: true},
	{vault: VaultAnnotationTemplatePrefix, wisp: AnnotationTemplatePrefix, prefix: true},
	{vault: VaultAnnotationSecretVolumePath, wisp: AnnotationMountPath},
	{vault: VaultAnnotationContainers, wisp: AnnotationContainers},
}

// vaultRefused are Vault Agent Injector annotation families (key prefixes)
// that change which file an app reads or what it holds. wisp cannot honour
// them, and ignoring them would leave the app reading a file that is not
// there, so an opted-in pod carrying one is refused. The first entry is
// checked before the template alias, whose prefix it shares.
var vaultRefused = []struct{ prefix, reason string }{
	{VaultPrefix + "agent-inject-template-file-", "templates read from a file in the pod are not supported; put the template in " +
		VaultAnnotationTemplatePrefix + "<name> or " + AnnotationTemplatePrefix + "<name>"},
	{VaultPrefix + "agent-inject-file-", "renaming a secret's file is not supported; wisp writes secret <name> to <mount-path>/<name>: " +
		"rename the secret annotation instead"},
	{VaultPrefix + "agent-inject-command-", "running a command after rendering is not supported by wisp"},
}

// VaultAlias returns the wisp annotation that a Vault Agent Injector
// annotation stands for, and whether it is an alias at all.
func VaultAlias(key string) (string, bool) {
	for _, r := range vaultRefused {
		if strings.HasPrefix(key, r.prefix) {
			return "", false
		}
	}
	for _, a := range vaultAliases {
		switch {
		case a.prefix && strings.HasPrefix(key, a.vault):
			return a.wisp + strings.TrimPrefix(key, a.vault), true
		case !a.prefix && key == a.vault:
			return a.wisp, true
		}
	}
	return "", false
}

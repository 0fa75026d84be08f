package mutate

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
	// AnnotationStatus is written by wisp: StatusInjected once injected.
	AnnotationStatus = Prefix + "status"

	// AnnotationExempt asks the platform policy to exempt the pod from secret
	// detection; its value is the reason. The policy package reads it;
	// injection ignores it.
	AnnotationExempt = Prefix + "exempt"

	// StatusInjected is the value of AnnotationStatus on an injected pod.
	StatusInjected = "injected"
)

// Annotations that the design reserves for later features. They are refused
// rather than silently ignored, so nobody believes they took effect.
var reservedAnnotations = map[string]string{
	Prefix + "sidecar":         "the renewal sidecar is not supported by this version of wisp",
	Prefix + "auth-path":       "overriding the auth mount is not allowed by the platform policy",
	Prefix + "audience":        "overriding the audience is not allowed by the platform policy",
	Prefix + "vault-namespace": "overriding the Vault namespace is not allowed by the platform policy",
}

// Names of the objects wisp adds to a pod. A pod that already has one of them
// (and is not marked injected) is refused rather than half-merged.
const (
	// FetchContainerName is the injected init container.
	FetchContainerName = "wisp-fetch"
	// SecretsVolumeName is the in-memory volume the secrets are written to.
	SecretsVolumeName = "wisp-secrets"
	// SocketVolumeName is the SPIFFE CSI driver's Workload API volume.
	SocketVolumeName = "wisp-spiffe"
)

// Environment variables of the injected container, read by wisp-fetch.
const (
	EnvSocket   = "SPIFFE_ENDPOINT_SOCKET"
	EnvVaultAdr = "VAULT_ADDR"
	EnvAuthPath = "WISP_AUTH_PATH"
	EnvAudience = "WISP_AUDIENCE"
	EnvPlan     = "WISP_PLAN"
)

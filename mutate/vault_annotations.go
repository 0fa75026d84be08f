package mutate

import (
	"path"
	"slices"
	"strings"
)

// VaultHandling says what wisp does with a Vault Agent Injector annotation
// when the aliases are on (Config.VaultAgentAnnotations).
type VaultHandling string

const (
	// VaultHonoured: wisp does what the Vault Agent Injector does with it.
	VaultHonoured VaultHandling = "honoured"
	// VaultRefused: a pod carrying it is refused, with a message.
	VaultRefused VaultHandling = "refused"
	// VaultWarned: wisp does not honour it and says so in an admission
	// warning (and on wisp inject's stderr): what wisp does instead.
	VaultWarned VaultHandling = "warned"
)

// VaultAnnotation is one row of the Vault Agent Injector annotation table.
type VaultAnnotation struct {
	// Key is the annotation without VaultPrefix; a family ends in "-<name>"
	// (a per-secret annotation) or "-*" (any suffix).
	Key string
	// Handling is what wisp does with it.
	Handling VaultHandling
	// HonouredIf, when set, names values (lower case) that wisp honours as
	// is: a Warned annotation with such a value asks for what wisp does
	// anyway, and gets no warning.
	HonouredIf []string
	// Note is what wisp does instead, or how it honours it. For a Warned
	// annotation it is the warning's text after the key.
	Note string
}

// prefix is the key prefix of a family, "" for a single annotation.
func (a VaultAnnotation) prefix() string {
	for _, tail := range []string{"<name>", "*"} {
		if strings.HasSuffix(a.Key, tail) {
			return VaultPrefix + strings.TrimSuffix(a.Key, tail)
		}
	}
	return ""
}

// matches reports whether key (with VaultPrefix) is this row's.
func (a VaultAnnotation) matches(key string) bool {
	if p := a.prefix(); p != "" {
		return strings.HasPrefix(key, p) && len(key) > len(p)
	}
	return key == VaultPrefix+a.Key
}

const (
	notePolicy  = "wisp takes it from the platform policy (injection settings), not from the pod"
	noteFetch   = "wisp-fetch is not a Vault Agent; this setting of the agent has no equivalent"
	noteRuntime = "wisp sets wisp-fetch's image, resources and security context from the platform policy"
)

// VaultAnnotations is every annotation of the Vault Agent Injector
// (hashicorp/vault-k8s v1.7.6, agent-inject/agent/annotations.go) and what
// wisp does with it. The migration guide's table is checked against it. A
// vault.hashicorp.com/ annotation not in it is warned about as unknown.
// Rows are matched in order: a family's row comes after the rows whose
// keys it is a prefix of.
var VaultAnnotations = []VaultAnnotation{
	{Key: "agent-inject", Handling: VaultHonoured, Note: "`wisp.dev/inject`; `true`/`false`, `1`/`0`, `True`, ... like the Vault Agent Injector; an empty value is `false`"},
	{Key: "agent-inject-status", Handling: VaultHonoured, Note: "a pod the Vault Agent Injector already injected (`injected`) is refused rather than injected twice"},
	{Key: "role", Handling: VaultHonoured, Note: "`wisp.dev/role`: the role of Vault's JWT auth method"},
	{Key: "agent-inject-secret-<name>", Handling: VaultHonoured, Note: "`wisp.dev/secret-<name>`; `<name>` must be a DNS label"},
	{Key: "agent-inject-template-file-<name>", Handling: VaultRefused, Note: "templates read from a file in the pod are not supported; put the template in the annotation"},
	{Key: "agent-inject-template-<name>", Handling: VaultHonoured, Note: "`wisp.dev/template-<name>`, translated from Consul Template (refused when it cannot be)"},
	{Key: "agent-template-left-delim-<name>", Handling: VaultHonoured, Note: "the template is read with these delimiters"},
	{Key: "agent-template-right-delim-<name>", Handling: VaultHonoured, Note: "the template is read with these delimiters"},
	{Key: "agent-inject-containers", Handling: VaultHonoured, Note: "`wisp.dev/containers`"},
	{Key: "secret-volume-path", Handling: VaultHonoured, Note: "`wisp.dev/mount-path`"},
	{Key: "secret-volume-path-<name>", Handling: VaultHonoured, Note: "when it is the pod's mount path; another folder is refused: wisp mounts all of a pod's secrets in one folder"},
	{Key: "agent-inject-file-<name>", Handling: VaultRefused, Note: "renaming a secret's file is not supported: rename the secret annotation"},
	{Key: "agent-inject-command-<name>", Handling: VaultRefused, Note: "running a command after rendering is not supported"},
	{Key: "agent-inject-perms-<name>", Handling: VaultWarned, Note: "wisp writes every secret file with mode 0440, readable through the pod's group"},
	{Key: "agent-inject-default-template", Handling: VaultWarned, HonouredIf: []string{"json"}, Note: "without a template wisp writes JSON of the secret's data; set wisp.dev/format-<name> or a template"},
	{Key: "agent-inject-token", Handling: VaultWarned, HonouredIf: []string{"false", "0"}, Note: "wisp never writes the Vault token to the secrets volume"},
	{Key: "agent-pre-populate", Handling: VaultWarned, HonouredIf: []string{"true", "1"}, Note: "wisp always fetches in an init container before the app starts"},
	{Key: "agent-pre-populate-only", Handling: VaultWarned, HonouredIf: []string{"true", "1"}, Note: "wisp-fetch runs once as an init container; add wisp.dev/sidecar: \"true\" to keep leases renewed"},
	{Key: "agent-init-first", Handling: VaultWarned, HonouredIf: []string{"true", "1"}, Note: "wisp-fetch is always the first init container"},
	{Key: "agent-image", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-request-namespace", Handling: VaultWarned, Note: noteFetch},
	{Key: "agent-configmap", Handling: VaultWarned, Note: "wisp-fetch reads no agent configuration; use wisp's annotations"},
	{Key: "agent-extra-secret", Handling: VaultWarned, Note: "wisp mounts no extra Secret into wisp-fetch"},
	{Key: "agent-limits-cpu", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-limits-mem", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-limits-ephemeral", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-requests-cpu", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-requests-mem", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-requests-ephemeral", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-revoke-on-shutdown", Handling: VaultWarned, Note: "only wisp's sidecar (wisp.dev/sidecar) revokes its leases, always, on shutdown"},
	{Key: "agent-revoke-grace", Handling: VaultWarned, Note: noteFetch},
	{Key: "namespace", Handling: VaultWarned, Note: "the Vault namespace: " + notePolicy},
	{Key: "agent-run-as-user", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-run-as-group", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-run-as-same-user", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-share-process-namespace", Handling: VaultWarned, Note: "wisp does not change the pod's process namespace"},
	{Key: "agent-set-security-context", Handling: VaultWarned, Note: noteRuntime},
	{Key: "agent-service-account-token-volume-name", Handling: VaultWarned, Note: "wisp-fetch authenticates with the pod's SPIFFE identity, not a service account token"},
	{Key: "service", Handling: VaultWarned, Note: "Vault's address: " + notePolicy},
	{Key: "proxy-address", Handling: VaultWarned, Note: notePolicy},
	{Key: "tls-skip-verify", Handling: VaultWarned, HonouredIf: []string{"false", "0"}, Note: "TLS to Vault is always verified; " + notePolicy},
	{Key: "tls-secret", Handling: VaultWarned, Note: "TLS to Vault: " + notePolicy},
	{Key: "tls-server-name", Handling: VaultWarned, Note: "TLS to Vault: " + notePolicy},
	{Key: "ca-cert", Handling: VaultWarned, Note: "TLS to Vault: " + notePolicy},
	{Key: "ca-key", Handling: VaultWarned, Note: "TLS to Vault: " + notePolicy},
	{Key: "client-cert", Handling: VaultWarned, Note: "TLS to Vault: " + notePolicy},
	{Key: "client-key", Handling: VaultWarned, Note: "TLS to Vault: " + notePolicy},
	{Key: "client-max-retries", Handling: VaultWarned, Note: "wisp-fetch retries with capped backoff within its deadline"},
	{Key: "client-timeout", Handling: VaultWarned, Note: "wisp-fetch retries with capped backoff within its deadline"},
	{Key: "go-max-procs", Handling: VaultWarned, Note: noteFetch},
	{Key: "log-level", Handling: VaultWarned, Note: noteFetch},
	{Key: "log-format", Handling: VaultWarned, Note: noteFetch},
	{Key: "auth-type", Handling: VaultWarned, HonouredIf: []string{"jwt"}, Note: "wisp logs in with Vault's JWT auth method and the pod's SPIFFE identity"},
	{Key: "auth-path", Handling: VaultWarned, Note: "the auth mount: " + notePolicy},
	{Key: "auth-config-*", Handling: VaultWarned, Note: "wisp logs in with Vault's JWT auth method and the pod's SPIFFE identity"},
	{Key: "auth-min-backoff", Handling: VaultWarned, Note: "wisp-fetch retries with capped backoff within its deadline"},
	{Key: "auth-max-backoff", Handling: VaultWarned, Note: "wisp-fetch retries with capped backoff within its deadline"},
	{Key: "preserve-secret-case", Handling: VaultWarned, Note: "wisp secret names are DNS labels (lower case)"},
	{Key: "agent-cache-enable", Handling: VaultWarned, Note: "wisp-fetch has no cache or listener"},
	{Key: "agent-cache-use-auto-auth-token", Handling: VaultWarned, Note: "wisp-fetch has no cache or listener"},
	{Key: "agent-cache-listener-port", Handling: VaultWarned, Note: "wisp-fetch has no cache or listener"},
	{Key: "agent-cache-exit-on-err", Handling: VaultWarned, Note: "wisp-fetch has no cache or listener"},
	{Key: "agent-copy-volume-mounts", Handling: VaultWarned, Note: "wisp-fetch gets only wisp's volumes"},
	{Key: "template-config-exit-on-retry-failure", Handling: VaultWarned, HonouredIf: []string{"true", "1"}, Note: "wisp-fetch always exits non-zero when a fetch fails"},
	{Key: "template-static-secret-render-interval", Handling: VaultWarned, Note: "wisp's sidecar re-fetches before a lease expires, not on an interval"},
	{Key: "template-max-connections-per-host", Handling: VaultWarned, Note: noteFetch},
	{Key: "template-lease-renewal-threshold", Handling: VaultWarned, Note: "wisp's sidecar renews leases on its own schedule"},
	{Key: "agent-enable-quit", Handling: VaultWarned, Note: "wisp's sidecar stops with the pod"},
	{Key: "agent-disable-idle-connections", Handling: VaultWarned, Note: noteFetch},
	{Key: "agent-disable-keep-alives", Handling: VaultWarned, Note: noteFetch},
	{Key: "agent-json-patch", Handling: VaultWarned, Note: "wisp does not patch wisp-fetch; " + noteRuntime},
	{Key: "agent-init-json-patch", Handling: VaultWarned, Note: "wisp does not patch wisp-fetch; " + noteRuntime},
	{Key: "agent-auto-auth-exit-on-err", Handling: VaultWarned, HonouredIf: []string{"true", "1"}, Note: "wisp-fetch always exits non-zero when its login fails"},
	{Key: "agent-telemetry-*", Handling: VaultWarned, Note: "wisp's metrics are the webhook's; wisp-fetch has none"},
	{Key: "error-on-missing-key", Handling: VaultWarned, HonouredIf: []string{"true", "1"}, Note: "a template reading a missing key always fails the fetch"},
}

// noteUnknown is the warning for a vault.hashicorp.com/ annotation that the
// table does not know.
const noteUnknown = "is not a Vault Agent Injector annotation wisp knows; wisp ignores it"

// LookupVaultAnnotation returns the table's row for key (with VaultPrefix).
func LookupVaultAnnotation(key string) (VaultAnnotation, bool) {
	for _, a := range VaultAnnotations {
		if a.matches(key) {
			return a, true
		}
	}
	return VaultAnnotation{}, false
}

// VaultWarnings returns, for a pod that opts in through wisp with the
// aliases on (cfg.VaultAgentAnnotations), one warning per Vault Agent
// Injector annotation that wisp does not honour: the annotation, and what
// wisp does instead; and one per alias not read because the pod sets its
// wisp key too. The webhook gives them as admission warnings, wisp
// inject on its stderr. Sorted; nil when there are none, when the aliases
// are off, or when the pod does not opt in. No value is quoted: an
// annotation's value may be anything.
func VaultWarnings(annotations map[string]string, cfg Config) []string {
	if !cfg.VaultAgentAnnotations {
		return nil
	}
	resolved, origin, _ := resolveVaultAliases(annotations)
	if ok, err := requested(resolved, origin); !ok || err != nil {
		return nil
	}
	var out []string
	for key, value := range annotations {
		if !strings.HasPrefix(key, VaultPrefix) {
			continue
		}
		if wk, ok := VaultAlias(key); ok {
			if _, set := annotations[wk]; set {
				out = append(out, key+" is not read: "+wk+" is set and wins")
			}
			continue
		}
		a, known := LookupVaultAnnotation(key)
		switch {
		case !known:
			out = append(out, key+" "+noteUnknown)
		case a.Handling == VaultWarned && !slices.Contains(a.HonouredIf, strings.ToLower(strings.TrimSpace(value))):
			out = append(out, key+" is not honoured by wisp: "+a.Note)
		}
	}
	slices.Sort(out)
	return out
}

// vaultVolumePathErrors checks the per-secret folders
// (secret-volume-path-<name>) of a pod: wisp mounts all of a pod's secrets
// in one folder, req's mount path, so a per-secret folder is honoured when
// it is that folder and refused otherwise.
func vaultVolumePathErrors(annotations map[string]string, req *Request) []error {
	if req == nil {
		return nil
	}
	prefix := VaultAnnotationSecretVolumePath + "-"
	var errs []error
	for key, value := range annotations {
		if !strings.HasPrefix(key, prefix) || len(key) == len(prefix) {
			continue
		}
		v := strings.TrimSpace(value)
		if err := checkMountPath(v); err != nil {
			errs = append(errs, &AnnotationError{Key: key, Reason: err.Error()})
			continue
		}
		if path.Clean(v) != path.Clean(req.MountPath) {
			errs = append(errs, &AnnotationError{Key: key, Reason: "wisp mounts all of a pod's secrets in one folder (" + req.MountPath +
				"); a secret in another folder is not supported: set " + VaultAnnotationSecretVolumePath + " or " + AnnotationMountPath +
				" to the folder the app reads, or read this secret from " + req.MountPath})
		}
	}
	return errs
}

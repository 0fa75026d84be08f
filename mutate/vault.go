package mutate

import (
	"fmt"
	"strconv"
	"strings"
)

// EffectiveAnnotations returns a pod's annotations as wisp reads them. With
// cfg.VaultAgentAnnotations on, each Vault Agent Injector alias (see
// VaultAlias) is copied to its wisp.dev/* key, unless the pod sets that key
// itself; otherwise annotations is returned as is. Callers that read wisp's
// annotations outside Inject (the policy's Vault role check, for one) read
// them from here, so that an alias cannot bypass them. The input is never
// modified.
func EffectiveAnnotations(annotations map[string]string, cfg Config) map[string]string {
	if !cfg.VaultAgentAnnotations {
		return annotations
	}
	out, _, _ := resolveVaultAliases(annotations)
	return out
}

// Role returns the Vault role that an opted-in pod's annotations name, as
// Inject writes it into the fetch plan: wisp.dev/role, or with
// cfg.VaultAgentAnnotations its alias when wisp's key is not set. It reads
// no other annotation and copies nothing: the admission path checks the
// role of a pod it just injected with it.
func Role(annotations map[string]string, cfg Config) string {
	v, ok := annotations[AnnotationRole]
	if !ok && cfg.VaultAgentAnnotations {
		v = annotations[VaultAnnotationRole]
	}
	return strings.TrimSpace(v)
}

// resolveVaultAliases returns a copy of annotations in which each Vault
// alias is copied to its wisp key (a wisp key already set wins), the origin
// of every copied key (wisp key -> Vault key, never nil), and an error for
// each refused Vault annotation (vaultRefused).
func resolveVaultAliases(annotations map[string]string) (map[string]string, map[string]string, []error) {
	out := make(map[string]string, len(annotations))
	origin := map[string]string{}
	var errs []error
	for k, v := range annotations {
		out[k] = v
	}
	for key, value := range annotations {
		if !strings.HasPrefix(key, VaultPrefix) {
			continue
		}
		if reason, refused := vaultRefusal(key); refused {
			errs = append(errs, &AnnotationError{Key: key, Reason: reason})
			continue
		}
		wk, ok := VaultAlias(key)
		if !ok {
			continue // not an alias: ignored, like any foreign annotation
		}
		if _, set := annotations[wk]; set {
			continue // the wisp key wins
		}
		out[wk] = value
		origin[wk] = key
	}
	return out, origin, errs
}

func vaultRefusal(key string) (string, bool) {
	for _, r := range vaultRefused {
		if strings.HasPrefix(key, r.prefix) {
			return r.reason, true
		}
	}
	return "", false
}

// requested is Requested on resolved annotations: a wisp.dev/inject that
// came from vault.hashicorp.com/agent-inject accepts what the Vault Agent
// Injector accepts (strconv.ParseBool) and is reported under its own key.
func requested(annotations, origin map[string]string) (bool, error) {
	vk, aliased := origin[AnnotationInject]
	if !aliased {
		return Requested(annotations)
	}
	b, err := strconv.ParseBool(strings.TrimSpace(annotations[AnnotationInject]))
	if err != nil {
		return false, &AnnotationError{Key: vk, Reason: fmt.Sprintf("%q is not \"true\" or \"false\"", trunc(annotations[AnnotationInject]))}
	}
	return b, nil
}

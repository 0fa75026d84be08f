package mutate

import (
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration says what MigrateVaultAnnotations did with a pod's Vault Agent
// Injector annotations. Each entry names a vault.hashicorp.com/ key.
type Migration struct {
	// Rewritten: "<vault key> -> <wisp key>".
	Rewritten []string
	// Dropped: "<vault key>: <why>", annotations wisp has no use for (what
	// they ask for is what wisp does, or wisp does something else; the
	// reason says what).
	Dropped []string
	// Manual: "<vault key>: <why>", annotations left as they are because
	// no exact translation exists: a person must rewrite them.
	Manual []string
}

// MigrateVaultAnnotations rewrites a pod's Vault Agent Injector annotations
// into wisp's own, so that the pod needs no alias (Config.
// VaultAgentAnnotations) any more: each alias becomes its wisp key (a
// template translated, with its delimiters), the annotations wisp does not
// honour are dropped, and what has no exact translation is left as it is
// and listed in Manual. Injecting the result gives the pod that injecting
// annotations with the aliases on gives, when Manual is empty.
// defaultMountPath is the policy's injection.mountPath. annotations is not
// modified; nil in, nil out.
func MigrateVaultAnnotations(annotations map[string]string, defaultMountPath string) (map[string]string, Migration) {
	var m Migration
	if annotations == nil {
		return nil, m
	}
	out := maps.Clone(annotations)
	resolved, _, _ := resolveVaultAliases(annotations)
	mountPath := resolved[AnnotationMountPath]
	if mountPath == "" {
		mountPath = defaultMountPath
	}
	keys := slices.Sorted(maps.Keys(annotations))
	for _, key := range keys {
		if !strings.HasPrefix(key, VaultPrefix) {
			continue
		}
		value := annotations[key]
		manual := func(why string) { m.Manual = append(m.Manual, key+": "+why) }
		drop := func(why string) {
			delete(out, key)
			m.Dropped = append(m.Dropped, key+": "+why)
		}
		if reason, refused := vaultRefusal(key); refused {
			manual(reason)
			continue
		}
		if wk, ok := VaultAlias(key); ok {
			if _, set := annotations[wk]; set {
				drop(wk + " is set and wins")
				continue
			}
			v, why := migrateAlias(key, value, annotations, resolved)
			if why != "" {
				manual(why)
				continue
			}
			delete(out, key)
			out[wk] = v
			m.Rewritten = append(m.Rewritten, key+" -> "+wk)
			continue
		}
		a, known := LookupVaultAnnotation(key)
		switch {
		case !known:
			manual("not a Vault Agent Injector annotation wisp knows")
		case strings.HasPrefix(key, VaultAnnotationLeftDelimPrefix) || strings.HasPrefix(key, VaultAnnotationRightDelimPrefix):
			drop("the template is translated with it")
		case strings.HasPrefix(key, VaultAnnotationSecretVolumePath+"-"):
			if v := strings.TrimSpace(value); checkMountPath(v) != nil || path.Clean(v) != path.Clean(mountPath) {
				manual("wisp mounts all of a pod's secrets in one folder (" + mountPath + "); move this secret's file or read it there")
				continue
			}
			drop("the secret is in the pod's mount path already")
		case key == VaultAnnotationAgentInjectStatus:
			// Written by the Vault Agent Injector: kept, so that wisp still
			// refuses to inject a pod it injected.
		case a.Handling == VaultWarned && slices.Contains(a.HonouredIf, strings.ToLower(strings.TrimSpace(value))):
			drop("what wisp does")
		default:
			drop("not honoured by wisp: " + a.Note)
		}
	}
	return out, m
}

// migrateAlias returns the wisp value of alias key, or why it has no exact
// translation.
func migrateAlias(key, value string, annotations, resolved map[string]string) (string, string) {
	switch {
	case key == VaultAnnotationAgentInject:
		v := strings.TrimSpace(value)
		if v == "" {
			return "false", ""
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", "not \"true\" or \"false\""
		}
		return strconv.FormatBool(b), ""
	case strings.HasPrefix(key, VaultAnnotationTemplatePrefix):
		name := strings.TrimPrefix(key, VaultAnnotationTemplatePrefix)
		secretPath := resolved[AnnotationSecretPrefix+name]
		if secretPath == "" {
			return "", "no secret annotation names a secret " + strconv.Quote(name)
		}
		text, err := redelimit(value, annotations[VaultAnnotationLeftDelimPrefix+name], annotations[VaultAnnotationRightDelimPrefix+name])
		if err == nil {
			text, err = translateVaultTemplate(text, secretPath)
		}
		if err != nil {
			return "", err.Error()
		}
		return text, ""
	}
	return value, ""
}

package mutate

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"wisp.dev/wisp/plan"
)

// AnnotationError says what is wrong with one annotation. Its text never
// includes a template's or a path's content beyond what is needed to fix it.
type AnnotationError struct {
	Key    string
	Reason string
}

func (e *AnnotationError) Error() string {
	return fmt.Sprintf("annotation %s: %s", e.Key, e.Reason)
}

// Request is what a pod's annotations ask for.
type Request struct {
	// Role is the Vault role (wisp.dev/role).
	Role string
	// Secrets, sorted by name.
	Secrets []plan.Secret
	// Containers that get the secrets mount; nil means every app container.
	Containers []string
	// MountPath is where app containers see the secrets.
	MountPath string
	// Socket also mounts the Workload API socket into the app containers.
	Socket bool
	// Sidecar runs wisp-fetch as a renewing native sidecar.
	Sidecar bool
	// Env are the wisp.dev/env-<NAME> variables, sorted by name: the app
	// containers start through the exec shim with them set.
	Env []EnvRequest
}

// EnvRequest is one wisp.dev/env-<NAME>: "<secret>#<key>" annotation.
type EnvRequest struct {
	Name, Secret, Key string
}

// Requested reports whether annotations opt the pod in. A malformed
// wisp.dev/inject value is an error, not a silent "no".
func Requested(annotations map[string]string) (bool, error) {
	v, ok := annotations[AnnotationInject]
	if !ok {
		return false, nil
	}
	b, err := parseBool(v)
	if err != nil {
		return false, &AnnotationError{Key: AnnotationInject, Reason: err.Error()}
	}
	return b, nil
}

// ParseAnnotations reads the wisp.dev/* annotations of an opted-in pod. It
// reports every bad annotation at once, each as an *AnnotationError joined
// with errors.Join. defaultMountPath applies when wisp.dev/mount-path is
// unset; a mount path must lie under it or under DefaultMountRoots.
func ParseAnnotations(annotations map[string]string, defaultMountPath string) (*Request, error) {
	req, errs := parseAnnotations(annotations, mountRule{def: defaultMountPath, roots: DefaultMountRoots()}, nil, nil)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errors.Join(errs...)
	}
	return req, nil
}

// parseAnnotations returns what parsed and every problem found; the request
// is partial when there are problems, enough for Inject to check the pod too.
//
// origin is nil, or (with the Vault aliases on) maps each wisp key that
// resolveVaultAliases copied from a Vault Agent Injector annotation to that
// annotation: problems are reported under the key the pod actually carries,
// and a template that came from a Vault annotation is translated from
// Consul Template first. cache remembers which templates parse (nil: none).
func parseAnnotations(annotations map[string]string, mount mountRule, origin map[string]string, cache *Cache) (*Request, []error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		if o, ok := origin[key]; ok {
			key = o
		}
		errs = append(errs, &AnnotationError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	// secretKey is the annotation that names secret name, as the pod spells it.
	secretKey := func(name string) string {
		if o, ok := origin[AnnotationSecretPrefix+name]; ok {
			return o
		}
		return AnnotationSecretPrefix + name
	}
	// orAlias names a key's Vault alias in a "missing" message when the
	// aliases are on.
	orAlias := func(vaultKey string) string {
		if origin == nil {
			return ""
		}
		return " (or " + vaultKey + ")"
	}
	req := &Request{MountPath: mount.def}
	secrets := map[string]*plan.Secret{}
	secret := func(name string) *plan.Secret {
		s, ok := secrets[name]
		if !ok {
			s = &plan.Secret{Name: name}
			secrets[name] = s
		}
		return s
	}
	// Keys of templates and formats, and of env variables, checked once
	// every secret is known.
	var extras, envs []string

	for key, value := range annotations {
		if !strings.HasPrefix(key, Prefix) {
			continue
		}
		switch {
		case key == AnnotationInject, key == AnnotationStatus, key == AnnotationExempt:
			// Read by Requested, by Inject and by the policy.
		case key == AnnotationRole:
			role := strings.TrimSpace(value)
			switch {
			case role == "":
				bad(key, "is empty; name the Vault role to log in with")
			case strings.ContainsAny(role, "/ \t\n") || len(role) > 128 || !utf8.ValidString(role):
				bad(key, "%q is not a Vault role name", trunc(role))
			default:
				req.Role = role
			}
		case key == AnnotationContainers:
			for _, name := range strings.Split(value, ",") {
				name = strings.TrimSpace(name)
				if name == "" {
					bad(key, "has an empty container name; want a comma list such as \"app,worker\"")
					continue
				}
				req.Containers = append(req.Containers, name)
			}
		case key == AnnotationMountPath:
			if err := checkMountPath(value); err != nil {
				bad(key, "%s", err)
			} else if err := mount.check(value); err != nil {
				bad(key, "%s", err)
			} else {
				req.MountPath = value
			}
		case key == AnnotationSocket:
			b, err := parseBool(value)
			if err != nil {
				bad(key, "%s", err)
			}
			req.Socket = b
		case key == AnnotationSidecar:
			b, err := parseBool(value)
			if err != nil {
				bad(key, "%s", err)
			}
			req.Sidecar = b
		case strings.HasPrefix(key, AnnotationSecretPrefix):
			name := strings.TrimPrefix(key, AnnotationSecretPrefix)
			if !plan.IsFileName(name) {
				bad(key, "secret name %q is not a DNS label (lower-case letters, digits and '-', at most 63)", trunc(name))
				continue
			}
			// Register the name even when the path is bad, so that its
			// template- and format- annotations are still checked and not
			// reported as naming an unknown secret.
			s := secret(name)
			if err := plan.ValidatePath(value); err != nil {
				bad(key, "%s", err)
				continue
			}
			s.Path = value
		case strings.HasPrefix(key, AnnotationTemplatePrefix), strings.HasPrefix(key, AnnotationFormatPrefix):
			extras = append(extras, key)
		case strings.HasPrefix(key, AnnotationEnvPrefix):
			envs = append(envs, key)
		default:
			if reason, ok := reservedAnnotations[key]; ok {
				bad(key, "%s", reason)
			} else {
				bad(key, "is not a wisp annotation; see the README for the list")
			}
		}
	}

	for _, key := range extras {
		value := annotations[key]
		isTemplate := strings.HasPrefix(key, AnnotationTemplatePrefix)
		prefix := AnnotationFormatPrefix
		if isTemplate {
			prefix = AnnotationTemplatePrefix
		}
		name := strings.TrimPrefix(key, prefix)
		s, ok := secrets[name]
		if !ok {
			if _, named := annotations[AnnotationSecretPrefix+name]; named {
				continue // the secret's own annotation is already reported
			}
			sk := secretKey(name)
			if _, fromVault := origin[key]; fromVault {
				sk = VaultAnnotationSecretPrefix + name
			}
			bad(key, "no %s annotation names a secret %q", trunc(sk), trunc(name))
			continue
		}
		if isTemplate {
			if strings.TrimSpace(value) == "" {
				bad(key, "is empty; remove it to get the default JSON rendering")
				continue
			}
			if len(value) > MaxTemplateBytes {
				// Parsing is the admission path's most expensive step: a
				// huge template would stall every request behind it.
				bad(key, "is %d bytes; a template may have at most %d", len(value), MaxTemplateBytes)
				continue
			}
			if _, fromVault := origin[key]; fromVault {
				if s.Path == "" {
					continue // the secret's own annotation is already reported
				}
				wisp, err := translateVaultTemplate(value, s.Path)
				if err != nil {
					bad(key, "%s", err)
					continue
				}
				value = wisp
			}
			if err := cache.check(name, value); err != nil {
				bad(key, "%s", err)
				continue
			}
			s.Template = value
			continue
		}
		f := plan.Format(value)
		if err := f.Validate(); err != nil {
			bad(key, "%s", err)
			continue
		}
		s.Format = f
	}

	if _, ok := annotations[AnnotationRole]; !ok {
		bad(AnnotationRole, "is missing%s; an injected pod must name the Vault role to log in with", orAlias(VaultAnnotationRole))
	}
	if len(secrets) == 0 {
		bad(AnnotationSecretPrefix+"<name>", "no secret is requested%s; add at least one, e.g. %sdb: database/creds/app",
			orAlias(VaultAnnotationSecretPrefix+"<name>"), AnnotationSecretPrefix)
	}
	for name, s := range secrets {
		if s.Template != "" && s.Format != "" {
			tk := AnnotationTemplatePrefix + name
			if o, ok := origin[tk]; ok {
				tk = o
			}
			bad(AnnotationFormatPrefix+name, "set either %s or %s%s, not both", tk, AnnotationFormatPrefix, name)
		}
		if s.Path == "" {
			continue // already reported
		}
		req.Secrets = append(req.Secrets, *s)
	}
	sort.Slice(req.Secrets, func(i, j int) bool { return req.Secrets[i].Name < req.Secrets[j].Name })
	for _, key := range envs {
		if e, ok := parseEnvAnnotation(key, annotations[key], secrets, bad); ok {
			req.Env = append(req.Env, e)
		}
	}
	sort.Slice(req.Env, func(i, j int) bool { return req.Env[i].Name < req.Env[j].Name })
	return req, errs
}

// parseEnvAnnotation reads wisp.dev/env-<NAME>: "<secret>#<key>": NAME a C
// identifier, secret one the pod requests, key one its file can provide (a
// template's output has no keys; raw:<k> provides k only).
func parseEnvAnnotation(key, value string, secrets map[string]*plan.Secret, bad func(string, string, ...any)) (EnvRequest, bool) {
	name := strings.TrimPrefix(key, AnnotationEnvPrefix)
	if !plan.ValidEnvName(name) {
		bad(key, "%q is not an environment variable name (letters, digits and _, not starting with a digit)", trunc(name))
		return EnvRequest{}, false
	}
	sec, k, ok := strings.Cut(strings.TrimSpace(value), "#")
	if !ok || sec == "" || k == "" {
		bad(key, "want \"<secret name>#<key>\", e.g. \"db#password\" for the key password of %sdb", AnnotationSecretPrefix)
		return EnvRequest{}, false
	}
	s, found := secrets[sec]
	switch {
	case !found:
		bad(key, "no %s%s annotation names a secret %q", AnnotationSecretPrefix, trunc(sec), trunc(sec))
		return EnvRequest{}, false
	case s.Template != "":
		bad(key, "secret %q is rendered by a template, whose output has no keys; read it as a file, or drop the template (format json or env)", sec)
		return EnvRequest{}, false
	}
	if raw, isRaw := s.Format.RawKey(); isRaw && raw != k {
		bad(key, "secret %q has format raw:%s, which provides the key %s only", sec, raw, raw)
		return EnvRequest{}, false
	}
	if _, err := plan.EnvKey(k); err != nil || strings.ContainsAny(k, "\n\x00") || len(k) > 253 {
		bad(key, "%q is not a key", trunc(k))
		return EnvRequest{}, false
	}
	return EnvRequest{Name: name, Secret: sec, Key: k}, true
}

// parseBool accepts exactly "true" and "false", the values Kubernetes users
// write; anything else is an error rather than a guess.
func parseBool(v string) (bool, error) {
	switch strings.TrimSpace(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not \"true\" or \"false\"", trunc(v))
}

// trunc shortens user input echoed in a message.
func trunc(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// sortErrors orders annotation errors by key so messages are deterministic.
func sortErrors(errs []error) {
	key := func(e error) string {
		var ae *AnnotationError
		if errors.As(e, &ae) {
			return ae.Key + "\x00" + ae.Reason
		}
		return e.Error()
	}
	sort.SliceStable(errs, func(i, j int) bool { return key(errs[i]) < key(errs[j]) })
}

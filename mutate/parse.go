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
	p := &annotationParser{
		annotations: annotations, mount: mount, origin: origin, cache: cache,
		req:     &Request{MountPath: mount.def},
		secrets: map[string]*plan.Secret{},
	}
	for key, value := range annotations {
		if strings.HasPrefix(key, Prefix) {
			p.annotation(key, value)
		}
	}
	for _, key := range p.extras {
		p.templateOrFormat(key, annotations[key])
	}
	p.finish()
	return p.req, p.errs
}

// annotationParser holds what parseAnnotations has read so far: one
// annotation family a method (settings, secrets, templates and formats,
// env), then finish checks what must be there.
type annotationParser struct {
	annotations map[string]string
	mount       mountRule
	origin      map[string]string
	cache       *Cache

	req     *Request
	secrets map[string]*plan.Secret
	// Keys of templates and formats, and of env variables, read once
	// every secret is known.
	extras, envs []string
	errs         []error
}

// bad reports a problem of key, under the key the pod carries.
func (p *annotationParser) bad(key, format string, args ...any) {
	if o, ok := p.origin[key]; ok {
		key = o
	}
	p.errs = append(p.errs, &AnnotationError{Key: key, Reason: fmt.Sprintf(format, args...)})
}

// secretKey is the annotation that names secret name, as the pod spells it.
func (p *annotationParser) secretKey(name string) string {
	if o, ok := p.origin[AnnotationSecretPrefix+name]; ok {
		return o
	}
	return AnnotationSecretPrefix + name
}

// orAlias names a key's Vault alias in a "missing" message when the
// aliases are on.
func (p *annotationParser) orAlias(vaultKey string) string {
	if p.origin == nil {
		return ""
	}
	return " (or " + vaultKey + ")"
}

// secret is the secret called name, registered on first use.
func (p *annotationParser) secret(name string) *plan.Secret {
	s, ok := p.secrets[name]
	if !ok {
		s = &plan.Secret{Name: name}
		p.secrets[name] = s
	}
	return s
}

// annotation reads one wisp.dev/ annotation, or sets it aside for later
// (templates, formats, env).
func (p *annotationParser) annotation(key, value string) {
	switch {
	case key == AnnotationInject, key == AnnotationStatus, key == AnnotationExempt:
		// Read by Requested, by Inject and by the policy.
	case key == AnnotationRole, key == AnnotationContainers, key == AnnotationMountPath,
		key == AnnotationSocket, key == AnnotationSidecar:
		p.setting(key, value)
	case strings.HasPrefix(key, AnnotationSecretPrefix):
		p.secretPath(key, value)
	case strings.HasPrefix(key, AnnotationTemplatePrefix), strings.HasPrefix(key, AnnotationFormatPrefix):
		p.extras = append(p.extras, key)
	case strings.HasPrefix(key, AnnotationEnvPrefix):
		p.envs = append(p.envs, key)
	default:
		if reason, ok := reservedAnnotations[key]; ok {
			p.bad(key, "%s", reason)
		} else {
			p.bad(key, "is not a wisp annotation; see the README for the list")
		}
	}
}

// setting reads the pod-wide annotations: role, containers, mount path,
// socket and sidecar.
func (p *annotationParser) setting(key, value string) {
	switch key {
	case AnnotationRole:
		role := strings.TrimSpace(value)
		switch {
		case role == "":
			p.bad(key, "is empty; name the Vault role to log in with")
		case strings.ContainsAny(role, "/ \t\n") || len(role) > 128 || !utf8.ValidString(role):
			p.bad(key, "%q is not a Vault role name", trunc(role))
		default:
			p.req.Role = role
		}
	case AnnotationContainers:
		for _, name := range strings.Split(value, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				p.bad(key, "has an empty container name; want a comma list such as \"app,worker\"")
				continue
			}
			p.req.Containers = append(p.req.Containers, name)
		}
	case AnnotationMountPath:
		if err := checkMountPath(value); err != nil {
			p.bad(key, "%s", err)
		} else if err := p.mount.check(value); err != nil {
			p.bad(key, "%s", err)
		} else {
			p.req.MountPath = value
		}
	case AnnotationSocket, AnnotationSidecar:
		b, err := parseBool(value)
		if err != nil {
			p.bad(key, "%s", err)
		}
		if key == AnnotationSocket {
			p.req.Socket = b
		} else {
			p.req.Sidecar = b
		}
	}
}

// secretPath reads wisp.dev/secret-<name>: <vault path>.
func (p *annotationParser) secretPath(key, value string) {
	name := strings.TrimPrefix(key, AnnotationSecretPrefix)
	if !plan.IsFileName(name) {
		p.bad(key, "secret name %q is not a DNS label (lower-case letters, digits and '-', at most 63)", trunc(name))
		return
	}
	// Register the name even when the path is bad, so that its template-
	// and format- annotations are still checked and not reported as naming
	// an unknown secret.
	s := p.secret(name)
	if err := plan.ValidatePath(value); err != nil {
		p.bad(key, "%s", err)
		return
	}
	s.Path = value
}

// templateOrFormat reads wisp.dev/template-<name> or format-<name>, once
// every secret is known.
func (p *annotationParser) templateOrFormat(key, value string) {
	isTemplate := strings.HasPrefix(key, AnnotationTemplatePrefix)
	prefix := AnnotationFormatPrefix
	if isTemplate {
		prefix = AnnotationTemplatePrefix
	}
	name := strings.TrimPrefix(key, prefix)
	s, ok := p.secrets[name]
	if !ok {
		if _, named := p.annotations[AnnotationSecretPrefix+name]; named {
			return // the secret's own annotation is already reported
		}
		sk := p.secretKey(name)
		if _, fromVault := p.origin[key]; fromVault {
			sk = VaultAnnotationSecretPrefix + name
		}
		p.bad(key, "no %s annotation names a secret %q", trunc(sk), trunc(name))
		return
	}
	if isTemplate {
		p.template(key, name, value, s)
		return
	}
	f := plan.Format(value)
	if err := f.Validate(); err != nil {
		p.bad(key, "%s", err)
		return
	}
	s.Format = f
}

// template reads secret s's template, translating a Vault Agent Injector
// template first.
func (p *annotationParser) template(key, name, value string, s *plan.Secret) {
	if strings.TrimSpace(value) == "" {
		p.bad(key, "is empty; remove it to get the default JSON rendering")
		return
	}
	if len(value) > MaxTemplateBytes {
		// Parsing is the admission path's most expensive step: a huge
		// template would stall every request behind it.
		p.bad(key, "is %d bytes; a template may have at most %d", len(value), MaxTemplateBytes)
		return
	}
	if _, fromVault := p.origin[key]; fromVault {
		if s.Path == "" {
			return // the secret's own annotation is already reported
		}
		wisp, err := translateVaultTemplate(value, s.Path)
		if err != nil {
			p.bad(key, "%s", err)
			return
		}
		value = wisp
	}
	if err := p.cache.check(name, value); err != nil {
		p.bad(key, "%s", err)
		return
	}
	s.Template = value
}

// finish checks what an injected pod must carry and collects the secrets
// and env variables, sorted.
func (p *annotationParser) finish() {
	if _, ok := p.annotations[AnnotationRole]; !ok {
		p.bad(AnnotationRole, "is missing%s; an injected pod must name the Vault role to log in with", p.orAlias(VaultAnnotationRole))
	}
	if len(p.secrets) == 0 {
		p.bad(AnnotationSecretPrefix+"<name>", "no secret is requested%s; add at least one, e.g. %sdb: database/creds/app",
			p.orAlias(VaultAnnotationSecretPrefix+"<name>"), AnnotationSecretPrefix)
	}
	for name, s := range p.secrets {
		if s.Template != "" && s.Format != "" {
			tk := AnnotationTemplatePrefix + name
			if o, ok := p.origin[tk]; ok {
				tk = o
			}
			p.bad(AnnotationFormatPrefix+name, "set either %s or %s%s, not both", tk, AnnotationFormatPrefix, name)
		}
		if s.Path == "" {
			continue // already reported
		}
		p.req.Secrets = append(p.req.Secrets, *s)
	}
	sort.Slice(p.req.Secrets, func(i, j int) bool { return p.req.Secrets[i].Name < p.req.Secrets[j].Name })
	for _, key := range p.envs {
		if e, ok := parseEnvAnnotation(key, p.annotations[key], p.secrets, p.bad); ok {
			p.req.Env = append(p.req.Env, e)
		}
	}
	sort.Slice(p.req.Env, func(i, j int) bool { return p.req.Env[i].Name < p.req.Env[j].Name })
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

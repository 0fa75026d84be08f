package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// secretAllowance is a compiled allow.secrets entry.
type secretAllowance struct {
	names      []glob
	namespaces []glob // empty: every namespace
}

// compileAllowSecrets checks allow.secrets. Entries are named by index.
func compileAllowSecrets(in []SecretAllowance, bad func(string, ...any)) []secretAllowance {
	var out []secretAllowance
	for i, a := range in {
		path := fmt.Sprintf("allow.secrets[%d]", i)
		sa := secretAllowance{namespaces: namespaceGlobs(path+".namespaces", a.Namespaces, bad)}
		if len(a.Names) == 0 {
			bad("%s.names: empty: list the Secret names (globs) to allow", path)
		}
		for j, n := range a.Names {
			if !isSecretGlob(n) {
				// Not echoed, like every allow entry: someone may paste a
				// value there by mistake.
				bad("%s.names[%d]: not a Secret name or glob (lower case letters, digits, -, ., * and ?)", path, j)
				continue
			}
			sa.names = append(sa.names, glob{pattern: n})
		}
		out = append(out, sa)
	}
	return out
}

// isSecretGlob reports whether p is a Secret name (a DNS subdomain) or a
// glob of them.
func isSecretGlob(p string) bool {
	if p == "" || len(p) > 253 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '*' || c == '?') {
			return false
		}
	}
	return true
}

// secretAllowed reports whether allow.secrets allows Secret name in
// namespace ns.
func (e *Evaluator) secretAllowed(ns, name string) bool {
	if name == "" {
		return false
	}
	for _, a := range e.allowSecrets {
		if (len(a.namespaces) == 0 || anyGlob(a.namespaces, ns)) && anyGlob(a.names, name) {
			return true
		}
	}
	return false
}

// Allowed is one reference to a Secret that allow.secrets allowed. Like a
// Violation, it never carries a value.
type Allowed struct {
	// Container is the container's name; empty for a volume.
	Container string
	// Env is the env var's name, "envFrom:<secret>" for envFrom, or
	// "volume:<volume>" for a volume.
	Env string
	// Field is the entry's path in the object.
	Field string
	// Secret is the Secret's name.
	Secret string
}

// Message renders a as one line:
//
//	Deployment team-a/web: container "app": env TLS_KEY: Secret "safe-tls" allowed by the policy (allow.secrets)
func (a Allowed) Message(o Object) string {
	kind, name := o.kindAndName()
	where := containerKind(a.Field) + " " + strconv.Quote(a.Container) + ": env " + a.Env
	if secret, ok := strings.CutPrefix(a.Env, envFromPrefix); ok {
		where = containerKind(a.Field) + " " + strconv.Quote(a.Container) + ": envFrom Secret " + strconv.Quote(secret)
	} else if vol, ok := strings.CutPrefix(a.Env, volumePrefix); ok {
		where = "volume " + strconv.Quote(vol)
	}
	return fmt.Sprintf("%s %s/%s: %s: Secret %q allowed by the policy (allow.secrets)", kind, o.Namespace, name, where, a.Secret)
}

// allow records an allowed reference.
func (s *scanner) allow(container, env, field, secret string) {
	s.allowed = append(s.allowed, Allowed{Container: container, Env: env, Field: field, Secret: secret})
}

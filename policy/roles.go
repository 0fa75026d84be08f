package policy

import (
	"fmt"
	"strings"
)

// Role bindings.
//
// A role pattern may hold {namespace}, the pod's namespace. Namespace names
// are DNS labels ([a-z0-9-], at most 63 bytes), so "-" cannot tell where a
// namespace ends: through "{namespace}-*", the role team-a-b-db reads as
// namespace team-a's (b-db) and as namespace team-a-b's (db). wisp cannot
// ask the cluster which namespaces exist (no API call per request), so it
// reads a role as every namespace that could claim it: a namespace may name
// a role through a {namespace} pattern only if no other namespace at least
// as long as its own could claim that role through any binding's
// {namespace} pattern. The longer name wins; two as long cancel out.
//
// A pattern whose {namespace} is delimited (see delimited) gives each role
// to one namespace at most, and the policy recommends them:
// "{namespace}.*", "{namespace}_*", "*.{namespace}", "{namespace}-db".
// Compile warns about the others.

// namespacePlaceholder stands for the pod's namespace in a role pattern.
const namespacePlaceholder = "{namespace}"

// maxNamespaceLen is a namespace name's longest (a DNS label).
const maxNamespaceLen = 63

// maxClaimedRoleLen bounds the roles a {namespace} pattern can grant: the
// search for other claimants costs up to maxNamespaceLen glob matches per
// byte of the role. wisp.dev/role allows 128 bytes.
const maxClaimedRoleLen = 256

// roleBinding is one compiled entry of Spec.Roles.
type roleBinding struct {
	namespaces []glob
	roles      []string // globs, may contain {namespace}
}

// roleClaim is a role pattern with {namespace}, split at its first
// occurrence, with the namespaces of its binding: who could claim a role
// through it.
type roleClaim struct {
	namespaces    []glob
	pattern       string
	before, after string // after may hold {namespace} again (multi)
	multi         bool
}

func newRoleClaim(namespaces []glob, pattern string) roleClaim {
	before, after, _ := strings.Cut(pattern, namespacePlaceholder)
	return roleClaim{namespaces: namespaces, pattern: pattern, before: before, after: after,
		multi: strings.Contains(after, namespacePlaceholder)}
}

// AllowedRole returns nil if pods in namespace may name the Vault role, and
// otherwise an error (wrapping ErrRoleNotAllowed) that says which roles the
// namespace may name. With no role bindings in the policy, every role is
// allowed. A pattern with {namespace} grants a role only if no other
// namespace at least as long could claim it (see the comment at the top of
// this file).
func (e *Evaluator) AllowedRole(namespace, role string) error {
	if len(e.roles) == 0 {
		return nil
	}
	var allowed, via []string
	for _, b := range e.roles {
		if !anyGlob(b.namespaces, namespace) {
			continue
		}
		for _, r := range b.roles {
			pattern := r
			if strings.Contains(r, namespacePlaceholder) {
				pattern = strings.ReplaceAll(r, namespacePlaceholder, namespace)
			}
			allowed = append(allowed, pattern)
			if role == "" || !globMatch(pattern, role, false) {
				continue
			}
			if pattern == r {
				return nil // no {namespace}: granted as written
			}
			via = append(via, pattern)
		}
	}
	if len(allowed) == 0 {
		return fmt.Errorf("%w: namespace %q may not name any Vault role (no entry of the policy's roles matches it)", ErrRoleNotAllowed, namespace)
	}
	if len(via) == 0 {
		return fmt.Errorf("%w: role %q in namespace %q: the namespace may name only %s", ErrRoleNotAllowed, role, namespace, strings.Join(allowed, ", "))
	}
	if len(role) > maxClaimedRoleLen {
		return fmt.Errorf("%w: role of %d bytes in namespace %q: a pattern with {namespace} grants roles of up to %d bytes", ErrRoleNotAllowed, len(role), namespace, maxClaimedRoleLen)
	}
	other, pattern, ok := e.otherClaimant(namespace, role)
	if !ok {
		return nil
	}
	return fmt.Errorf("%w: role %q in namespace %q: it matches %s, but it also reads as a role of namespace %q (%s); a role that several namespaces could claim through {namespace} goes to the longest of them (to none if two are as long)",
		ErrRoleNotAllowed, role, namespace, strings.Join(via, ", "), other, pattern)
}

// otherClaimant returns a namespace other than namespace, at least as long,
// that could claim role through a {namespace} pattern of the policy, and
// that pattern.
func (e *Evaluator) otherClaimant(namespace, role string) (other, pattern string, ok bool) {
	for i := range e.claims {
		if other, ok := e.claims[i].claimant(namespace, role); ok {
			return other, e.claims[i].pattern, true
		}
	}
	return "", "", false
}

// claimant returns a namespace name N other than namespace, at least as
// long and matched by c's binding, for which c's pattern (N in place of
// {namespace}) matches role. N is a substring of role: the search tries
// each start where c.before matches what precedes it and each length up
// to maxNamespaceLen.
func (c *roleClaim) claimant(namespace, role string) (string, bool) {
	for i := 0; i+len(namespace) <= len(role); i++ {
		if !isNamespaceStart(role[i]) || !globMatch(c.before, role[:i], false) {
			continue
		}
		for j := i + 1; j <= len(role) && j-i <= maxNamespaceLen; j++ {
			if !isNamespaceByte(role[j-1]) {
				break
			}
			n := role[i:j]
			if len(n) < len(namespace) || n == namespace || role[j-1] == '-' || !anyGlob(c.namespaces, n) {
				continue
			}
			after := c.after
			if c.multi {
				after = strings.ReplaceAll(after, namespacePlaceholder, n)
			}
			if globMatch(after, role[j:], false) {
				return n, true
			}
		}
	}
	return "", false
}

// isNamespaceByte reports whether c may appear in a namespace name.
func isNamespaceByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
}

// isNamespaceStart reports whether a namespace name may start with c.
func isNamespaceStart(c byte) bool { return c != '-' && isNamespaceByte(c) }

// delimited reports whether pattern gives each role to one namespace at
// most: some {namespace} in it has only literal text before it and, after
// it, the end or a byte no namespace name has (the namespace starts at a
// fixed offset and ends at that byte), or the mirror image: only literal
// text after it and, before it, the start or such a byte.
// "{namespace}", "{namespace}.*", "*_{namespace}", "{namespace}-db" and
// "db-{namespace}" are; "{namespace}-*", "{namespace}*" and
// "*-{namespace}" are not.
func delimited(pattern string) bool {
	for at := 0; ; {
		k := strings.Index(pattern[at:], namespacePlaceholder)
		if k < 0 {
			return false
		}
		start, end := at+k, at+k+len(namespacePlaceholder)
		before, after := pattern[:start], pattern[end:]
		if literalRole(before) && (after == "" || delimiter(after[0])) {
			return true
		}
		if literalRole(after) && (before == "" || delimiter(before[len(before)-1])) {
			return true
		}
		at = end
	}
}

// literalRole reports whether s (a part of a role pattern) matches only
// itself: no wildcard, no {namespace}.
func literalRole(s string) bool { return !strings.ContainsAny(s, "*?{") }

// delimiter reports whether the byte c of a role pattern ends a namespace
// name: no namespace has it, and it is not a wildcard nor a brace of
// {namespace}.
func delimiter(c byte) bool {
	return !isNamespaceByte(c) && !strings.ContainsRune("*?{}", rune(c))
}

// roleWarning is Compile's warning for the role pattern r at path, or "".
func roleWarning(path, r string) string {
	if !strings.Contains(r, namespacePlaceholder) || delimited(r) {
		return ""
	}
	return fmt.Sprintf("%s: %q: a role it matches can also read as a longer namespace's (through \"{namespace}-*\", team-a-b-db is team-a's and team-a-b's), "+
		"and such a role goes to the longest namespace that could claim it, so a shorter one may be refused its own; "+
		"put a byte no namespace name has next to {namespace}, as in \"{namespace}.*\" or \"{namespace}_*\", or a fixed suffix, as in \"{namespace}-db\"", path, r)
}

package mutate

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// DefaultMountRoots are the folders a pod's wisp.dev/mount-path may name
// (or a folder below one) when the platform policy sets no mountRoots: the
// usual homes of mounted secrets, which images leave empty. A "*" segment
// is one folder name of letters, digits, "-" and "_" (never ".ssh",
// "profile.d" nor ".."). The config's own mountPath is always allowed too.
func DefaultMountRoots() []string {
	return []string{"/vault", "/secrets", "/etc/secrets", "/etc/*/secrets", "/var/secrets", "/mnt", "/app/secrets", "/opt/*/secrets"}
}

// mountRule decides a request's mount path: the platform's default, and
// the roots a pod's wisp.dev/mount-path must lie under (the default among
// them).
type mountRule struct {
	def   string
	roots []string
}

// mountRuleOf is cfg's rule; cfg has its defaults.
func mountRuleOf(cfg Config) mountRule { return mountRule{def: cfg.MountPath, roots: cfg.MountRoots} }

// check refuses a pod's mount path p that lies under no root. p is clean
// and absolute (checkMountPath).
func (r mountRule) check(p string) error {
	if p == r.def || isBelow(p, r.def) {
		return nil
	}
	for _, root := range r.roots {
		if underRoot(p, root) {
			return nil
		}
	}
	allowed := r.roots
	if !slices.ContainsFunc(r.roots, func(root string) bool { return underRoot(r.def, root) }) {
		allowed = append([]string{r.def}, r.roots...)
	}
	return fmt.Errorf("%q is not in a folder the platform allows for secrets: %s (the policy's injection.mountRoots; * stands for one folder name of letters, digits, - and _)",
		p, strings.Join(allowed, ", "))
}

// underRoot reports whether the clean absolute path p is root or below it;
// a "*" segment of root matches one folder name of letters, digits, "-"
// and "_".
func underRoot(p, root string) bool {
	ps, rs := strings.Split(p[1:], "/"), strings.Split(root[1:], "/")
	if len(ps) < len(rs) {
		return false
	}
	for i, r := range rs {
		if r == "*" && !isFolderName(ps[i]) || r != "*" && r != ps[i] {
			return false
		}
	}
	return true
}

// isFolderName reports whether s is a non-empty run of letters, digits,
// "-" and "_".
func isFolderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkMountRoot refuses a root that is not a clean absolute path whose
// first segment is a name, that covers a system path (with each "*" read as
// a folder name, it must pass checkMountPath), or that ends with a "*"
// right below a system folder: /etc/* would allow /etc/ssh, /etc/default
// and every other folder of the image there.
func checkMountRoot(root string) error {
	if !strings.HasPrefix(root, "/") || strings.HasPrefix(root, "/*") {
		return errors.New("want a clean absolute path that starts with a folder name, such as /secrets or /etc/*/secrets")
	}
	segs := strings.Split(root[1:], "/")
	for i, s := range segs {
		if strings.Contains(s, "*") {
			if s != "*" {
				return errors.New("* must be a whole folder name, as in /etc/*/secrets")
			}
			segs[i] = "x"
		}
	}
	if err := checkMountPath("/" + strings.Join(segs, "/")); err != nil {
		return err
	}
	if parent, last := path.Split(root); last == "*" && slices.Contains(systemDirs, path.Clean(parent)) {
		return fmt.Errorf("ends with * right below the system folder %s: every folder of the image there would be allowed; name one, as in %s/app/secrets", path.Clean(parent), path.Clean(parent))
	}
	return nil
}

// Package expansion expands $(VAR) references in a string exactly as the
// kubelet expands a container's env values, command and args: what admission
// judges must be what the container will see.
//
// The rules (the kubelet's): "$(NAME)" becomes NAME's value when the
// mapping knows NAME, and stays "$(NAME)" otherwise; "$$" becomes "$" (so
// "$$(NAME)" gives the text "$(NAME)"); a "$" followed by anything else, or
// a "$(" never closed, stays as written. The name is everything up to the
// first ")", whatever it holds. A value is expanded once: a value that holds
// "$(X)" itself is not expanded again. In a container's env, a value may
// refer only to the variables defined before it in the list (and to those
// of envFrom and the service links, unknown at admission).
//
// The package is pure and has no dependencies beyond the standard library.
package expansion

import (
	"strings"
	"unicode/utf8"
)

// Expand returns s with its $(NAME) references replaced by lookup(NAME)
// where lookup knows NAME (ok true), and left as written where it does not.
func Expand(s string, lookup func(name string) (value string, ok bool)) string {
	i := strings.IndexByte(s, '$')
	if i < 0 {
		return s // nothing to do, and nothing to allocate
	}
	var b strings.Builder
	b.Grow(len(s))
	done := 0 // s[:done] has been written
	for ; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			continue
		}
		b.WriteString(s[done:i])
		text, name, n := reference(s[i+1:])
		if name {
			if v, ok := lookup(text); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + text + ")")
			}
		} else {
			b.WriteString(text)
		}
		i += n
		done = i + 1
	}
	b.WriteString(s[done:])
	return b.String()
}

// reference reads what follows a "$" (rest, not empty): the text to write
// (or the name, when name is true) and how many bytes of rest it used.
func reference(rest string) (text string, name bool, n int) {
	r, size := utf8.DecodeRuneInString(rest)
	switch r {
	case '$':
		return "$", false, size // an escaped "$"
	case '(':
		if j := strings.IndexByte(rest[1:], ')'); j >= 0 {
			return rest[1 : 1+j], true, j + 2
		}
		return "$(", false, 1 // never closed: written as is
	}
	// Any other character: the "$" and that character, as written (an
	// invalid UTF-8 byte becomes U+FFFD, as in the kubelet).
	return "$" + string(r), false, size
}

// Map returns a lookup over vars, for Expand.
func Map(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

package expansion

import (
	"strings"
	"unicode/utf8"
)

// MaxValue is the longest value worth expanding: Linux refuses to start a
// program with an environment string (NAME=value) or an argument longer
// than 128 KiB (MAX_ARG_STRLEN), so a container whose env expands past it
// never runs.
const MaxValue = 128 << 10

// Expand returns s with its $(NAME) references replaced by lookup(NAME)
// where lookup knows NAME (ok true), and left as written where it does not.
func Expand(s string, lookup func(name string) (value string, ok bool)) string {
	out, _ := ExpandMax(s, lookup, -1)
	return out
}

// ExpandMax is Expand that gives up (ok false) as soon as the result would
// be longer than limit bytes (a negative limit: no limit). Values that refer
// to each other can double at each step; a limit keeps the work linear.
func ExpandMax(s string, lookup func(name string) (value string, ok bool), limit int) (out string, ok bool) {
	i := strings.IndexByte(s, '$')
	if i < 0 {
		// Nothing to do, and nothing to allocate.
		return s, limit < 0 || len(s) <= limit
	}
	var b strings.Builder
	b.Grow(len(s))
	write := func(t string) bool {
		if limit >= 0 && b.Len()+len(t) > limit {
			return false
		}
		b.WriteString(t)
		return true
	}
	done := 0 // s[:done] has been written
	for ; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			continue
		}
		if !write(s[done:i]) {
			return "", false
		}
		text, name, n := reference(s[i+1:])
		if name {
			if v, known := lookup(text); known {
				text = v
			} else {
				text = "$(" + text + ")"
			}
		}
		if !write(text) {
			return "", false
		}
		i += n
		done = i + 1
	}
	if !write(s[done:]) {
		return "", false
	}
	return b.String(), true
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

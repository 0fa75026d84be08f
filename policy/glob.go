package policy

// A glob is a pattern where "*" matches any run of characters (also none)
// and "?" exactly one byte; every other byte matches itself. There is no
// escape and no character class: namespace names, env var names and Vault
// role names need none.
type glob struct {
	pattern string
	fold    bool // ASCII case-insensitive
}

func (g glob) match(s string) bool { return globMatch(g.pattern, s, g.fold) }

// globMatch matches s against pattern in linear time (the classic
// single-backtrack wildcard algorithm), without allocating.
func globMatch(pattern, s string, fold bool) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || sameByte(pattern[p], s[i], fold)):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func sameByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	return fold && lowerByte(a) == lowerByte(b)
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func anyGlob(gs []glob, s string) bool {
	for _, g := range gs {
		if g.match(s) {
			return true
		}
	}
	return false
}

// isNamespaceGlob reports whether p could match a namespace name: a DNS
// label's characters plus the wildcards, at most 63 bytes.
func isNamespaceGlob(p string) bool {
	if p == "" || len(p) > 63 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '*' || c == '?') {
			return false
		}
	}
	return true
}

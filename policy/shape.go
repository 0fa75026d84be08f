package policy

import (
	"encoding/base64"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// literal holds one literal env value and the facts the value rules share,
// computed once. Rules derive only booleans from it: no string they return
// is built from a value.
type literal struct {
	v string // the value, trimmed of surrounding space

	lower, upper, digit int // ASCII letters and digits
	special             int // printable ASCII punctuation other than -_./:
	space               int // white space anywhere inside v
	other               int // control and non-ASCII bytes

	entropyDone bool
	entropyBits float64

	decodeDone bool
	decoded    []byte // v as base64 (any alphabet, padded or not), if it is
}

// newLiteral computes the character classes of v.
func newLiteral(v string) literal {
	v = strings.TrimSpace(v)
	l := literal{v: v}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z':
			l.lower++
		case 'A' <= c && c <= 'Z':
			l.upper++
		case '0' <= c && c <= '9':
			l.digit++
		case c == '-' || c == '_' || c == '.' || c == '/' || c == ':':
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.space++
		case c > ' ' && c < 0x7f:
			l.special++
		default:
			l.other++
		}
	}
	return l
}

// entropy is the Shannon entropy of v in bits per byte (computed once).
func (l *literal) entropy() float64 {
	if !l.entropyDone {
		l.entropyDone = true
		l.entropyBits = shannon(l.v)
	}
	return l.entropyBits
}

// shannon is the Shannon entropy of s in bits per byte.
func shannon(s string) float64 {
	if len(s) < 2 {
		return 0
	}
	var counts [256]uint32
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	h := 0.0
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// classes is how many of lower, upper, digit and special occur.
func (l *literal) classes() int {
	n := 0
	for _, k := range [...]int{l.lower, l.upper, l.digit, l.special} {
		if k > 0 {
			n++
		}
	}
	return n
}

// base64 returns v decoded as base64 (standard or URL alphabet, padded or
// not) when v is entirely that, else nil. The result is cached.
func (l *literal) base64() []byte {
	if !l.decodeDone {
		l.decodeDone = true
		l.decoded = decodeBase64(l.v)
	}
	return l.decoded
}

// decodeBase64 decodes s if it is nothing but base64 of at least 16
// characters.
func decodeBase64(s string) []byte {
	if len(s) < 16 {
		return nil
	}
	url, std := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isAlnum(c):
		case c == '-' || c == '_':
			url = true
		case c == '+' || c == '/':
			std = true
		case c == '=' && i >= len(s)-2:
		default:
			return nil
		}
	}
	if url && std {
		return nil
	}
	enc := base64.RawStdEncoding
	if url {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil
	}
	return b
}

// printableText reports whether b is UTF-8 text without control characters
// other than tab and newlines.
func printableText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r == '\n' || r == '\r' || r == '\t' {
			continue
		}
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isHex reports whether s is only hex digits.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// templateSyntax reports whether s uses the syntax of a reference or a
// template somewhere ($(X), ${X}, {{ }}), starts a %(x)s format, or is
// <something>.
func templateSyntax(s string) bool {
	return strings.Contains(s, "$(") || strings.Contains(s, "${") || strings.Contains(s, "{{") ||
		strings.HasPrefix(s, "%(") || strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">")
}

// oneByteRepeated reports whether s is one byte repeated (****, xxxx, a
// lone -): a masked value.
func oneByteRepeated(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != s[0] {
			return false
		}
	}
	return s != ""
}

// isDigits reports whether s is a non-empty run of decimal digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// lowerInto writes the ASCII lower case of s (at most len(buf) bytes) into buf.
func lowerInto(buf *[16]byte, s string) []byte {
	n := copy(buf[:], s)
	for i := 0; i < n; i++ {
		buf[i] = lowerByte(buf[i])
	}
	return buf[:n]
}

// isBoolWord reports whether s is a boolean or on/off word.
func isBoolWord(s string) bool {
	if len(s) > 8 {
		return false
	}
	var buf [16]byte
	switch string(lowerInto(&buf, s)) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "t", "f",
		"enable", "enabled", "disable", "disabled":
		return true
	}
	return false
}

// isNumeric reports whether s is a number, a duration or a quantity: an
// optional sign, then up to three groups of digits (with . , _ inside) each
// followed by an optional unit (1.5, -3, 1_000, 30s, 1h30m, 512Mi, 2GB, 75%).
func isNumeric(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	groups := 0
	for s != "" {
		if !isDigit(s[0]) {
			return false
		}
		i := 0
		for i < len(s) && (isDigit(s[i]) || s[i] == '.' || s[i] == ',' || s[i] == '_') {
			i++
		}
		j := i
		for j < len(s) && !isDigit(s[j]) {
			j++
		}
		if !isUnit(s[i:j]) {
			return false
		}
		s = s[j:]
		groups++
		if groups > 3 {
			return false
		}
	}
	return groups > 0
}

func isUnit(u string) bool {
	switch u {
	case "", "ns", "us", "µs", "ms", "s", "m", "h", "d", "w", "y",
		"k", "K", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
		"b", "B", "kb", "KB", "kB", "mb", "MB", "gb", "GB", "tb", "TB", "%", "x", "e", "e+", "e-":
		return true
	}
	return false
}

// isPathLike reports whether s is a file path (absolute, relative with ./
// or ../, home-relative or a file: URL) whose segments do not look random.
func isPathLike(s string) bool {
	switch {
	case strings.HasPrefix(s, "/"), strings.HasPrefix(s, "./"), strings.HasPrefix(s, "../"),
		strings.HasPrefix(s, "~/"), strings.HasPrefix(s, "file:"):
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("-_./~@:,=", rune(c)) {
			return false
		}
	}
	for seg := range strings.SplitSeq(s, "/") {
		if randomLooking(seg) {
			return false
		}
	}
	return true
}

// randomLooking reports whether a path or URL segment looks like a token:
// 16 or more characters mixing upper case, lower case and digits.
func randomLooking(seg string) bool {
	if len(seg) < 16 {
		return false
	}
	var lo, up, di bool
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		lo = lo || 'a' <= c && c <= 'z'
		up = up || 'A' <= c && c <= 'Z'
		di = di || isDigit(c)
	}
	return lo && up && di
}

// isURL reports whether s starts with a URL scheme and "://".
func isURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && isScheme(s[:i])
}

func isScheme(s string) bool {
	if s == "" || !('a' <= lowerByte(s[0]) && lowerByte(s[0]) <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isHostLike reports whether s is a host name, IP address, CIDR or
// host:port list in lower case: "db.example.com", "10.0.0.0/8",
// "redis:6379", "kafka-0.kafka:9092,kafka-1.kafka:9092".
func isHostLike(s string) bool {
	dotOrColon := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', isDigit(c), c == '-':
		case c == '.' || c == ':' || c == '/' || c == ',':
			dotOrColon = true
		default:
			return false
		}
	}
	return dotOrColon
}

// hasKnownHashPrefix reports whether s starts like a content digest or a
// subresource-integrity hash (sha256:..., sha512-...).
func hasKnownHashPrefix(s string) bool {
	for _, p := range [...]string{"sha1", "sha224", "sha256", "sha384", "sha512", "md5", "blake2b", "blake3"} {
		if len(s) > len(p) && strings.EqualFold(s[:len(p)], p) && (s[len(p)] == ':' || s[len(p)] == '-' || s[len(p)] == '=') {
			return true
		}
	}
	return false
}

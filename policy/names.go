package policy

import (
	"bytes"
	"strings"
)

// span is one word of a name: name[lo:hi].
type span struct{ lo, hi int }

// maxWords bounds the words of a name that are analysed; later words of an
// absurdly long name are ignored.
const maxWords = 32

// nameWords splits an env var name (or a key in a connection string, a
// flag, a JSON object) into words at every non-alphanumeric byte and at
// camelCase boundaries: DB_PASSWORD -> DB PASSWORD, dbPassword -> db
// Password, APIKey -> API Key, spring.datasource.password -> spring
// datasource password.
func nameWords(name string, buf *[maxWords]span) []span {
	ws := buf[:0]
	start := -1
	for i := 0; i <= len(name); i++ {
		if i == len(name) || !isAlnum(name[i]) {
			if start >= 0 {
				if len(ws) == maxWords {
					return ws
				}
				ws = append(ws, span{start, i})
				start = -1
			}
			continue
		}
		if start >= 0 && camelBoundary(name, i) {
			if len(ws) == maxWords {
				return ws
			}
			ws = append(ws, span{start, i})
			start = i
		}
		if start < 0 {
			start = i
		}
	}
	return ws
}

// camelBoundary reports whether a new word starts at name[i] (i > 0, both
// name[i-1] and name[i] alphanumeric): aB, 3B, and the B of ABc.
func camelBoundary(name string, i int) bool {
	c, p := name[i], name[i-1]
	if !isUpper(c) {
		return false
	}
	if isLower(p) || isDigit(p) {
		return true
	}
	return isUpper(p) && i+1 < len(name) && isLower(name[i+1])
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

// secretName reports whether name says its value is a secret: it has a
// secret word (PASSWORD, SECRET, TOKEN at a word's end, API_KEY ...) and no
// qualifier after the last one (FILE, PATH, NAME, URL, AUDIENCE, LENGTH ...
// describe the secret instead of holding it: DB_PASSWORD_FILE,
// TOKEN_AUDIENCE, PASSWORD_MIN_LENGTH). kv widens the secret words with the
// abbreviations seen in connection strings and URLs (Pwd=, sig=).
func secretName(name string, kv bool) bool {
	_, ok := secretWord(name, kv)
	return ok
}

// secretWord is secretName that also returns where the secret word is in
// name: the PASSWORD of DB_PASSWORD, the API_KEY of STRIPE_API_KEY, the
// Password of the camelCase dbPassword.
func secretWord(name string, kv bool) (span, bool) {
	if !maySecretName(name, kv) {
		return span{}, false
	}
	return secretWordOf(name, kv)
}

// secretWordOf is secretWord without its prefilter.
func secretWordOf(name string, kv bool) (span, bool) {
	var buf [maxWords]span
	ws := nameWords(name, &buf)
	first, last := -1, -1
	for i := 0; i < len(ws); i++ {
		if n := secretWordAt(name, ws, i, kv); n > 0 {
			if i > 0 && isPublicWord(name[ws[i-1].lo:ws[i-1].hi]) {
				i += n - 1
				continue // MAPBOX_PUBLIC_TOKEN, PUBLISHABLE_KEY: public by name
			}
			first = i
			i += n - 1
			last = i
		}
	}
	if last < 0 {
		return span{}, false
	}
	lastWord := name[ws[last].lo:ws[last].hi]
	for j := last + 1; j < len(ws); j++ {
		w := name[ws[j].lo:ws[j].hi]
		if j == last+1 && strings.EqualFold(w, "ID") && containsFold(lastWord, "SECRET") {
			continue // SECRET_ID: a Vault AppRole secret id is a credential
		}
		if isQualifier(w) {
			return span{}, false
		}
	}
	return span{ws[first].lo, ws[last].hi}, true
}

// maySecretName is a one-pass prefilter for secretWord: name holds, in any
// case, a substring that every secret word of secretWordAt contains (PASS,
// PW, SECRET, CRED, KEY, TOKEN, PEPPER, SEED, MNEMONIC, SALT, COOKIE; SIG
// for kv). Most names hold none, and skip the word analysis.
func maySecretName(name string, kv bool) bool {
	for i := 0; i+1 < len(name); i++ {
		var p string
		switch name[i] | 0x20 { // ASCII lower case, for letters
		case 'p':
			switch name[i+1] | 0x20 {
			case 'w':
				return true
			case 'a':
				p = "PASS"
			case 'e':
				p = "PEPPER"
			}
		case 's':
			switch name[i+1] | 0x20 {
			case 'e':
				if hasPrefixFold(name[i:], "SECRET") || hasPrefixFold(name[i:], "SEED") {
					return true
				}
			case 'a':
				p = "SALT"
			case 'i':
				if kv {
					p = "SIG"
				}
			}
		case 'c':
			switch name[i+1] | 0x20 {
			case 'r':
				p = "CRED"
			case 'o':
				p = "COOKIE"
			}
		case 'k':
			p = "KEY"
		case 't':
			p = "TOKEN"
		case 'm':
			p = "MNEMONIC"
		}
		if p != "" && hasPrefixFold(name[i:], p) {
			return true
		}
	}
	return false
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case; prefix is upper
// case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if upperByte(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// secretWordAt returns how many words starting at ws[i] form a secret word
// (0, 1 or 2).
func secretWordAt(name string, ws []span, i int, kv bool) int {
	w := name[ws[i].lo:ws[i].hi]
	var buf [16]byte
	if len(w) > len(buf) {
		for _, s := range [...]string{"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "CREDENTIAL", "APIKEY", "PRIVATEKEY", "ACCESSKEY"} {
			if containsFold(w, s) {
				return 1
			}
		}
		if strings.EqualFold(w[len(w)-5:], "TOKEN") {
			return 1
		}
		return 0
	}
	u := upperInto(&buf, w)
	switch {
	case bytes.Contains(u, []byte("PASS")) && (bytes.Contains(u, []byte("PASSWORD")) ||
		bytes.Contains(u, []byte("PASSWD")) || bytes.Contains(u, []byte("PASSPHRASE"))),
		bytes.Contains(u, []byte("SECRET")), bytes.Contains(u, []byte("CREDENTIAL")),
		bytes.Contains(u, []byte("KEY")) && (bytes.Contains(u, []byte("APIKEY")) ||
			bytes.Contains(u, []byte("PRIVATEKEY")) || bytes.Contains(u, []byte("ACCESSKEY"))),
		bytes.HasSuffix(u, []byte("TOKEN")):
		return 1
	}
	switch string(u) {
	case "CREDS", "PEPPER", "SEED", "MNEMONIC":
		return 1
	case "PASS", "PWD", "PW", "SALT":
		if i == len(ws)-1 || kv {
			return 1
		}
	case "COOKIE": // ERLANG_COOKIE; but cookie=... in a value is a header
		if i == len(ws)-1 && !kv {
			return 1
		}
	case "SIG", "SIGNATURE":
		if kv {
			return 1
		}
	}
	if i+1 < len(ws) {
		next := name[ws[i+1].lo:ws[i+1].hi]
		if (strings.EqualFold(next, "KEY") || strings.EqualFold(next, "KEYS")) && isKeyPrefix(w) {
			return 2
		}
	}
	return 0
}

func isPublicWord(w string) bool {
	return strings.EqualFold(w, "PUBLIC") || strings.EqualFold(w, "PUBLISHABLE")
}

// isKeyPrefix reports whether w followed by KEY names a secret key
// (API_KEY, SIGNING_KEY, AccountKey ...), unlike CACHE_KEY or SORT_KEY.
func isKeyPrefix(w string) bool {
	var buf [16]byte
	switch string(upperInto(&buf, w)) {
	case "API", "ACCESS", "PRIVATE", "SECRET", "SIGNING", "SIGN", "ENCRYPTION", "ENCRYPT", "DECRYPTION",
		"ENC", "MASTER", "LICENSE", "AUTH", "SESSION", "HMAC", "APP", "ACCOUNT", "SHARED", "CLIENT",
		"SSH", "GPG", "PGP", "JWT", "WEBHOOK", "INGEST", "ADMIN", "ROOT", "CRYPTO", "CIPHER",
		"SERVICE", "SUBSCRIPTION", "DEPLOY", "TLS", "CA", "STORAGE", "MASTERKEY", "COOKIE", "APPLICATION":
		return true
	}
	return false
}

// isQualifier reports whether w, after a secret word, says the variable
// describes the secret rather than holding it.
func isQualifier(w string) bool {
	var buf [16]byte
	switch string(upperInto(&buf, w)) {
	case "FILE", "FILES", "FILENAME", "PATH", "PATHS", "DIR", "DIRECTORY", "FOLDER", "MOUNT", "LOCATION",
		"NAME", "NAMES", "REF", "REFS", "ID", "IDS", "ARN", "KEYID", "VERSION", "LABEL", "SELECTOR",
		"URL", "URLS", "URI", "ENDPOINT", "HOST", "HOSTNAME", "PORT", "ADDR", "ADDRESS", "SERVER",
		"AUDIENCE", "AUD", "ISSUER", "ISS", "SUBJECT", "CLAIM", "CLAIMS", "SCOPE", "SCOPES",
		"TYPE", "KIND", "MODE", "METHOD", "ALGORITHM", "ALGO", "ALG", "HASH", "HASHER", "HASHING",
		"CIPHER", "ENCODING", "FORMAT", "HEADER", "HEADERS", "PREFIX", "SUFFIX", "FIELD", "PARAM",
		"LENGTH", "LEN", "SIZE", "MIN", "MAX", "MINIMUM", "MAXIMUM", "COUNT", "LIMIT", "ROUNDS",
		"TTL", "EXPIRY", "EXPIRES", "EXPIRE", "EXPIRATION", "LIFETIME", "TIMEOUT", "DURATION",
		"INTERVAL", "PERIOD", "AGE", "DAYS", "HOURS", "SECONDS", "ROTATION", "RETRIES",
		"ENABLED", "DISABLED", "ENABLE", "DISABLE", "REQUIRED", "OPTIONAL", "STRICT",
		"POLICY", "POLICIES", "ROLE", "ROLES", "NAMESPACE", "STORE", "BACKEND", "PROVIDER",
		"ENGINE", "MANAGER", "REGION", "SOURCE", "ENV", "ENVIRONMENT", "USER", "USERNAME",
		"EMAIL", "COMPLEXITY", "STRENGTH", "RULE", "RULES", "PATTERN", "REGEX", "CHARSET",
		"BUCKET", "TABLE", "COLUMN", "QUEUE", "TOPIC", "LOOKUP", "CACHE", "VALIDATION",
		"VERIFY", "CHECK", "EXCHANGE", "LOGIN", "RESET", "STATUS", "SYNC", "REFRESHER", "REALM",
		"AUTHENTICATION", "ENCRYPTION", "CHANGE", "PROMPT", "GENERATOR", "CONFIG", "CONF", "SETTINGS":
		return true
	}
	return false
}

// publicName reports whether name says its value is public or an
// identifier (a certificate, a public key, a digest, a revision, an id),
// which high-entropy-literal then leaves alone.
func publicName(name string) bool {
	var buf [maxWords]span
	ws := nameWords(name, &buf)
	for i, s := range ws {
		var ub [16]byte
		switch string(upperInto(&ub, name[s.lo:s.hi])) {
		case "PUBLIC", "PUBKEY", "CERT", "CERTS", "CERTIFICATE", "CERTIFICATES", "CRT", "FINGERPRINT",
			"THUMBPRINT", "CHECKSUM", "DIGEST", "HASH", "SHA", "SHA1", "SHA256", "SHA512", "MD5",
			"INTEGRITY", "REVISION", "COMMIT", "UUID", "GUID", "NONCE", "PUBLISHABLE", "SITE":
			return true
		case "ID", "IDS":
			if i == len(ws)-1 {
				return true
			}
		}
	}
	return false
}

// upperInto writes the ASCII upper case of s into buf and returns it; nil
// when s is longer than buf, which then matches no word.
func upperInto(buf *[16]byte, s string) []byte {
	if len(s) > len(buf) {
		return nil
	}
	n := copy(buf[:], s)
	for i := 0; i < n; i++ {
		if c := buf[i]; 'a' <= c && c <= 'z' {
			buf[i] = c - 'a' + 'A'
		}
	}
	return buf[:n]
}

// containsFold reports whether sub (upper case ASCII) occurs in s, ignoring
// ASCII case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if upperByte(s[i]) != sub[0] {
			continue
		}
		j := 1
		for j < len(sub) && upperByte(s[i+j]) == sub[j] {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

func upperByte(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

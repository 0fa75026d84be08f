package policy

import "strings"

// The value decisions every rule shares, each made in one place:
//
//   - placeholder: the value stands for a value to be supplied (a
//     reference or template, a mask, "no value", fill-in text such as
//     your-api-key-here, a marker that restates the variable's name, or
//     instructions for a person); it protects nothing and no rule reports
//     it, in an env var, a URL's password or a key=value inside a value.
//     A common word (password, secret, changeme, admin) is not a
//     placeholder: it works as set, so it is a weak value.
//   - objectName: the value is the name of a Kubernetes object that holds
//     the secret (ingress-tls, root-ca, webhook-server-cert), not the
//     secret.
//   - weakValue: the value under a name (or key) that says it is a password,
//     secret, token or key is that secret, however weak: not a
//     placeholder, not empty, a boolean, a number (but a PIN such as 12345
//     is a password), a path, a host, a URL without a password or an
//     object name.
//
// ciphertext and keyToken are the two narrower value tests some rules add.

// placeholder reports whether v, the value of the variable (or key) name,
// stands for a value rather than being one: a reference or a template
// ($(X), ${X}, {{ }}, <x>, %s, %{x}, %NAME%, a program reading an env var),
// a mask, "no value", fill-in text, a marker restating the name, prose. name may be "" when the value
// has no name of its own.
func placeholder(name, v string) bool {
	if v == "" || templateSyntax(v) || strings.Contains(v, "%s") || strings.Contains(v, "%{") || oneByteRepeated(v) ||
		isEmptyWord(v) || substitutionSyntax(v) || codeReference(v) {
		return true
	}
	return fillIn(v) || restatesName(name, v) || prose(v)
}

// substitutionSyntax reports whether v is a name in the markers of a
// shell's or a build or deploy tool's substitution: $NAME (an entrypoint's
// envsubst or sh -c; the name in upper case, as env vars are written),
// %NAME% (Windows, Octopus), @NAME@ (Maven, autoconf), #{NAME}# (Azure
// DevOps' replace tokens), __NAME__.
func substitutionSyntax(v string) bool {
	if len(v) < 3 {
		return false
	}
	switch {
	case v[0] == '$':
		return markerCase(v[1:]) && !isDigit(v[1])
	case v[0] == '%' && v[len(v)-1] == '%', v[0] == '@' && v[len(v)-1] == '@':
		return envVarName(v[1 : len(v)-1])
	case len(v) > 4 && strings.HasPrefix(v, "#{") && strings.HasSuffix(v, "}#"),
		len(v) > 4 && strings.HasPrefix(v, "__") && strings.HasSuffix(v, "__"):
		return envVarName(v[2 : len(v)-2])
	}
	return false
}

// codeReference reports whether v reads an environment variable in a
// program's syntax (a config file's value evaluated as code):
// process.env.NAME, os.environ["NAME"], os.getenv("NAME"), ENV["NAME"],
// ENV.fetch(...), System.getenv(...), env('NAME').
func codeReference(v string) bool {
	for _, p := range [...]string{"process.env.", "process.env[", "os.environ[", "os.environ.get(", "os.getenv(",
		"ENV[", "ENV.fetch(", "System.getenv(", "env(", "Environment.GetEnvironmentVariable("} {
		if len(v) > len(p) && strings.HasPrefix(v, p) && strings.IndexByte(v, ' ') < 0 {
			return true
		}
	}
	return false
}

// fillInWord reports whether w is a word of fill-in text: a value
// containing one as a word (your-api-key, sk-your-key-here,
// api-key-goes-here) asks to be replaced. A single word that works as set (changeme, password) is not
// fill-in text.
func fillInWord(w string) bool {
	var buf [16]byte
	switch string(lowerInto(&buf, w)) {
	case "your", "yours", "here", "placeholder", "replaceme", "redacted", "todo", "tbd", "fixme":
		return true
	}
	return false
}

// fillIn reports whether v is fill-in text: words (split at - _ . /
// space, brackets trimmed) of which one is a fill-in word (your_api_key,
// api-key-here, <your-token>, REPLACE_ME), a word ending in "here"
// (tokenhere, ghp_yourtokenhere), an ellipsis (sk-..., AIza…), or a
// mask, perhaps after a vendor's prefix (sk-xxxxxxxx, ghp_XXXXXXXX,
// AKIAXXXXXXXXXXXXXXXX, sk-000000000000; see maskWord). A value with a random-looking word is a real-looking
// key, even when it says "your"; one word that works as set (yourpassword,
// changeme) is a weak value.
func fillIn(v string) bool {
	if len(v) > 128 {
		return false
	}
	words, prev := 0, ""
	fill := strings.Contains(v, "...") || strings.Contains(v, "…")
	for rest := v; rest != ""; {
		i := 0
		for i < len(rest) && !valueWordSep(rest[i]) {
			i++
		}
		w := strings.Trim(rest[:i], "<>[](){}'\"")
		rest = rest[min(i+1, len(rest)):]
		if w == "" {
			continue
		}
		words++
		if mixesLettersDigits(w) && len(w) >= 12 || randomLooking(w) {
			return false
		}
		if fillInWord(w) || strings.EqualFold(prev, "replace") && strings.EqualFold(w, "me") ||
			len(w) >= 8 && strings.EqualFold(w[len(w)-4:], "here") || maskWord(w) {
			fill = true
		}
		prev = w
	}
	return fill
}

// maskWord reports whether w is a mask, perhaps after a short prefix of
// up to 4 bytes: xxxxxxxx, AKIAXXXXXXXXXXXXXXXX, TXXXXXXXX, ****, 00000000
// (4 or more of one of x X * 0 #).
func maskWord(w string) bool {
	n := len(w)
	if n < 4 || !inSet(w[n-1], "xX*0#") {
		return false
	}
	i := n - 1
	for i > 0 && w[i-1] == w[n-1] {
		i--
	}
	return n-i >= 4 && i <= 4
}

// tokenPlaceholder reports whether a literal is one token (no white space
// and no structure: no = : ; , or quotes) that is a placeholder: the test
// known-credential-format applies to a value in a vendor's format
// (sk-your-key-here, ghp_xxxx..., AKIAXXXXXXXXXXXXXXXX). A value with
// more in it is judged part by part (a URL's password, an assignment's
// value, an Authorization token), never skipped whole.
func tokenPlaceholder(name string, l *literal) bool {
	return l.space == 0 && !strings.ContainsAny(l.v, "=:;,\"'") && placeholder(name, l.v)
}

func valueWordSep(c byte) bool { return c == '-' || c == '_' || c == '.' || c == ' ' || c == '/' }

// restatesName reports whether v restates the variable's name as a marker
// for a script or a person to replace, written as a name is (upper case,
// digits, _ and -): the name itself when it has two words or more
// (GITHUB_TOKEN=GITHUB_TOKEN), its last two words or more
// (MY_APP_SECRET=APP_SECRET), or the name inside a longer marker
// (GOOGLE_API_KEY=GOOGLE_API_KEY_VAL, X_TOKEN=INSERT_X_TOKEN). A lone
// word restated (PASSWORD=PASSWORD) and a value written as a value
// (POSTGRES_PASSWORD=postgres_password) work as set: weak values.
func restatesName(name, v string) bool {
	if len(name) < 4 || len(v) > 2*len(name)+16 || !markerCase(v) {
		return false
	}
	var nb, vb [maxWords]span
	nw, vw := nameWords(name, &nb), nameWords(v, &vb)
	if len(vw) >= 2 && len(vw) <= len(nw) {
		off := len(nw) - len(vw)
		same := true
		for i := range vw {
			if !strings.EqualFold(v[vw[i].lo:vw[i].hi], name[nw[off+i].lo:nw[off+i].hi]) {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return substitutionMarker(name, v)
}

// markerCase reports whether v is written as an env var's name: upper
// case letters, digits, _ and -.
func markerCase(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isUpper(c) && !isDigit(c) && c != '_' && c != '-' {
			return false
		}
	}
	return v != ""
}

// substitutionMarker reports whether v, written as a name is (see
// restatesName), contains the variable's name with more words around it:
// GOOGLE_API_KEY=GOOGLE_API_KEY_VAL, ETCD_TOKEN=INSERT_ETCD_TOKEN.
func substitutionMarker(name, v string) bool {
	if len(v) <= len(name) || len(name) < 4 {
		return false
	}
	i := 0
	for i+len(name) <= len(v) && !strings.EqualFold(v[i:i+len(name)], name) {
		i++
	}
	if i+len(name) > len(v) {
		return false
	}
	// The rest is whole words: INSERT_<NAME>, <NAME>_VAL, YOUR_<NAME>_HERE.
	return (i == 0 || v[i-1] == '_' || v[i-1] == '-') && (i+len(name) == len(v) || v[i+len(name)] == '_' || v[i+len(name)] == '-')
}

// maxWeakProse: a value longer than this with white space in it is prose
// or configuration, not a password.
const maxWeakProse = 64

// prose reports whether v is text for a person rather than a value:
// longer than maxWeakProse with white space, or three words or more of
// which one is a function word of an English sentence ("Set this to a
// random string", "Get it from the console"). A passphrase of plain words
// (correct horse battery staple) is not prose.
func prose(v string) bool {
	if strings.IndexByte(v, ' ') < 0 {
		return false
	}
	if len(v) > maxWeakProse {
		return true
	}
	words, function := 0, false
	for w := range strings.FieldsSeq(v) {
		words++
		w = strings.TrimRight(w, ".,:;!?")
		var buf [16]byte
		switch string(lowerInto(&buf, w)) {
		case "the", "a", "an", "to", "of", "this", "that", "it", "your", "with", "for", "from", "in", "on",
			"is", "be", "and", "or", "use", "set", "see", "by", "at", "must", "should", "will", "you", "please":
			function = true
		}
	}
	return words >= 3 && function
}

// objectName reports whether v is the name of a Kubernetes object that
// holds a secret, as manifests name them: a lower-case DNS name of two
// words or more whose last word (after a - or a .) names such an object
// (ingress-tls, root-ca, webhook-server-cert, db-creds, jwt-keys,
// oauth2-proxy-auth). A value that is a single word is not.
func objectName(v string) bool {
	if len(v) > 253 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isLower(c) && !isDigit(c) && c != '-' && c != '.' {
			return false
		}
	}
	i := strings.LastIndexAny(v, "-.")
	if i <= 0 || i == len(v)-1 || !isAlnum(v[i-1]) {
		return false
	}
	return objectWord(v[i+1:])
}

// objectWord reports whether w is the last word of the names manifests
// give the Kubernetes objects (Secrets, certificates) that hold a
// credential.
func objectWord(w string) bool {
	switch w {
	case "secret", "secrets", "credential", "credentials", "creds", "cred", "tls", "ssl", "cert", "certs",
		"certificate", "certificates", "crt", "ca", "cacert", "keys", "keypair", "keystore", "truststore",
		"jks", "p12", "pfx", "pem", "jwks", "pki", "auth", "htpasswd", "passwords", "kubeconfig", "ssh", "gpg", "pgp":
		return true
	}
	return false
}

// weakValue reports whether v, under a name or key (name) that says it is
// a password, secret, token or key, is that secret however weak (see the
// top of this file).
func weakValue(name, v string) bool {
	if v == "" || strings.Contains(v, "-----BEGIN ") || placeholder(name, v) {
		return false
	}
	if isBoolWord(v) || isNumeric(v) && !pinLike(v) {
		return false
	}
	if isURL(v) {
		return urlWithPassword(v)
	}
	// @/path is a file to read the value from (curl, Jenkins' agents).
	path := isPathLike(v) || relativePath(v) || strings.HasPrefix(v, "@/") && isPathLike(v[1:])
	return !path && !isHostLike(v) && !objectName(v)
}

// pinLike reports whether v, a number under a secret name, reads as a
// PIN or a numeric password rather than a setting: digits only, six or
// more, or four or five not ending in 0 (12345, 1234; but 30, 3600,
// 8080, 86400 are durations, ports, counts).
func pinLike(v string) bool {
	return isDigits(v) && (len(v) >= 6 || len(v) >= 4 && v[len(v)-1] != '0')
}

// ciphertext reports whether a literal is encrypted data under a name that
// says so (ENCRYPTED_PASSWORD, SEALED_TOKEN, DB_PASSWORD_CIPHERTEXT):
// base64 of 16 bytes or more that are not text, a hex string of 32 digits
// or more, or a known envelope (Jasypt's ENC(...), Vault transit's
// vault:v1:..., Ansible Vault's $ANSIBLE_VAULT;...). Such a value is safe
// to ship without its key; the same name with any other value is still
// judged.
func ciphertext(name string, l *literal) bool {
	if !encryptedName(name) {
		return false
	}
	v := l.v
	switch {
	case strings.HasPrefix(v, "ENC(") && strings.HasSuffix(v, ")") && len(v) > 20,
		strings.HasPrefix(v, "vault:v") && len(v) > 30,
		strings.HasPrefix(v, "$ANSIBLE_VAULT;") && len(v) > 40,
		len(v) >= 32 && isHex(v):
		return true
	}
	b := l.base64()
	return len(b) >= 16 && !printableText(b) && !publicKeyMaterial(b)
}

// encryptedName reports whether a word of name says its value is
// encrypted: ENCRYPTED, CIPHERTEXT, SEALED, WRAPPED (ENCRYPTION and
// CIPHER do not: ENCRYPTION_KEY is the key itself).
func encryptedName(name string) bool {
	if !containsFold(name, "ENCRYPTED") && !containsFold(name, "CIPHERTEXT") && !containsFold(name, "SEALED") &&
		!containsFold(name, "WRAPPED") {
		return false
	}
	var buf [maxWords]span
	for _, s := range nameWords(name, &buf) {
		var ub [16]byte
		switch string(upperInto(&ub, name[s.lo:s.hi])) {
		case "ENCRYPTED", "CIPHERTEXT", "SEALED", "WRAPPED":
			return true
		}
	}
	return false
}

// keyName reports whether name's last word is KEY or KEYS (FOO_BAR_KEY,
// deploymentKey) whatever comes before it: a name that may hold a key (or
// a cache key, a sort key), so its value must look random to be reported.
func keyName(name string) bool {
	var buf [maxWords]span
	ws := nameWords(name, &buf)
	if len(ws) == 0 {
		return false
	}
	last := name[ws[len(ws)-1].lo:ws[len(ws)-1].hi]
	if !strings.EqualFold(last, "KEY") && !strings.EqualFold(last, "KEYS") {
		return false
	}
	return len(ws) < 2 || !isPublicWord(name[ws[len(ws)-2].lo:ws[len(ws)-2].hi])
}

// minKeyToken is the shortest random token keyToken reports.
const minKeyToken = 20

// maxKeyHex is the longest hex string keyToken reports: 32 hex digits are
// many vendors' API keys, 40 are a GPG fingerprint or a git SHA.
const maxKeyHex = 35

// keyToken reports whether l is a random token of moderate length: at
// least minKeyToken bytes of letters, digits and -_+/=, mixing lower case,
// upper case and digits, with entropy close to its length's maximum, and
// without the words of an identifier: fewer than 45 % of its bytes in
// runs of three lower-case letters or more (UserProfileCacheV2Key01 has
// 57 %; a random token of 24 bytes has more than 45 % about once in fifty).
// A hex string of minKeyToken to maxKeyHex digits mixing letters and
// digits counts too.
func keyToken(l *literal) bool {
	v := l.v
	if len(v) < minKeyToken || l.space > 0 || l.other > 0 || l.digit == 0 || l.lower+l.upper == 0 {
		return false
	}
	if l.lower == 0 || l.upper == 0 {
		return len(v) <= maxKeyHex && isHex(v) && l.entropy() >= 3.0
	}
	wordy, run := 0, 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) {
			c := v[i]
			if !isAlnum(c) && !inSet(c, "-_+/=") {
				return false
			}
			if isLower(c) {
				run++
				continue
			}
		}
		if run >= 3 {
			wordy += run
		}
		run = 0
	}
	return 20*wordy < 9*len(v) && l.entropy() >= log2(len(v))-1.0
}

// log2 of small lengths, without math.Log2 on the hot path.
func log2(n int) float64 {
	b, x := 0.0, float64(n)
	for x >= 2 {
		x /= 2
		b++
	}
	// Linear between powers of two is within 0.09 of log2.
	return b + (x - 1)
}

// trustStoreSecret reports whether name's secret word, at w, is a trust
// store's password (TRUSTSTORE_PASSWORD, trustStorePassword): a trust
// store holds public certificates, and its password is a well-known
// default (changeit) more often than not. Only a password that looks like
// one is reported there (env-name-literal's test), never a weak one.
func trustStoreSecret(name string, w span) bool {
	var buf [maxWords]span
	ws := nameWords(name[:w.lo], &buf)
	n := len(ws)
	word := func(i int) string { return name[ws[i].lo:ws[i].hi] }
	return n >= 1 && strings.EqualFold(word(n-1), "TRUSTSTORE") ||
		n >= 2 && strings.EqualFold(word(n-2), "TRUST") && strings.EqualFold(word(n-1), "STORE")
}

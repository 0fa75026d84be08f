package policy

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Rule known-credential-format.
//
// Detects: a literal env value that is (or contains) a credential in a known
// format, whatever the variable's name:
//   - PEM private keys (-----BEGIN ... PRIVATE KEY-----), also base64-wrapped;
//   - JWTs (three base64url parts whose header is JSON with "alg");
//   - URLs with a password (postgres://user:pass@host, amqp://u:p@h) and
//     Go SQL DSNs (user:pass@tcp(host:3306)/db),
//     however weak: a common word (postgres://app:password@db) is a
//     password, a placeholder (<password>, ${DB_PASS}, $(X), ****) is not;
//   - secret assignments inside a value: Password=...; in ADO-style
//     connection strings, AccountKey=, SharedAccessKey=, ?sig= and ?api_key=
//     in URLs, --db-password=... flags, -Dx.password=... JVM options,
//     "password": "..." in JSON, password: ... in YAML (the key must be a
//     secret name; a qualified key such as password-file= is fine). In a
//     structure (JSON, YAML, key="value", a key=value list of a vendor's
//     connection string, .env lines) the value is judged as an env var's
//     under the key (weakValue: admin counts); elsewhere it must look like
//     more than a word (see assignedSecret);
//   - Authorization values: Basic <base64 of user:pass>, Bearer <token>;
//   - Kubernetes bootstrap tokens (abcdef.0123456789abcdef);
//   - token prefixes: AWS key ids (AKIA/ASIA + 16), GitHub (ghp_ gho_ ghu_
//     ghs_ ghr_ github_pat_), GitLab (glpat- ...), Slack (xox[baprs]-,
//     xapp-), Stripe (sk_/rk_ live/test, whsec_), Vault (hvs. hvb. hvr., and
//     s. + 24), Google API keys (AIza), npm, PyPI, DigitalOcean, SendGrid,
//     OpenAI/Anthropic, Hugging Face;
//   - base64 of text containing any of the above (a base64 service-account
//     JSON, a base64 .dockerconfigjson with a password);
//   - and, as a second stage, gitleaks' default rules (v8.30.1: 222, less
//     its catch-all generic-api-key), run on "NAME=value" only for values
//     that no cheaper rule flagged and that pass a prefilter (see
//     worthGitleaks: 16 B to 8 KiB, a token-like run, not a PEM block, an
//     SSH public key, a digest or base64 of public key material).
//
// Every scan is linear in the value's length, however the value is built.
//
// Reads: env[*].value (literal values only) of every container kind.
// Allowed: placeholders and references ($(VAR), ${VAR}, {{ .x }}, ****,
// <password>, your-password-here, ...; see placeholder), URLs without a
// password, a trust store's weak password (-Djavax.net.ssl.trustStorePassword=changeit),
// allow lists.
// Example (flagged): DATABASE_URL=postgres://app:S3cr3t@db:5432/app.
func knownCredentialFormatRule() Rule {
	return Rule{
		ID:      RuleKnownCredentialFormat,
		Summary: "a literal env value is a credential in a known format (keys, tokens, private keys, JWTs, URLs with passwords)",
		Since:   ruleSince,
		Remedy:  remedyMoveToVault,
		check: func(_ *Evaluator, it *item) string {
			if !it.literal() {
				return ""
			}
			// A vendor's prefix before fill-in text or a mask
			// (sk-your-key-here, ghp_xxxx...) is no credential: asked
			// only of a value in a format, most values are in none.
			if k := knownFormat(it); k != "" && !tokenPlaceholder(it.env.Name, &it.lit) {
				return k
			}
			return ""
		},
		slow: func(e *Evaluator, it *item) string {
			if e.gitleaks == nil || !it.literal() || !worthGitleaks(&it.lit) {
				return ""
			}
			// NAME=value gives gitleaks' rules that need a keyword beside the
			// token (new-relic-user-api-key ...) their context.
			// The generic rule is skipped: env-name-literal does its job,
			// with fewer false positives.
			id := e.gitleaks.First(it.env.Name+"="+it.lit.v, gitleaksGenericRule)
			switch {
			case id == "" || tokenPlaceholder(it.env.Name, &it.lit):
				return ""
			case isRuleID(id):
				// Only the rule's id leaves the finding: it names a
				// format, never the matched text.
				return "literal value matches gitleaks rule " + id
			}
			return "literal value matches a gitleaks rule"
		},
	}
}

// knownFormat names the known format of the entry's literal, with the
// reason's wording, or returns "".
func knownFormat(it *item) string {
	if k := credentialFormat(it.lit.v); k != "" {
		return "literal value contains " + k
	}
	if k := namedFormat(it.env.Name, it.lit.v); k != "" {
		return "literal value is " + k
	}
	if b := it.lit.base64(); len(b) > 0 && printableText(b) {
		if k := credentialFormat(string(b)); k != "" {
			return "literal value is base64 of text that contains " + k
		}
	}
	return ""
}

// gitleaksGenericRule is gitleaks' catch-all "a key-like name assigned a
// random-looking value": it flags public keys and publishable keys under
// *_KEY names, so its findings are ignored.
const gitleaksGenericRule = "generic-api-key"

// credentialFormat names the known credential format s contains ("a GitHub
// token"), or returns "".
func credentialFormat(s string) string {
	if k := tokenFormat(s); k != "" {
		return k
	}
	if urlWithPassword(s) || dsnWithPassword(s) {
		return "a URL with a password"
	}
	if bootstrapToken(s) {
		return "a Kubernetes bootstrap token"
	}
	if secretAssignment(s) {
		return "a secret assignment (such as Password=... or api_key=...)"
	}
	if authorizationValue(s) {
		return "an HTTP Authorization credential"
	}
	if len(s) < 35 { // the shortest of the formats below
		return ""
	}
	if k := webhookURL(s); k != "" {
		return k
	}
	if azureClientSecret(s) {
		return "an Entra ID (Azure AD) client secret"
	}
	if mailchimpKey(s) {
		return "a Mailchimp API key"
	}
	return ""
}

// tokenFormat scans s once for the prefixes of known token formats, each at
// a word boundary, and names the first complete one.
func tokenFormat(s string) string {
	for i := 0; i < len(s); i++ {
		if i > 0 && isAlnum(s[i-1]) {
			continue
		}
		t := s[i:]
		var k string
		switch t[0] {
		case '-':
			k = pemPrivateKey(t)
		case 'A':
			k = awsOrGoogle(t)
		case 'g':
			k = gitHubOrGitLab(t)
		case 'x':
			if prefixRun(t, "xox", 10, "-") && len(t) > 4 && strings.IndexByte("baprs", t[3]) >= 0 && t[4] == '-' ||
				prefixRun(t, "xapp-", 10, "-") {
				k = "a Slack token"
			}
		case 's':
			switch {
			case prefixRun(t, "sk_live_", 16, "") || prefixRun(t, "sk_test_", 16, ""):
				k = "a Stripe secret key"
			case prefixRun(t, "sk-proj-", 32, "-_") || prefixRun(t, "sk-ant-", 32, "-_") || prefixRun(t, "sk-svcacct-", 32, "-_"):
				k = "an OpenAI or Anthropic API key"
			case strings.HasPrefix(t, "s.") && legacyVaultToken(t[2:]):
				k = "a Vault token"
			}
		case 'r':
			if prefixRun(t, "rk_live_", 16, "") || prefixRun(t, "rk_test_", 16, "") {
				k = "a Stripe restricted key"
			}
		case 'w':
			if prefixRun(t, "whsec_", 24, "") {
				k = "a Stripe webhook secret"
			}
		case 'h':
			switch {
			case prefixRun(t, "hvs.", 24, "-_") || prefixRun(t, "hvb.", 24, "-_") || prefixRun(t, "hvr.", 24, "-_"):
				k = "a Vault token"
			case prefixRun(t, "hf_", 30, ""):
				k = "a Hugging Face token"
			}
		case 'n':
			if prefixRun(t, "npm_", 36, "") {
				k = "an npm token"
			}
		case 'p':
			if prefixRun(t, "pypi-AgE", 50, "-_") {
				k = "a PyPI token"
			}
		case 'd':
			if prefixRun(t, "dop_v1_", 64, "") || prefixRun(t, "doo_v1_", 64, "") {
				k = "a DigitalOcean token"
			}
		case 'S':
			if strings.HasPrefix(t, "SG.") && sendGrid(t[3:]) {
				k = "a SendGrid API key"
			}
		case 'e':
			if strings.HasPrefix(t, "eyJ") {
				ok, header := jwt(t)
				if ok {
					k = "a JSON Web Token"
				} else {
					// No JWT starts inside this one's header either: skip
					// it, so "eyJ-eyJ-eyJ..." costs linear time.
					i += header - 1
				}
			}
		}
		if k == "" && len(t) >= 20 && vendorStart(t[0], t[1]) {
			k = vendorToken(t)
		}
		if k != "" {
			return k
		}
	}
	return ""
}

// prefixRun reports whether t starts with prefix followed by at least min
// alphanumerics or bytes of extra. It reads at most min bytes past the
// prefix, so checking every position of a value stays linear.
func prefixRun(t, prefix string, min int, extra string) bool {
	if !strings.HasPrefix(t, prefix) {
		return false
	}
	return tokenRunMax(t[len(prefix):], extra, min) >= min
}

// tokenRun is the length of the leading run of alphanumerics and bytes of
// extra in t.
func tokenRun(t, extra string) int { return tokenRunMax(t, extra, len(t)) }

// tokenRunMax is tokenRun, counting no further than max.
func tokenRunMax(t, extra string, max int) int {
	n := 0
	for n < len(t) && n < max && (isAlnum(t[n]) || inSet(t[n], extra)) {
		n++
	}
	return n
}

// inSet reports whether c is one of the bytes of set (a handful).
func inSet(c byte, set string) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

// pemPrivateKey recognises "-----BEGIN <anything> PRIVATE KEY-----" (RSA,
// EC, DSA, OPENSSH, ENCRYPTED, PGP ... BLOCK) at the start of t, as other
// scanners do also when written with three or more dashes and spaces
// around the words ("--- BEGIN OPENSSH PRIVATE KEY ---").
func pemPrivateKey(t string) string {
	n := 0
	for n < len(t) && t[n] == '-' {
		n++
	}
	if n < 3 {
		return ""
	}
	h, ok := strings.CutPrefix(strings.TrimLeft(t[n:], " "), "BEGIN ")
	if !ok {
		return ""
	}
	if len(h) > 80 {
		h = h[:80]
	}
	if end := strings.Index(h, "---"); end >= 0 && end <= 64 {
		if strings.Contains(h[:end], "PRIVATE KEY") {
			return "a PEM private key"
		}
	}
	return ""
}

// awsOrGoogle recognises AWS access key ids (AKIA, ASIA, ABIA, ACCA + 16
// upper-case letters or digits) and Google API keys (AIza + 35).
func awsOrGoogle(t string) string {
	if len(t) >= 20 {
		switch t[:4] {
		case "AKIA", "ASIA", "ABIA", "ACCA":
			n := 0
			for n < 16 && (isUpper(t[4+n]) || isDigit(t[4+n])) {
				n++
			}
			if n == 16 && (len(t) == 20 || !isAlnum(t[20])) {
				return "an AWS access key ID"
			}
		}
	}
	if prefixRun(t, "AIza", 35, "-_") {
		return "a Google API key"
	}
	return ""
}

// gitHubOrGitLab recognises GitHub and GitLab token prefixes.
func gitHubOrGitLab(t string) string {
	for _, p := range [...]string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"} {
		if prefixRun(t, p, 30, "") {
			return "a GitHub token"
		}
	}
	if prefixRun(t, "github_pat_", 22, "_") {
		return "a GitHub token"
	}
	for _, p := range [...]string{"glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glft-", "glsoat-", "gloas-"} {
		if prefixRun(t, p, 20, "-_") {
			return "a GitLab token"
		}
	}
	return ""
}

// legacyVaultToken recognises the body of a pre-1.10 Vault service token
// ("s." + exactly 24 base62 characters mixing cases and digits).
func legacyVaultToken(t string) bool {
	if tokenRunMax(t, "", 25) != 24 || len(t) > 24 && (t[24] == '.' || t[24] == '-' || t[24] == '_') {
		return false
	}
	var up, lo, di bool
	for i := 0; i < 24; i++ {
		up = up || isUpper(t[i])
		lo = lo || isLower(t[i])
		di = di || isDigit(t[i])
	}
	return up && lo && di
}

// sendGrid recognises the rest of SG.<22>.<43>.
func sendGrid(t string) bool {
	n := tokenRunMax(t, "-_", 23)
	return n == 22 && len(t) > 23 && t[22] == '.' && tokenRunMax(t[23:], "-_", 43) >= 43
}

// maxJWTHeader bounds the header of a JWT (a few dozen bytes in practice).
const maxJWTHeader = 4 << 10

// jwt recognises a JWT at the start of t: three base64url parts separated
// by dots (the third may be empty for alg "none"), whose header decodes to
// a JSON object with an "alg" member. It also returns the length of the
// header part it looked at (at least 1).
func jwt(t string) (ok bool, header int) {
	h := tokenRunMax(t, "-_", maxJWTHeader+1)
	if h < 10 || h > maxJWTHeader || len(t) <= h || t[h] != '.' {
		return false, max(h, 1)
	}
	rest := t[h+1:]
	p := tokenRun(rest, "-_")
	if p < 2 || len(rest) <= p || rest[p] != '.' {
		return false, h
	}
	if sig := rest[p+1:]; tokenRun(sig, "-_") < len(sig) && sig[tokenRun(sig, "-_")] == '.' {
		return false, h // four parts or more: not a JWS
	}
	hdr, err := base64.RawURLEncoding.DecodeString(t[:h])
	if err != nil {
		return false, h
	}
	var v struct {
		Alg *string `json:"alg"`
	}
	return json.Unmarshal(hdr, &v) == nil && v.Alg != nil, h
}

// bootstrapToken recognises a whole value of the form [a-z0-9]{6}.[a-z0-9]{16}
// whose secret part mixes letters and digits.
func bootstrapToken(s string) bool {
	if len(s) != 23 || s[6] != '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i != 6 && !isLower(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return mixesLettersDigits(s[7:])
}

// urlWithPassword reports whether s has a URL whose user info carries a
// password that is not a placeholder: scheme://user:pass@host.
func urlWithPassword(s string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], "://")
		if i < 0 {
			return false
		}
		i += off
		off = i + 3
		j := i
		for j > 0 && (isAlnum(s[j-1]) || s[j-1] == '+' || s[j-1] == '-' || s[j-1] == '.') {
			j--
		}
		if !isScheme(s[j:i]) {
			continue
		}
		auth := s[off:]
		if k := strings.IndexAny(auth, "/?# \t\n\"'"); k >= 0 {
			auth = auth[:k]
		}
		at := strings.LastIndexByte(auth, '@')
		if at < 0 {
			continue
		}
		userinfo := auth[:at]
		colon := strings.IndexByte(userinfo, ':')
		if colon < 0 {
			continue
		}
		if pass := userinfo[colon+1:]; !placeholder("", pass) {
			return true
		}
	}
}

// dsnWithPassword reports whether s has a Go SQL driver's DSN with a
// password that is not a placeholder: user:pass@tcp(host:3306)/db, also
// @unix(...) and @(...).
func dsnWithPassword(s string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], "@")
		if i < 0 {
			return false
		}
		at := off + i
		off = at + 1
		rest := s[off:]
		if !strings.HasPrefix(rest, "tcp(") && !strings.HasPrefix(rest, "unix(") && !strings.HasPrefix(rest, "(") {
			continue
		}
		// The user info: back to a delimiter, at most maxAssignedValue
		// bytes (keeps the scan linear).
		lo := max(0, at-maxAssignedValue)
		start := lo + strings.LastIndexAny(s[lo:at], " \t\n\"'=;,/") + 1
		user, pass, ok := strings.Cut(s[start:at], ":")
		if ok && user != "" && !placeholder("", pass) {
			return true
		}
	}
}

// maxAssignedValue bounds the bytes secretAssignment reads after each = or :.
const maxAssignedValue = 256

// secretAssignment reports whether s assigns a secret inside itself:
// key=value or key: value (the key optionally quoted, as in JSON), where the
// key is a secret name (see assignedSecret). Values end at ; & , white
// space or a quote.
func secretAssignment(s string) bool {
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c != '=' && c != ':' {
			continue
		}
		if c == ':' && strings.HasPrefix(s[k:], "://") {
			continue
		}
		if assignedSecret(s, k) {
			return true
		}
	}
	return false
}

// assignedSecret judges the assignment whose = or : is at s[k]. In a
// structure the key's slot is certain, and the value is judged as an env
// var's under that name (weakValue): a JSON member with a quoted value
// ("password": "admin"), a YAML line (password: admin), a quoted value
// after = (JAAS' password="...", TOML, HCL), and an item of a key=value
// list separated by ;, , or lines (a connection string in its vendor's
// syntax: Password=...;, AccountKey=...;, SharedAccessKey=..., a JDBC
// URL's ;password=..., Redis' ,password=..., a .env or .properties
// text). JSON, YAML and quoted keys must be a strong secret word
// (password, secret, token, API key; not seed or cookie, whose plain
// words are configuration). Elsewhere (flags, query
// strings, prose) the value must be 4 bytes or more, not a short number,
// and after a colon not a plain word.
func assignedSecret(s string, k int) bool {
	c := s[k]
	// The key: back over a closing quote and spaces, then name bytes.
	e := k
	for e > 0 && s[e-1] == ' ' {
		e--
	}
	quoted := false
	if e > 0 && (s[e-1] == '"' || s[e-1] == '\'') {
		e--
		quoted = true
	}
	// key:value only as in JSON or YAML ("key": v, key: v), never as
	// in arn:aws:secretsmanager:...:secret:name or host:port.
	if c == ':' && !quoted && !(k+1 < len(s) && (s[k+1] == ' ' || s[k+1] == '\n')) {
		return false
	}
	b := e
	for b > 0 && (isAlnum(s[b-1]) || s[b-1] == '_' || s[b-1] == '-' || s[b-1] == '.') {
		b--
	}
	if b == e || !secretName(s[b:e], true) {
		return false
	}
	key := s[b:e]
	v, vquoted, term := assignedValue(s[k+1:])
	if v == "" || isReference(v) {
		return false
	}
	if w, _ := secretWord(key, true); trustStoreSecret(key, w) {
		l := newLiteral(v)
		return passwordLike(key, &l)
	}
	lineEnd := term == '\n' || term == '\r' || term == 0
	switch {
	case c == ':' && quoted && vquoted, c == ':' && !quoted && yamlKey(s, b) && (vquoted || lineEnd),
		c == '=' && vquoted:
		return strongKey(key) && weakValue(key, v)
	case c == '=' && listItem(s, b) && (lineEnd || inSet(term, ";,& ")):
		return weakValue(key, v)
	}
	if len(v) < 4 || placeholder(key, v) || isBoolWord(v) || isNumeric(v) && len(v) < 6 || objectName(v) {
		return false
	}
	// In free text (seed: orders), a key that sounds secret is followed
	// by configuration as often as by a credential: a plain word there is
	// configuration.
	return c != ':' || !plainWord(v)
}

// assignedValue cuts the value after an = or a : (rest): over spaces and
// an opening quote, up to a delimiter, looking at maxAssignedValue bytes
// at most (keeps the scan linear). It also says whether the value was
// quoted and which byte ended it (0: the end of s; 1: the bound).
func assignedValue(rest string) (v string, quoted bool, term byte) {
	v = rest
	bounded := len(v) > maxAssignedValue
	if bounded {
		v = v[:maxAssignedValue]
	}
	v = strings.TrimLeft(v, " ")
	end := "; &,\t\n\r\"'}]"
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		end = v[:1]
		v = v[1:]
		quoted = true
	}
	if i := strings.IndexAny(v, end); i >= 0 {
		return v[:i], quoted, v[i]
	}
	if bounded {
		return v, quoted, 1
	}
	return v, quoted, 0
}

// yamlKey reports whether the key at s[b] starts a YAML line: only
// indentation or a list item's "- " before it on its line.
func yamlKey(s string, b int) bool {
	for b > 0 && (s[b-1] == ' ' || s[b-1] == '-') {
		b--
	}
	return b == 0 || s[b-1] == '\n'
}

// listItem reports whether the key at s[b] starts an item of a key=value
// list: the start of s, or ; , & ? or a line break before it (spaces
// allowed), or a space after another key=value (libpq's host=db
// password=...).
func listItem(s string, b int) bool {
	e := b
	for b > 0 && s[b-1] == ' ' {
		b--
	}
	if b == 0 || inSet(s[b-1], ";,&?\n") {
		return true
	}
	if b == e {
		return false
	}
	p := strings.LastIndexAny(s[:b], " \t\n;,")
	return strings.IndexByte(s[p+1:b], '=') > 0
}

// strongKey reports whether a key inside a value is a strong secret word
// (see strongSecretWord).
func strongKey(key string) bool {
	w, ok := secretWord(key, true)
	return ok && strongSecretWord(key, w)
}

// plainWord reports whether v is letters only, with - _ . between them:
// a word of configuration ("orders", "round-robin"), not a credential.
func plainWord(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isLower(c) && !isUpper(c) && !inSet(c, "-_.") {
			return false
		}
	}
	return v != ""
}

// authorizationValue recognises an HTTP Authorization credential at a word
// boundary, case-insensitive: "Basic <base64 of user:pass>", "Bearer
// <token>", and the token schemes "token", "apikey", "ssws" (Okta),
// "splunk" (Splunk HEC) and "geniekey" (Opsgenie) followed by a token of 16+
// characters mixing letters and digits.
func authorizationValue(s string) bool {
	// One pass: at each space, the word before it may be a scheme.
	for i := strings.IndexByte(s, ' '); i > 0; {
		b := i
		for b > 0 && isAlnum(s[b-1]) && i-b <= len("geniekey") {
			b--
		}
		if b < i && (b == 0 || !isAlnum(s[b-1])) {
			if scheme := authScheme(s[b:i]); scheme != "" {
				tok := s[i+1:]
				if authorizationToken(scheme, tok[:tokenRun(tok, "-_.~+/=")]) {
					return true
				}
			}
		}
		next := strings.IndexByte(s[i+1:], ' ')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// authScheme returns the lower-case scheme with its space ("bearer ") if w
// names an Authorization scheme authorizationValue knows, else "".
func authScheme(w string) string {
	if len(w) > 8 {
		return ""
	}
	var buf [16]byte
	switch l := string(lowerInto(&buf, w)); l {
	case "basic", "bearer", "token", "apikey", "ssws", "splunk", "geniekey":
		return l + " "
	}
	return ""
}

// worthGitleaks is the prefilter before gitleaks. Short and plain values
// never pay for gitleaks; neither do PEM blocks (a private key was caught
// already; certificates and public keys are public), SSH public keys,
// digests and base64 of public key material. Base64 of text is judged by
// its text. What is left must be 16 B to 8 KiB with a token-like run.
func worthGitleaks(l *literal) bool {
	if len(l.v) < 16 || len(l.v) > 8<<10 || l.digit == 0 || l.lower+l.upper == 0 {
		return false
	}
	if b := l.base64(); b != nil {
		if publicKeyMaterial(b) {
			return false
		}
		if printableText(b) {
			return worthGitleaksText(string(b))
		}
	}
	return worthGitleaksText(l.v)
}

func worthGitleaksText(s string) bool {
	return hasTokenRun(s) && !strings.Contains(s, "-----BEGIN ") && !hasKnownHashPrefix(s) && !sshPublicKey(s)
}

// hasTokenRun reports whether s has a run of alphanumerics, - and _ (and
// trailing =) of 16 or more bytes that looks like a token: one of its parts
// (split at - and _) is 10+ bytes mixing letters and digits and not only
// hex digits (ghp_..., xoxb-...-AbC1..., SK0a1b...), or a hex part of 20+
// bytes follows a prefix with letters (dop_v1_<hex>, pul-<hex>). A lone hex string (a
// SHA, a digest, a checksum) and word-like runs (acme-prod-284512) are not.
func hasTokenRun(s string) bool {
	for i := 0; i < len(s); {
		n := tokenRun(s[i:], "-_")
		for i+n < len(s) && s[i+n] == '=' {
			n++
		}
		if n == 0 {
			i++
			continue
		}
		if n >= 16 && tokenLikeRun(s[i:i+n]) {
			return true
		}
		i += n
	}
	return false
}

func tokenLikeRun(run string) bool {
	prefix, hexAfterPrefix := false, false
	for p := range strings.FieldsFuncSeq(strings.TrimRight(run, "="), func(r rune) bool { return r == '-' || r == '_' }) {
		if len(p) >= 20 && isHex(p) && prefix {
			hexAfterPrefix = true
		}
		prefix = prefix || mixesLettersDigits(p) || !isHex(p)
		if len(p) >= 10 && !isHex(p) && mixesLettersDigits(p) {
			return true
		}
	}
	return hexAfterPrefix
}

func mixesLettersDigits(p string) bool {
	var letter, digit bool
	for i := 0; i < len(p); i++ {
		letter = letter || isLower(p[i]) || isUpper(p[i])
		digit = digit || isDigit(p[i])
	}
	return letter && digit
}

// sshPublicKey reports whether s holds an SSH public key line
// ("ssh-ed25519 AAAA... comment", as in authorized_keys or known_hosts).
func sshPublicKey(s string) bool {
	for _, t := range [...]string{"ssh-rsa ", "ssh-ed25519 ", "ssh-dss ", "ecdsa-sha2-", "sk-ssh-ed25519", "sk-ecdsa-sha2-"} {
		if i := strings.Index(s, t); i >= 0 && (i == 0 || s[i-1] == ' ') {
			return true
		}
	}
	return false
}

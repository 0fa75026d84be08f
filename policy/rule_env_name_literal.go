package policy

// Rule env-name-literal.
//
// Detects: an env var whose NAME says it holds a secret and whose literal
// value looks like one.
//
// A name is secret-looking when one of its words (split at _ - . and
// camelCase) contains PASSWORD, PASSWD, PASSPHRASE, SECRET, CREDENTIAL,
// APIKEY, PRIVATEKEY or ACCESSKEY, ends in TOKEN, is CREDS, PEPPER, SEED or
// MNEMONIC, is the last word and one of PASS, PWD, PW, SALT, COOKIE, or is a
// pair such as API_KEY, ACCESS_KEY, PRIVATE_KEY, SECRET_KEY, SIGNING_KEY,
// ENCRYPTION_KEY, MASTER_KEY, ACCOUNT_KEY, CLIENT_KEY, APP_KEY
// (case-insensitive; PUBLIC or PUBLISHABLE just before the word cancels it:
// MAPBOX_PUBLIC_TOKEN) - unless a qualifier follows the last such word:
// FILE, PATH, DIR, NAME, REF, ID (but
// SECRET_ID is a secret), ARN, URL, HOST, PORT, AUDIENCE, ISSUER, TYPE, MODE,
// ALGORITHM, HASH, FORMAT, HEADER, LENGTH, MIN, MAX, TTL, EXPIRY, TIMEOUT,
// ENABLED, POLICY, ROLE, STORE, BACKEND, PROVIDER, USER, ... (see
// isQualifier). So DB_PASSWORD, CLIENT_SECRET, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY
// and REDIS_PASS are secret-looking; DB_PASSWORD_FILE, TOKEN_AUDIENCE,
// SECRET_MOUNT_PATH, PASSWORD_MIN_LENGTH and SECRET_NAME are not.
//
// A value looks like a credential when, trimmed, it is at least 8 bytes,
// has no white space, is not a placeholder or reference ($(X), ${X}, ****,
// your-api-key-here; see placeholder), a boolean, a number, duration or
// quantity, a path, a host name or address, a URL without a password, a
// Kubernetes object's name (objectName: oauth2-proxy-auth) or ciphertext
// under a name that says so (ciphertext), and it either mixes three
// of lower case, upper case, digits and symbols (Tr0ub4dor&3xY!), or mixes
// two at 12+ bytes with Shannon entropy >= 3.0 (hex keys, UUIDs,
// s3cr3tpassw0rd), or is 20+ bytes of one class with entropy >= 3.8.
//
// Decided: a lone lower-case word such as changeme or postgres under a
// password name is not reported - it is indistinguishable from
// configuration (SECRET_BACKEND=vault), and a placeholder protects nothing.
// Passphrases with spaces are not reported either.
//
// Reads: env[*].name and env[*].value (literal values only) of every
// container kind.
// Example (flagged): DB_PASSWORD=Tr0ub4dor&3xY!; (passes): TOKEN_AUDIENCE=vault.
func envNameLiteralRule() Rule {
	return Rule{
		ID:        RuleEnvNameLiteral,
		Heuristic: true,
		Summary:   "a secret-looking env var name (*PASSWORD*, *SECRET*, *_TOKEN, *API_KEY* ...) holds a literal that looks like a credential",
		Since:     ruleSince,
		Remedy:    remedyMoveToVault,
		check: func(_ *Evaluator, it *item) string {
			if !it.literal() || len(it.lit.v) < 8 || it.lit.space > 0 || !it.secretName() || !passwordLike(it.env.Name, &it.lit) {
				return ""
			}
			return "literal value looks like a credential under a secret-looking name"
		},
	}
}

// passwordLike reports whether a literal under a secret-looking name looks
// like a credential (see the rule's comment).
func passwordLike(name string, l *literal) bool {
	v := l.v
	if len(v) < 8 || l.space > 0 {
		return false
	}
	if isURL(v) {
		return urlWithPassword(v)
	}
	// The look first (cheap, and most values fail it), then what the
	// value is.
	if !credentialLook(l) {
		return false
	}
	if placeholder(name, v) || isBoolWord(v) || isNumeric(v) || isPathLike(v) || isHostLike(v) || objectName(v) {
		return false
	}
	if b := l.base64(); len(b) > 0 && publicKeyMaterial(b) {
		return false
	}
	return !ciphertext(name, l)
}

// credentialLook reports whether l has a credential's look: three
// character classes, two at 12+ bytes with entropy >= 3.0, or one at 20+
// bytes with entropy >= 3.8.
func credentialLook(l *literal) bool {
	switch l.classes() {
	case 4, 3:
		return true
	case 2:
		return len(l.v) >= 12 && l.entropy() >= 3.0
	default:
		return len(l.v) >= 20 && l.entropy() >= 3.8
	}
}

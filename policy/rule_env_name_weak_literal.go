package policy

import "strings"

// Rule env-name-weak-literal.
//
// Detects: a literal under a name that says it IS a password, secret, token
// or key, whatever the literal looks like: POSTGRES_PASSWORD=postgres,
// GF_SECURITY_ADMIN_PASSWORD=admin, MINIO_SECRET_KEY=minio123,
// DB_PASSWORD=changeme. env-name-literal reports the literals that look
// random; this rule reports the rest, the weak and default passwords real
// manifests carry. A default password in a manifest is the password.
//
// The name must end in a strong secret word, with no qualifier after it
// (see secretWord): PASSWORD, PASSWD, PASSPHRASE, PASS, PWD, PW, SECRET
// (CLIENT_SECRET, SECRET_KEY, JWT_SECRET), a word ending in TOKEN, API_KEY,
// PRIVATE_KEY, and KEY after SIGNING, ENCRYPTION, MASTER, ADMIN, ROOT, HMAC,
// JWT, WEBHOOK, SESSION, AUTH, APP, APPLICATION, LICENSE, SECRET, ACCOUNT,
// STORAGE, SUBSCRIPTION, or ACCESS after SECRET or SHARED or in an Azure
// name (AWS_SECRET_ACCESS_KEY, SHARED_ACCESS_KEY, AZURE_STORAGE_ACCESS_KEY:
// a cloud account's secret key). Weaker
// secret words stay with env-name-literal, whose value test they need:
// ACCESS_KEY (MinIO's and AWS's access key is the user name's half),
// CREDENTIALS, COOKIE, SALT, SEED, PEPPER, MNEMONIC. A SECRET right after
// TLS, CERT, CA or SSL, or after another secret word (DB_PASSWORD_SECRET),
// names a Kubernetes Secret and is left alone, as is Airflow's
// AIRFLOW__<SECTION>__<KEY>_SECRET, which names a key in its secrets backend.
//
// Passes what weakValue (values.go) says is no value: an empty value, a
// boolean or number, a placeholder (placeholder: a reference or template,
// <password>, %s, ****, none, null, fill-in text such as your-secret-here
// or sk-your-key-here, a marker that restates the name in upper case such
// as GITHUB_TOKEN=GITHUB_TOKEN or X_TOKEN=INSERT_X_TOKEN, instructions or
// prose), a path, a host name or a URL without a password, and the name of
// a Kubernetes object that holds the secret (objectName: a lower-case DNS
// name ending in -secret, -creds, -tls, -cert, -certs, -ca, -keys, -auth
// ...). A common word is not a placeholder: DB_PASSWORD=password,
// PASSWORD=PASSWORD and POSTGRES_PASSWORD=postgres_password work as set.
// Ciphertext under a name that says so (ENCRYPTED_PASSWORD=<base64 of
// encrypted bytes>, see ciphertext) passes, and a trust store's password
// (TRUSTSTORE_PASSWORD=changeit: the store holds public certificates) is
// left to env-name-literal's test. SECRET_ID is left to env-name-literal:
// a Vault AppRole secret id, or the id of a secret in a secret manager.
//
// Reads: env[*].name and env[*].value (literal values only) of every
// container kind.
// Example (flagged): MYSQL_ROOT_PASSWORD=rootpass; (passes):
// MYSQL_ALLOW_EMPTY_PASSWORD=true, DB_PASSWORD_FILE=/vault/secrets/db.
func envNameWeakLiteralRule() Rule {
	return Rule{
		ID:        RuleEnvNameWeakLiteral,
		Heuristic: true,
		Summary:   "a password, secret, token or key env var (*PASSWORD, *SECRET, *_TOKEN, *API_KEY ...) holds a literal, however weak (admin, postgres, changeme)",
		Since:     ruleWeakSince,
		Remedy:    remedyMoveToVault,
		check: func(_ *Evaluator, it *item) string {
			// Cheapest first: the name's question (shared with
			// env-name-literal, and answered by a one-pass prefilter for
			// most names), then the value.
			if !it.literal() || !it.secretName() || !weakValue(it.env.Name, it.lit.v) {
				return ""
			}
			if w, ok := secretWord(it.env.Name, false); !ok || !strongSecretWord(it.env.Name, w) || ciphertext(it.env.Name, &it.lit) {
				return ""
			}
			return "literal value under a password, secret, token or key name (a default password is still the password)"
		},
	}
}

// strongSecretWord reports whether name, whose secret word (see
// secretWord) is at w, says its value is a password, secret, token or key
// itself (see the rule's comment).
func strongSecretWord(name string, w span) bool {
	// SECRET_ID is a Vault AppRole secret id or the id (name) of a secret
	// in a secret manager: ambiguous, so its value is judged by
	// env-name-literal's test only.
	if strings.EqualFold(strings.TrimLeft(name[w.hi:], "_-."), "ID") || trustStoreSecret(name, w) {
		return false
	}
	// The word in upper case without separators: API_KEY -> APIKEY.
	var buf [32]byte
	norm := buf[:0]
	for i := w.lo; i < w.hi; i++ {
		if isAlnum(name[i]) {
			norm = append(norm, upperByte(name[i]))
		}
	}
	n := string(norm)
	switch {
	case strings.Contains(n, "PASSWORD"), strings.Contains(n, "PASSWD"), strings.Contains(n, "PASSPHRASE"),
		n == "PASS", n == "PWD", n == "PW",
		strings.HasSuffix(n, "TOKEN"),
		strings.Contains(n, "APIKEY"), strings.Contains(n, "PRIVATEKEY"):
		return true
	case strings.Contains(n, "SECRET"):
		return !kubeSecretName(name, w, n) && !airflowSecretKey(name)
	case strings.HasSuffix(n, "KEY") || strings.HasSuffix(n, "KEYS"):
		switch prefix := strings.TrimSuffix(strings.TrimSuffix(n, "S"), "KEY"); prefix {
		case "SIGNING", "SIGN", "ENCRYPTION", "ENCRYPT", "DECRYPTION", "CRYPTO", "MASTER", "ADMIN", "ROOT", "HMAC",
			"JWT", "WEBHOOK", "SESSION", "AUTH", "APP", "APPLICATION", "LICENSE", "SECRET", "MASTERKEY",
			"ACCOUNT", "STORAGE", "SUBSCRIPTION":
			return true
		case "ACCESS": // a lone ACCESS_KEY is a user's half (MINIO_ACCESS_KEY)
			return secretAccessKey(name, w)
		}
	}
	return false
}

// secretAccessKey reports whether the ACCESS_KEY of name, at w, is the
// secret half of a key pair: SECRET or SHARED just before it
// (AWS_SECRET_ACCESS_KEY, SharedAccessKey), or AZURE among the name's
// words (Azure has no access key id: its access keys are secrets).
func secretAccessKey(name string, w span) bool {
	var buf [maxWords]span
	ws := nameWords(name, &buf)
	for i, s := range ws {
		word := name[s.lo:s.hi]
		if strings.EqualFold(word, "AZURE") {
			return true
		}
		if i+1 < len(ws) && ws[i+1].lo == w.lo && (strings.EqualFold(word, "SECRET") || strings.EqualFold(word, "SHARED")) {
			return true
		}
	}
	return false
}

// kubeSecretName reports whether the secret word of name, at w and n in
// upper case, is SECRET right after TLS, CERT, CA, SSL, PULL, KUBECONFIG
// or another secret word: such a name holds the name of a Kubernetes
// Secret (INGRESS_TLS_SECRET, DB_PASSWORD_SECRET, IMAGE_PULL_SECRET).
func kubeSecretName(name string, w span, n string) bool {
	if n != "SECRET" && n != "SECRETS" {
		return false
	}
	before := name[:w.lo]
	var buf [maxWords]span
	ws := nameWords(before, &buf)
	if len(ws) == 0 {
		return false
	}
	prev := before[ws[len(ws)-1].lo:ws[len(ws)-1].hi]
	var ub [16]byte
	switch string(upperInto(&ub, prev)) {
	case "TLS", "CERT", "CERTS", "CERTIFICATE", "CA", "SSL", "KEYSTORE", "TRUSTSTORE", "KEY",
		"PULL", "IMAGEPULL", "KUBECONFIG", "DOCKERCONFIG":
		return true
	}
	return secretName(prev, false)
}

// airflowSecretKey reports whether name is Airflow's AIRFLOW__<SECTION>__<KEY>_SECRET,
// whose value names the key to read from Airflow's secrets backend: a
// reference, like the _CMD variant.
func airflowSecretKey(name string) bool {
	return strings.HasPrefix(name, "AIRFLOW__") && strings.HasSuffix(name, "_SECRET") &&
		strings.Count(name, "__") >= 2
}

// isEmptyWord reports whether v says "no value".
func isEmptyWord(v string) bool {
	if len(v) > 16 {
		return false
	}
	var buf [16]byte
	switch string(lowerInto(&buf, v)) {
	case "none", "null", "nil", "empty", "undefined", "unset", "notset", "not-set", "n/a", "na", "-", "~", `""`, "''":
		return true
	}
	return false
}

// relativePath reports whether v is a relative path or a Vault-style path
// of two or more plain segments (secret/data/app, certs/tls.key): letters,
// digits and -_.@ between slashes, no segment random-looking.
func relativePath(v string) bool {
	if strings.Count(v, "/") == 0 || strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && !inSet(c, "-_./@") {
			return false
		}
	}
	for seg := range strings.SplitSeq(v, "/") {
		if seg == "" || randomLooking(seg) || mixesLettersDigits(seg) && len(seg) >= 12 {
			return false
		}
	}
	return true
}

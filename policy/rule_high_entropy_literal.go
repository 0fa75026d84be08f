package policy

import (
	"bytes"
	"crypto/x509"
)

// Rule high-entropy-literal.
//
// Detects: a literal env value, under any name, that is a long random token:
// trimmed, at least 32 bytes of the base64 or base64url alphabet (padding
// allowed) mixing upper case, lower case and digits, with Shannon entropy
// of at least 4.2 bits per byte (random base64 of that length has about
// 4.6 and more; English-like identifiers stay below).
//
// Under a name whose last word is KEY or KEYS, whatever comes before it
// (FOO_BAR_KEY, deploymentKey: a key's name env-name-literal does not
// know), a shorter random token is enough: 20 bytes or more of that
// alphabet mixing upper case, lower case and digits, with entropy within
// one bit of its length's maximum and without an identifier's words
// (keyToken: UserProfileCacheV2Key01 under PARTITION_KEY passes), or a
// hex string of 20 to 35 digits (many vendors' API keys have 32; a GPG
// fingerprint's 40 pass).
//
// Allowed (never flagged): other hex-only values (git SHAs, digests and
// checksums have no upper and lower case mix: hex keys are left to
// env-name-literal),
// UUIDs, sha256:/sha512- digests and integrity hashes, values with white
// space or other punctuation (public keys "ssh-ed25519 AAAA...", PEM
// certificates, paths, URLs, image references), names that say the value
// is public or an identifier (*PUBLIC_KEY*, *CERT*, *FINGERPRINT*, *DIGEST*,
// *CHECKSUM*, *HASH*, *REVISION*, *COMMIT*, *_ID ...), and base64 that decodes
// to printable text (harmless config; text with a credential in it is
// known-credential-format's), to an X.509 certificate, a public key or an
// SSH public key, and ciphertext under a name that says it is encrypted
// (ENCRYPTED_*, *_CIPHERTEXT, SEALED_*, WRAPPED_*; see ciphertext).
//
// Reads: env[*].name and env[*].value (literal values only) of every
// container kind.
// Example (flagged): SESSION_BLOB=q8Z2pX7vN4kR1tY6wB3mJ9cF5hL0dS2a.
func highEntropyLiteralRule() Rule {
	return Rule{
		ID:        RuleHighEntropyLiteral,
		Heuristic: true,
		Summary:   "a literal env value is a long random token (base64/base64url, high Shannon entropy)",
		Since:     ruleSince,
		Remedy:    remedyMoveToVault,
		check: func(_ *Evaluator, it *item) string {
			if !it.literal() {
				return ""
			}
			if highEntropy(&it.lit) {
				if publicName(it.env.Name) || ciphertext(it.env.Name, &it.lit) {
					return ""
				}
				return "literal value is a long random token"
			}
			// A shorter random token under a name ending in KEY whatever
			// its qualifier (FOO_BAR_KEY): the value first, it is cheaper.
			if keyToken(&it.lit) && keyName(it.env.Name) && !publicName(it.env.Name) {
				return "literal value is a random token under a key's name"
			}
			return ""
		},
	}
}

// highEntropy reports whether l is a long random token (see the rule).
func highEntropy(l *literal) bool {
	v := l.v
	if len(v) < 32 || l.space > 0 || l.other > 0 || l.lower == 0 || l.upper == 0 || l.digit == 0 {
		return false
	}
	if hasKnownHashPrefix(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isAlnum(c) && c != '+' && c != '/' && c != '-' && c != '_' && !(c == '=' && i >= len(v)-2) {
			return false
		}
	}
	if l.entropy() < 4.2 {
		return false
	}
	b := l.base64()
	if b == nil {
		return true // base62 and the like: random, not base64
	}
	return !harmlessDecoded(b)
}

// harmlessDecoded reports whether decoded base64 is printable text or
// public key material.
func harmlessDecoded(b []byte) bool {
	return printableText(b) || publicKeyMaterial(b)
}

// publicKeyMaterial reports whether b is a DER X.509 certificate, a DER
// public key or an SSH public key blob.
func publicKeyMaterial(b []byte) bool {
	if len(b) > 4 && b[0] == 0x30 {
		if _, err := x509.ParseCertificate(b); err == nil {
			return true
		}
		if _, err := x509.ParsePKIXPublicKey(b); err == nil {
			return true
		}
	}
	// SSH wire format: uint32 length, then the key type name.
	for _, t := range [...]string{"ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"} {
		if len(b) > 4+len(t) && b[0] == 0 && b[1] == 0 && bytes.HasPrefix(b[4:], []byte(t)) {
			return true
		}
	}
	return false
}

package fetch

import (
	"errors"
	"strings"

	vault "github.com/hashicorp/vault/api"
)

// ErrVaultToken is wrapped by the error of a read whose answer is a Vault
// token. Plan validation refuses the paths that return one (auth/, sys/);
// this is the second line: whatever the path, a token never reaches the
// app's files.
var ErrVaultToken = errors.New("it returns a Vault token")

// tokenPrefixes start Vault's tokens: service (hvs., s.) and batch (hvb.,
// b.), in the current and the legacy format.
var tokenPrefixes = []string{"hvs.", "hvb.", "s.", "b."}

// looksLikeToken reports whether v is a string shaped like a Vault token:
// a token prefix, then at least 16 characters of [A-Za-z0-9_-].
func looksLikeToken(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, p := range tokenPrefixes {
		rest, ok := strings.CutPrefix(s, p)
		if !ok || len(rest) < 16 {
			continue
		}
		if strings.IndexFunc(rest, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) < 0 {
			return true
		}
	}
	return false
}

// isTokenLookup reports whether data looks like a token lookup
// (auth/token/lookup-self and friends): an accessor, and an id or a
// client_token that looks like a token.
func isTokenLookup(data map[string]any) bool {
	if _, ok := data["accessor"]; !ok {
		return false
	}
	return looksLikeToken(data["id"]) || looksLikeToken(data["client_token"])
}

// tokenIn says which Vault token an answer carries, if any: an auth block
// with a client token (auth/token/create, a login), a response-wrapping
// token, or a token lookup in its data or, for KV v2, in its inner data.
// The reason names the kind, never the token.
func tokenIn(sec *vault.Secret, inner Data) (string, bool) {
	switch {
	case sec.Auth != nil && sec.Auth.ClientToken != "":
		return "an auth block with a new client token, as auth/token/create and logins return", true
	case sec.WrapInfo != nil && sec.WrapInfo.Token != "":
		return "a response-wrapping token", true
	case isTokenLookup(sec.Data) || isTokenLookup(inner):
		return "a token lookup, whose id is the token itself", true
	}
	return "", false
}

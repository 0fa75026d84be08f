package policy

import (
	"encoding/base64"
	"strings"
)

// More formats of known-credential-format: vendor token prefixes that
// gitleaks' rules need a keyword beside (or that the prefilter before
// gitleaks lets pass), webhook URLs whose path is the credential, and
// credentials known by name and shape together.

// vendorStart reports whether a token of vendorToken may start with the
// bytes a, b: a cheap test before the call.
func vendorStart(a, b byte) bool {
	switch a {
	case 'l':
		return b == 'i'
	case 'P':
		return b == 'M'
	case 'g':
		return b == 'l' || b == 's'
	case 'G':
		return b == 'O'
	case 'A':
		return b == 'T' || b == 'G'
	case 'd':
		return b == 'p' || b == 'c'
	case 'p':
		return b == 'u' || b == 's' || b == 'p'
	case 's':
		return b == 'n' || b == 'b' || b == 'h' || b == 'q'
	case 'f':
		return b == 'o'
	case 'N':
		return b == 'R'
	case 'o':
		return b == 'p'
	case 'r':
		return b == 'u'
	case 'x':
		return b == 'a'
	}
	return false
}

// vendorPrefix is a vendor's token: its prefix, then a run of at least min
// alphanumerics or bytes of extra.
type vendorPrefix struct {
	prefix string
	min    int
	extra  string
	what   string
}

// vendorPrefixes are the tokens vendorToken recognises (vendorStart gates
// them on their first two bytes).
var vendorPrefixes = [...]vendorPrefix{
	{"lin_api_", 40, "", "a Linear API key"},
	{"PMAK-", 59, "-", "a Postman API key"},
	{"glsa_", 40, "_", "a Grafana service account token"},
	{"glc_", 32, "+/=", "a Grafana Cloud token"},
	{"gsk_", 48, "", "a Groq API key"},
	{"GOCSPX-", 28, "-_", "a Google OAuth client secret"},
	{"ATATT3", 100, "-_=", "an Atlassian API token"},
	{"AGE-SECRET-KEY-1", 58, "", "an age secret key"},
	{"dp.pt.", 40, "", "a Doppler token"},
	{"dp.st.", 40, "", "a Doppler token"},
	{"dckr_pat_", 27, "-_", "a Docker Hub access token"},
	{"dckr_oat_", 27, "-_", "a Docker Hub access token"},
	{"pul-", 40, "", "a Pulumi access token"},
	{"pscale_tkn_", 32, "-_.", "a PlanetScale token"},
	{"pscale_pw_", 32, "-_.", "a PlanetScale password"},
	{"pplx-", 40, "", "a Perplexity API key"},
	{"sntrys_", 40, "+/=_", "a Sentry token"},
	{"sntryu_", 40, "", "a Sentry token"},
	{"sbp_", 40, "", "a Supabase access token"},
	{"sq0atp-", 22, "-_", "a Square access token"},
	{"sq0csp-", 40, "-_", "a Square OAuth secret"},
	{"fo1_", 40, "-_", "a Fly.io token"},
	{"NRAK-", 27, "", "a New Relic API key"},
	{"ops_eyJ", 50, "-_", "a 1Password service account token"},
	{"rubygems_", 48, "", "a RubyGems API key"},
	{"xai-", 70, "", "an xAI API key"},
}

// vendorToken recognises, at the start of t, a token prefix followed by its
// body. Like tokenFormat it reads a bounded run after the prefix.
func vendorToken(t string) string {
	if len(t) < 20 {
		return ""
	}
	if shopifyToken(t) {
		return "a Shopify token"
	}
	for i := range vendorPrefixes {
		v := &vendorPrefixes[i]
		if t[0] == v.prefix[0] && prefixRun(t, v.prefix, v.min, v.extra) {
			return v.what
		}
	}
	return ""
}

// shopifyToken recognises shpat_, shpca_, shppa_ and shpss_ followed by 32
// or more alphanumerics.
func shopifyToken(t string) bool {
	if !strings.HasPrefix(t, "shp") || len(t) <= 6 || t[5] != '_' {
		return false
	}
	switch t[3:5] {
	case "at", "ca", "pa", "ss":
		return tokenRunMax(t[6:], "", 32) >= 32
	}
	return false
}

// webhookURL recognises a webhook URL whose path is its credential:
// Discord (discord.com/api/webhooks/<id>/<token>), Slack
// (hooks.slack.com/services/...) and Microsoft Teams
// (<tenant>.webhook.office.com/webhookb2/.../IncomingWebhook/...). A
// token that is a placeholder (XXXXXXXX...) is none.
func webhookURL(s string) string {
	const maxWebhookURL = 512
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], "://")
		if i < 0 {
			return ""
		}
		rest := s[off+i+3:]
		off += i + 3
		// Bounded reads keep a value of many URLs linear: a host name is
		// at most 253 bytes, these webhooks' paths a few hundred.
		if len(rest) > maxWebhookURL {
			rest = rest[:maxWebhookURL]
		}
		h := min(len(rest), 254)
		slash := strings.IndexByte(rest[:h], '/')
		if slash < 0 {
			continue
		}
		host := strings.ToLower(rest[:slash])
		if !strings.Contains(host, "discord") && !strings.Contains(host, "slack") && !strings.Contains(host, "office") {
			continue
		}
		path := rest[slash+1:]
		if k := strings.IndexAny(path, " \t\n\"'?#"); k >= 0 {
			path = path[:k]
		}
		switch {
		case host == "discord.com" || host == "discordapp.com" || strings.HasSuffix(host, ".discord.com") || strings.HasSuffix(host, ".discordapp.com"):
			p := strings.Split(path, "/")
			if len(p) >= 4 && p[0] == "api" && p[1] == "webhooks" && isDigits(p[2]) && len(p[2]) >= 15 && tokenRun(p[3], "-_") >= 60 && !placeholder("", p[3]) {
				return "a Discord webhook URL"
			}
		case host == "hooks.slack.com":
			p := strings.Split(path, "/")
			if len(p) >= 4 && (p[0] == "services" || p[0] == "workflows" || p[0] == "triggers") && tokenRun(p[len(p)-1], "") >= 20 &&
				!placeholder("", p[len(p)-1]) {
				return "a Slack webhook URL"
			}
		case strings.HasSuffix(host, ".webhook.office.com") || host == "outlook.office.com" || host == "outlook.office365.com":
			if strings.HasPrefix(path, "webhook") && strings.Contains(path, "/IncomingWebhook/") {
				return "a Microsoft Teams webhook URL"
			}
		}
	}
	return ""
}

// azureClientSecret recognises an Entra ID (Azure AD) client secret:
// three characters, a digit, "Q~", then 31 to 34 of [A-Za-z0-9_~.-].
func azureClientSecret(s string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], "Q~")
		if i < 0 {
			return false
		}
		i += off
		off = i + 2
		if i < 4 || !isDigit(s[i-1]) || i > 4 && inSet(s[i-5], "_~.") || i > 4 && isAlnum(s[i-5]) {
			continue
		}
		ok := true
		for _, c := range []byte(s[i-4 : i-1]) {
			if !isAlnum(c) && !inSet(c, "_~.") {
				ok = false
			}
		}
		if n := tokenRunMax(s[i+2:], "_~.-", 35); ok && n >= 31 && n <= 34 {
			return true
		}
	}
}

// mailchimpKey recognises a Mailchimp API key: 32 hex digits, "-us", and
// the data centre's number, as a whole word.
func mailchimpKey(s string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], "-us")
		if i < 0 {
			return false
		}
		i += off
		off = i + 3
		if i < 32 || !isHex(s[i-32:i]) || i > 32 && isAlnum(s[i-33]) {
			continue
		}
		n := 0
		for i+3+n < len(s) && isDigit(s[i+3+n]) {
			n++
		}
		if n >= 1 && n <= 2 && (i+3+n == len(s) || !isAlnum(s[i+3+n])) {
			return true
		}
	}
}

// namedFormat recognises credentials known by their variable's name and
// their shape together, where the shape alone is common (40 hex digits is
// also a git SHA): Datadog's API key (32 hex) and application key (40 hex).
func namedFormat(name, v string) string {
	if len(v) != 32 && len(v) != 40 || !isHex(v) {
		return ""
	}
	var buf [maxWords]span
	ws := nameWords(name, &buf)
	datadog, app, api := false, false, false
	for i, s := range ws {
		var ub [16]byte
		switch string(upperInto(&ub, name[s.lo:s.hi])) {
		case "DD", "DATADOG":
			datadog = true
		case "APP", "APPLICATION":
			app = app || i+1 < len(ws) && strings.EqualFold(name[ws[i+1].lo:ws[i+1].hi], "KEY")
		case "API":
			api = api || i+1 < len(ws) && strings.EqualFold(name[ws[i+1].lo:ws[i+1].hi], "KEY")
		case "APPKEY", "APPLICATIONKEY":
			app = true
		case "APIKEY":
			api = true
		}
	}
	switch {
	case !datadog || !isHex(v):
		return ""
	case app && len(v) == 40:
		return "a Datadog application key"
	case api && len(v) == 32:
		return "a Datadog API key"
	}
	return ""
}

// authorizationToken reports whether tok, after the Authorization scheme
// (lower case, with its space, see authScheme), is a credential: Basic by
// its decoded user:password, the others by their token.
func authorizationToken(scheme, tok string) bool {
	if scheme == "basic " {
		if b := decodeBasic(tok); b != nil {
			return strings.IndexByte(string(b), ':') > 0 || !printableText(b) && len(tok) >= 16
		}
		return false
	}
	if placeholder("", tok) || isReference(tok) {
		return false
	}
	switch scheme {
	case "bearer ":
		return len(tok) >= 16 || len(tok) >= 8 && mixesLettersDigits(tok)
	default: // token, apikey, ssws, splunk, genieKey: the word is common in prose
		return len(tok) >= 16 && mixesLettersDigits(tok)
	}
}

// decodeBasic decodes a Basic credential, padded or not.
func decodeBasic(tok string) []byte {
	if b, err := base64.StdEncoding.DecodeString(tok); err == nil {
		return b
	}
	if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(tok, "=")); err == nil {
		return b
	}
	return nil
}

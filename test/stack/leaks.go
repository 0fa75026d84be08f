package stack

import "regexp"

// credential matches what a Vault login or a SPIFFE JWT-SVID would put in
// a log: a Vault service or batch token (hvs./hvb. and the legacy s./b.
// forms with their 24-character body) or a compact JWT (two base64url JSON
// segments, both of which start with "eyJ"). A bare "eyJ" is not enough:
// Vault lease IDs are random base62 and contain it about once in every few
// thousand leases.
var credential = regexp.MustCompile(`\b(?:hv[sb]\.[A-Za-z0-9_-]{20,}|[sb]\.[A-Za-z0-9]{24}\b)|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}`)

// Credentials returns each Vault token or JWT found in out, so that a test
// can assert that a log, an error or an admission message holds none.
func Credentials(out string) []string {
	return credential.FindAllString(out, -1)
}

package policy

import (
	"strings"
	"testing"
)

// TestVendorStartGatesEveryPrefix holds vendorStart, the cheap gate before
// vendorToken, to the table: a prefix it refused would never be recognised.
func TestVendorStartGatesEveryPrefix(t *testing.T) {
	for _, v := range vendorPrefixes {
		if !vendorStart(v.prefix[0], v.prefix[1]) {
			t.Errorf("vendorStart refuses %q", v.prefix)
		}
		token := v.prefix + strings.Repeat("a1", v.min)
		if got := vendorToken(token); got != v.what {
			t.Errorf("vendorToken(%q) = %q, want %q", token, got, v.what)
		}
	}
	for _, p := range []string{"shpat_", "shpca_", "shppa_", "shpss_"} {
		if got := vendorToken(p + strings.Repeat("a1", 16)); got != "a Shopify token" || !vendorStart(p[0], p[1]) {
			t.Errorf("vendorToken(%s...) = %q", p, got)
		}
	}
}

// A PEM private key header is recognised with fewer dashes or with spaces,
// as other scanners do; a public key or a certificate is not a secret.
func TestPEMPrivateKeyHeaders(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIE", true},
		{"---BEGIN OPENSSH PRIVATE KEY---\nb3Bl", true},
		{"--- BEGIN OPENSSH PRIVATE KEY ---", true},
		{"----- BEGIN EC PRIVATE KEY -----", true},
		{"key: ---BEGIN PRIVATE KEY---", true},
		{"-----BEGIN PUBLIC KEY-----", false},
		{"---BEGIN CERTIFICATE---", false},
		{"--BEGIN PRIVATE KEY--", false},
		{"-----BEGINPRIVATE KEY-----", false},
	} {
		if got := tokenFormat(tt.in) == "a PEM private key"; got != tt.want {
			t.Errorf("tokenFormat(%q) names a PEM private key: %v, want %v", tt.in, got, tt.want)
		}
	}
}

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

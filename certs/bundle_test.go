package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func testCA(t *testing.T, name string, notBefore, notAfter time.Time) *keyPair {
	t.Helper()
	ca, err := newCA(name, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func names(certs []*x509.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, c.Subject.CommonName)
	}
	return out
}

func TestMergeBundleDedupsAndPrunesExpired(t *testing.T) {
	t.Parallel()
	old := testCA(t, "old", t0.Add(-48*time.Hour), t0.Add(-time.Hour)).cert
	cur := testCA(t, "cur", t0.Add(-time.Hour), t0.Add(time.Hour)).cert
	next := testCA(t, "next", t0, t0.Add(48*time.Hour)).cert
	endsNow := testCA(t, "ends-now", t0.Add(-time.Hour), t0).cert
	tests := []struct {
		name  string
		lists [][]*x509.Certificate
		want  []string
	}{
		{"keeps order, first of duplicates", [][]*x509.Certificate{{cur}, {next, cur}, {cur}}, []string{"cur", "next"}},
		{"drops expired", [][]*x509.Certificate{{old, cur}, {next}}, []string{"cur", "next"}},
		{"NotAfter equal to now is expired", [][]*x509.Certificate{{endsNow, cur}}, []string{"cur"}},
		{"skips nil", [][]*x509.Certificate{{nil, cur}, nil}, []string{"cur"}},
		{"all expired", [][]*x509.Certificate{{old}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := names(mergeBundle(t0, tt.lists...))
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestBundlePEMRoundTrip(t *testing.T) {
	t.Parallel()
	a := testCA(t, "a", t0, t0.Add(time.Hour)).cert
	b := testCA(t, "b", t0, t0.Add(time.Hour)).cert
	pemData := encodeCertsPEM([]*x509.Certificate{a, b})
	back, err := parseCertsPEM(pemData)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(back, []*x509.Certificate{a, b}) || !back[0].Equal(a) {
		t.Errorf("round trip gave %v", names(back))
	}
	if !bundleContains(pemData, b) {
		t.Error("bundleContains: false for a member")
	}
	c := testCA(t, "c", t0, t0.Add(time.Hour)).cert
	if bundleContains(pemData, c) {
		t.Error("bundleContains: true for a stranger")
	}
	if !sameSet([]*x509.Certificate{a, b}, []*x509.Certificate{b, a}) || sameSet([]*x509.Certificate{a}, []*x509.Certificate{a, b}) {
		t.Error("sameSet is order-sensitive or size-blind")
	}
	if got := earliestExpiry([]*x509.Certificate{a, testCA(t, "d", t0, t0.Add(time.Minute)).cert}); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("earliestExpiry = %s", got)
	}
}

func TestParseCertsPEMRejectsCorruptBundles(t *testing.T) {
	t.Parallel()
	ca := testCA(t, "a", t0, t0.Add(time.Hour))
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("garbage")},
		{"trailing garbage", append(bytes.Clone(ca.certPEM), "garbage"...)},
		{"a key, not a certificate", ca.keyPEM},
		{"bad DER", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := parseCertsPEM(tt.data); err == nil {
				t.Error("want an error")
			}
		})
	}
	if _, err := parseCertsPEM([]byte("\n")); !errors.Is(err, errNoCertificate) {
		t.Errorf("blank input: %v, want errNoCertificate", err)
	}
	if bundleContains([]byte("garbage"), ca.cert) {
		t.Error("a corrupt bundle contains something")
	}
}

func certsOf(kps ...*keyPair) []*x509.Certificate {
	var out []*x509.Certificate
	for _, kp := range kps {
		out = append(out, kp.cert)
	}
	return out
}

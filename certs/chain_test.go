package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestNewLeafIsSignedByItsCAAndNamesItsHosts(t *testing.T) {
	t.Parallel()
	ca, err := newCA("test CA", t0.Add(-time.Minute), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{"wisp", "wisp.wisp-system.svc", "127.0.0.1", "::1"}
	leaf, err := newLeaf(ca, hosts, t0.Add(-time.Minute), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !ca.cert.IsCA || !ca.cert.MaxPathLenZero || ca.cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA certificate lacks CA constraints: IsCA=%v usage=%v", ca.cert.IsCA, ca.cert.KeyUsage)
	}
	if leaf.cert.IsCA {
		t.Error("leaf is a CA")
	}
	for _, kp := range []*keyPair{ca, leaf} {
		pub, ok := kp.cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			t.Errorf("%s: key is %T, want ECDSA P-256", kp.cert.Subject.CommonName, kp.cert.PublicKey)
		}
	}
	if diff := cmp.Diff([]string{"wisp", "wisp.wisp-system.svc"}, leaf.cert.DNSNames); diff != "" {
		t.Errorf("DNS SANs (-want +got):\n%s", diff)
	}
	if len(leaf.cert.IPAddresses) != 2 || !leaf.cert.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("IP SANs = %v", leaf.cert.IPAddresses)
	}
	if !coversHosts(leaf.cert, hosts) {
		t.Error("coversHosts: false for the hosts it was made for")
	}
	if coversHosts(leaf.cert, append(hosts, "other")) || coversHosts(leaf.cert, []string{"10.0.0.1"}) {
		t.Error("coversHosts: true for a host it does not name")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	if _, err := leaf.cert.Verify(x509.VerifyOptions{DNSName: "wisp.wisp-system.svc", Roots: pool, CurrentTime: t0}); err != nil {
		t.Errorf("leaf does not verify: %v", err)
	}
	// The PEM forms load back as the same pair.
	back, err := parseKeyPair(leaf.certPEM, leaf.keyPEM)
	if err != nil || !back.cert.Equal(leaf.cert) {
		t.Errorf("parseKeyPair round trip: %v", err)
	}
}

func TestNewLeafNeverOutlivesItsCA(t *testing.T) {
	t.Parallel()
	ca, err := newCA("test CA", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := newLeaf(ca, []string{"wisp"}, t0.Add(-time.Minute), t0.Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.cert.NotAfter.Equal(ca.cert.NotAfter) {
		t.Errorf("leaf NotAfter %s, want the CA's %s", leaf.cert.NotAfter, ca.cert.NotAfter)
	}
	if leaf.cert.NotBefore.Before(ca.cert.NotBefore) {
		t.Errorf("leaf NotBefore %s before the CA's %s", leaf.cert.NotBefore, ca.cert.NotBefore)
	}
}

func TestParseKeyPairRejectsMismatchAndGarbage(t *testing.T) {
	t.Parallel()
	ca, err := newCA("test CA", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := newLeaf(ca, []string{"wisp"}, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		certPEM, keyPEM []byte
	}{
		{"key of another certificate", leaf.certPEM, ca.keyPEM},
		{"garbage certificate", []byte("not PEM"), leaf.keyPEM},
		{"garbage key", leaf.certPEM, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := parseKeyPair(tt.certPEM, tt.keyPEM); err == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestServiceHosts(t *testing.T) {
	t.Parallel()
	want := []string{"wisp", "wisp.ops", "wisp.ops.svc", "wisp.ops.svc.cluster.local"}
	if diff := cmp.Diff(want, ServiceHosts("wisp", "ops")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestBackdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		validity, want time.Duration
	}{
		{6 * time.Second, 600 * time.Millisecond},
		{5 * time.Minute, 30 * time.Second},
		{90 * 24 * time.Hour, time.Minute},
	}
	for _, tt := range tests {
		if got := backdate(tt.validity); got != tt.want {
			t.Errorf("backdate(%s) = %s, want %s", tt.validity, got, tt.want)
		}
	}
}

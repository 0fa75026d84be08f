package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"
)

// maxBackdate is the most a certificate's NotBefore is set before its issue
// time, to tolerate clock skew between the issuer and the API servers.
const maxBackdate = time.Minute

// keyPair is a parsed certificate with its private key, and both PEM forms.
type keyPair struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

// String never prints the private key.
func (k *keyPair) String() string {
	return "certs.keyPair{" + k.cert.Subject.CommonName + ", key: [redacted]}"
}

// LogValue never logs the private key.
func (k *keyPair) LogValue() slog.Value {
	return slog.GroupValue(slog.String("subject", k.cert.Subject.CommonName), slog.String("key", "[redacted]"))
}

// backdate is how much before now a certificate valid for validity starts:
// a tenth of the validity, at most maxBackdate, so that a short-lived test
// certificate is not mostly in the past.
func backdate(validity time.Duration) time.Duration {
	return min(maxBackdate, validity/10)
}

// newCA makes a self-signed ECDSA P-256 CA valid over [notBefore, notAfter].
func newCA(commonName string, notBefore, notAfter time.Time) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return sign(tmpl, nil, key)
}

// newLeaf makes an ECDSA P-256 serving certificate for hosts (DNS names or
// IP addresses), signed by ca, valid over [notBefore, notAfter] but never
// past the CA's own NotAfter.
func newLeaf(ca *keyPair, hosts []string, notBefore, notAfter time.Time) (*keyPair, error) {
	if len(hosts) == 0 {
		return nil, errors.New("no host names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	if notBefore.Before(ca.cert.NotBefore) {
		notBefore = ca.cert.NotBefore
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return sign(tmpl, ca, key)
}

// sign signs tmpl for key with parent, or self-signs it when parent is nil.
func sign(tmpl *x509.Certificate, parent *keyPair, key *ecdsa.PrivateKey) (*keyPair, error) {
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// parseKeyPair parses a PEM certificate (the first block is the certificate,
// any further blocks are ignored) and its PEM private key, and checks that
// they belong together. Only ECDSA keys are accepted: auto mode makes no
// other kind.
func parseKeyPair(certPEM, keyPEM []byte) (*keyPair, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want ECDSA", pair.PrivateKey)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
	}
	return &keyPair{cert: leaf, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// tlsCertificate is the pair as crypto/tls serves it, with Leaf set.
func (k *keyPair) tlsCertificate() *tls.Certificate {
	return &tls.Certificate{Certificate: [][]byte{k.cert.Raw}, PrivateKey: k.key, Leaf: k.cert}
}

// coversHosts reports whether cert names every host, as a DNS SAN or an IP SAN.
func coversHosts(cert *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(cert.DNSNames, h) {
			return false
		}
	}
	return true
}

// Fingerprint is the hex SHA-256 of a DER certificate, as logs and tests
// name certificates.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ServiceHosts are the DNS names under which a Service is reached inside the
// cluster: svc, svc.ns, svc.ns.svc and svc.ns.svc.cluster.local.
func ServiceHosts(service, namespace string) []string {
	return []string{
		service,
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

package certs

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names written by Bundle.WriteDir, the names Kubernetes TLS Secrets and
// cert-manager use.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
	CAFile   = "ca.crt"
)

// Bundle is a CA and a serving certificate signed by it, PEM-encoded.
type Bundle struct {
	CAPEM   []byte
	CertPEM []byte
	KeyPEM  []byte
}

// String never prints the private key.
func (b *Bundle) String() string { return "certs.Bundle{key: [redacted]}" }

// NewDev generates an ephemeral CA and a serving certificate for hosts (DNS
// names or IP addresses), valid from now for validity.
func NewDev(hosts []string, now time.Time, validity time.Duration) (*Bundle, error) {
	if len(hosts) == 0 {
		return nil, errors.New("dev certificate: no host names")
	}
	if validity <= 0 {
		return nil, errors.New("dev certificate: validity must be positive")
	}
	notBefore := now.Add(-time.Minute) // tolerate a little clock skew
	notAfter := now.Add(validity)
	ca, err := newCA("wisp dev CA", notBefore, notAfter)
	if err != nil {
		return nil, fmt.Errorf("dev certificate: %w", err)
	}
	leaf, err := newLeaf(ca, hosts, notBefore, notAfter)
	if err != nil {
		return nil, fmt.Errorf("dev certificate: %w", err)
	}
	return &Bundle{CAPEM: ca.certPEM, CertPEM: leaf.certPEM, KeyPEM: leaf.keyPEM}, nil
}

// WriteDir writes ca.crt, tls.crt and tls.key (mode 0600) into dir, each
// atomically.
func (b *Bundle) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write certificates: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{CAFile, b.CAPEM, 0o644}, {CertFile, b.CertPEM, 0o644}, {KeyFile, b.KeyPEM, 0o600}} {
		// Write, then rename: a reader never sees a half-written file.
		tmp := filepath.Join(dir, "."+f.name+".tmp")
		if err := os.WriteFile(tmp, f.data, f.mode); err != nil {
			return fmt.Errorf("write certificates: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			return fmt.Errorf("write certificates: %w", err)
		}
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("certs: read random serial: %v", err))
	}
	return n.Add(n, big.NewInt(1))
}

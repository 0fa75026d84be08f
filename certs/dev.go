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

// WriteDir writes ca.crt, tls.crt (mode 0644) and tls.key (mode 0600) into
// dir, each atomically: a reader sees the old file or the new one, never a
// part of one.
func (b *Bundle) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write certificates: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{CAFile, b.CAPEM, 0o644}, {CertFile, b.CertPEM, 0o644}, {KeyFile, b.KeyPEM, 0o600}} {
		if err := writeFileAtomic(dir, f.name, f.data, f.mode); err != nil {
			return fmt.Errorf("write certificates: %w", err)
		}
	}
	return nil
}

// writeFileAtomic replaces dir/name with data, mode perm: it writes a new
// temporary file in dir, then renames it over the target.
//
// The temporary file is created exclusively under a random name
// (os.CreateTemp: O_CREATE|O_EXCL, mode 0600), so a file or symlink planted
// in dir is never opened or written through, and concurrent writers never
// share one. Its mode is set with fchmod, which the umask does not touch,
// before any data is written. On any error the temporary file is removed.
func writeFileAtomic(dir, name string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: create temporary file: %w", name, err)
	}
	tmpName := tmp.Name()
	closed := false
	defer func() {
		if err == nil {
			return
		}
		if !closed {
			_ = tmp.Close()
		}
		_ = os.Remove(tmpName)
	}()
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("%s: set mode: %w", name, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("%s: write: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("%s: fsync: %w", name, err)
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", name, err)
	}
	if err := os.Rename(tmpName, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("%s: replace: %w", name, err)
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

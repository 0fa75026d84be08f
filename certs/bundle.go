package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"
)

// errNoCertificate is returned for PEM data that holds no certificate.
var errNoCertificate = errors.New("no PEM certificate")

// parseCertsPEM parses every block of data as a certificate. Any other block
// type, undecodable bytes between blocks or an empty input is an error: a
// trust bundle is all certificates or it is corrupt.
func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", len(out)+1, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%d bytes that are not PEM after %d certificates", len(bytes.TrimSpace(rest)), len(out))
	}
	if len(out) == 0 {
		return nil, errNoCertificate
	}
	return out, nil
}

// encodeCertsPEM is the PEM form of certs, in order.
func encodeCertsPEM(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // a bytes.Buffer does not fail
	}
	return b.Bytes()
}

// mergeBundle merges certificate lists into one trust bundle: in the order
// given, the first of duplicates kept, certificates expired at now (NotAfter
// not after now) left out. It never returns an input slice.
func mergeBundle(now time.Time, lists ...[]*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, l := range lists {
		for _, c := range l {
			if c == nil || !now.Before(c.NotAfter) || containsCert(out, c) {
				continue
			}
			out = append(out, c)
		}
	}
	return out
}

// containsCert reports whether list holds c (same DER bytes).
func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	return slices.ContainsFunc(list, c.Equal)
}

// bundleContains reports whether the PEM bundle holds c. A bundle that does
// not parse contains nothing.
func bundleContains(bundlePEM []byte, c *x509.Certificate) bool {
	certs, err := parseCertsPEM(bundlePEM)
	return err == nil && containsCert(certs, c)
}

// earliestExpiry is the soonest NotAfter in certs; zero for none.
func earliestExpiry(certs []*x509.Certificate) time.Time {
	var t time.Time
	for _, c := range certs {
		if t.IsZero() || c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

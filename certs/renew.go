package certs

import (
	"crypto/x509"
	"time"
)

// renewAt is when a certificate valid over [notBefore, notAfter] is renewed:
// after fraction of its lifetime. A fraction outside (0, 1) renews at
// notBefore, that is at once.
func renewAt(notBefore, notAfter time.Time, fraction float64) time.Time {
	if fraction <= 0 || fraction >= 1 || !notAfter.After(notBefore) {
		return notBefore
	}
	life := notAfter.Sub(notBefore)
	return notBefore.Add(time.Duration(float64(life) * fraction))
}

// leafRenewAt is when the serving certificate c is renewed.
func leafRenewAt(c *x509.Certificate, fraction float64) time.Time {
	return renewAt(c.NotBefore, c.NotAfter, fraction)
}

// caRenewAt is when a successor of the CA c is made and published: overlap
// before c expires, so that old and new CA are both trusted for overlap. It
// is never before c's NotBefore.
func caRenewAt(c *x509.Certificate, overlap time.Duration) time.Time {
	t := c.NotAfter.Add(-overlap)
	if t.Before(c.NotBefore) {
		return c.NotBefore
	}
	return t
}

// earliest is the soonest of the non-zero times; zero if all are zero.
func earliest(times ...time.Time) time.Time {
	var out time.Time
	for _, t := range times {
		if !t.IsZero() && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out
}

package certs

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"
)

// Static is a Source serving one certificate for its whole life: the dev
// mode's, from NewDev. It never reloads.
type Static struct {
	h holder
}

// NewStatic serves the PEM certificate (chain) and key; clock (nil:
// time.Now) decides expiry for Ready.
func NewStatic(certPEM, keyPEM []byte, clock func() time.Time) (*Static, error) {
	if clock == nil {
		clock = time.Now
	}
	s, err := loadPair(certPEM, keyPEM, clock())
	if err != nil {
		return nil, fmt.Errorf("certs: static: %w", err)
	}
	st := &Static{h: holder{clock: clock}}
	st.h.store(s)
	return st, nil
}

// GetCertificate returns the certificate; see Source.
func (s *Static) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.h.getCertificate(hello)
}

// Start waits for ctx to be done: there is nothing to keep current.
func (s *Static) Start(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Ready returns nil until the certificate expires.
func (s *Static) Ready() error { return s.h.ready() }

// Status reports the served certificate; Err is always nil.
func (s *Static) Status() Status { return s.h.status() }

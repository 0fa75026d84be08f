package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Source serves the webhook's certificate. GetCertificate plugs into
// tls.Config and never calls the Kubernetes API or reads a file: it returns
// the certificate last loaded, swapped atomically, so a rotation never
// restarts the listener nor drops a connection.
type Source interface {
	// GetCertificate returns the certificate to serve; an error while none
	// is loaded.
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Start keeps the certificate current until ctx is done.
	Start(ctx context.Context) error
	// Ready returns nil while a valid certificate (unexpired, matching its
	// key) is loaded, else why not.
	Ready() error
}

var (
	_ Source = (*Auto)(nil)
	_ Source = (*Files)(nil)
	_ Source = (*Static)(nil)
)

// ErrNotReady is wrapped by Ready and GetCertificate while no valid
// certificate is loaded.
var ErrNotReady = errors.New("no valid serving certificate loaded")

// ErrInvalidOptions is wrapped by the errors of NewAuto and NewFiles for bad
// options.
var ErrInvalidOptions = errors.New("invalid certificate options")

// Mode names a certificate source, as the --cert-mode flag does.
type Mode string

// The certificate modes.
const (
	// ModeAuto generates a CA and serving certificate, keeps them in a Secret
	// shared by every replica, rotates them and injects the CA bundle into
	// the webhook configurations. See Auto.
	ModeAuto Mode = "auto"
	// ModeFiles serves certificate and key files written by someone else
	// (cert-manager, a mounted Secret), hot reloaded. See Files.
	ModeFiles Mode = "files"
	// ModeDev generates an ephemeral CA and certificate in memory, for local
	// use and tests. See NewDev and Static.
	ModeDev Mode = "dev"
)

// ParseMode parses a mode name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeFiles, ModeDev:
		return m, nil
	}
	return "", fmt.Errorf("certificate mode %q: want %s, %s or %s", s, ModeAuto, ModeFiles, ModeDev)
}

// TLSConfig is a server tls.Config serving getCertificate (a Source's
// method) with wisp's floor: TLS 1.2 minimum and HTTP/1.1 only.
func TLSConfig(getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: getCertificate,
	}
}

// served is one loaded certificate, immutable.
type served struct {
	cert *tls.Certificate
	leaf *x509.Certificate
	ca   *x509.Certificate // the issuing CA when known, else nil
}

// holder is what every source shares: the served certificate behind an
// atomic pointer, the last load error and the metrics.
type holder struct {
	cur     atomic.Pointer[served]
	clock   func() time.Time
	metrics *metrics

	mu        sync.Mutex // guards lastErr, lastErrAt
	lastErr   error
	lastErrAt time.Time
}

func (h *holder) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s := h.cur.Load()
	if s == nil {
		return nil, fmt.Errorf("certs: %w", ErrNotReady)
	}
	return s.cert, nil
}

// store swaps in s and updates the expiry metrics.
func (h *holder) store(s *served) {
	h.cur.Store(s)
	h.metrics.setExpiry(s.leaf, s.ca)
}

// ready is nil while an unexpired certificate is served.
func (h *holder) ready() error {
	s := h.cur.Load()
	if s == nil {
		if err := h.lastError(); err != nil {
			return fmt.Errorf("certs: %w: %w", ErrNotReady, err)
		}
		return fmt.Errorf("certs: %w", ErrNotReady)
	}
	if now := h.clock(); !now.Before(s.leaf.NotAfter) {
		err := fmt.Errorf("certs: %w: served certificate expired at %s", ErrNotReady, s.leaf.NotAfter.UTC().Format(time.RFC3339))
		if last := h.lastError(); last != nil {
			err = fmt.Errorf("%w; last error: %w", err, last)
		}
		return err
	}
	return nil
}

// setError records the outcome of a load or renewal: nil clears the error.
func (h *holder) setError(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr = err
	h.lastErrAt = time.Time{}
	if err != nil {
		h.lastErrAt = h.clock()
	}
	h.metrics.setFailing(err != nil)
}

func (h *holder) lastError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

// Status is a source's state, for diagnostics and tests.
type Status struct {
	// Fingerprint (hex SHA-256 of the DER) and NotAfter of the served
	// certificate; empty before one is loaded.
	Fingerprint string
	NotAfter    time.Time
	// CAFingerprint is the served certificate's CA, when known.
	CAFingerprint string
	// Err is the error of the last load or renewal, nil if it succeeded,
	// and ErrAt when it happened. While Err is set, the previous certificate
	// (if any) keeps serving.
	Err   error
	ErrAt time.Time
}

func (h *holder) status() Status {
	var st Status
	if s := h.cur.Load(); s != nil {
		st.Fingerprint, st.NotAfter = Fingerprint(s.leaf.Raw), s.leaf.NotAfter
		if s.ca != nil {
			st.CAFingerprint = Fingerprint(s.ca.Raw)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st.Err, st.ErrAt = h.lastErr, h.lastErrAt
	return st
}

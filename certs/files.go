package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultPollInterval is how often Files re-reads its files even without a
// file-system event (events can be missed, e.g. on some volume types).
const DefaultPollInterval = 10 * time.Second

// retryAfterEvent is how soon Files re-reads after an event left the files
// unusable, as when a writer has replaced the certificate but not yet the
// key.
const retryAfterEvent = 500 * time.Millisecond

// FilesOptions configure Files. Zero values mean the defaults.
type FilesOptions struct {
	// PollInterval: see DefaultPollInterval.
	PollInterval time.Duration
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
	// Logger receives reloads and failures. Default: discard.
	Logger *slog.Logger
	// Registerer receives wisp_cert_expiry_timestamp_seconds{cert="serving"}
	// and wisp_cert_reload_failing. Default: no metrics.
	Registerer prometheus.Registerer
}

// Files is the files-mode Source: a certificate and key written by someone
// else (cert-manager, a mounted Secret, ...), watched and hot reloaded. A
// missing, unreadable, mismatched or expired new pair is reported and the
// previous certificate keeps serving. The caBundle of the webhook
// configurations is left to its owner (for cert-manager, its CA injector).
type Files struct {
	certPath, keyPath string
	poll              time.Duration
	log               *slog.Logger
	h                 holder

	mu              sync.Mutex // guards rawCert, rawKey
	rawCert, rawKey []byte
}

// NewFiles loads certPath and keyPath (PEM; the certificate file may hold
// the chain after the leaf). A pair that cannot be loaded at start-up is an
// error: the webhook must not start without a certificate.
func NewFiles(certPath, keyPath string, opts FilesOptions) (*Files, error) {
	if certPath == "" || keyPath == "" {
		return nil, fmt.Errorf("certs: files: %w: certificate and key paths are required", ErrInvalidOptions)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("certs: files: %w", err)
	}
	f := &Files{
		certPath: certPath,
		keyPath:  keyPath,
		poll:     opts.PollInterval,
		log:      opts.Logger.With("mode", string(ModeFiles), "path", certPath),
		h:        holder{clock: opts.Clock, metrics: m},
	}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// GetCertificate returns the serving certificate; see Source.
func (f *Files) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.h.getCertificate(hello)
}

// Ready returns nil while the served certificate is unexpired. A bad new
// pair on disk does not make it fail while the previous one still serves;
// see Status.
func (f *Files) Ready() error { return f.h.ready() }

// Status reports the served certificate and the error of the last reload
// (nil if it succeeded; the previous certificate keeps serving meanwhile).
func (f *Files) Status() Status { return f.h.status() }

// Start watches the files until ctx is done. It watches their folders, so
// that a mounted Secret's update (an atomic swap of the ..data symlink) and
// a rename over the file are both seen, and re-reads on a timer as a safety
// net; a failure to set up the watch leaves the timer alone.
func (f *Files) Start(ctx context.Context) error {
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if fw, err := fsnotify.NewWatcher(); err != nil {
		f.log.Warn("cannot watch certificate files; polling only", "err", err, "interval", f.poll)
	} else {
		defer fw.Close()
		for _, dir := range uniqueDirs(f.certPath, f.keyPath) {
			if err := fw.Add(dir); err != nil {
				f.log.Warn("cannot watch certificate folder; polling only", "dir", dir, "err", err, "interval", f.poll)
			}
		}
		events, watchErrs = fw.Events, fw.Errors
	}
	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		fromEvent := false
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-retry.C:
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			fromEvent = true
		case err, ok := <-watchErrs:
			if !ok {
				watchErrs = nil
				continue
			}
			f.log.Warn("certificate watch error; polling continues", "err", err)
			continue
		}
		if err := f.Reload(); err != nil && fromEvent {
			retry.Reset(retryAfterEvent)
		}
	}
}

// Reload re-reads the files now. Unchanged content is a no-op; a pair that
// does not load keeps the previous certificate serving, is logged, and is
// returned.
func (f *Files) Reload() error {
	certPEM, certErr := os.ReadFile(f.certPath)
	keyPEM, keyErr := os.ReadFile(f.keyPath)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := errors.Join(certErr, keyErr); err != nil {
		return f.fail(fmt.Errorf("certs: read certificate files: %w", err))
	}
	if bytes.Equal(certPEM, f.rawCert) && bytes.Equal(keyPEM, f.rawKey) {
		// Back to (or still at) what is served: any earlier failure is over.
		if f.h.lastError() != nil {
			f.h.setError(nil)
		}
		return nil
	}
	s, err := loadPair(certPEM, keyPEM, f.h.clock())
	if err != nil {
		return f.fail(fmt.Errorf("certs: load %s and %s: %w", f.certPath, f.keyPath, err))
	}
	f.rawCert, f.rawKey = certPEM, keyPEM
	prev := f.h.cur.Load()
	f.h.store(s)
	f.h.setError(nil)
	if prev == nil || !prev.leaf.Equal(s.leaf) {
		f.log.Info("serving certificate loaded", "fingerprint", Fingerprint(s.leaf.Raw), "notAfter", s.leaf.NotAfter)
	}
	return nil
}

func (f *Files) fail(err error) error {
	f.h.setError(err)
	if f.h.cur.Load() != nil {
		f.log.Warn("certificate reload failed; the previous certificate keeps serving", "err", err)
	}
	return err
}

// loadPair parses a PEM certificate (chain) and key that belong together and
// checks that the leaf is valid at now.
func loadPair(certPEM, keyPEM []byte, now time.Time) (*served, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		pair.Leaf = leaf
	}
	if !now.Before(leaf.NotAfter) {
		return nil, fmt.Errorf("certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &served{cert: &pair, leaf: leaf}, nil
}

func uniqueDirs(paths ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		d := filepath.Dir(p)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

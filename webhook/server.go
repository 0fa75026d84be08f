package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"wisp.dev/wisp/config"
)

// Defaults of Options.
const (
	DefaultPort            = 9443
	DefaultMaxRequestBytes = int64(4 << 20) // an AdmissionReview of a pod at the API server's 3 MB limit
	DefaultRequestTimeout  = 10 * time.Second
	// DefaultSmallRequestBytes: an ordinary pod's review is 2 to 30 KiB.
	DefaultSmallRequestBytes = int64(64 << 10)
	// DefaultMemoryBudget is 3/8 of the chart's default memory limit.
	DefaultMemoryBudget = int64(96 << 20)
)

// Options configure a Server. Zero values mean the documented defaults.
type Options struct {
	// Host to listen on. Default "" (all addresses).
	Host string
	// Port to listen on. Default 9443.
	Port int
	// CertDir holds CertName and KeyName, watched and hot reloaded.
	// Required unless GetCertificate is set.
	CertDir string
	// CertName and KeyName inside CertDir. Default tls.crt and tls.key.
	CertName, KeyName string
	// GetCertificate, when set, serves certificates instead of CertDir.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// MaxRequestBytes caps a request body; a larger one is refused with 400.
	// Default 4 MiB.
	MaxRequestBytes int64
	// RequestTimeout bounds reading the body and answering one request.
	// Default 10 s. A shorter timeout the API server sends with the request
	// (the webhook's timeoutSeconds, as ?timeout=5s) applies instead; the
	// policy stops judging a little before either (see answerWithin).
	RequestTimeout time.Duration
	// SmallRequestBytes: a request whose body is at most this long (by its
	// Content-Length) is judged in a lane of its own, never behind a larger
	// one (see gate). Default 64 KiB; negative: one lane for all.
	SmallRequestBytes int64
	// MemoryBudget bounds the memory of the larger requests in flight: a
	// third for their bodies, two thirds for their decoded objects
	// (estimated from the JSON before decoding); a request whose object
	// could never fit is refused with 413. Default 96 MiB.
	MemoryBudget int64
	// Snapshots gives the current policy (injection config and detection
	// policy). Default: config.Default(), built-in defaults.
	Snapshots Snapshots
	// Namespaces gives namespace labels from a cache, for per-namespace
	// policy modes and exemptions. Default: none (labels unknown).
	Namespaces NamespaceLabels
	// Checks are added to /readyz besides the TLS listener's own check.
	Checks []Check
	// Logger receives one line per request and lifecycle events. Default: discard.
	Logger *slog.Logger
	// Registry receives wisp's metrics and serves /metrics. Default: a new
	// registry of its own.
	Registry RegistererGatherer
}

// RegistererGatherer is a Prometheus registry: where metrics are registered
// and read from.
type RegistererGatherer interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Server is wisp's HTTPS admission server.
type Server struct {
	srv ctrlwebhook.Server
	log *slog.Logger
}

// New validates opts and builds the server. Nothing listens until Start.
func New(opts Options) (*Server, error) {
	if opts.Port == 0 {
		opts.Port = DefaultPort
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.SmallRequestBytes == 0 {
		opts.SmallRequestBytes = DefaultSmallRequestBytes
	}
	if opts.MemoryBudget <= 0 {
		opts.MemoryBudget = DefaultMemoryBudget
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.CertDir == "" && opts.GetCertificate == nil {
		return nil, errors.New("webhook: set a certificate folder or a certificate source")
	}
	metrics, err := NewMetrics(opts.Registry)
	if err != nil {
		return nil, fmt.Errorf("webhook: register metrics: %w", err)
	}
	if opts.Snapshots == nil {
		opts.Snapshots = config.Static{Snapshot: config.Default()}
	}
	mutating := NewMutatingHandler(opts.Snapshots, opts.Namespaces, opts.Logger, metrics)
	validating := NewValidatingHandler(opts.Snapshots, opts.Namespaces, opts.Logger, metrics)

	tlsOpts := []func(*tls.Config){func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS12
		// HTTP/2 brings no gain for the API server's short requests and has
		// had denial-of-service issues of its own; serve HTTP/1.1 only.
		c.NextProtos = []string{"http/1.1"}
		if opts.GetCertificate != nil {
			c.GetCertificate = opts.GetCertificate
		}
	}}
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{
		Host:     opts.Host,
		Port:     opts.Port,
		CertDir:  opts.CertDir,
		CertName: opts.CertName,
		KeyName:  opts.KeyName,
		TLSOpts:  tlsOpts,
	})
	s := &Server{srv: srv, log: opts.Logger}

	g := newGate(defaultGateConfig(opts.SmallRequestBytes, opts.MaxRequestBytes, opts.MemoryBudget))
	// The mutating webhook's rules name pods only: its reviews are decoded
	// with their pod in one pass.
	srv.Register(EndpointMutate, limit(newWebhook(mutating, opts.Logger).decodingPods().admittedBy(g, EndpointMutate, metrics), opts.MaxRequestBytes, opts.RequestTimeout))
	srv.Register(EndpointValidate, limit(newWebhook(validating, opts.Logger).admittedBy(g, EndpointValidate, metrics), opts.MaxRequestBytes, opts.RequestTimeout))
	health := &healthz.Handler{Checks: map[string]healthz.Checker{"ping": healthz.Ping}}
	srv.Register("/healthz", http.StripPrefix("/healthz", health))
	srv.Register("/healthz/", http.StripPrefix("/healthz", health))
	started := srv.StartedChecker()
	checks := append([]Check{{Name: "tls", Fn: started}}, opts.Checks...)
	srv.Register("/readyz", readyz(checks))
	srv.Register("/metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{}))
	return s, nil
}

// Start serves until ctx is done, then stops accepting connections and lets
// in-flight requests finish (up to a minute) before it returns.
func (s *Server) Start(ctx context.Context) error {
	s.log.Info("serving admission webhook", "endpoints", []string{EndpointMutate, EndpointValidate, "/healthz", "/readyz", "/metrics"})
	if err := s.srv.Start(ctx); err != nil {
		return fmt.Errorf("webhook: serve: %w", err)
	}
	s.log.Info("admission webhook stopped")
	return nil
}

// limit caps the request body and bounds the time to read it and answer:
// a read deadline on the connection at timeout, a write deadline a little
// later (so that a body cut off by the read deadline still gets its 400
// answer), and a context deadline for the handler, a margin earlier (see
// answerWithin): by then it stops waiting for a slot or judging, and
// answers. The timeout is the API server's when it sends a shorter one
// (?timeout=5s: the webhook's timeoutSeconds). The request's context is
// detached from the server's, so that a shutdown lets in-flight requests
// finish instead of cancelling them. net/http clears both deadlines once
// the answer is written, before the connection's next request.
//
// Deadlines cost nothing per request; http.TimeoutHandler, used only when
// the ResponseWriter cannot set them (a test's recorder), runs each request
// in a goroutine of its own and buffers the whole answer.
func limit(h http.Handler, maxBytes int64, timeout time.Duration) http.Handler {
	inner := func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: http.MaxBytesReader(w, r.Body, maxBytes), timeout: timeout}
		}
		h.ServeHTTP(w, r)
	}
	fallback := http.TimeoutHandler(http.HandlerFunc(inner), timeout, "wisp: request timed out")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		t := min(timeout, apiServerTimeout(r))
		deadline := start.Add(t)
		ctx, cancel := context.WithDeadline(context.WithoutCancel(r.Context()), start.Add(answerWithin(t)))
		defer cancel()
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(deadline) != nil || rc.SetWriteDeadline(deadline.Add(writeGrace)) != nil {
			fallback.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		inner(w, r.WithContext(ctx))
	})
}

// apiServerTimeout is the timeout the API server sent with the request
// (the webhook's timeoutSeconds, rounded up to a second), or a very long
// time.
func apiServerTimeout(r *http.Request) time.Duration {
	if r.URL == nil {
		return math.MaxInt64
	}
	// Read without url.ParseQuery's map: the API server writes a
	// duration ("5s"), which needs no escaping.
	for q := r.URL.RawQuery; q != ""; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if v, ok := strings.CutPrefix(kv, "timeout="); ok {
			if d, err := time.ParseDuration(v); err == nil && d > 0 {
				return d
			}
		}
	}
	return math.MaxInt64
}

// answerWithin is the time within which a request of timeout t is
// answered: a fifth earlier, at most a second, so that the answer reaches
// the API server before its own deadline rather than a timeout (4 s of
// the chart's 5).
func answerWithin(t time.Duration) time.Duration {
	return t - min(t/5, time.Second)
}

// writeGrace is how long after the read deadline an answer may still be
// written.
const writeGrace = time.Second

// deadlineBody says what a read deadline means when it cuts a body off.
type deadlineBody struct {
	io.ReadCloser
	timeout time.Duration
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("request body not received within the request timeout (%s): %w", b.timeout, err)
	}
	return n, err
}

func ptr[T any](v T) *T { return &v }

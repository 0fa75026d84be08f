package fetch

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"wisp.dev/wisp/plan"
)

// Defaults of Config. A zero field means its default.
const (
	DefaultAuthPath       = "jwt"
	DefaultAudience       = "vault"
	DefaultDeadline       = 2 * time.Minute
	DefaultAttemptTimeout = 15 * time.Second
	DefaultMinBackoff     = 200 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	DefaultStaticRefresh  = 5 * time.Minute
	DefaultRevokeTimeout  = 10 * time.Second
	// ReadyFileName is the sidecar's readiness marker in the plan's folder.
	ReadyFileName = ".wisp-ready"
)

// Config is what a Fetcher needs. cmd/wisp-fetch fills it from the
// container's environment (see the README of cmd/wisp-fetch).
type Config struct {
	// Plan says what to fetch and where to write it. Required.
	Plan plan.Plan
	// SocketAddr is the Workload API address, e.g.
	// "unix:///spiffe-workload-api/spire-agent.sock". Required.
	SocketAddr string
	// VaultAddr is Vault's URL, e.g. "https://vault.vault.svc:8200". Required.
	VaultAddr string
	// CACert is a PEM file of CAs to trust for VaultAddr. Default: the
	// system's roots.
	CACert string
	// Namespace is the Vault (Enterprise) namespace. Default: none.
	Namespace string
	// AuthPath is the JWT auth mount: login at auth/<AuthPath>/login.
	// Default "jwt".
	AuthPath string
	// Audience of the JWT-SVID, as bound in the Vault role. Default "vault".
	Audience string
	// Deadline bounds the first fetch (and each refresh in sidecar mode),
	// retries included. Default 2m.
	Deadline time.Duration
	// AttemptTimeout bounds one attempt of one step (one Workload API call,
	// one Vault request). Default 15s.
	AttemptTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts; the wait
	// doubles from MinBackoff up to MaxBackoff, with jitter. Defaults 200ms
	// and 5s. The asks for the SVID wait 1s at most (svidMaxBackoff).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// StaticRefresh is how often the sidecar re-reads secrets that have no
	// lease (KV) and rewrites the files that changed. Default 5m.
	StaticRefresh time.Duration
	// RevokeTimeout bounds the sidecar's revocations on shutdown. Default 10s.
	RevokeTimeout time.Duration
	// Logger receives structured logs. Nil means discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.AuthPath == "" {
		c.AuthPath = DefaultAuthPath
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.Deadline == 0 {
		c.Deadline = DefaultDeadline
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.StaticRefresh == 0 {
		c.StaticRefresh = DefaultStaticRefresh
	}
	if c.RevokeTimeout == 0 {
		c.RevokeTimeout = DefaultRevokeTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate names every bad field of c (after defaults). The messages say
// which environment variable to fix, since that is where the fields come
// from in a pod.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := c.Plan.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("plan (WISP_PLAN): %w", err))
	}
	if !strings.HasPrefix(c.SocketAddr, "unix://") && !strings.HasPrefix(c.SocketAddr, "tcp://") {
		errs = append(errs, fmt.Errorf("workload API address (SPIFFE_ENDPOINT_SOCKET) %q: want unix:///path/to/socket", c.SocketAddr))
	}
	if !strings.HasPrefix(c.VaultAddr, "https://") && !strings.HasPrefix(c.VaultAddr, "http://") {
		errs = append(errs, fmt.Errorf("vault address (VAULT_ADDR) %q: want an http(s):// URL", c.VaultAddr))
	}
	if c.AuthPath != strings.Trim(c.AuthPath, "/") || path.Clean(c.AuthPath) != c.AuthPath || strings.Contains(c.AuthPath, "..") {
		errs = append(errs, fmt.Errorf("auth path (WISP_AUTH_PATH) %q: want a mount such as jwt", c.AuthPath))
	}
	for name, d := range map[string]time.Duration{
		"deadline": c.Deadline, "attempt timeout": c.AttemptTimeout, "min backoff": c.MinBackoff,
		"max backoff": c.MaxBackoff, "static refresh": c.StaticRefresh, "revoke timeout": c.RevokeTimeout,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %s: want a positive duration", name, d))
		}
	}
	if c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("max backoff %s is below min backoff %s", c.MaxBackoff, c.MinBackoff))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	return nil
}

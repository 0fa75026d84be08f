package fetch

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"wisp.dev/wisp/plan"
)

// MetaFileName is the name of the metadata file written beside a secret's
// file: lease ID, lease duration, renewable, fetched-at; never the secret.
func MetaFileName(name string) string { return "." + name + ".meta.json" }

// Meta is the content of a metadata file.
type Meta struct {
	// Name and Path are the plan entry's.
	Name string `json:"name"`
	Path string `json:"path"`
	// FetchedAt is when the secret was read.
	FetchedAt time.Time `json:"fetchedAt"`
	// LeaseID is Vault's lease of a dynamic secret; empty for KV.
	LeaseID string `json:"leaseID,omitempty"`
	// LeaseDuration is the lease's TTL, in seconds, when it was last read or
	// renewed.
	LeaseDuration int `json:"leaseDuration"`
	// Renewable says whether the lease can be renewed.
	Renewable bool `json:"renewable"`
	// RenewedAt is when the sidecar last renewed the lease.
	RenewedAt *time.Time `json:"renewedAt,omitempty"`
	// ExpiresAt is when the lease ends unless renewed; absent without a lease.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// KVVersion is the KV v2 version read; absent for other engines.
	KVVersion int `json:"kvVersion,omitempty"`
}

// Fetcher fetches one plan's secrets. Create it with New.
type Fetcher struct {
	cfg   Config
	log   *slog.Logger
	vault *vault.Client
	svids func(ctx context.Context, audience string) (secretString, string, error)
	now   func() time.Time
	retry retrier
	sc    scrubber
}

// Option is a test seam of New.
type Option func(*Fetcher)

// WithClock replaces time.Now (fetched-at stamps, retry timing).
func WithClock(now func() time.Time) Option { return func(f *Fetcher) { f.now = now } }

// WithSVIDSource replaces the Workload API: fetch returns a JWT-SVID for the
// audience and its SPIFFE ID, or an error classified like the Workload
// API's (gRPC status codes).
func WithSVIDSource(fetch func(ctx context.Context, audience string) (jwt, spiffeID string, err error)) Option {
	return func(f *Fetcher) {
		f.svids = func(ctx context.Context, aud string) (secretString, string, error) {
			jwt, id, err := fetch(ctx, aud)
			return secretString(jwt), id, err
		}
	}
}

// WithRand replaces the jitter source (numbers in [0, 1)).
func WithRand(rnd func() float64) Option { return func(f *Fetcher) { f.retry.rnd = rnd } }

// New checks cfg and returns a Fetcher. It does no I/O beyond reading
// cfg.CACert.
func New(cfg Config, opts ...Option) (*Fetcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	client, err := newVaultClient(cfg)
	if err != nil {
		return nil, err
	}
	f := &Fetcher{
		cfg:   cfg,
		log:   cfg.Logger,
		vault: client,
		now:   time.Now,
		retry: retrier{
			min: cfg.MinBackoff, max: cfg.MaxBackoff, attemptTimeout: cfg.AttemptTimeout,
			rnd: rand.Float64, sleep: sleepCtx, log: cfg.Logger, linger: stopGrace,
		},
	}
	f.svids = func(ctx context.Context, aud string) (secretString, string, error) {
		svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: aud}, workloadapi.WithAddr(cfg.SocketAddr))
		if err != nil {
			return "", "", err
		}
		return secretString(svid.Marshal()), svid.ID.String(), nil
	}
	for _, o := range opts {
		o(f)
	}
	f.retry.now = f.now
	return f, nil
}

// newVaultClient builds a client from cfg alone: no token, no retries of its
// own (Fetcher retries), the namespace and CA of cfg.
func newVaultClient(cfg Config) (*vault.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	vc := &vault.Config{
		Address:    cfg.VaultAddr,
		HttpClient: &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		MaxRetries: 0,
		Timeout:    cfg.AttemptTimeout,
	}
	if cfg.CACert != "" {
		if err := vc.ConfigureTLS(&vault.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, fmt.Errorf("read VAULT_CACERT %s: %w", cfg.CACert, err)
		}
	}
	c, err := vault.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("create vault client for %s: %w", cfg.VaultAddr, err)
	}
	// vault/api picks VAULT_TOKEN and VAULT_NAMESPACE up from the process
	// environment; wisp-fetch's only token is the one it logs in for.
	c.ClearToken()
	c.ClearNamespace()
	if cfg.Namespace != "" {
		c.SetNamespace(cfg.Namespace)
	}
	return c, nil
}

// ErrStopped is wrapped by the error of Fetch and RunSidecar when their
// context ends before the first fetch has written the files (the pod is
// deleted while wisp-fetch still retries): nothing was written, and what
// the run had obtained from Vault was revoked. It is a stop, not a
// failure.
var ErrStopped = errors.New("stopped before the first fetch completed")

// session is a Vault login.
type session struct {
	token     secretString
	spiffeID  string
	renewable bool
	ttl       time.Duration
	// grant is the token's entry in the run's grants.
	grant *tokenGrant
}

// item is one secret, read and rendered.
type item struct {
	spec    plan.Secret
	content secretBytes
	meta    Meta
	// lease is the lease's entry in the run's grants; nil without a lease.
	lease *leaseGrant
}

// Fetch logs in, reads and renders every secret of the plan, then writes the
// files, all or nothing, within cfg.Deadline. It returns each file's
// metadata. When a read or a write fails after the login, it revokes the
// token, and with it the leases it read, before returning the error; when
// ctx ends first, it does the same and returns an error wrapping
// ErrStopped. On success the token is kept: the leases it read live no
// longer than it.
func (f *Fetcher) Fetch(ctx context.Context) ([]Meta, error) {
	items, _, _, err := f.fetchAll(ctx)
	if err != nil {
		return nil, f.sc.scrubErr(err)
	}
	metas := make([]Meta, len(items))
	for i, it := range items {
		metas[i] = it.meta
	}
	return metas, nil
}

// fetchAll is Fetch, returning the session and what the run obtained for
// the sidecar.
func (f *Fetcher) fetchAll(ctx context.Context) ([]*item, *session, *grants, error) {
	start := f.now()
	dctx, cancel := context.WithTimeout(ctx, f.cfg.Deadline)
	defer cancel()
	p := f.cfg.Plan
	if err := checkDir(p.Dir); err != nil {
		return nil, nil, nil, &Error{Op: "check the secrets folder", Err: err,
			Hint: "check the wisp-secrets volume is mounted at the plan's dir"}
	}
	g := &grants{}
	sess, err := f.login(dctx, g)
	if err != nil {
		return nil, nil, nil, f.fail(ctx, g, err)
	}
	items := make([]*item, 0, len(p.Secrets))
	for _, s := range p.Secrets {
		it, err := f.read(dctx, s, sess, g)
		if err != nil {
			return nil, nil, nil, f.fail(ctx, g, err)
		}
		items = append(items, it)
	}
	// A stop that came while the last read answered: write nothing.
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, f.fail(ctx, g, fmt.Errorf("before writing the files: %w", err))
	}
	if err := f.write(items); err != nil {
		return nil, nil, nil, f.fail(ctx, g, err)
	}
	f.log.Info("secrets written", "role", p.Role, "dir", p.Dir, "count", len(items),
		"spiffeID", sess.spiffeID, "elapsed", f.now().Sub(start).String())
	return items, sess, g, nil
}

// fail ends a first fetch that did not complete: it revokes what the run
// obtained, then returns err, or an error wrapping ErrStopped (logged as
// one line) when ctx ended, since err is then only the consequence of the
// stop.
func (f *Fetcher) fail(ctx context.Context, g *grants, err error) error {
	f.abandon(g)
	if ctx.Err() == nil {
		return err
	}
	f.log.Info("stopped before the first fetch completed", "err", f.sc.scrub(err.Error()))
	// %s, not %w: the cause only says what was interrupted; a transient
	// cause must not make the stop look worth retrying (IsTransient).
	return fmt.Errorf("%w: %s", ErrStopped, err)
}

// stopGrace is how long a login in flight when the run is stopped may still
// take to answer (its token is then revoked).
const stopGrace = 3 * time.Second

// abandonTimeout bounds the revocation of a failed run's token, which
// delays the failure's report.
const abandonTimeout = 5 * time.Second

// abandon revokes what a failed run obtained: its token, and with it every
// lease the run created (Vault revokes a token's leases with it), so that a
// failure leaves nothing behind in Vault either: no orphaned database
// user. Best effort: a failure to revoke is logged, and the leases then end
// at their TTL.
func (f *Fetcher) abandon(g *grants) {
	f.revokeAll(g, min(abandonTimeout, f.cfg.RevokeTimeout))
}

// svidMaxBackoff caps the wait between two asks for the SVID. The
// Workload API is the node's own agent: asking again costs it one
// attestation, and the usual refusal, "no identity issued" for a pod whose
// registration entry the agent has not synced yet (it syncs every 5 s),
// ends at a moment a longer backoff would overshoot by seconds: at
// MaxBackoff (5 s), a pod that started with a new entry waited 2-4 s more
// after the entry came.
const svidMaxBackoff = time.Second

// login fetches a JWT-SVID and exchanges it for a Vault token, which the
// client uses from then on and which g records.
func (f *Fetcher) login(ctx context.Context, g *grants) (*session, error) {
	var (
		jwt secretString
		id  string
	)
	op := fmt.Sprintf("fetch JWT-SVID for audience %q from %s", f.cfg.Audience, f.cfg.SocketAddr)
	start := f.now()
	err := f.retry.capped(svidMaxBackoff).do(ctx, func(ctx context.Context) error {
		var err error
		jwt, id, err = f.svids(ctx, f.cfg.Audience)
		if err != nil {
			return svidError(op, f.cfg.SocketAddr, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.sc.add(jwt)
	svidAt := f.now()

	loginPath := "auth/" + f.cfg.AuthPath + "/login"
	op = fmt.Sprintf("vault login with role %q at %s", f.cfg.Plan.Role, loginPath)
	vc := f.vaultContext(stepLogin, id, "")
	var sec *vault.Secret
	// A login in flight when the pod is stopped is let finish (briefly):
	// its token is then revoked, instead of living on in Vault, named only
	// in an answer nobody read.
	err = f.retry.doFinishing(ctx, func(ctx context.Context) error {
		var err error
		sec, err = f.vault.Logical().WriteWithContext(ctx, loginPath, map[string]any{
			"role": f.cfg.Plan.Role, "jwt": jwt.reveal(),
		})
		if err != nil {
			return vaultError(op, vc, err, &f.sc)
		}
		if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
			return &Error{Op: op, Err: errors.New("vault answered without a token"),
				Hint: fmt.Sprintf("check auth/%s is a JWT auth method (WISP_AUTH_PATH)", f.cfg.AuthPath)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s := &session{
		token:     secretString(sec.Auth.ClientToken),
		spiffeID:  id,
		renewable: sec.Auth.Renewable,
		ttl:       time.Duration(sec.Auth.LeaseDuration) * time.Second,
	}
	f.sc.add(s.token)
	s.grant = g.addToken(s.token, expiry(f.now(), s.ttl))
	f.vault.SetToken(s.token.reveal())
	// svid and login split the time to a token (make bench-node reads them).
	f.log.Info("logged in", "role", f.cfg.Plan.Role, "spiffeID", id, "policies", sec.Auth.Policies,
		"ttl", s.ttl.String(), "renewable", s.renewable,
		"svid", svidAt.Sub(start).String(), "login", f.now().Sub(svidAt).String())
	return s, nil
}

func (f *Fetcher) vaultContext(step vaultStep, spiffeID, path string) vaultContext {
	return vaultContext{
		step: step, addr: f.cfg.VaultAddr, role: f.cfg.Plan.Role, authPath: f.cfg.AuthPath,
		audience: f.cfg.Audience, spiffeID: spiffeID, path: path,
	}
}

// read reads and renders one secret with the client's token, that of
// sess. g records the lease read, which is retired at once when the secret
// is refused.
func (f *Fetcher) read(ctx context.Context, s plan.Secret, sess *session, g *grants) (*item, error) {
	op := fmt.Sprintf("read secret %q from %s", s.Name, s.Path)
	vc := f.vaultContext(stepRead, "", s.Path)
	var sec *vault.Secret
	err := f.retry.do(ctx, func(ctx context.Context) error {
		var err error
		sec, err = f.vault.Logical().ReadWithContext(ctx, s.Path)
		if err != nil {
			return vaultError(op, vc, err, &f.sc)
		}
		if sec == nil {
			return &Error{Op: op, Err: errors.New("nothing at this path (HTTP 404)"), Hint: kvHint(s.Path)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	fetched := f.now().UTC()
	var lease *leaseGrant
	if sec.LeaseID != "" {
		lease = g.addLease(sec.LeaseID, s.Name, sess.grant, expiry(fetched, time.Duration(sec.LeaseDuration)*time.Second))
	}
	content, version, err := f.render(s, op, sec)
	if err != nil {
		if lease != nil {
			lease.retired = true // never handed to the app
		}
		return nil, err
	}
	meta := Meta{
		Name: s.Name, Path: s.Path, FetchedAt: fetched,
		LeaseID: sec.LeaseID, LeaseDuration: sec.LeaseDuration, Renewable: sec.Renewable, KVVersion: version,
	}
	if sec.LeaseDuration > 0 {
		exp := fetched.Add(time.Duration(sec.LeaseDuration) * time.Second)
		meta.ExpiresAt = &exp
	}
	f.log.Info("secret read", "name", s.Name, "path", s.Path, "leaseID", sec.LeaseID,
		"leaseDuration", sec.LeaseDuration, "renewable", sec.Renewable)
	return &item{spec: s, content: content, meta: meta, lease: lease}, nil
}

// render checks and renders a read's answer, and returns the file's content
// and the KV v2 version read. An answer that carries a Vault token is
// refused (a token it minted is revoked at once): wisp-fetch writes secrets,
// never a Vault token.
func (f *Fetcher) render(s plan.Secret, op string, sec *vault.Secret) (secretBytes, int, error) {
	data, version, isKV := unwrapKV(sec.Data)
	if reason, ok := tokenIn(sec, data); ok {
		if sec.Auth != nil && sec.Auth.ClientToken != "" {
			f.dropMinted(s, secretString(sec.Auth.ClientToken))
		}
		return nil, 0, &Error{Op: op, Err: fmt.Errorf("%w (%s), which wisp-fetch never writes to a file", ErrVaultToken, reason),
			Hint: fmt.Sprintf("point wisp.dev/secret-%s at a secret; a path that issues or looks up Vault tokens (auth/..., sys/...) has no place in a pod's files", s.Name)}
	}
	if isKV && data == nil {
		return nil, 0, &Error{Op: op, Err: errors.New("the latest version is deleted or destroyed"), Hint: kvHint(s.Path)}
	}
	f.sc.setData(s.Name, data)
	content, err := Render(s, data)
	if err != nil {
		return nil, 0, f.sc.scrubErr(&Error{Op: fmt.Sprintf("render secret %q from %s", s.Name, s.Path), Err: err,
			Hint: fmt.Sprintf("check the wisp.dev/template-%s or wisp.dev/format-%s annotation against the secret's keys", s.Name, s.Name)})
	}
	return content, version, nil
}

// dropMinted revokes a token that a refused answer created, so that it
// does not outlive the refusal. Best effort: a failure is logged and the
// token ends at its TTL (or with the run's token, its parent).
func (f *Fetcher) dropMinted(s plan.Secret, tok secretString) {
	f.sc.add(tok)
	ctx, cancel := context.WithTimeout(context.Background(), min(abandonTimeout, f.cfg.RevokeTimeout))
	defer cancel()
	if err := f.revokeToken(ctx, tok); err != nil {
		f.log.Warn("token in a refused answer not revoked; it ends at its TTL or with its parent", "name", s.Name, "path", s.Path, "err", f.sc.scrub(err.Error()))
		return
	}
	f.log.Info("token in a refused answer revoked", "name", s.Name, "path", s.Path)
}

// unwrapKV recognises a KV v2 read (exactly "data" and "metadata", the
// metadata holding "version" and "created_time") and returns its inner data
// (nil for a deleted or destroyed version) and version. Any other answer is
// returned as is.
func unwrapKV(d map[string]any) (Data, int, bool) {
	if len(d) != 2 {
		return d, 0, false
	}
	md, ok := d["metadata"].(map[string]any)
	if !ok {
		return d, 0, false
	}
	_, hasVersion := md["version"]
	_, hasCreated := md["created_time"]
	inner, hasData := d["data"]
	if !hasVersion || !hasCreated || !hasData {
		return d, 0, false
	}
	version := 0
	if n, ok := md["version"].(json.Number); ok {
		if v, err := n.Int64(); err == nil {
			version = int(v)
		}
	}
	if inner == nil {
		return nil, version, true
	}
	m, ok := inner.(map[string]any)
	if !ok {
		return d, 0, false
	}
	return m, version, true
}

// write writes the items' files and metadata files, all or nothing.
func (f *Fetcher) write(items []*item) error {
	files := make([]file, 0, 2*len(items))
	for _, it := range items {
		meta, err := json.Marshal(it.meta)
		if err != nil {
			return fmt.Errorf("encode metadata of %s: %w", it.spec.Name, err)
		}
		files = append(files,
			file{name: it.spec.Name, data: it.content, mode: it.spec.FileMode()},
			file{name: MetaFileName(it.spec.Name), data: append(meta, '\n'), mode: 0o444})
	}
	if _, err := writeFiles(f.cfg.Plan.Dir, files); err != nil {
		return f.sc.scrubErr(&Error{Op: "write secrets to " + f.cfg.Plan.Dir, Err: err,
			Hint: "check the wisp-secrets volume is mounted there, writable by this container's user, and not full"})
	}
	return nil
}

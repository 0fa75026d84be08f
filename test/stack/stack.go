package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultTrustDomain = "example.org"
	DefaultPGBinDir    = "/usr/lib/postgresql/15/bin"
	// DBName is the name of the database connection in Vault's database
	// secrets engine (database/config/<DBName>).
	DBName = "pg"
	// AgentID is the SPIFFE ID path of the agent, parent of every entry.
	AgentID = "/agent"
)

// Options configure Start. The zero value is usable.
type Options struct {
	// Dir holds every component's state, logs and sockets. Default: a new
	// folder /tmp/ws<random>, removed by Stop. Keep it short: unix socket
	// paths must stay under 108 bytes.
	Dir string
	// KeepDir keeps Dir after Stop (to read the logs).
	KeepDir bool
	// VaultDir is the folder holding the vault binary. Default: the output
	// of test/scripts/ensure-vault.sh.
	VaultDir string
	// SpireDir is the folder holding spire-server, spire-agent and
	// oidc-discovery-provider. Default: the output of
	// test/scripts/ensure-spire.sh.
	SpireDir string
	// PGBinDir holds initdb, postgres, pg_isready and psql. Default
	// /usr/lib/postgresql/15/bin.
	PGBinDir string
	// ScriptsDir holds the ensure-*.sh scripts. Default: test/scripts of
	// the module that holds the working directory.
	ScriptsDir string
	// TrustDomain of SPIRE. Default "example.org".
	TrustDomain string
	// Workloads are registered before the agent starts.
	Workloads []Workload
	// Kubelet, when set, gives the SPIRE agent the k8s workload attestor
	// against that kubelet (besides the unix one), so that a pod's SVID
	// comes from its namespace and service account.
	Kubelet *Kubelet
	// PersistentVault runs Vault with file storage instead of -dev: Start
	// initialises it (one unseal key) and unseals it, and mounts KV v2 at
	// secret/ as the dev server has it. StopVault and StartVault then
	// restart it with its state (a restarted Vault is sealed until
	// StartVault unseals it), and SealVault and UnsealVault seal it in
	// place: the faults a dev server, which keeps everything in memory,
	// cannot show.
	PersistentVault bool
	// NoJWTAuth leaves Vault's JWT auth method to the caller (test/node
	// configures it with wisp setup vault --apply); by default Start
	// enables auth/jwt with JWKSURL, and roles are written with
	// WriteJWTRole.
	NoJWTAuth bool
	// Logf reports progress (e.g. testing.T.Logf); nil means quiet.
	Logf func(format string, args ...any)
}

// Workload is a SPIRE registration entry selecting a process by uid, or by
// the selectors given.
type Workload struct {
	// SPIFFEID is the full ID, e.g. spiffe://example.org/ns/app/sa/app.
	SPIFFEID string
	// UID is the unix user id the entry selects (unix:uid:<UID>) when
	// Selectors is empty.
	UID int
	// Selectors, e.g. {"k8s:ns:app", "k8s:sa:app"}, replace the uid one.
	Selectors []string
}

func (w Workload) selectors() []string {
	if len(w.Selectors) > 0 {
		return w.Selectors
	}
	return []string{fmt.Sprintf("unix:uid:%d", w.UID)}
}

// Kubelet is where the SPIRE agent's k8s workload attestor finds the pods
// of the calling containers.
type Kubelet struct {
	// SecurePort is the kubelet's HTTPS port on 127.0.0.1. The attestor
	// skips the kubelet's certificate and authenticates anonymously, which
	// fits a test kubelet with anonymous authentication on.
	SecurePort int
	// PodSelectorsOnly sets the attestor's disable_container_selectors:
	// it answers with the pod's selectors (k8s:ns, k8s:sa, ...) without
	// needing the kubelet's status to name the calling container (by
	// default it polls the kubelet until it does). Entries that select by
	// container (k8s:container-name, k8s:container-image) then match
	// nothing.
	PodSelectorsOnly bool
}

// Stack is a running set of components. Create it with Start.
type Stack struct {
	opts       Options
	dir        string
	ownDir     bool
	rootToken  string
	vaultAddr  string
	oidcURL    string
	serverSock string
	agentSock  string
	agentConf  string
	serverPort int
	pgPort     int
	pgSockDir  string
	pgPassword string
	pg         pgUser

	// unsealKey unseals the persistent Vault (PersistentVault).
	unsealKey string

	mu     sync.Mutex
	procs  []*Proc
	agent  *Proc
	server *Proc // the SPIRE server
	vault  *Proc // the persistent Vault
}

// Start starts PostgreSQL, Vault and SPIRE in parallel, then configures
// Vault. On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if opts.TrustDomain == "" {
		opts.TrustDomain = DefaultTrustDomain
	}
	if opts.PGBinDir == "" {
		opts.PGBinDir = DefaultPGBinDir
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if err := opts.findBinaries(ctx); err != nil {
		return nil, err
	}
	st := &Stack{opts: opts, dir: opts.Dir}
	s = st
	if s.dir == "" {
		d, err := os.MkdirTemp("/tmp", "ws")
		if err != nil {
			return nil, fmt.Errorf("create stack folder: %w", err)
		}
		s.dir, s.ownDir = d, true
	}
	// Other users (postgres, a test's non-root workload) must reach their
	// sockets and folders inside.
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", s.dir, err)
	}
	defer func() {
		// On failure, stop what was started. st, not s: "return nil, err"
		// has already set the named result s to nil.
		if err != nil {
			_ = st.Stop()
			s = nil
		}
	}()
	ports, err := FreePorts(4)
	if err != nil {
		return nil, err
	}
	s.pgPort, s.serverPort = ports[0], ports[1]
	vaultPort, oidcPort := ports[2], ports[3]
	s.vaultAddr = fmt.Sprintf("http://127.0.0.1:%d", vaultPort)
	s.oidcURL = fmt.Sprintf("http://127.0.0.1:%d", oidcPort)
	s.rootToken = "root-" + randomHex(12)
	s.pgPassword = randomHex(16)

	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, f := range []func(context.Context) error{s.startPostgres, s.startVault, s.startSpire} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.opts.Logf("stack: components up in %s", time.Since(start).Round(time.Millisecond))
	if err := s.configureVault(ctx); err != nil {
		return nil, err
	}
	s.opts.Logf("stack: ready in %s (dir %s, vault %s, postgres 127.0.0.1:%d, workload API %s)",
		time.Since(start).Round(time.Millisecond), s.dir, s.vaultAddr, s.pgPort, s.SocketAddr())
	return s, nil
}

// Stop ends every process (newest first) and removes the stack's folder
// when Start created it and KeepDir is false. It is safe to call twice.
func (s *Stack) Stop() error {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		_ = procs[i].Stop(10 * time.Second)
	}
	if s.ownDir && !s.opts.KeepDir && s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			return fmt.Errorf("remove %s: %w", s.dir, err)
		}
	}
	return nil
}

func (s *Stack) add(p *Proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs = append(s.procs, p)
}

// stopChild stops the component in *slot (one of the stack's running
// components, which StopServer, StopAgent and StopVault take down for a
// fault test) and forgets it; name says which in errors.
func (s *Stack) stopChild(slot **Proc, name string) error {
	s.mu.Lock()
	p := *slot
	*slot = nil
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("stop %s: not running", name)
	}
	err := p.Stop(10 * time.Second)
	s.remove(p)
	return err
}

// remove forgets a process stopped before Stop (so that Stop does not
// signal its process group again, whose id the system may have reused).
func (s *Stack) remove(p *Proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs = slices.DeleteFunc(s.procs, func(q *Proc) bool { return q == p })
}

// Dir is the stack's state folder.
func (s *Stack) Dir() string { return s.dir }

// TrustDomain is SPIRE's trust domain, e.g. "example.org".
func (s *Stack) TrustDomain() string { return s.opts.TrustDomain }

// SocketPath is the SPIRE agent's Workload API socket.
func (s *Stack) SocketPath() string { return s.agentSock }

// SocketDir is the folder of SocketPath, which the SPIFFE CSI driver
// exposes to pods.
func (s *Stack) SocketDir() string { return filepath.Dir(s.agentSock) }

// SocketAddr is SocketPath as SPIFFE_ENDPOINT_SOCKET wants it: unix://...
func (s *Stack) SocketAddr() string { return "unix://" + s.agentSock }

// VaultAddr is Vault's URL.
func (s *Stack) VaultAddr() string { return s.vaultAddr }

// VaultToken is Vault's root token (a test credential).
func (s *Stack) VaultToken() string { return s.rootToken }

// OIDCURL is the SPIRE OIDC discovery provider's URL (its /keys is Vault's
// jwks_url).
func (s *Stack) OIDCURL() string { return s.oidcURL }

// JWKSURL is the OIDC discovery provider's JWKS: the keys that sign the
// JWT-SVIDs.
func (s *Stack) JWKSURL() string { return s.oidcURL + "/keys" }

// ServerSocket is the SPIRE server's API socket (spire-server's
// -socketPath).
func (s *Stack) ServerSocket() string { return s.serverSock }

// SpireBin is the folder of spire-server, spire-agent and
// oidc-discovery-provider.
func (s *Stack) SpireBin() string { return s.opts.SpireDir }

// VaultBin is the vault binary, for tests that start a second server.
func (s *Stack) VaultBin() string { return filepath.Join(s.opts.VaultDir, "vault") }

// findBinaries fills VaultDir and SpireDir from the ensure scripts.
func (o *Options) findBinaries(ctx context.Context) error {
	if o.VaultDir != "" && o.SpireDir != "" {
		return nil
	}
	if o.ScriptsDir == "" {
		root, err := ModuleRoot()
		if err != nil {
			return err
		}
		o.ScriptsDir = filepath.Join(root, "test", "scripts")
	}
	ensure := func(script string) (string, error) {
		o.Logf("stack: %s (builds once, about 5-8 min cold)", script)
		return Ensure(ctx, o.ScriptsDir, script)
	}
	var err error
	if o.VaultDir == "" {
		if o.VaultDir, err = ensure("ensure-vault.sh"); err != nil {
			return err
		}
	}
	if o.SpireDir == "" {
		if o.SpireDir, err = ensure("ensure-spire.sh"); err != nil {
			return err
		}
	}
	return nil
}

// Ensure runs the ensure script (e.g. "ensure-vault.sh") of scriptsDir and
// returns the folder it prints, where the component's binaries are; the
// error carries the end of the script's standard error.
func Ensure(ctx context.Context, scriptsDir, script string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(scriptsDir, script))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("run %s: %w: %s", script, err, tail2(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func tail2(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

// ModuleRoot walks up from the working directory to the folder with go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory; set Options.ScriptsDir")
		}
		dir = parent
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// StderrLogf writes a line to standard error after the time of day (to
// the millisecond): the Logf of the programs and TestMains that run a
// stack.
func StderrLogf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

const serverConf = `server {
  bind_address = "127.0.0.1"
  bind_port = "%d"
  socket_path = "%s"
  trust_domain = "%s"
  data_dir = "%s"
  log_level = "INFO"
  default_jwt_svid_ttl = "5m"
  jwt_issuer = "%s"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3"  connection_string = "%s" } }
  NodeAttestor "join_token" { plugin_data {} }
  KeyManager "disk" { plugin_data { keys_path = "%s" } }
}
`

const agentConf = `agent {
  data_dir = "%s"
  log_level = "INFO"
  server_address = "127.0.0.1"
  server_port = "%d"
  socket_path = "%s"
  trust_bundle_path = "%s"
  trust_domain = "%s"
}
plugins {
  NodeAttestor "join_token" { plugin_data {} }
  KeyManager "memory" { plugin_data {} }
  WorkloadAttestor "unix" { plugin_data {} }
%s}
`

// k8sAttestorConf is the k8s workload attestor against a test kubelet on
// 127.0.0.1 (no node name: the attestor then calls 127.0.0.1).
const k8sAttestorConf = `  WorkloadAttestor "k8s" {
    plugin_data {
      kubelet_secure_port = %d
      skip_kubelet_verification = true
      use_anonymous_authentication = true
%s    }
  }
`

const oidcConf = `log_level = "INFO"
domains = ["127.0.0.1"]
insecure_addr = "%s"
allow_insecure_scheme = true
server_api { address = "unix://%s" }
`

func (s *Stack) spireBin(name string) string { return filepath.Join(s.opts.SpireDir, name) }

func (s *Stack) startSpire(ctx context.Context) error {
	t0 := time.Now()
	dir := filepath.Join(s.dir, "spire")
	serverDir, agentDir, sockDir := filepath.Join(dir, "server"), filepath.Join(dir, "agent"), filepath.Join(dir, "wl")
	for _, d := range []string{serverDir, agentDir, sockDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	// Agent sockets: world-traversable folders, so a workload of another
	// uid reaches the Workload API.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	s.serverSock = filepath.Join(serverDir, "api.sock")
	// The name wisp injects by default (/spiffe-workload-api/spire-agent.sock).
	s.agentSock = filepath.Join(sockDir, "spire-agent.sock")
	if len(s.agentSock) >= 100 {
		return fmt.Errorf("workload API socket path %s is too long for a unix socket; use a shorter Options.Dir", s.agentSock)
	}
	env := []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}

	conf := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, serverConf, s.serverPort, s.serverSock, s.opts.TrustDomain,
		serverDir, s.oidcURL, filepath.Join(serverDir, "datastore.sqlite3"), filepath.Join(serverDir, "keys.json")), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", conf, err)
	}
	if err := s.spawnServer(ctx); err != nil {
		return err
	}
	s.opts.Logf("stack: spire-server healthy in %s", time.Since(t0).Round(time.Millisecond))

	bundle, err := run(ctx, nil, env, s.spireBin("spire-server"), "bundle", "show", "-socketPath", s.serverSock)
	if err != nil {
		return fmt.Errorf("spire-server bundle show: %w", err)
	}
	bundlePath := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(bundlePath, []byte(bundle), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", bundlePath, err)
	}
	for _, w := range s.opts.Workloads {
		if err := s.RegisterWorkload(ctx, w); err != nil {
			return err
		}
	}
	attestors := ""
	if k := s.opts.Kubelet; k != nil {
		extra := ""
		if k.PodSelectorsOnly {
			extra = "      disable_container_selectors = true\n"
		}
		attestors = fmt.Sprintf(k8sAttestorConf, k.SecurePort, extra)
	}
	s.agentConf = filepath.Join(dir, "agent.conf")
	if err := os.WriteFile(s.agentConf, fmt.Appendf(nil, agentConf, agentDir, s.serverPort, s.agentSock, bundlePath,
		s.opts.TrustDomain, attestors), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", s.agentConf, err)
	}
	if err := s.startAgent(ctx); err != nil {
		return err
	}

	conf = filepath.Join(dir, "oidc.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, oidcConf, strings.TrimPrefix(s.oidcURL, "http://"), s.serverSock), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", conf, err)
	}
	oidc, err := Spawn("oidc-discovery-provider", dir, nil, env, syscall.SIGTERM, s.spireBin("oidc-discovery-provider"), "-config", conf)
	if err != nil {
		return err
	}
	s.add(oidc)

	s.opts.Logf("stack: spire-agent healthy in %s", time.Since(t0).Round(time.Millisecond))
	err = WaitFor(ctx, oidc, "oidc-discovery-provider /keys", 60*time.Second, func(ctx context.Context) error {
		return checkKeys(ctx, s.oidcURL+"/keys")
	})
	if err != nil {
		return err
	}
	s.opts.Logf("stack: oidc-discovery-provider serving keys in %s", time.Since(t0).Round(time.Millisecond))
	return nil
}

// spawnServer starts the SPIRE server on its configuration and waits until
// it is healthy.
func (s *Stack) spawnServer(ctx context.Context) error {
	dir := filepath.Join(s.dir, "spire")
	env := []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
	server, err := Spawn("spire-server", dir, nil, env, syscall.SIGTERM, s.spireBin("spire-server"),
		"run", "-config", filepath.Join(dir, "server.conf"))
	if err != nil {
		return err
	}
	s.add(server)
	s.mu.Lock()
	s.server = server
	s.mu.Unlock()
	return WaitFor(ctx, server, "spire-server", 60*time.Second, func(ctx context.Context) error {
		_, err := run(ctx, nil, env, s.spireBin("spire-server"), "healthcheck", "-socketPath", s.serverSock)
		return err
	})
}

// StopServer stops the SPIRE server: the agent keeps serving what it has
// cached, and cannot mint anything new, until StartServer.
func (s *Stack) StopServer() error {
	return s.stopChild(&s.server, "spire-server")
}

// StartServer starts the SPIRE server again after StopServer, with its
// datastore and keys (disk key manager): the agent reconnects to it.
func (s *Stack) StartServer(ctx context.Context) error {
	s.mu.Lock()
	running := s.server != nil
	s.mu.Unlock()
	if running {
		return errors.New("start spire-server: already running")
	}
	return s.spawnServer(ctx)
}

// startAgent starts the SPIRE agent with a new join token (a token is good
// for one attestation) and waits until its Workload API answers.
func (s *Stack) startAgent(ctx context.Context) error {
	dir := filepath.Join(s.dir, "spire")
	env := []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
	out, err := run(ctx, nil, env, s.spireBin("spire-server"), "token", "generate", "-socketPath", s.serverSock,
		"-spiffeID", s.agentID())
	if err != nil {
		return fmt.Errorf("spire-server token generate: %w", err)
	}
	fields := strings.Fields(out) // "Token: <token>"
	if len(fields) != 2 {
		return fmt.Errorf("spire-server token generate: unexpected output %q", out)
	}
	agent, err := Spawn("spire-agent", dir, nil, env, syscall.SIGTERM, s.spireBin("spire-agent"),
		"run", "-config", s.agentConf, "-joinToken", fields[1])
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.agent = agent
	s.mu.Unlock()
	s.add(agent)
	err = WaitFor(ctx, agent, "spire-agent", 60*time.Second, func(ctx context.Context) error {
		_, err := run(ctx, nil, env, s.spireBin("spire-agent"), "healthcheck", "-socketPath", s.agentSock)
		return err
	})
	if err != nil {
		return err
	}
	// The agent creates its socket for its own user; workloads of other
	// uids must be able to connect.
	if err := os.Chmod(filepath.Dir(s.agentSock), 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", filepath.Dir(s.agentSock), err)
	}
	return nil
}

// StopAgent stops the SPIRE agent: the Workload API goes away until
// StartAgent.
func (s *Stack) StopAgent() error {
	return s.stopChild(&s.agent, "spire-agent")
}

// StartAgent starts the SPIRE agent again after StopAgent. It attests
// afresh (a new join token) and keeps the same Workload API socket.
func (s *Stack) StartAgent(ctx context.Context) error {
	if err := os.RemoveAll(filepath.Join(s.dir, "spire", "agent")); err != nil {
		return fmt.Errorf("clear the agent's data: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "spire", "agent"), 0o755); err != nil {
		return fmt.Errorf("create the agent's data folder: %w", err)
	}
	return s.startAgent(ctx)
}

func (s *Stack) agentID() string { return "spiffe://" + s.opts.TrustDomain + AgentID }

// checkKeys succeeds when url serves a JWKS with at least one key.
func checkKeys(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		return fmt.Errorf("decode %s: %w", url, err)
	}
	if len(jwks.Keys) == 0 {
		return fmt.Errorf("GET %s: no keys yet: %w", url, errNotReady)
	}
	return nil
}

// RegisterWorkload creates a registration entry for w. The agent issues it
// after its next sync (about 5 s). Registering the same entry again is not
// an error.
func (s *Stack) RegisterWorkload(ctx context.Context, w Workload) error {
	args := []string{"entry", "create", "-socketPath", s.serverSock, "-parentID", s.agentID(), "-spiffeID", w.SPIFFEID}
	for _, sel := range w.selectors() {
		args = append(args, "-selector", sel)
	}
	out, err := run(ctx, nil, nil, s.spireBin("spire-server"), args...)
	// The CLI reports a duplicate only in its text.
	if err != nil && strings.Contains(out+err.Error(), "AlreadyExists") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("register workload %s: %w", w.SPIFFEID, err)
	}
	return nil
}

// WaitForSVID waits until the agent issues this process a JWT-SVID for
// audience, and returns its SPIFFE ID.
func (s *Stack) WaitForSVID(ctx context.Context, audience string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: audience}, workloadapi.WithAddr(s.SocketAddr()))
		if err == nil {
			return svid.ID.String(), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wait for a JWT-SVID from %s: %w (last: %v)", s.SocketAddr(), ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

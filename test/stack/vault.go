package stack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	vault "github.com/hashicorp/vault/api"
)

func (s *Stack) startVault(ctx context.Context) error {
	if s.opts.PersistentVault {
		return s.startPersistentVault(ctx)
	}
	t0 := time.Now()
	dir := filepath.Join(s.dir, "vault")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if _, err := s.StartVaultServer(ctx, dir, strings.TrimPrefix(s.vaultAddr, "http://"), s.rootToken); err != nil {
		return err
	}
	s.opts.Logf("stack: vault healthy in %s", time.Since(t0).Round(time.Millisecond))
	return nil
}

// VaultServer is a Vault dev server started by StartVaultServer.
type VaultServer struct {
	p *Proc
}

// Stop ends the server.
func (v *VaultServer) Stop() { _ = v.p.Stop(10 * time.Second) }

// StartVaultServer starts a Vault dev server on listen (host:port) with the
// given root token, state in dir, and waits until it is healthy. The Stack
// stops it on Stop. Tests use it for a second, late Vault.
func (s *Stack) StartVaultServer(ctx context.Context, dir, listen, rootToken string) (*VaultServer, error) {
	// HOME: the dev server writes ~/.vault-token; keep it in dir.
	env := []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "VAULT_LOG_LEVEL=warn"}
	p, err := Spawn("vault-"+strings.ReplaceAll(listen, ":", "-"), dir, nil, env, syscall.SIGTERM, s.VaultBin(),
		"server", "-dev", "-dev-root-token-id="+rootToken, "-dev-listen-address="+listen, "-dev-no-store-token")
	if err != nil {
		return nil, err
	}
	s.add(p)
	err = WaitFor(ctx, p, "vault", 60*time.Second, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+listen+"/v1/sys/health", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("vault health: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &VaultServer{p: p}, nil
}

// VaultClient returns a client of the stack's Vault with its root token.
func (s *Stack) VaultClient() (*vault.Client, error) {
	return NewVaultClient(s.vaultAddr, s.rootToken)
}

// NewVaultClient returns a client of addr with token, ignoring VAULT_*
// variables of the environment.
func NewVaultClient(addr, token string) (*vault.Client, error) {
	c, err := vault.NewClient(&vault.Config{Address: addr, HttpClient: &http.Client{Timeout: 30 * time.Second}, MaxRetries: 2})
	if err != nil {
		return nil, fmt.Errorf("create vault client: %w", err)
	}
	c.SetToken(token)
	c.ClearNamespace()
	return c, nil
}

// configureVault sets up JWT auth trusting SPIRE's OIDC provider (unless
// Options.NoJWTAuth) and the database secrets engine against PostgreSQL.
// KV v2 is at secret/ in dev mode.
func (s *Stack) configureVault(ctx context.Context) error {
	c, err := s.VaultClient()
	if err != nil {
		return err
	}
	if !s.opts.NoJWTAuth {
		if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, "jwt", &vault.EnableAuthOptions{Type: "jwt"}); err != nil {
			return fmt.Errorf("enable jwt auth: %w", err)
		}
		if _, err := c.Logical().WriteWithContext(ctx, "auth/jwt/config", map[string]any{"jwks_url": s.JWKSURL()}); err != nil {
			return fmt.Errorf("write auth/jwt/config: %w", err)
		}
	}
	if err := c.Sys().MountWithContext(ctx, "database", &vault.MountInput{Type: "database"}); err != nil {
		return fmt.Errorf("enable database secrets engine: %w", err)
	}
	if _, err := c.Logical().WriteWithContext(ctx, "database/config/"+DBName, map[string]any{
		"plugin_name":    "postgresql-database-plugin",
		"connection_url": fmt.Sprintf("postgresql://{{username}}:{{password}}@127.0.0.1:%d/postgres?sslmode=disable", s.pgPort),
		"username":       "postgres",
		"password":       s.pgPassword,
		"allowed_roles":  "*",
	}); err != nil {
		return fmt.Errorf("write database/config/%s: %w", DBName, err)
	}
	return nil
}

// JWTRole is a Vault JWT-auth role bound to one SPIFFE ID.
type JWTRole struct {
	// BoundSubject is the SPIFFE ID allowed to log in.
	BoundSubject string
	// Audience bound in the role. Default "vault".
	Audience string
	// Policies given to the token.
	Policies []string
	// TokenTTL and TokenMaxTTL of the token; zero means Vault's defaults.
	TokenTTL, TokenMaxTTL time.Duration
}

// WriteJWTRole writes auth/jwt/role/<name>.
func (s *Stack) WriteJWTRole(ctx context.Context, name string, r JWTRole) error {
	if r.Audience == "" {
		r.Audience = "vault"
	}
	body := map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": r.Audience,
		"bound_subject": r.BoundSubject, "token_policies": strings.Join(r.Policies, ","),
	}
	if r.TokenTTL > 0 {
		body["token_ttl"] = int(r.TokenTTL / time.Second)
	}
	if r.TokenMaxTTL > 0 {
		body["token_max_ttl"] = int(r.TokenMaxTTL / time.Second)
	}
	return s.vaultWrite(ctx, "auth/jwt/role/"+name, body)
}

// WritePolicy writes an ACL policy.
func (s *Stack) WritePolicy(ctx context.Context, name, hcl string) error {
	c, err := s.VaultClient()
	if err != nil {
		return err
	}
	if err := c.Sys().PutPolicyWithContext(ctx, name, hcl); err != nil {
		return fmt.Errorf("write policy %s: %w", name, err)
	}
	return nil
}

// DBRole is a database secrets engine role on the stack's PostgreSQL.
type DBRole struct {
	DefaultTTL, MaxTTL time.Duration
}

// WriteDBRole writes database/roles/<name>: each read of
// database/creds/<name> creates a PostgreSQL login role.
func (s *Stack) WriteDBRole(ctx context.Context, name string, r DBRole) error {
	body := map[string]any{
		"db_name":             DBName,
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
	}
	if r.DefaultTTL > 0 {
		body["default_ttl"] = int(r.DefaultTTL / time.Second)
	}
	if r.MaxTTL > 0 {
		body["max_ttl"] = int(r.MaxTTL / time.Second)
	}
	return s.vaultWrite(ctx, "database/roles/"+name, body)
}

// PutKV writes a KV v2 secret at secret/<name> (read at secret/data/<name>).
func (s *Stack) PutKV(ctx context.Context, name string, data map[string]any) error {
	c, err := s.VaultClient()
	if err != nil {
		return err
	}
	if _, err := c.KVv2("secret").Put(ctx, name, data); err != nil {
		return fmt.Errorf("put secret/%s: %w", name, err)
	}
	return nil
}

func (s *Stack) vaultWrite(ctx context.Context, path string, body map[string]any) error {
	c, err := s.VaultClient()
	if err != nil {
		return err
	}
	if _, err := c.Logical().WriteWithContext(ctx, path, body); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteBrokenDBRole writes database/roles/broken on a connection to a port
// where nothing listens: reading database/creds/broken answers HTTP 500,
// which wisp-fetch retries until its deadline.
func (s *Stack) WriteBrokenDBRole(ctx context.Context) error {
	c, err := s.VaultClient()
	if err != nil {
		return err
	}
	if _, err := c.Logical().WriteWithContext(ctx, "database/config/broken", map[string]any{
		"plugin_name":       "postgresql-database-plugin",
		"connection_url":    "postgresql://{{username}}:{{password}}@127.0.0.1:1/postgres?sslmode=disable",
		"username":          "nobody",
		"password":          "unused",
		"allowed_roles":     "broken",
		"verify_connection": false,
	}); err != nil {
		return fmt.Errorf("write database/config/broken: %w", err)
	}
	if _, err := c.Logical().WriteWithContext(ctx, "database/roles/broken", map[string]any{
		"db_name":             "broken",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}';`,
	}); err != nil {
		return fmt.Errorf("write database/roles/broken: %w", err)
	}
	return nil
}

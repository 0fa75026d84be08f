package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// persistentVaultConf is a Vault with file storage on loopback, without
// TLS (a test server), mlock off (the machine may not allow it).
const persistentVaultConf = `storage "file" {
  path = "%s"
}
listener "tcp" {
  address = "%s"
  tls_disable = true
}
disable_mlock = true
api_addr = "%s"
ui = false
`

func (s *Stack) vaultDir() string { return filepath.Join(s.dir, "vault") }

// startPersistentVault starts Vault with file storage, initialises it with
// one unseal key, unseals it and mounts KV v2 at secret/.
func (s *Stack) startPersistentVault(ctx context.Context) error {
	t0 := time.Now()
	dir := s.vaultDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := s.spawnPersistentVault(ctx, s.listen()); err != nil {
		return err
	}
	c, err := NewVaultClient(s.vaultAddr, "")
	if err != nil {
		return err
	}
	res, err := c.Sys().InitWithContext(ctx, &vault.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		return fmt.Errorf("vault operator init: %w", err)
	}
	s.rootToken, s.unsealKey = res.RootToken, res.Keys[0]
	if err := s.UnsealVault(ctx); err != nil {
		return err
	}
	c.SetToken(s.rootToken)
	if err := c.Sys().MountWithContext(ctx, "secret", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		return fmt.Errorf("mount KV v2 at secret/: %w", err)
	}
	// A new KV v2 mount answers "upgrading" for a moment.
	err = WaitFor(ctx, s.vaultProc(), "KV v2 at secret/", 30*time.Second, func(ctx context.Context) error {
		_, err := c.KVv2("secret").Put(ctx, "wisp-stack-ready", map[string]any{"ok": true})
		return err
	})
	if err != nil {
		return err
	}
	if err := c.KVv2("secret").DeleteMetadata(ctx, "wisp-stack-ready"); err != nil {
		return fmt.Errorf("delete secret/wisp-stack-ready: %w", err)
	}
	s.opts.Logf("stack: vault (file storage) initialised and unsealed in %s", time.Since(t0).Round(time.Millisecond))
	return nil
}

// listen is host:port of the stack's Vault address.
func (s *Stack) listen() string { return strings.TrimPrefix(s.vaultAddr, "http://") }

// spawnPersistentVault writes the server's configuration, listening on
// listen, starts it and waits until it answers there (sealed or not).
func (s *Stack) spawnPersistentVault(ctx context.Context, listen string) error {
	dir := s.vaultDir()
	conf := fmt.Sprintf(persistentVaultConf, filepath.Join(dir, "data"), listen, s.vaultAddr)
	if err := os.WriteFile(filepath.Join(dir, "vault.hcl"), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write vault.hcl: %w", err)
	}
	env := []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "VAULT_LOG_LEVEL=warn"}
	p, err := Spawn("vault", dir, nil, env, syscall.SIGTERM, s.VaultBin(), "server", "-config="+filepath.Join(dir, "vault.hcl"))
	if err != nil {
		return err
	}
	s.add(p)
	s.mu.Lock()
	s.vault = p
	s.mu.Unlock()
	return WaitFor(ctx, p, "vault", 60*time.Second, func(ctx context.Context) error {
		_, err := vaultHealth(ctx, "http://"+listen)
		return err
	})
}

func (s *Stack) vaultProc() *Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vault
}

// vaultHealth returns the HTTP status of sys/health: 200 active, 429
// standby, 501 not initialised, 503 sealed.
func vaultHealth(ctx context.Context, addr string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/v1/sys/health", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

var errPersistentOnly = errors.New("needs Options.PersistentVault (a dev server loses its state when stopped)")

// StopVault stops the persistent Vault: its address refuses connections
// until StartVault.
func (s *Stack) StopVault() error {
	if !s.opts.PersistentVault {
		return fmt.Errorf("stop vault: %w", errPersistentOnly)
	}
	return s.stopChild(&s.vault, "vault")
}

// StartVault starts the persistent Vault again after StopVault, on the
// same address and storage, and unseals it.
func (s *Stack) StartVault(ctx context.Context) error {
	if !s.opts.PersistentVault {
		return fmt.Errorf("start vault: %w", errPersistentOnly)
	}
	return s.StartVaultOn(ctx, s.listen())
}

// StartVaultOn is StartVault with Vault listening on listen (host:port)
// instead of its address, where the test puts something in front of it
// (a proxy) that must forward to listen before StartVaultOn is called:
// clients, and the unseal, still use the stack's address.
func (s *Stack) StartVaultOn(ctx context.Context, listen string) error {
	if !s.opts.PersistentVault {
		return fmt.Errorf("start vault: %w", errPersistentOnly)
	}
	if s.vaultProc() != nil {
		return errors.New("start vault: already running")
	}
	if err := s.spawnPersistentVault(ctx, listen); err != nil {
		return err
	}
	return s.UnsealVault(ctx)
}

// SealVault seals the running persistent Vault: it answers 503 "Vault is
// sealed" until UnsealVault.
func (s *Stack) SealVault(ctx context.Context) error {
	if !s.opts.PersistentVault {
		return fmt.Errorf("seal vault: %w", errPersistentOnly)
	}
	c, err := s.VaultClient()
	if err != nil {
		return err
	}
	if err := c.Sys().SealWithContext(ctx); err != nil {
		return fmt.Errorf("seal vault: %w", err)
	}
	return nil
}

// UnsealVault unseals the persistent Vault and waits until it is active.
func (s *Stack) UnsealVault(ctx context.Context) error {
	if !s.opts.PersistentVault {
		return fmt.Errorf("unseal vault: %w", errPersistentOnly)
	}
	c, err := NewVaultClient(s.vaultAddr, "")
	if err != nil {
		return err
	}
	if _, err := c.Sys().UnsealWithContext(ctx, s.unsealKey); err != nil {
		return fmt.Errorf("unseal vault: %w", err)
	}
	return WaitFor(ctx, s.vaultProc(), "vault active after unseal", 30*time.Second, func(ctx context.Context) error {
		code, err := vaultHealth(ctx, s.vaultAddr)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("sys/health: HTTP %d", code)
		}
		return err
	})
}

// PauseVault freezes the persistent Vault (SIGSTOP): connections are
// accepted by the kernel and requests sent, but nothing answers until
// ResumeVault: a hung Vault.
func (s *Stack) PauseVault() error { return s.signalVault(syscall.SIGSTOP) }

// ResumeVault lets a paused Vault run again (SIGCONT).
func (s *Stack) ResumeVault() error { return s.signalVault(syscall.SIGCONT) }

func (s *Stack) signalVault(sig syscall.Signal) error {
	if !s.opts.PersistentVault {
		return fmt.Errorf("signal vault: %w", errPersistentOnly)
	}
	p := s.vaultProc()
	if p == nil {
		return errors.New("signal vault: not running")
	}
	return p.Signal(sig)
}

// Leases lists the IDs of Vault's leases under prefix (e.g.
// "database/creds/app/", or "auth/jwt/login/" for the tokens of JWT
// logins), as Vault's own sys/leases/lookup lists them.
func (s *Stack) Leases(ctx context.Context, prefix string) ([]string, error) {
	c, err := s.VaultClient()
	if err != nil {
		return nil, err
	}
	var out []string
	var walk func(p string) error
	walk = func(p string) error {
		sec, err := c.Logical().ListWithContext(ctx, "sys/leases/lookup/"+p)
		if err != nil {
			return fmt.Errorf("list sys/leases/lookup/%s: %w", p, err)
		}
		if sec == nil {
			return nil
		}
		keys, _ := sec.Data["keys"].([]any)
		for _, k := range keys {
			key, _ := k.(string)
			if strings.HasSuffix(key, "/") {
				if err := walk(p + key); err != nil {
					return err
				}
				continue
			}
			out = append(out, p+key)
		}
		return nil
	}
	if err := walk(strings.TrimSuffix(prefix, "/") + "/"); err != nil {
		return nil, err
	}
	return out, nil
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	vault "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/test/node"
	"wisp.dev/wisp/test/stack"
)

// agentRepo is the Vault Agent image's repository and tag in the env's
// registry: the vault binary the tests build, with the C library it
// links, in one layer.
const agentRepo = "vault-agent:bench"

type bench struct {
	env  *node.Env
	logf func(string, ...any)
	dir  string
	// audit is Vault's audit log.
	audit string
	// agentImage is the Vault Agent image in the env's registry, by tag.
	agentImage string
}

// setup writes Vault's policies, roles, secrets, the Kubernetes auth
// method and the audit device; creates the namespace, ServiceAccounts,
// RBAC and the agent's ConfigMap; builds the agent image and pushes it to
// the env's registry, from which the kubelet pulls it.
func (b *bench) setup(ctx context.Context) error {
	var err error
	if b.dir, err = os.MkdirTemp("", "wisp-bench"); err != nil {
		return fmt.Errorf("create folder: %w", err)
	}
	if err := os.Chmod(b.dir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", b.dir, err)
	}
	if err := b.setupVault(ctx); err != nil {
		return err
	}
	if err := b.setupCluster(ctx); err != nil {
		return err
	}
	return b.pushAgentImage(ctx)
}

func (b *bench) setupVault(ctx context.Context) error {
	s := b.env.Stack
	c, err := s.VaultClient()
	if err != nil {
		return err
	}
	b.audit = filepath.Join(b.dir, "audit.log")
	if err := c.Sys().EnableAuditWithOptionsWithContext(ctx, "file", &vault.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": b.audit}}); err != nil {
		return fmt.Errorf("enable the file audit device: %w", err)
	}
	policy := `
path "secret/data/bench/*" { capabilities = ["read"] }
path "database/creds/bench" { capabilities = ["read"] }
path "database/creds/roll" { capabilities = ["read"] }
`
	steps := []func() error{
		func() error { return s.WritePolicy(ctx, "bench", policy) },
		func() error {
			return s.WriteJWTRole(ctx, wispRole, stack.JWTRole{BoundSubject: wispID, Policies: []string{"bench"}})
		},
		func() error {
			return s.WriteJWTRole(ctx, rollRole, stack.JWTRole{BoundSubject: rollID, Policies: []string{"bench"}})
		},
		func() error {
			return s.WriteDBRole(ctx, "bench", stack.DBRole{DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour})
		},
		func() error {
			return s.WriteDBRole(ctx, "roll", stack.DBRole{DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour})
		},
		func() error {
			return s.PutKV(ctx, "bench/config", map[string]any{"greeting": "hello", "api_key": "bench-" + fmt.Sprint(time.Now().UnixNano())})
		},
		func() error { return b.kubernetesAuth(ctx) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// kubernetesAuth enables auth/kubernetes against this API server: no
// reviewer JWT of its own, so Vault sends each client's JWT to TokenReview
// (the client's ServiceAccount is bound to system:auth-delegator), as
// Vault's documentation describes for Vault outside the cluster.
func (b *bench) kubernetesAuth(ctx context.Context) error {
	c, err := b.env.Stack.VaultClient()
	if err != nil {
		return err
	}
	if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, "kubernetes", &vault.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		return fmt.Errorf("enable kubernetes auth: %w", err)
	}
	if _, err := c.Logical().WriteWithContext(ctx, "auth/kubernetes/config", map[string]any{
		"kubernetes_host":      fmt.Sprintf("https://127.0.0.1:%d", b.env.Node.APIServerPort()),
		"kubernetes_ca_cert":   string(b.env.Node.CAPEM()),
		"disable_local_ca_jwt": true,
	}); err != nil {
		return fmt.Errorf("write auth/kubernetes/config: %w", err)
	}
	if _, err := c.Logical().WriteWithContext(ctx, "auth/kubernetes/role/"+agentRole, map[string]any{
		"bound_service_account_names":      agentSA,
		"bound_service_account_namespaces": ns,
		"token_policies":                   "bench",
	}); err != nil {
		return fmt.Errorf("write auth/kubernetes/role/%s: %w", agentRole, err)
	}
	return nil
}

func (b *bench) setupCluster(ctx context.Context) error {
	n := b.env.Node
	c := n.Client()
	if err := n.CreateNamespace(ctx, ns, nil); err != nil {
		return err
	}
	for _, sa := range []string{wispSA, agentSA, rollSA} {
		if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create ServiceAccount %s: %w", sa, err)
		}
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-agent-tokenreview"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: agentSA, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ClusterRoleBinding: %w", err)
	}
	if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-agent-config"},
		Data:       map[string]string{"config-init.hcl": agentConfig(b.env.Stack.VaultAddr())},
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create the agent's ConfigMap: %w", err)
	}
	return nil
}

// pushAgentImage builds the agent image as test/node builds its own
// (node.ImageSpec, one layer): /bin/vault and the shared objects it links
// (the binary the tests build is a cgo build), user vault (100:1000) as in
// Vault's image; then pushes it to the env's registry (plain HTTP on
// 127.0.0.1).
func (b *bench) pushAgentImage(ctx context.Context) error {
	vaultBin := b.env.Stack.VaultBin()
	files := map[string]string{"/bin/vault": vaultBin}
	libs, err := sharedObjects(ctx, vaultBin)
	if err != nil {
		return err
	}
	for _, l := range libs {
		real, err := filepath.EvalSymlinks(l)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", l, err)
		}
		files[l] = real
	}
	img, err := node.ImageSpec{
		Files: files, Entrypoint: []string{"/bin/vault"}, User: "100:1000",
		Env: []string{"PATH=/bin", "HOME=" + agentHome()},
	}.Image()
	if err != nil {
		return fmt.Errorf("agent image: %w", err)
	}
	ref := b.env.Registry + "/" + agentRepo
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("agent image %s: %w", ref, err)
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	b.agentImage = ref
	return nil
}

// sharedObjects lists the absolute paths ldd prints for bin.
func sharedObjects(ctx context.Context, bin string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	return libs, nil
}

// agentConfig is the init container's configuration as the Vault Agent
// Injector writes it for a pod annotated with the two secrets (HCL here,
// JSON there: the same settings).
func agentConfig(vaultAddr string) string {
	return fmt.Sprintf(`exit_after_auth = true
pid_file = "%[3]s/.pid"
vault {
  address = %[1]q
}
auto_auth {
  method "kubernetes" {
    mount_path = "auth/kubernetes"
    config = {
      role = %[2]q
    }
  }
  sink "file" {
    config = {
      path = "%[3]s/.vault-token"
    }
  }
}
template_config {
  exit_on_retry_failure = true
}
template {
  destination = "/vault/secrets/config"
  contents = "{{ with secret \"secret/data/bench/config\" }}greeting={{ .Data.data.greeting }}\napi_key={{ .Data.data.api_key }}\n{{ end }}"
  left_delimiter = "{{"
  right_delimiter = "}}"
}
template {
  destination = "/vault/secrets/db"
  contents = "{{ with secret \"database/creds/bench\" }}USERNAME={{ .Data.username }}\nPASSWORD={{ .Data.password }}\n{{ end }}"
  left_delimiter = "{{"
  right_delimiter = "}}"
}
`, vaultAddr, agentRole, agentHome())
}

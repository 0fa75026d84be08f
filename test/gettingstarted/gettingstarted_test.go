package gettingstarted

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/test/node"
	"wisp.dev/wisp/test/stack"
	"wisp.dev/wisp/test/testutil"
)

const page = "../../docs/getting-started.md"

// substitution replaces what the page shows with the test's own: old must
// be in the page (else the table has rotted), new replaces every
// occurrence.
type substitution struct {
	old, new string
	// why the test differs from the page here.
	why string
}

// substitutions is the whole difference between the page and what runs.
func substitutions(nodeValues string) []substitution {
	env := shared.env
	st := env.Stack
	return []substitution{
		{"/run/spire/server/private/api.sock", st.ServerSocket(), "the test SPIRE server's socket"},
		{"spiffe://example.org/ns/spire/sa/spire-agent", "spiffe://" + st.TrustDomain() + stack.AgentID,
			"the test agent's ID (a join token, not a node alias)"},
		{"https://oidc-discovery.example.org", st.OIDCURL(), "the OIDC discovery provider on 127.0.0.1"},
		{"https://vault.example.org:8200", st.VaultAddr(), "Vault on 127.0.0.1"},
		{"postgres.example.org:5432", fmt.Sprintf("127.0.0.1:%d", st.PGPort()), "PostgreSQL on 127.0.0.1"},
		{"registry.example.com/platform", env.Registry, "the test's registry on 127.0.0.1 (the chart, wisp's image, the app's image)"},
		{"--version 0.1.0", "--version " + env.ChartVersion + " --plain-http", "the version the test released; its registry speaks plain HTTP"},
		{"-f values.yaml", "-f values.yaml -f " + nodeValues,
			"the test node: one webhook replica on the host network, no kube-proxy (values of its own, after the page's)"},
		{"      serviceAccountName: demo\n", "      serviceAccountName: demo\n      hostNetwork: true\n",
			"the test's services listen on the host's 127.0.0.1"},
	}
}

// TestGettingStarted runs every block of docs/getting-started.md in order
// and checks what the last one printed: the app read both secret files and
// logged in to PostgreSQL as the role Vault made for it.
func TestGettingStarted(t *testing.T) {
	blocks, err := testutil.DocBlocks(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatal("docs/getting-started.md has no blocks")
	}
	tmp := t.TempDir()
	subs := substitutions(writeNodeValues(t, tmp))
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if !strings.Contains(string(data), s.old) {
			t.Errorf("the page no longer holds %q (%s): update the test's table", s.old, s.why)
		}
	}
	env := blockEnv(t, tmp)
	var out string
	for i, b := range blocks {
		if b.Lang != "sh" {
			t.Fatalf("block %d is %q, not sh: every block of the page must be a command the test runs:\n%s", i+1, b.Lang, b.Text)
		}
		text := b.Text
		for _, s := range subs {
			text = strings.ReplaceAll(text, s.old, s.new)
		}
		out = runBlock(t, tmp, env, i+1, text)
	}
	for _, want := range []string{"file config: 1 lines", "file db: 2 lines", "current_user=v-jwt-spif-demo-"} {
		if !strings.Contains(out, want) {
			t.Errorf("the page's last block printed no %q:\n%s", want, out)
		}
	}
}

// runBlock runs one block with bash in dir and returns its output.
func runBlock(t *testing.T, dir string, env []string, n int, block string) string {
	t.Helper()
	start := time.Now()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", block)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("block %d:\n%s\nfailed: %v\n%s\nwebhook log:\n%s", n, block, err, out, shared.env.Node.PodLogs(t.Context(), node.WispNamespace, 30))
	}
	t.Logf("block %d (%s):\n%s%s", n, time.Since(start).Round(time.Millisecond), block, out)
	return string(out)
}

// blockEnv puts the page's tools on PATH (the test's builds of kubectl,
// helm, vault, spire-server and wisp) and gives them the node's
// kubeconfig, Vault's address and root token, and helm state of their own.
func blockEnv(t *testing.T, tmp string) []string {
	t.Helper()
	var dirs []string
	for _, tool := range []string{"kubectl", "helm"} {
		d, err := testutil.Tool(tool)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	st := shared.env.Stack
	dirs = append(dirs, filepath.Dir(st.VaultBin()), st.SpireBin(), filepath.Dir(shared.env.WispCLI))
	helm := filepath.Join(tmp, "helm")
	return append(os.Environ(),
		"PATH="+strings.Join(dirs, ":")+":"+os.Getenv("PATH"),
		"KUBECONFIG="+shared.env.Node.Kubeconfig(),
		"VAULT_ADDR="+st.VaultAddr(), "VAULT_TOKEN="+st.VaultToken(),
		"HELM_CACHE_HOME="+helm, "HELM_CONFIG_HOME="+helm, "HELM_DATA_HOME="+helm)
}

// writeNodeValues writes the chart values the test node needs besides the
// page's, and returns the file.
func writeNodeValues(t *testing.T, tmp string) string {
	t.Helper()
	values, err := shared.env.NodeChartValues()
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(tmp, "node-values.yaml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

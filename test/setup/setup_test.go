package setup

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"wisp.dev/wisp/test/stack"
	"wisp.dev/wisp/test/testutil"
)

// docOIDC is the key URL docs/setup-vault.md shows.
const docOIDC = "https://oidc.example.org/keys"

// doc is docs/setup-vault.md: its policy and its three commands (print,
// dry run, apply), with the stack's JWKS URL.
type doc struct {
	policy               string
	print, dryRun, apply string
}

func readDoc(t *testing.T) doc {
	t.Helper()
	blocks := func(lang string) []string {
		texts, err := testutil.DocBlocksOf(filepath.Join("..", "..", "docs", "setup-vault.md"), lang)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range texts {
			out = append(out, strings.ReplaceAll(b, docOIDC, shared.stack.OIDCURL()+"/keys"))
		}
		return out
	}
	y, sh := blocks("yaml"), blocks("sh")
	if len(y) != 1 || len(sh) != 3 {
		t.Fatalf("docs/setup-vault.md: %d yaml and %d sh blocks; the test runs 1 and 3", len(y), len(sh))
	}
	return doc{policy: y[0], print: sh[0], dryRun: sh[1], apply: sh[2]}
}

// runIn runs a shell block in dir, with wisp and vault on PATH and the
// stack's Vault in the environment, and returns its stdout.
func runIn(t *testing.T, dir, block string) string {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", block)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(shared.wisp)+":"+filepath.Dir(shared.stack.VaultBin())+":"+os.Getenv("PATH"),
		"VAULT_ADDR="+shared.stack.VaultAddr(), "VAULT_TOKEN="+shared.stack.VaultToken())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", block, err, out, stderr.String())
	}
	return string(out)
}

// workdir holds the doc's policy, with mount set to a mount of the test's
// own (every test configures its own).
func workdir(t *testing.T, d doc, mount string) string {
	t.Helper()
	dir := t.TempDir()
	pol := d.policy + "injection:\n  authPath: " + mount + "\n"
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDocApplyTwice: the page's --apply creates the mount, its config and
// one role per namespace; a second --apply and the --dry-run find nothing
// to do.
func TestDocApplyTwice(t *testing.T) {
	d := readDoc(t)
	dir := workdir(t, d, "spiffe-apply")
	first := runIn(t, dir, d.apply)
	for _, want := range []string{
		"sys/auth/spiffe-apply: enable", "auth/spiffe-apply/config: create",
		"auth/spiffe-apply/role/team-a: create", "auth/spiffe-apply/role/team-b: create", "applied",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first --apply lacks %q:\n%s", want, first)
		}
	}
	for _, block := range []string{d.apply, d.dryRun} {
		out := runIn(t, dir, block)
		if !strings.HasSuffix(out, "no changes\n") || strings.Contains(out, ": update") || strings.Contains(out, ": create") {
			t.Errorf("after --apply, %s:\n%s", block, out)
		}
	}
}

// TestDryRunShowsChange: after the policy changes (team-b's role also for
// team-c), --dry-run names the field and changes nothing in Vault.
func TestDryRunShowsChange(t *testing.T) {
	d := readDoc(t)
	dir := workdir(t, d, "spiffe-dry")
	runIn(t, dir, d.apply)
	changed := strings.Replace(d.dryRun, "--namespace team-b", "--namespace team-b --namespace team-c", 1)
	out := runIn(t, dir, changed)
	want := `auth/spiffe-dry/role/team-c: create`
	if !strings.Contains(out, want) || strings.Contains(out, "no changes") {
		t.Errorf("dry run after a change lacks %q:\n%s", want, out)
	}
	aud := runIn(t, dir, strings.Replace(d.dryRun, "--dry-run", "--audience vault2 --dry-run", 1))
	if !strings.Contains(aud, `auth/spiffe-dry/role/team-a: update`) || !strings.Contains(aud, `bound_audiences: ["vault"] -> ["vault2"]`) {
		t.Errorf("dry run with another audience:\n%s", aud)
	}
	if out := runIn(t, dir, d.dryRun); !strings.HasSuffix(out, "no changes\n") {
		t.Errorf("--dry-run wrote to Vault:\n%s", out)
	}
}

// TestPrintedCommands: the printed vault commands, run with the vault CLI,
// configure what --apply would (a dry run then finds nothing to do).
func TestPrintedCommands(t *testing.T) {
	d := readDoc(t)
	dir := workdir(t, d, "spiffe-print")
	script := runIn(t, dir, d.print)
	if !strings.Contains(script, "vault auth enable -path=spiffe-print jwt") {
		t.Fatalf("printed:\n%s", script)
	}
	runIn(t, dir, script)
	if out := runIn(t, dir, d.dryRun); !strings.HasSuffix(out, "no changes\n") {
		t.Errorf("after the printed commands, --dry-run:\n%s", out)
	}
}

// TestOtherNamespaceRefused: a JWT-SVID SPIRE issues to a workload of
// team-b cannot log in with team-a's role; team-a's can. Nothing but Vault
// stands between them: this is the login of a pod injected by hand.
func TestOtherNamespaceRefused(t *testing.T) {
	d := readDoc(t)
	dir := workdir(t, d, "spiffe-login")
	runIn(t, dir, d.apply)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jwt := map[string]string{}
	for ns, id := range map[string]string{"team-a": teamAID, "team-b": teamBID} {
		jwt[ns] = fetchJWT(ctx, t, id)
	}
	c, err := stack.NewVaultClient(shared.stack.VaultAddr(), "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		svid, role string
		ok         bool
	}{
		{svid: "team-a", role: "team-a", ok: true},
		{svid: "team-b", role: "team-b", ok: true},
		{svid: "team-b", role: "team-a"},
		{svid: "team-a", role: "team-b"},
	}
	for _, tt := range tests {
		s, err := c.Logical().WriteWithContext(ctx, "auth/spiffe-login/login", map[string]any{"role": tt.role, "jwt": jwt[tt.svid]})
		if tt.ok && (err != nil || s == nil || s.Auth == nil) {
			t.Errorf("JWT-SVID of %s, role %s: %v; want a token", tt.svid, tt.role, err)
		}
		if !tt.ok && err == nil {
			t.Errorf("JWT-SVID of %s, role %s: Vault gave a token; want a refusal", tt.svid, tt.role)
		}
		if !tt.ok && err != nil && !strings.Contains(err.Error(), "bound claim") {
			t.Errorf("JWT-SVID of %s, role %s: %v; want a bound claim refusal", tt.svid, tt.role, err)
		}
	}
}

// fetchJWT fetches a JWT-SVID for audience vault with the SPIFFE ID id.
func fetchJWT(ctx context.Context, t *testing.T, id string) string {
	t.Helper()
	sub := spiffeid.RequireFromString(id)
	for {
		svids, err := workloadapi.FetchJWTSVIDs(ctx, jwtsvid.Params{Audience: "vault", Subject: sub}, workloadapi.WithAddr(shared.stack.SocketAddr()))
		if err == nil && len(svids) > 0 && svids[0].ID == sub {
			return svids[0].Marshal()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("JWT-SVID for %s: %v (last: %v)", id, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

package setup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"wisp.dev/wisp/policy"
)

var testBindings = []policy.RoleBinding{
	{Namespaces: []string{"team-*"}, Roles: []string{"{namespace}", "{namespace}.*"}},
	{Namespaces: []string{"team-a", "ops"}, Roles: []string{"shared-reader"}},
}

func testPlan(t *testing.T, mod func(*Config)) Plan {
	t.Helper()
	cfg := Config{
		TrustDomain: "example.org", Mount: "jwt", Audience: "vault", JWKSURL: "https://spire-oidc/keys",
		Namespaces: []string{"team-b", "team-a", "ops", "other"},
	}
	if mod != nil {
		mod(&cfg)
	}
	ev, err := policy.Compile(policy.Spec{Roles: testBindings})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(cfg, testBindings, ev)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func subs(p Plan) map[string][]string {
	out := map[string][]string{}
	for _, r := range p.Roles {
		out[r.Name] = r.Body["bound_claims"].(map[string]any)["sub"].([]string)
	}
	return out
}

// TestNewPlan: one role per concrete name, each bound to exactly the
// namespaces the policy lets name it.
func TestNewPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		mod   func(*Config)
		want  map[string][]string
		notes int
	}{
		{
			name: "templated and shared roles",
			want: map[string][]string{
				"team-a":        {"spiffe://example.org/ns/team-a/sa/*"},
				"team-b":        {"spiffe://example.org/ns/team-b/sa/*"},
				"shared-reader": {"spiffe://example.org/ns/ops/sa/*", "spiffe://example.org/ns/team-a/sa/*"},
			},
			notes: 1,
		},
		{
			name: "a concrete name for the glob",
			mod:  func(c *Config) { c.Roles = []string{"team-a.db"} },
			want: map[string][]string{
				"team-a":        {"spiffe://example.org/ns/team-a/sa/*"},
				"team-a.db":     {"spiffe://example.org/ns/team-a/sa/*"},
				"team-b":        {"spiffe://example.org/ns/team-b/sa/*"},
				"shared-reader": {"spiffe://example.org/ns/ops/sa/*", "spiffe://example.org/ns/team-a/sa/*"},
			},
			notes: 1,
		},
		{
			name:  "only some namespaces",
			mod:   func(c *Config) { c.Namespaces = []string{"ops"} },
			want:  map[string][]string{"shared-reader": {"spiffe://example.org/ns/ops/sa/*"}},
			notes: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := testPlan(t, tt.mod)
			if diff := cmp.Diff(tt.want, subs(p)); diff != "" {
				t.Errorf("bound subjects (-want +got):\n%s", diff)
			}
			if len(p.Notes) != tt.notes {
				t.Errorf("notes %q, want %d", p.Notes, tt.notes)
			}
		})
	}
}

func TestRoleBody(t *testing.T) {
	t.Parallel()
	p := testPlan(t, func(c *Config) { c.TokenPolicies = []string{"{role}", "common"} })
	want := map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"vault"},
		"bound_claims_type": "glob",
		"bound_claims":      map[string]any{"sub": []string{"spiffe://example.org/ns/team-b/sa/*"}},
		"token_policies":    []string{"team-b", "common"},
	}
	if diff := cmp.Diff(want, p.Roles[2].Body); diff != "" {
		t.Errorf("%s (-want +got):\n%s", p.Roles[2].Name, diff)
	}
	if p.AuthConfig["jwks_url"] != "https://spire-oidc/keys" || p.AuthConfig["oidc_discovery_url"] != "" {
		t.Errorf("auth config %v", p.AuthConfig)
	}
}

func TestNewPlanErrors(t *testing.T) {
	t.Parallel()
	ev, err := policy.Compile(policy.Spec{Roles: testBindings})
	if err != nil {
		t.Fatal(err)
	}
	good := Config{TrustDomain: "example.org", Mount: "jwt", Audience: "vault", JWKSURL: "u", Namespaces: []string{"team-a"}}
	tests := []struct {
		name     string
		mod      func(*Config)
		bindings []policy.RoleBinding
		err      string
	}{
		{name: "no bindings", err: "no roles bindings"},
		{name: "two key sources", mod: func(c *Config) { c.OIDCDiscoveryURL = "x" }, bindings: testBindings, err: "exactly one"},
		{name: "no namespaces", mod: func(c *Config) { c.Namespaces = nil }, bindings: testBindings, err: "namespaces: none"},
		{name: "glob role", mod: func(c *Config) { c.Roles = []string{"team-*"} }, bindings: testBindings, err: "not a glob"},
		{name: "role no namespace may name", mod: func(c *Config) { c.Roles = []string{"team-b-x"} }, bindings: testBindings, err: `role "team-b-x": the policy lets none`},
		{name: "bad trust domain", mod: func(c *Config) { c.TrustDomain = "spiffe://x" }, bindings: testBindings, err: "trust domain"},
	}
	for _, tt := range tests {
		cfg := good
		if tt.mod != nil {
			tt.mod(&cfg)
		}
		if _, err := NewPlan(cfg, tt.bindings, ev); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
		}
	}
}

// fakeVault keeps written paths, returning them as Vault does: lists as
// []any, with fields of its own.
type fakeVault struct {
	data   map[string]map[string]any
	writes []string
}

func (f *fakeVault) Read(_ context.Context, path string) (map[string]any, error) {
	if path == "sys/auth" {
		out := map[string]any{"token/": map[string]any{"type": "token"}}
		for p, d := range f.data {
			if m, ok := strings.CutPrefix(p, "sys/auth/"); ok {
				out[m+"/"] = d
			}
		}
		return out, nil
	}
	d, ok := f.data[path]
	if !ok {
		return nil, nil
	}
	out := normalize(d).(map[string]any)
	out["token_ttl"] = 0 // a field the plan does not set
	return out, nil
}

func (f *fakeVault) Write(_ context.Context, path string, data map[string]any) error {
	if f.data == nil {
		f.data = map[string]map[string]any{}
	}
	f.data[path] = data
	f.writes = append(f.writes, path)
	return nil
}

func (f *fakeVault) List(_ context.Context, path string) ([]string, error) {
	var out []string
	for p := range f.data {
		if name, ok := strings.CutPrefix(p, path+"/"); ok {
			out = append(out, name)
		}
	}
	return out, nil
}

func actions(chs []Change) map[string]Action {
	out := map[string]Action{}
	for _, c := range chs {
		out[c.Path] = c.Action
	}
	return out
}

// TestDiffApply: the first Apply creates everything, the second writes
// nothing; a change of the plan updates only what differs.
func TestDiffApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := &fakeVault{}
	p := testPlan(t, nil)
	chs, err := Diff(ctx, v, p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{
		"sys/auth/jwt": Enable, "auth/jwt/config": Create, "auth/jwt/role/shared-reader": Create,
		"auth/jwt/role/team-a": Create, "auth/jwt/role/team-b": Create,
	}
	if diff := cmp.Diff(want, actions(chs)); diff != "" {
		t.Fatalf("first diff (-want +got):\n%s", diff)
	}
	if err := Apply(ctx, v, chs); err != nil {
		t.Fatal(err)
	}
	if v.writes[0] != "sys/auth/jwt" {
		t.Errorf("writes %v: the mount must come first", v.writes)
	}
	chs, err = Diff(ctx, v, p)
	if err != nil {
		t.Fatal(err)
	}
	if Pending(chs) {
		t.Fatalf("after apply, still pending: %v", chs)
	}
	// team-b's namespace list changes; another role appears in Vault.
	v.data["auth/jwt/role/legacy"] = map[string]any{"role_type": "jwt"}
	p2 := testPlan(t, func(c *Config) { c.Namespaces = []string{"team-a", "ops"} })
	chs, err = Diff(ctx, v, p2)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]Action{
		"auth/jwt/config": Unchanged, "auth/jwt/role/shared-reader": Unchanged, "auth/jwt/role/team-a": Unchanged,
		"auth/jwt/role/team-b": Extra, "auth/jwt/role/legacy": Extra,
	}
	if diff := cmp.Diff(want, actions(chs)); diff != "" {
		t.Errorf("second diff (-want +got):\n%s", diff)
	}
	p3 := testPlan(t, func(c *Config) { c.Audience = "vault2" })
	chs, err = Diff(ctx, v, p3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chs {
		if strings.Contains(c.Path, "/role/team-a") {
			if diff := cmp.Diff([]string{`bound_audiences: ["vault"] -> ["vault2"]`}, c.Fields); c.Action != Update || diff != "" {
				t.Errorf("%s: %s (-want +got):\n%s", c.Path, c.Action, diff)
			}
		}
	}
}

type failingVault struct{ fakeVault }

func (f *failingVault) Write(context.Context, string, map[string]any) error {
	return errors.New("permission denied")
}

func TestApplyError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := &failingVault{}
	chs, err := Diff(ctx, v, testPlan(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, v, chs); err == nil || !strings.Contains(err.Error(), "write sys/auth/jwt: permission denied") {
		t.Errorf("err %v", err)
	}
}

func TestDiffWrongMountType(t *testing.T) {
	t.Parallel()
	v := &fakeVault{data: map[string]map[string]any{"sys/auth/jwt": {"type": "kubernetes"}}}
	if _, err := Diff(context.Background(), v, testPlan(t, nil)); err == nil || !strings.Contains(err.Error(), "not jwt") {
		t.Errorf("err %v", err)
	}
}

func TestScript(t *testing.T) {
	t.Parallel()
	s := Script(testPlan(t, nil))
	for _, want := range []string{
		"vault auth enable -path=jwt jwt\n",
		"vault write auth/jwt/config - <<'EOF'\n",
		"# shared-reader: pods of ops, team-a\nvault write auth/jwt/role/shared-reader - <<'EOF'\n",
		`"spiffe://example.org/ns/team-b/sa/*"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}

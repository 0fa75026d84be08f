package policy

import (
	"errors"
	"strings"
	"testing"
)

// A namespace may not name a neighbour's role through {namespace}: with
// "-" after it, the role team-a-b-db reads as team-a's and team-a-b's, and
// goes to the longer name.
func TestAllowedRoleNeighbours(t *testing.T) {
	t.Parallel()
	roles := func(namespaces []string, patterns ...string) *Evaluator {
		return mustCompile(t, Spec{Roles: []RoleBinding{{Namespaces: namespaces, Roles: patterns}}})
	}
	readme := roles([]string{"team-*"}, "{namespace}-*") // the README's binding before
	dotted := roles([]string{"team-*"}, "{namespace}.*") // and now
	anyNS := roles([]string{"*"}, "{namespace}-*")
	exactAndGlob := roles([]string{"*"}, "{namespace}", "{namespace}-*")
	listed := roles([]string{"team-a", "prod"}, "{namespace}-*")
	mixed := mustCompile(t, Spec{Roles: []RoleBinding{
		{Namespaces: []string{"team-a"}, Roles: []string{"{namespace}-*", "team-a-b-shared"}},
		{Namespaces: []string{"team-a-b"}, Roles: []string{"{namespace}-*"}},
	}})
	mirrored := roles([]string{"*"}, "{namespace}.*", "*.{namespace}")
	tests := []struct {
		name     string
		e        *Evaluator
		ns, role string
		other    string // "": allowed; else the namespace the denial names
	}{
		{"the issue's case", readme, "team-a", "team-a-b-db", "team-a-b"},
		{"the longer namespace keeps its role", readme, "team-a-b", "team-a-b-db", ""},
		{"own single-segment role", readme, "team-a", "team-a-db", ""},
		{"a suffix that could be a namespace", readme, "team-a", "team-a-read-only", "team-a-read"},
		{"team vs team-a, any namespace", anyNS, "team", "team-a-db", "team-a"},
		{"team-a under any namespace", anyNS, "team-a", "team-a-db", ""},
		{"a long role of the longest namespace", anyNS, "a-b-c-d", "a-b-c-d-e", ""},
		{"its own exact role", exactAndGlob, "team-a", "team-a", ""},
		{"a neighbour's exact role", exactAndGlob, "team-a", "team-a-db", "team-a-db"},
		{"the neighbour may", exactAndGlob, "team-a-db", "team-a-db", ""},
		{"listed namespaces have no neighbour", listed, "team-a", "team-a-b-db", ""},
		{"a neighbour in another binding", mixed, "team-a", "team-a-b-db", "team-a-b"},
		{"a grant without {namespace} holds", mixed, "team-a", "team-a-b-shared", ""},
		{"dot: own role", dotted, "team-a", "team-a.db", ""},
		{"dot: own role with dashes", dotted, "team-a", "team-a.read-only", ""},
		{"dot: own role with dots", dotted, "team-a", "team-a.b.db", ""},
		{"dot: the longer namespace", dotted, "team-a-b", "team-a-b.db", ""},
		{"mirrored patterns, two as long", mirrored, "aaaa", "aaaa.bbbb", "bbbb"},
		{"mirrored patterns, the longer", mirrored, "aaaa", "aaaa.bbbbb", "bbbbb"},
		{"mirrored patterns, the longer may", mirrored, "bbbbb", "aaaa.bbbbb", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.e.AllowedRole(tt.ns, tt.role)
			if tt.other == "" {
				if err != nil {
					t.Fatalf("AllowedRole(%q, %q): %v", tt.ns, tt.role, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrRoleNotAllowed) {
				t.Fatalf("AllowedRole(%q, %q): %v, want it refused", tt.ns, tt.role, err)
			}
			if want := `also reads as a role of namespace "` + tt.other + `"`; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q: want %q", err, want)
			}
		})
	}
}

// Patterns without {namespace} mean what they meant: globs, matched
// textually, whatever namespaces could also match them.
func TestAllowedRolePlainPatternsUnchanged(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, Spec{Roles: []RoleBinding{
		{Namespaces: []string{"team-*"}, Roles: []string{"team-a-*", "shared-?", "exact"}},
	}})
	for _, tt := range []struct {
		ns, role string
		ok       bool
	}{
		{"team-a", "team-a-b-db", true},
		{"team-b", "team-a-b-db", true},
		{"team-a", "shared-1", true},
		{"team-a", "shared-12", false},
		{"team-a", "exact", true},
		{"team-a", "exactly", false},
	} {
		if err := e.AllowedRole(tt.ns, tt.role); (err == nil) != tt.ok {
			t.Errorf("AllowedRole(%q, %q) = %v, want allowed %v", tt.ns, tt.role, err, tt.ok)
		}
	}
}

// The search for other claimants is bounded.
func TestAllowedRoleLongRole(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, Spec{Roles: []RoleBinding{
		{Namespaces: []string{"*"}, Roles: []string{"*{namespace}*", "big*"}},
	}})
	long := "a" + strings.Repeat("-a", 200)
	if err := e.AllowedRole("a", long); err == nil || !strings.Contains(err.Error(), "up to 256 bytes") {
		t.Errorf("a %d-byte role through {namespace}: %v, want refused for its length", len(long), err)
	}
	if err := e.AllowedRole("a", "big"+long); err != nil {
		t.Errorf("a long role granted without {namespace}: %v", err)
	}
}

func TestDelimited(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"{namespace}":               true,
		"{namespace}.*":             true,
		"{namespace}_*":             true,
		"{namespace}.?":             true,
		"*.{namespace}":             true,
		"*_{namespace}":             true,
		"{namespace}-db":            true,
		"db-{namespace}":            true,
		"vault.{namespace}.*":       true,
		"app-{namespace}.*":         true,
		"{namespace}X*":             true,
		"{namespace}-{namespace}":   false,
		"{namespace}-*":             false,
		"{namespace}*":              false,
		"{namespace}?":              false,
		"*-{namespace}":             false,
		"*{namespace}":              false,
		"*.{namespace}.*":           false,
		"app-*-{namespace}-*":       false,
		"{namespace}a*":             false,
		"{namespace}.*.{namespace}": true,
	} {
		if got := delimited(p); got != want {
			t.Errorf("delimited(%q) = %v, want %v", p, got, want)
		}
	}
}

// Compile warns, naming the field, about each {namespace} pattern that can
// give a role to several namespaces; the policy still loads.
func TestCompileWarnsAboutNeighbourPatterns(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, Spec{Roles: []RoleBinding{
		{Namespaces: []string{"team-*"}, Roles: []string{"{namespace}.*", "{namespace}-*", "shared-*"}},
		{Namespaces: []string{"ops"}, Roles: []string{"{namespace}", "*{namespace}*"}},
	}})
	got := e.Warnings()
	want := []string{`roles[0].roles[1]: "{namespace}-*": `, `roles[1].roles[1]: "*{namespace}*": `}
	if len(got) != len(want) {
		t.Fatalf("warnings %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) || !strings.Contains(got[i], `"{namespace}.*"`) {
			t.Errorf("warning %q: want it to start %q and to name the safe form", got[i], want[i])
		}
	}
	if w := mustCompile(t, Spec{Roles: []RoleBinding{{Namespaces: []string{"*"}, Roles: []string{"{namespace}.*", "payments"}}}}).Warnings(); len(w) != 0 {
		t.Errorf("delimited patterns: warnings %q, want none", w)
	}
}

// BenchmarkAllowedRole: the README's bindings, a role the namespace may name.
func BenchmarkAllowedRole(b *testing.B) {
	for _, bb := range []struct{ name, pattern, role string }{
		{"plain", "team-a-*", "team-a-payments-db"},
		{"dash", "{namespace}-*", "team-a-payments"},
		{"dot", "{namespace}.*", "team-a.payments-db"},
	} {
		e := mustCompile(b, Spec{Roles: []RoleBinding{{Namespaces: []string{"team-*"}, Roles: []string{bb.pattern}}}})
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := e.AllowedRole("team-a", bb.role); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

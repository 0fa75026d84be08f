package expansion

import (
	"testing"
)

// TestExpand holds the kubelet's own expectations (its expansion tests),
// case for case, and a few more.
func TestExpand(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"VAR_A":     "A",
		"VAR_B":     "B",
		"VAR_C":     "C",
		"VAR_REF":   "$(VAR_A)",
		"VAR_EMPTY": "",
	}
	tests := []struct{ name, in, want string }{
		{"whole string", "$(VAR_A)", "A"},
		{"repeat", "$(VAR_A)-$(VAR_A)", "A-A"},
		{"beginning", "$(VAR_A)-1", "A-1"},
		{"middle", "___$(VAR_B)___", "___B___"},
		{"end", "___$(VAR_C)", "___C"},
		{"compound", "$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"},
		{"escape and expand", "$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"},
		{"compound escape", "$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"},
		{"mixed in escapes", "f000-$$VAR_A", "f000-$VAR_A"},
		{"backslash escape ignored", `foo\$(VAR_C)bar`, `foo\Cbar`},
		{"two backslashes ignored", `foo\\$(VAR_C)bar`, `foo\\Cbar`},
		{"lots of backslashes", `foo\\\\$(VAR_A)bar`, `foo\\\\Abar`},
		{"nested var references", "$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"},
		{"nested var references second type", "$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"},
		{"value is a reference", "$(VAR_REF)", "$(VAR_A)"},
		{"value is a reference x 2", "%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"},
		{"empty var", "foo$(VAR_EMPTY)bar", "foobar"},
		{"unterminated expression", "foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"},
		{"expression without operator", "f00__(VAR_A)__", "f00__(VAR_A)__"},
		{"shell special vars pass through", "$?_boo_$!", "$?_boo_$!"},
		{"bare operators are ignored", "$VAR_A", "$VAR_A"},
		{"undefined vars are passed through", "$(VAR_DNE)", "$(VAR_DNE)"},
		{"multiple (even) operators, var undefined", "$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"},
		{"multiple (even) operators, var defined", "$$$$$$(VAR_A)", "$$$(VAR_A)"},
		{"multiple (odd) operators, var undefined", "$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"},
		{"multiple (odd) operators, var defined", "$$$$$$$(VAR_A)", "$$$A"},
		{"missing open expression", "$VAR_A)", "$VAR_A)"},
		{"shell syntax ignored", "${VAR_A}", "${VAR_A}"},
		{"trailing incomplete expression not consumed", "$(VAR_B)_______$(A", "B_______$(A"},
		{"trailing incomplete expression, no content, is not consumed", "$(VAR_C)_______$(", "C_______$("},
		{"operator at end of input string is preserved", "$(VAR_A)foobarzab$", "Afoobarzab$"},
		{"shell escaped incomplete expr", `foo-\$(VAR_A`, `foo-\$(VAR_A`},
		{"lots of $( in middle", "--$($($($($--", "--$($($($($--"},
		{"lots of $( in beginning", "$($($($($--foo$(", "$($($($($--foo$("},
		{"lots of $( at end", "foo0--$($($($(", "foo0--$($($($("},
		{"escaped operators in variable names are not escaped", "$(foo$$var)", "$(foo$$var)"},
		{"newline not expanded", "\n", "\n"},
		{"dollar sign followed by non-ASCII UTF-8 character", "$£FOO", "$£FOO"},
		{"dollar sign followed by multi-byte UTF-8 character in middle", "prefix-$€-suffix", "prefix-$€-suffix"},
		{"dollar sign followed by Chinese character", "$中文", "$中文"},
		// Beyond the kubelet's table.
		{"no operator", "plain", "plain"},
		{"empty input", "", ""},
		{"lone operator", "$", "$"},
		{"empty name", "$()", "$()"},
		{"an invalid byte after the operator becomes U+FFFD", "$\xff", "$\uFFFD"},
		{"JSON text closed by a value", `{"path":"$(VAR_A)"}`, `{"path":"A"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Expand(tt.in, Map(vars)); got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestExpandInOrder expands a container's env the kubelet's way: each value
// sees the values before it, already expanded, never the ones after it.
func TestExpandInOrder(t *testing.T) {
	t.Parallel()
	env := [][2]string{
		{"LATER_REF", "$(FOO)"}, // FOO is not defined yet
		{"FOO", "bar"},
		{"ZOO", "$(FOO)-1"},
		{"BLU", "$(ZOO)-2"},
		{"SELF", "$(SELF)x"},
	}
	vars := map[string]string{}
	for _, e := range env {
		vars[e[0]] = Expand(e[1], Map(vars))
	}
	want := map[string]string{"LATER_REF": "$(FOO)", "FOO": "bar", "ZOO": "bar-1", "BLU": "bar-1-2", "SELF": "$(SELF)x"}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("%s = %q, want %q", k, vars[k], v)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$(A)", "$$(A)", "$(", "a$b", "$\xff", "$(A$(B))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// With no variable known, every reference stays as written, and
		// only "$$" and invalid UTF-8 after a "$" change the text.
		none := func(string) (string, bool) { return "", false }
		got := Expand(s, none)
		if !containsAny(s, "$$", "$\xff") && !invalidAfterDollar(s) && got != s {
			t.Errorf("Expand(%q) with no variable = %q", s, got)
		}
	})
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
	}
	return false
}

func invalidAfterDollar(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] >= 0x80 {
			return true
		}
	}
	return false
}

// TestExpandMax: a limit stops the doubling of values that refer to each
// other, at the first byte past it.
func TestExpandMax(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"A": "0123456789"}
	tests := []struct {
		in    string
		limit int
		want  string
		ok    bool
	}{
		{"$(A)$(A)", 20, "01234567890123456789", true},
		{"$(A)$(A)", 19, "", false},
		{"x$(A)", 10, "", false},
		{"$(A)x", 10, "", false},
		{"no reference", 5, "", false},
		{"no reference", 12, "no reference", true},
		{"$(B)", 4, "$(B)", true},
		{"$(B)", 3, "", false},
		{"$$", 1, "$", true},
		{"$(A)", -1, "0123456789", true},
	}
	for _, tt := range tests {
		got, ok := ExpandMax(tt.in, Map(vars), tt.limit)
		if (ok && got != tt.want) || ok != tt.ok {
			t.Errorf("ExpandMax(%q, %d) = %q, %v; want %q, %v", tt.in, tt.limit, got, ok, tt.want, tt.ok)
		}
	}
	// Doubling: each value twice the one before, stopped at MaxValue.
	m := map[string]string{"V0": "xxxxxxxx"}
	prev := "V0"
	steps := 0
	for i := 1; i < 64; i++ {
		v, ok := ExpandMax("$("+prev+")$("+prev+")", Map(m), MaxValue)
		if !ok {
			break
		}
		prev = "V" + string(rune('0'+i%10)) + string(rune('a'+i/10))
		m[prev] = v
		steps++
	}
	if steps != 14 { // 8 << 14 = 128 KiB
		t.Errorf("doubling stopped after %d steps, want 14", steps)
	}
}

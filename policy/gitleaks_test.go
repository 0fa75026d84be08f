package policy

import (
	"bytes"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/zricethezav/gitleaks/v8/detect"

	"wisp.dev/wisp/policy/internal/gitleaksgen"
)

// TestGitleaksTableFresh fails when gitleaks_rules_gen.go is not what the
// generator makes from the gitleaks version go.mod pins: run
// `go generate ./policy` after changing that version.
func TestGitleaksTableFresh(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	version := ""
	for line := range strings.Lines(string(mod)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == gitleaksgen.Module {
			version = f[1]
		}
	}
	if version == "" {
		t.Fatalf("go.mod does not require %s", gitleaksgen.Module)
	}
	if version != gitleaksVersion {
		t.Errorf("gitleaks_rules_gen.go was generated from gitleaks %s, go.mod pins %s: run go generate ./policy", gitleaksVersion, version)
	}
	want, err := gitleaksgen.Source("policy", version)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("gitleaks_rules_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("gitleaks_rules_gen.go is stale: run go generate ./policy (-generated +want):\n%s", cmp.Diff(string(got), string(want)))
	}
}

// TestGitleaksTableCompiles compiles every pattern of the table (the
// detector compiles them lazily, and panics on one that does not).
func TestGitleaksTableCompiles(t *testing.T) {
	t.Parallel()
	allow := func(where string, as []gitleaksAllowSpec) {
		for i, a := range as {
			if a.regex == "" && len(a.stopWords) == 0 {
				t.Errorf("%s allowlist %d: empty", where, i)
			}
			if a.regex != "" {
				if _, err := regexp.Compile(a.regex); err != nil {
					t.Errorf("%s allowlist %d: %v", where, i, err)
				}
			}
		}
	}
	allow("global", gitleaksGlobalAllow)
	for _, r := range gitleaksRuleSpecs {
		re, err := regexp.Compile(r.regex)
		if err != nil {
			t.Errorf("rule %s: %v", r.id, err)
			continue
		}
		if r.secretGroup > re.NumSubexp() {
			t.Errorf("rule %s: secret group %d of %d", r.id, r.secretGroup, re.NumSubexp())
		}
		allow("rule "+r.id, r.allow)
	}
	if len(gitleaksRuleSpecs) < 150 {
		t.Errorf("only %d rules", len(gitleaksRuleSpecs))
	}
}

// TestGitleaksLazy checks that building the detector compiles nothing, and
// that a value compiles only the rules whose keywords it contains.
func TestGitleaksLazy(t *testing.T) {
	t.Parallel()
	d, err := newGitleaksDetector()
	if err != nil {
		t.Fatal(err)
	}
	compiled := func() (n int) {
		for _, r := range d.rules {
			if r.re.re != nil {
				n++
			}
		}
		return n
	}
	if n := compiled(); n != 0 {
		t.Fatalf("%d rules compiled before any value", n)
	}
	for range d.Findings("LOG_LEVEL=informational-value-1234") {
	}
	if n := compiled(); n != 0 {
		t.Errorf("%d rules compiled for a value without keywords", n)
	}
	var ids []string
	for id := range d.Findings("TOKEN=ghp_0123456789abcdefABCDEF0123456789abcd") {
		ids = append(ids, id)
	}
	if !slices.Contains(ids, "github-pat") {
		t.Errorf("findings %v, want github-pat", ids)
	}
	if id := d.First("TOKEN=ghp_0123456789abcdefABCDEF0123456789abcd", "github-pat"); id != "" {
		t.Errorf("First skipping github-pat: %q, want none", id)
	}
	if id := d.First("TOKEN=ghp_0123456789abcdefABCDEF0123456789abcd", gitleaksGenericRule); id != "github-pat" {
		t.Errorf("First: %q, want github-pat", id)
	}
	if n := compiled(); n == 0 || n > 5 {
		t.Errorf("%d rules compiled for one GitHub token", n)
	}
}

// TestGitleaksSameAsDetector runs gitleaks' own detector (its default
// configuration, loaded as gitleaks loads it) and the generated table on
// the same strings and requires the same findings, rule by rule: each rule's
// samples (strings generated from its own pattern, bare, after a NAME=, and
// on lines of their own), both corpus files, and edge cases (newlines,
// "gitleaks:allow", allowlisted and low-entropy values).
func TestGitleaksSameAsDetector(t *testing.T) {
	t.Parallel()
	cfg, err := gitleaksgen.Load()
	if err != nil {
		t.Fatal(err)
	}
	ref := detect.NewDetector(cfg)
	d, err := newGitleaksDetector()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.rules)+len(gitleaksRulesLeftOut)+1 != len(cfg.Rules) {
		t.Errorf("%d rules + %d left out + the generic one, gitleaks has %d", len(d.rules), len(gitleaksRulesLeftOut), len(cfg.Rules))
	}

	var inputs []string
	for _, f := range []string{"testdata/corpus/positive.txt", "testdata/corpus/benign.txt"} {
		for _, c := range readCorpus(t, f) {
			inputs = append(inputs, c.name+"="+c.value, c.value)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, id := range cfg.OrderedRules {
		r := cfg.Rules[id]
		if r.Regex == nil {
			continue
		}
		for range 12 {
			s, err := sample(r.Regex.String(), rng)
			if err != nil {
				t.Fatalf("rule %s: %v", id, err)
			}
			name := "SECRET"
			if len(r.Keywords) > 0 {
				name = strings.ToUpper(r.Keywords[rng.IntN(len(r.Keywords))])
			}
			inputs = append(inputs, s, name+"="+s, "A=1\n"+s+"\nB=2", s+" # gitleaks:allow", `"`+s+`"`, s+"\r\nX")
		}
	}
	inputs = append(inputs,
		"", "\n", "gitleaks:allow",
		"GITHUB_TOKEN=ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",                       // low entropy
		"TOKEN=ghp_0123456789abcdefABCDEF0123456789abcd\nnext gitleaks:allow",         // allow on the next line
		"\n\nTOKEN=ghp_0123456789abcdefABCDEF0123456789abcd\n",                        // later line
		"AWS=AKIAIOSFODNN7EXAMPLE",                                                    // an allowlisted example
		"STRIPE=sk_live_"+strings.Repeat("4eC39HqLyjWDarjtT1zdp7dc", 1),               // a real-looking key
		"SLACK=xoxb-123456789012-1234567890123-abcdefghijABCDEFGHIJ1234",              // a bot token
		"SLACK=xoxb-abcdefghijklmnopqrstuvwxyz",                                       // a stop word
		"URL=https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFGHI/q3Zx9Kp2Lm7Nw4Rt", // a webhook
	)

	found := map[string]bool{}
	mismatches := 0
	for _, in := range inputs {
		var want []string
		for _, f := range ref.DetectString(in) {
			if f.RuleID != gitleaksGenericRule {
				want = append(want, f.RuleID)
			}
		}
		var got []string
		for id := range d.Findings(in) {
			got = append(got, id)
			found[id] = true
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			mismatches++
			if mismatches <= 20 {
				t.Errorf("findings in %q: got %v, gitleaks %v", in, got, want)
			}
		}
	}
	if mismatches > 0 {
		t.Errorf("%d of %d strings found differently", mismatches, len(inputs))
	}
	var never []string
	for _, r := range d.rules {
		if !found[r.spec.id] {
			never = append(never, r.spec.id)
		}
	}
	t.Logf("%d strings, %d of %d rules found at least once", len(inputs), len(d.rules)-len(never), len(d.rules))
	if len(never) > len(d.rules)/5 {
		t.Errorf("the samples exercise too few rules; never found: %v", never)
	}
}

// sample returns a random string matching pattern (mostly: word boundaries
// and anchors are not enforced).
func sample(pattern string, rng *rand.Rand) (string, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", pattern, err)
	}
	var b strings.Builder
	gen(&b, re.Simplify(), rng)
	return b.String(), nil
}

func gen(b *strings.Builder, re *syntax.Regexp, rng *rand.Rand) {
	reps := func(lo, hi int) int {
		if hi < 0 || hi > lo+8 {
			hi = lo + 8
		}
		return lo + rng.IntN(hi-lo+1)
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && rng.IntN(2) == 0 {
				r = unicode.SimpleFold(r)
			}
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		b.WriteRune(classRune(re.Rune, rng))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		const chars = "abcXYZ0189-_+/= "
		b.WriteByte(chars[rng.IntN(len(chars))])
	case syntax.OpCapture:
		gen(b, re.Sub[0], rng)
	case syntax.OpStar:
		for range reps(0, 3) {
			gen(b, re.Sub[0], rng)
		}
	case syntax.OpPlus:
		for range reps(1, 4) {
			gen(b, re.Sub[0], rng)
		}
	case syntax.OpQuest:
		if rng.IntN(2) == 0 {
			gen(b, re.Sub[0], rng)
		}
	case syntax.OpRepeat:
		for range reps(re.Min, re.Max) {
			gen(b, re.Sub[0], rng)
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			gen(b, s, rng)
		}
	case syntax.OpAlternate:
		gen(b, re.Sub[rng.IntN(len(re.Sub))], rng)
	}
}

// classRune picks a rune of a character class, printable ASCII when the
// class has some.
func classRune(ranges []rune, rng *rand.Rand) rune {
	var ascii [][2]rune
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := max(ranges[i], 0x21), min(ranges[i+1], 0x7e)
		if lo <= hi {
			ascii = append(ascii, [2]rune{lo, hi})
		}
	}
	if len(ascii) > 0 {
		r := ascii[rng.IntN(len(ascii))]
		return r[0] + rng.Int32N(r[1]-r[0]+1)
	}
	if len(ranges) < 2 {
		return 'x'
	}
	i := 2 * rng.IntN(len(ranges)/2)
	lo, hi := ranges[i], min(ranges[i+1], ranges[i]+1000)
	return lo + rng.Int32N(hi-lo+1)
}

// Findings yields every finding of find in s (tests compare them all with
// gitleaks'; the rule asks First).
func (d *gitleaksDetector) Findings(s string) iter.Seq[string] {
	return func(yield func(string) bool) { d.find(s, yield) }
}

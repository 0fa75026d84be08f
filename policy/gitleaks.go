package policy

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

//go:generate go run ./internal/gitleaksgen/cmd/gitleaksgen -o gitleaks_rules_gen.go

// gitleaksRuleSpec is one of gitleaks' default rules, as generated into
// gitleaks_rules_gen.go from the gitleaks version go.mod pins.
type gitleaksRuleSpec struct {
	id    string
	regex string
	// secretGroup: the capture group holding the secret; 0: the first
	// non-empty group, or the whole match when the pattern has none.
	secretGroup int
	// entropy: a secret's Shannon entropy must exceed it; 0: no check.
	entropy float64
	// keywords (lower case): the rule runs only on text that contains one;
	// none: it always runs.
	keywords []string
	allow    []gitleaksAllowSpec
}

// gitleaksAllowSpec is one allowlist: a finding it matches is dropped.
type gitleaksAllowSpec struct {
	// and: every check the allowlist has must match (else any one).
	and bool
	// target of regex: "" the secret, "match" the rule's whole match, "line"
	// the line holding the match.
	target string
	// regex: the allowlist's patterns joined as one; "" none.
	regex string
	// stopWords (lower case): a secret containing one is allowed.
	stopWords []string
}

// gitleaksDetector finds what gitleaks' detector (Detector.DetectString,
// with its default rules) finds in a string, from the generated table,
// without gitleaks' configuration machinery. Each regular expression is
// compiled the first time a string needs it, that is when the string
// contains one of its rule's keywords: most of gitleaks' ~200 patterns are
// never compiled in a webhook's life, and those that are cost their memory
// once per detector. It is safe for concurrent use.
type gitleaksDetector struct {
	// Config holds the rules by id, the way gitleaks' Detector.Config does.
	Config struct {
		Rules map[string]*gitleaksRule
	}
	rules  []*gitleaksRule // in the configuration's order
	global []*gitleaksAllow

	keywords []string  // every rule's keywords, once each
	byFirst  [][]int32 // first byte -> indexes into keywords
}

type gitleaksRule struct {
	spec     *gitleaksRuleSpec
	re       lazyRegexp
	keywords []int32 // indexes into gitleaksDetector.keywords
	allow    []*gitleaksAllow
}

type gitleaksAllow struct {
	spec *gitleaksAllowSpec
	re   lazyRegexp // empty source: none
}

// lazyRegexp is a regular expression compiled on first use.
type lazyRegexp struct {
	src  string
	once sync.Once
	re   *regexp.Regexp
}

// get compiles the pattern once. The generated patterns all compile (a
// test compiles each): gitleaks compiled them when the table was made.
func (l *lazyRegexp) get() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.src) })
	return l.re
}

// newGitleaksDetector builds the detector of gitleaks' default rules, minus
// its catch-all generic rule (see gitleaksGenericRule): that rule's keywords
// (key, token, secret, auth ...) are in most env var names, so it would run,
// slowly, on nearly every value, only to be ignored. Nothing is compiled
// yet: building it takes microseconds.
func newGitleaksDetector() (*gitleaksDetector, error) {
	d := &gitleaksDetector{byFirst: make([][]int32, 256)}
	d.Config.Rules = make(map[string]*gitleaksRule, len(gitleaksRuleSpecs))
	for i := range gitleaksGlobalAllow {
		d.global = append(d.global, newGitleaksAllow(&gitleaksGlobalAllow[i]))
	}
	index := make(map[string]int32)
	for i := range gitleaksRuleSpecs {
		s := &gitleaksRuleSpecs[i]
		if s.id == gitleaksGenericRule {
			continue
		}
		r := &gitleaksRule{spec: s, re: lazyRegexp{src: s.regex}}
		for _, k := range s.keywords {
			if k == "" {
				continue // contained in every string, as gitleaks' prefilter cannot tell
			}
			n, ok := index[k]
			if !ok {
				n = int32(len(d.keywords))
				index[k] = n
				d.keywords = append(d.keywords, k)
				d.byFirst[k[0]] = append(d.byFirst[k[0]], n)
			}
			r.keywords = append(r.keywords, n)
		}
		for j := range s.allow {
			r.allow = append(r.allow, newGitleaksAllow(&s.allow[j]))
		}
		d.rules = append(d.rules, r)
		d.Config.Rules[s.id] = r
	}
	if len(d.keywords) > maxKeywords {
		return nil, fmt.Errorf("gitleaks table: %d keywords, more than the %d a detector holds", len(d.keywords), maxKeywords)
	}
	return d, nil
}

func newGitleaksAllow(s *gitleaksAllowSpec) *gitleaksAllow {
	return &gitleaksAllow{spec: s, re: lazyRegexp{src: s.regex}}
}

// First is the id of the first rule (in the configuration's order) that
// finds a secret in s other than skip's, or "".
func (d *gitleaksDetector) First(s, skip string) string {
	first := ""
	d.find(s, func(id string) bool {
		if id == skip {
			return true
		}
		first = id
		return false
	})
	return first
}

// find calls yield with the id of each rule that finds a secret in s, in
// the configuration's order, each finding once (a rule that finds two
// secrets yields its id twice), until yield returns false. It finds what
// gitleaks' Detector.DetectString finds with the same rules: the keyword
// prefilter on the lower-cased text, every match of the rule's pattern,
// its secret group, the entropy threshold, a "gitleaks:allow" on the
// match's line, then the global and the rule's allowlists. The
// equivalence is tested against gitleaks itself.
func (d *gitleaksDetector) find(s string, yield func(string) bool) {
	var seen keywordSet
	d.keywordsIn(s, &seen)
	for _, r := range d.rules {
		if len(r.spec.keywords) > 0 && !r.hasKeyword(&seen) {
			continue
		}
		if !d.detect(r, s, yield) {
			return
		}
	}
}

// maxKeywords bounds the distinct keywords of the table (244 in gitleaks
// v8.30.1), so that a value's set of them lives on the stack.
const maxKeywords = 1024

// keywordSet: bit k is set when keywords[k] was seen.
type keywordSet [maxKeywords / 64]uint64

// keywordsIn marks the keywords s contains (case-insensitively, as
// gitleaks lower-cases the text before its prefilter).
func (d *gitleaksDetector) keywordsIn(s string, seen *keywordSet) {
	lower := strings.ToLower(s)
	for i := 0; i < len(lower); i++ {
		for _, k := range d.byFirst[lower[i]] {
			if strings.HasPrefix(lower[i:], d.keywords[k]) {
				seen[k/64] |= 1 << (k % 64)
			}
		}
	}
}

func (r *gitleaksRule) hasKeyword(seen *keywordSet) bool {
	for _, k := range r.keywords {
		if seen[k/64]&(1<<(k%64)) != 0 {
			return true
		}
	}
	// A rule whose only keyword is "" runs on every string.
	return len(r.keywords) < len(r.spec.keywords)
}

// detect yields r's id for each secret it finds in s; false when yield
// asked to stop.
func (d *gitleaksDetector) detect(r *gitleaksRule, s string, yield func(string) bool) bool {
	re := r.re.get()
	for _, m := range re.FindAllStringIndex(s, -1) {
		// gitleaks trims newlines off the match, then keeps its start and
		// its trimmed length (its issue 1352).
		match := strings.Trim(s[m[0]:m[1]], "\n")
		start, end := m[0], m[0]+len(match)
		var line string
		lineKnown := false
		lineOf := func() string {
			if !lineKnown {
				line, lineKnown = matchLine(s, start, end), true
			}
			return line
		}
		if strings.Contains(s, gitleaksAllowMark) && strings.Contains(lineOf(), gitleaksAllowMark) {
			continue
		}
		secret := match
		if groups := re.FindStringSubmatch(match); len(groups) >= 2 {
			if g := r.spec.secretGroup; g > 0 {
				if len(groups) <= g {
					continue
				}
				secret = groups[g]
			} else {
				for _, g := range groups[1:] {
					if g != "" {
						secret = g
						break
					}
				}
			}
		}
		if r.spec.entropy != 0 && shannonEntropy(secret) <= r.spec.entropy {
			continue
		}
		if allowedBy(d.global, secret, match, lineOf) || allowedBy(r.allow, secret, match, lineOf) {
			continue
		}
		if !yield(r.spec.id) {
			return false
		}
	}
	return true
}

// gitleaksAllowMark on a finding's line makes gitleaks skip it.
const gitleaksAllowMark = "gitleaks:allow"

// allowedBy reports whether one of the allowlists allows the finding.
func allowedBy(lists []*gitleaksAllow, secret, match string, line func() string) bool {
	for _, a := range lists {
		var checks, passed int
		if a.spec.regex != "" {
			target := secret
			switch a.spec.target {
			case "match":
				target = match
			case "line":
				target = line()
			}
			checks++
			if target != "" && a.re.get().MatchString(target) {
				passed++
			}
		}
		if len(a.spec.stopWords) > 0 {
			checks++
			if containsStopWord(secret, a.spec.stopWords) {
				passed++
			}
		}
		if (a.spec.and && passed == checks) || (!a.spec.and && passed > 0) {
			return true
		}
	}
	return false
}

func containsStopWord(secret string, words []string) bool {
	if secret == "" {
		return false
	}
	lower := strings.ToLower(secret)
	for _, w := range words {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// matchLine is the text gitleaks reports as the line of the match at
// [start, end) of s. Like gitleaks, it starts at the newline before the
// match (so lines after the first begin with "\n") and ends at the newline
// after it; when the match starts on the last line, it starts at the
// beginning of s and ends at the next "\n" or "\r" after the match.
func matchLine(s string, start, end int) string {
	lineStart, lineEnd := 0, 0
	prev, found := 0, false
	for nl := 0; ; {
		i := strings.IndexByte(s[nl:], '\n')
		if i < 0 {
			if nl == 0 {
				// No newline at all: one at len(s) stands for the end.
				if start < len(s) {
					lineStart, lineEnd, found = 0, len(s), true
				}
				if 0 < end && end <= len(s) {
					lineEnd = len(s)
				}
			}
			break
		}
		p := nl + i
		if prev <= start && start < p {
			lineStart, lineEnd, found = prev, p, true
		}
		if prev < end && end <= p {
			lineEnd = p
		}
		prev, nl = p, p+1
	}
	if !found {
		lineStart = 0
		lineEnd = end
		for lineEnd < len(s) && s[lineEnd] != '\n' && s[lineEnd] != '\r' {
			lineEnd++
		}
	}
	if end > lineEnd {
		lineEnd = end
	}
	return s[lineStart:lineEnd]
}

// shannonEntropy is gitleaks' entropy of a secret: over its runes, each
// counted against its length in bytes.
func shannonEntropy(s string) float64 {
	if s == "" {
		return 0
	}
	var ascii [utf8.RuneSelf]int
	var other map[rune]int
	for _, c := range s {
		if c < utf8.RuneSelf {
			ascii[c]++
			continue
		}
		if other == nil {
			other = make(map[rune]int)
		}
		other[c]++
	}
	inv := 1 / float64(len(s))
	e := 0.0
	add := func(n int) {
		f := float64(n) * inv
		e -= f * math.Log2(f)
	}
	for _, n := range ascii {
		if n > 0 {
			add(n)
		}
	}
	for _, n := range other {
		add(n)
	}
	return e
}

package policy

import (
	"fmt"
	"testing"
)

// TestCorpus evaluates every line of testdata/corpus/positive.txt (fake
// credentials in real formats) and benign.txt (values real manifests carry)
// under the default policy. It logs recall and false-positive rate, the rule
// that reported each positive, each rule's figures when it runs alone, and
// how many values reached gitleaks; it requires recall >= 95% and no false
// positive.
func TestCorpus(t *testing.T) {
	t.Parallel()
	pos := readCorpus(t, "testdata/corpus/positive.txt")
	ben := readCorpus(t, "testdata/corpus/benign.txt")
	if len(pos) < 100 || len(ben) < 200 {
		t.Fatalf("corpus too small: %d positive (want >= 100), %d benign (want >= 200)", len(pos), len(ben))
	}

	e := mustDefault(t)
	res := runCorpus(e, pos, ben)
	recall := percent(len(pos)-len(res.missed), len(pos))
	fp := percent(len(res.flagged), len(ben))
	t.Logf("default policy: %d positives, recall %.1f%%; %d benign, false-positive rate %.1f%%", len(pos), recall, len(ben), fp)
	for _, r := range e.rules {
		t.Logf("  %-24s reported %3d positives", r.ID, res.byRule[r.ID])
	}
	t.Logf("  reached gitleaks: %d of %d positives, %d of %d benign", res.gitleaksPos, len(pos), res.gitleaksBen, len(ben))
	for _, m := range res.missed {
		t.Logf("  missed %s", m)
	}
	if recall < 95 {
		t.Errorf("recall %.1f%% < 95%%", recall)
	}
	for _, f := range res.flagged {
		t.Errorf("false positive: %s", f)
	}

	// Each rule alone: what it catches and what it would wrongly flag.
	for _, r := range DefaultRules() {
		var others []string
		for _, o := range DefaultRules() {
			if o.ID != r.ID {
				others = append(others, o.ID)
			}
		}
		alone := runCorpus(mustCompile(t, Spec{Rules: RuleSettings{Disabled: others}}), pos, ben)
		t.Logf("alone: %-24s flags %3d of %d positives (%.1f%%), %d of %d benign (%.1f%%)", r.ID,
			len(pos)-len(alone.missed), len(pos), percent(len(pos)-len(alone.missed), len(pos)),
			len(alone.flagged), len(ben), percent(len(alone.flagged), len(ben)))
		for _, f := range alone.flagged {
			t.Logf("    would flag %s", f)
		}
	}
}

type corpusResult struct {
	missed, flagged          []string
	byRule                   map[string]int
	gitleaksPos, gitleaksBen int
}

func runCorpus(e *Evaluator, pos, ben []corpusLine) corpusResult {
	res := corpusResult{byRule: map[string]int{}}
	for _, c := range pos {
		if reachesGitleaks(e, c) {
			res.gitleaksPos++
		}
		d := e.Evaluate(podWithEnv(lit(c.name, c.value)))
		if len(d.Violations) == 0 {
			res.missed = append(res.missed, fmt.Sprintf("positive.txt:%d %s", c.line, c.name))
			continue
		}
		res.byRule[d.Violations[0].RuleID]++
	}
	for _, c := range ben {
		if reachesGitleaks(e, c) {
			res.gitleaksBen++
		}
		for _, v := range e.Evaluate(podWithEnv(lit(c.name, c.value))).Violations {
			res.flagged = append(res.flagged, fmt.Sprintf("benign.txt:%d %s (%s: %s)", c.line, c.name, v.RuleID, v.Reason))
		}
	}
	return res
}

// reachesGitleaks reports whether Evaluate would hand c to gitleaks: no
// cheap check flags it and it passes the prefilter.
func reachesGitleaks(e *Evaluator, c corpusLine) bool {
	if e.gitleaks == nil {
		return false
	}
	ev := lit(c.name, c.value)
	it := item{env: &ev, lit: newLiteral(c.value)}
	for _, r := range e.rules {
		if r.check(e, &it) != "" {
			return false
		}
	}
	return worthGitleaks(&it.lit)
}

func percent(n, of int) float64 { return 100 * float64(n) / float64(of) }

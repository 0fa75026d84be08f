package policy

import (
	"encoding/base64"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// canary is planted in values: no string the package returns may contain it,
// nor a piece of it.
const canary = "Zq7Xw3Kp9Lm2Nv4R"

// canaryPieces are the parts of the canary checked for: a prefix or suffix
// of a secret is a leak too.
var canaryPieces = []string{canary, canary[:6], canary[len(canary)-6:]}

// canaryValues are literals in every shape the rules detect, each carrying
// the canary in its secret part.
func canaryValues() []corev1.EnvVar {
	pem := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI" + canary + "oAoGCCqGSM49\n-----END EC PRIVATE KEY-----"
	return []corev1.EnvVar{
		lit("AWS_ACCESS_KEY_ID", "AKIA"+strings.ToUpper(canary)),
		lit("GITHUB_TOKEN", "ghp_"+canary+canary+"abcd"),
		lit("SLACK", "xoxb-123456789012-"+canary+canary),
		lit("VAULT_TOKEN", "hvs."+canary+canary),
		lit("STRIPE", "sk_live_"+canary+canary),
		lit("GOOGLE", "AIza"+canary+canary+"abc"),
		lit("JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0."+canary),
		lit("TLS_KEY", pem),
		lit("TLS_KEY_B64", base64.StdEncoding.EncodeToString([]byte(pem))),
		lit("DATABASE_URL", "postgres://app:"+canary+"@db:5432/app"),
		lit("CONN", "Server=db;User Id=sa;Password="+canary+";"),
		lit("JAVA_OPTS", "-Xmx1g -Djavax.net.ssl.keyStorePassword="+canary),
		lit("AUTH_HEADER", "Bearer "+canary+canary),
		lit("DB_PASSWORD", "Tr0ub4dor&"+canary+"!"),
		lit("SESSION_BLOB", canary+"q8Z2pX7vN4kR1tY6wB3m"+canary),
		lit("HOOK", "https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFGHI/"+canary+"Yc6Hd0Jf"),
	}
}

// decisionStrings returns every string a Decision carries or renders.
func decisionStrings(d Decision, o Object) []string {
	out := []string{string(d.Mode), d.ExemptReason}
	out = append(out, d.Notes...)
	for _, v := range d.Violations {
		out = append(out, v.RuleID, v.Container, v.Env, v.Field, v.Reason, v.Remedy, v.Message(o))
	}
	return append(out, d.Messages(o)...)
}

func TestCanaryNeverReturned(t *testing.T) {
	t.Parallel()
	evaluators := map[string]*Evaluator{
		"default": mustDefault(t),
		"warn with label and annotation notes": mustCompile(t, Spec{Mode: ModeWarn,
			Namespaces: NamespacePolicy{ModeLabel: "wisp.dev/policy-mode"}}),
		"gitleaks only": only(t, RuleKnownCredentialFormat),
		"entropy only":  only(t, RuleHighEntropyLiteral),
		"name only":     only(t, RuleEnvNameLiteral),
	}
	env := canaryValues()
	spec := &corev1.PodSpec{
		InitContainers:      []corev1.Container{{Name: "init", Env: env}},
		Containers:          []corev1.Container{{Name: "app", Env: env}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Env: env}}},
	}
	o := Object{Kind: "Deployment", Namespace: "team-a", Name: "web", Spec: spec,
		NamespaceLabels: map[string]string{"wisp.dev/policy-mode": "bogus"},
		Annotations:     map[string]string{ExemptAnnotation: "short"}}
	for name, e := range evaluators {
		d := e.Evaluate(o)
		if name == "default" && len(d.Violations) != 3*len(env) {
			t.Errorf("default policy flagged %d of %d canary values", len(d.Violations), 3*len(env))
			for _, v := range d.Violations {
				t.Logf("  %s %s", v.Field, v.Env)
			}
		}
		for _, s := range decisionStrings(d, o) {
			for _, p := range canaryPieces {
				if strings.Contains(s, p) {
					t.Errorf("%s: returned string contains the canary (piece %q): %s", name, p, s)
				}
			}
		}
	}
}

// TestCorpusValuesNeverReturned checks, for every corpus value of 8 bytes
// or more, that no returned string contains the value, its first 12 or its
// last 12 bytes (unless the env var's name does).
func TestCorpusValuesNeverReturned(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	for _, f := range []string{"testdata/corpus/positive.txt", "testdata/corpus/benign.txt"} {
		for _, c := range readCorpus(t, f) {
			v := strings.TrimSpace(c.value)
			if len(v) < 8 {
				continue // short values ("en", "info") occur in any text
			}
			o := podWithEnv(lit(c.name, c.value))
			pieces := []string{v}
			if len(v) >= 16 {
				pieces = append(pieces, v[:12], v[len(v)-12:])
			}
			for _, s := range decisionStrings(e.Evaluate(o), o) {
				for _, p := range pieces {
					if strings.Contains(s, p) && !strings.Contains(c.name, p) {
						t.Errorf("%s:%d %s: returned string contains a piece of the value: %s", f, c.line, c.name, s)
					}
				}
			}
		}
	}
}

func TestCanaryNotInCompileErrors(t *testing.T) {
	t.Parallel()
	spec := Spec{
		Mode: "nope",
		Allow: AllowList{
			Names:         []string{canary + "=x", "BAD NAME " + canary},
			Values:        Redacted{canary, " "},
			ValuePatterns: Redacted{"(" + canary, canary + "[", "^" + canary + "$", canary + "|"},
		},
	}
	_, err := compileShared(spec)
	if err == nil {
		t.Fatal("no error")
	}
	for _, p := range canaryPieces {
		if strings.Contains(err.Error(), p) {
			t.Errorf("Compile error contains the canary (piece %q):\n%v", p, err)
		}
	}
	for _, w := range []string{"allow.names[0]", "allow.names[1]", "allow.values[1]", "allow.valuePatterns[0]", "allow.valuePatterns[1]", "allow.valuePatterns[3]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Compile error does not name %s:\n%v", w, err)
		}
	}
}

package policy

import (
	"strings"
	"testing"
	"time"
)

// TestAdversarialValuesStayFast evaluates 256 KiB values built to make
// per-position scans overlap (quadratic time would take seconds to
// minutes). Linear scans take milliseconds; the bound is loose for -race
// and busy machines.
func TestAdversarialValuesStayFast(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	const n = 256 << 10
	rep := func(s string) string { return strings.Repeat(s, n/len(s)) }
	for name, v := range map[string]string{
		"jwt headers":         rep("eyJhbGciOi."),
		"jwt dashes":          rep("eyJ-"),
		"jwt parts":           "eyJhbGciOiJIUzI1NiJ9." + rep("eyJ.x"),
		"gitlab prefixes":     rep("glpat-"),
		"gitlab short runs":   rep("glpat-a "),
		"slack prefixes":      rep("xoxb-"),
		"pem headers":         rep("-----BEGIN "),
		"pem without end":     "-----BEGIN " + rep("A"),
		"placeholder assigns": rep("password=${x}"),
		"quoted assigns":      rep(`"password":"$(x)`),
		"colon assigns":       rep("password: ${x}"),
		"urls":                rep("a://"),
		"url userinfo":        rep("a://b:${c}@"),
		"bearer":              rep("bearer "),
		"basic":               rep("basic x"),
		"vault legacy":        rep("s.aB3"),
		"long key":            rep("a") + "=" + rep("b"),
		"many words in a key": rep("a_") + "PASSWORD=${x}",
		"base64 text":         rep("eyJh"),
		"hex":                 rep("0123456789abcdef"),
		"random-ish":          rep("q3Zx9Kp2Lm7Nw4Rt8Vb1+/"),
		"go dsns":             rep("a:b@("),
		"go dsn ats":          "a:" + rep("@("),
		"list items":          rep("a=b password=${x}"),
		"yaml lines":          rep("\n - password: ${x}"),
		"fill-in words":       rep("your-"),
		"key tokens":          rep("aB3dE5fG7hJ9kL1mN3pQ5rS7tV9x_"),
	} {
		start := time.Now()
		e.Evaluate(podWithEnv(lit("DB_PASSWORD", v), lit("X", v)))
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: %d bytes took %v", name, len(v), d)
		} else {
			t.Logf("%-20s %7d bytes: %v", name, len(v), d)
		}
	}
}

// TestAdversarialFormatsStayLinear calls the value scans directly on
// 256 KiB values (Evaluate refuses an env value over MaxEnvValueBytes
// unjudged), built so that per-position scans would overlap.
func TestAdversarialFormatsStayLinear(t *testing.T) {
	t.Parallel()
	const n = 256 << 10
	rep := func(s string) string { return strings.Repeat(s, n/len(s)) }
	for name, v := range map[string]string{
		"go dsns":      rep("a:b@("),
		"go dsn ats":   "a:" + rep("@("),
		"list items":   rep("a=b password=${x}"),
		"long items":   rep("a") + rep(" password=${x}"),
		"yaml lines":   rep("\n - password: ${x}"),
		"yaml dashes":  rep("- ") + "password: x",
		"json members": rep(`"password":"${x}",`),
		"key colons":   rep("password: "),
		"fill-in":      rep("your-"),
	} {
		start := time.Now()
		credentialFormat(v)
		l := newLiteral(v)
		keyToken(&l)
		placeholder("DB_PASSWORD", v)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: %d bytes took %v", name, len(v), d)
		} else {
			t.Logf("%-14s %7d bytes: %v", name, len(v), d)
		}
	}
}

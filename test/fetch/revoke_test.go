package fetch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// TestSidecarRevokesEverything: a sidecar whose Vault token lives 40 s
// logs in again about 30 s in, while its first token (and the database
// credential read with it, whose lease lasts an hour) still lives; short's
// credential (TTL 4 s, max 14 s) is read again under the same token. On
// SIGTERM it must revoke every token and lease it ever obtained, not only
// the current ones: right after it exits no PostgreSQL user it ever got is
// left, and no token of its role.
func TestSidecarRevokesEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	env := injectedEnv(t, "sidecar-rotate.yaml", dir)
	args := injectedArgs(t, "sidecar-rotate.yaml")
	var stderr syncBuffer
	p := startFetch(t, env, args, &stderr, &stderr)

	// Every user the files ever held, and their passwords (for noLeak).
	users := map[string]bool{}
	var passwords []string
	collect := func() {
		for _, name := range []string{"db", "short"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				continue // not written yet
			}
			kv := parseEnv(string(b))
			if u := kv["USERNAME"]; u != "" && !users[u] {
				users[u] = true
				passwords = append(passwords, kv["PASSWORD"])
			}
		}
	}
	start := time.Now()
	// Wait for the second login and, after it, both files rewritten.
	if !poll(rotateTokenTTL+20*time.Second, func() bool {
		collect()
		return rewrittenAfterRelogin(stderr.String(), "db", "short")
	}) {
		t.Fatalf("no second login followed by rewrites within %s; output:\n%s", rotateTokenTTL+20*time.Second, stderr.String())
	}
	collect()
	t.Logf("logged in again and rewrote the files after %s; users %v", time.Since(start).Round(time.Millisecond), keysOfBool(users))
	if len(users) < 3 {
		t.Errorf("the sidecar got %d users, want at least 3 (db twice, short at least once)", len(users))
	}

	if code, _ := p.terminate(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM; output:\n%s", code, stderr.String())
	}
	exit := time.Now()

	// The first token would live until about 40 s after the start, ten
	// seconds from now: what it still holds 5 s after the exit was not
	// revoked.
	var left []string
	var tokens int
	ok := poll(5*time.Second, func() bool {
		left = left[:0]
		for u := range users {
			if exists, err := shared.stack.PGRoleExists(ctx, u); err != nil || exists {
				left = append(left, u)
			}
		}
		var err error
		tokens, err = roleTokens(ctx, "orders-rotate")
		return len(left) == 0 && err == nil && tokens == 0
	})
	if !ok {
		slices.Sort(left)
		t.Errorf("%s after SIGTERM: PostgreSQL users %v and %d tokens of role orders-rotate left; output:\n%s",
			time.Since(exit).Round(time.Millisecond), left, tokens, stderr.String())
	} else {
		t.Logf("every user (%d) and token gone %s after exit", len(users), time.Since(exit).Round(time.Millisecond))
	}
	out := stderr.String()
	if n := strings.Count(out, `"msg":"token revoked"`); n < 2 {
		t.Errorf("%d tokens revoked, want both logins' tokens:\n%s", n, out)
	}
	noLeak(t, "output", out, passwords...)
	if lines := plainLines(out); len(lines) != 0 {
		t.Errorf("plain lines on stderr of a clean run: %q", lines)
	}
}

// rewrittenAfterRelogin reports whether the log shows a second "logged in"
// followed by a "secret rewritten" of each name.
func rewrittenAfterRelogin(log string, names ...string) bool {
	logins := 0
	seen := map[string]bool{}
	for _, l := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(l, `"msg":"logged in"`):
			logins++
		case logins >= 2 && strings.Contains(l, `"msg":"secret rewritten"`):
			for _, n := range names {
				if strings.Contains(l, `"name":"`+n+`"`) {
					seen[n] = true
				}
			}
		}
	}
	return len(seen) == len(names)
}

// roleTokens counts the live Vault tokens that JWT role logins made.
func roleTokens(ctx context.Context, role string) (int, error) {
	c, err := shared.stack.VaultClient()
	if err != nil {
		return 0, err
	}
	sec, err := c.Logical().ListWithContext(ctx, "auth/token/accessors")
	if err != nil || sec == nil {
		return 0, errors.Join(errors.New("list token accessors"), err)
	}
	keys, _ := sec.Data["keys"].([]any)
	n := 0
	for _, k := range keys {
		acc, _ := k.(string)
		look, err := c.Logical().WriteWithContext(ctx, "auth/token/lookup-accessor", map[string]any{"accessor": acc})
		var re *vault.ResponseError
		if errors.As(err, &re) && re.StatusCode == 400 {
			continue // revoked since the list
		}
		if err != nil {
			return 0, err
		}
		if meta, _ := look.Data["meta"].(map[string]any); meta != nil && meta["role"] == role {
			n++
		}
	}
	return n, nil
}

// parseEnv parses an env file of one-line values.
func parseEnv(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = strings.Trim(v, "'")
		}
	}
	return out
}

func keysOfBool(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

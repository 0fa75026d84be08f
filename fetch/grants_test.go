package fetch

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestGrantsPrune: only retired grants that ran out are forgotten (with
// the leases of a token that ran out); grants in use are kept whatever
// their recorded expiry.
func TestGrantsPrune(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	g := &grants{}
	oldTok := g.addToken("old-token-000000", past)
	oldTok.retired = true
	liveOldTok := g.addToken("old-token-111111", future)
	liveOldTok.retired = true
	cur := g.addToken("cur-token-222222", past) // in use: its renewals move the expiry
	g.addLease("l/old-token-lease", "a", oldTok, time.Time{})
	retiredGone := g.addLease("l/retired-gone", "b", cur, past)
	retiredGone.retired = true
	retiredLive := g.addLease("l/retired-live", "c", liveOldTok, future)
	retiredLive.retired = true
	g.addLease("l/current-past", "d", cur, past)
	retiredNoTTL := g.addLease("l/retired-no-ttl", "e", cur, time.Time{})
	retiredNoTTL.retired = true

	g.prune(now)

	var tokens, leases []string
	for _, tk := range g.tokens {
		tokens = append(tokens, tk.token.reveal())
	}
	for _, l := range g.leases {
		leases = append(leases, l.id)
	}
	if diff := cmp.Diff([]string{"old-token-111111", "cur-token-222222"}, tokens); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"l/retired-live", "l/current-past", "l/retired-no-ttl"}, leases); diff != "" {
		t.Errorf("leases (-want +got):\n%s", diff)
	}
}

// TestRevokeAllRetiredTokens: at shutdown every token is revoked, the
// ones superseded by a later login too, and the leases they read with
// them; nothing leaks into the logs.
func TestRevokeAllRetiredTokens(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	f := env.fetcher(t)
	g := &grants{}
	now := time.Now()
	old := g.addToken(mintedCanary, now.Add(time.Minute)) // the fake accepts revoke-self with both tokens
	old.retired = true
	cur := g.addToken(tokenCanary, now.Add(time.Hour))
	g.addLease("database/creds/app/old", "db", old, now.Add(time.Hour)).retired = true
	g.addLease("database/creds/app/new", "db", cur, now.Add(time.Hour))
	f.vault.SetToken(tokenCanary)

	f.revokeAll(g, time.Minute)

	if env.vault.revokes != 1 || env.vault.mintedRevokes != 1 {
		t.Errorf("revoke-self: current token %d times, superseded token %d times; want 1 each", env.vault.revokes, env.vault.mintedRevokes)
	}
	if !g.empty() {
		t.Errorf("grants left after revokeAll: %d tokens, %d leases", len(g.tokens), len(g.leases))
	}
	if f.vault.Token() != "" {
		t.Error("the client keeps a revoked token")
	}
	logs := env.logs.String()
	if n := strings.Count(logs, `"msg":"token revoked"`); n != 2 {
		t.Errorf("%d tokens revoked in the logs, want 2:\n%s", n, logs)
	}
	if strings.Contains(logs, "lease not revoked; it ends at its TTL") {
		t.Errorf("a lease reported unrevoked although its token was revoked:\n%s", logs)
	}
	noLeak(t, "logs", logs)
}

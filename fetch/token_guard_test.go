package fetch

import (
	"context"
	"errors"
	"strings"
	"testing"

	"wisp.dev/wisp/plan"
)

// TestFetchRefusesVaultToken: a read whose answer is a Vault token (an auth
// block, a token lookup, a response-wrapping token) fails the whole fetch
// with one line naming the secret and its path; no file is written, the
// token appears nowhere, the run's token is revoked and so is a token the
// answer minted. Plan validation refuses auth/ and sys/ paths before any
// Vault call; the cases marked unchecked put such a path into the Fetcher
// behind the validation's back, as a bug or a tampered plan would.
func TestFetchRefusesVaultToken(t *testing.T) {
	t.Parallel()
	good := plan.Secret{Name: "config", Path: "secret/data/app"}
	tests := []struct {
		name       string
		secret     plan.Secret
		unchecked  bool // skip plan validation
		wantSub    []string
		wantMinted int // revocations of the minted token
	}{
		{
			name:       "auth block, unchecked",
			secret:     plan.Secret{Name: "tok", Path: "auth/token/create"},
			unchecked:  true,
			wantSub:    []string{`read secret "tok" from auth/token/create: `, "returns a Vault token", "auth block"},
			wantMinted: 1,
		},
		{
			name:       "auth block from a plugin mount",
			secret:     plan.Secret{Name: "tok", Path: "tokens/creds/app", Format: "raw:client_token"},
			wantSub:    []string{`read secret "tok" from tokens/creds/app: `, "returns a Vault token", "auth block"},
			wantMinted: 1,
		},
		{
			name:      "token lookup, unchecked",
			secret:    plan.Secret{Name: "self", Path: "auth/token/lookup-self", Format: "raw:id"},
			unchecked: true,
			wantSub:   []string{`read secret "self" from auth/token/lookup-self: `, "returns a Vault token", "token lookup"},
		},
		{
			name:    "token lookup stored in KV",
			secret:  plan.Secret{Name: "copy", Path: "secret/data/token-copy", Format: plan.FormatEnv},
			wantSub: []string{`read secret "copy" from secret/data/token-copy: `, "returns a Vault token"},
		},
		{
			name:    "response-wrapping token",
			secret:  plan.Secret{Name: "wrapped", Path: "secret/wrapped"},
			wantSub: []string{`read secret "wrapped" from secret/wrapped: `, "returns a Vault token", "wrapping"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t, good)
			if !tt.unchecked {
				env.cfg.Plan.Secrets = append(env.cfg.Plan.Secrets, tt.secret)
			}
			f := env.fetcher(t)
			if tt.unchecked {
				if err := (plan.Plan{Version: plan.Version, Role: "app", Dir: "/s", Secrets: []plan.Secret{tt.secret}}).Validate(); err == nil {
					t.Errorf("plan validation accepts %s; the case is not unchecked", tt.secret.Path)
				}
				f.cfg.Plan.Secrets = append(f.cfg.Plan.Secrets, tt.secret)
			}
			_, err := f.Fetch(context.Background())
			checkFailure(t, env, err, tt.wantSub)
			if !errors.Is(err, ErrVaultToken) {
				t.Errorf("error %q does not wrap ErrVaultToken", err)
			}
			if IsTransient(err) {
				t.Errorf("refusal %q is transient; want a permanent failure", err)
			}
			if env.vault.revokes != 1 {
				t.Errorf("run's token revoked %d times, want 1", env.vault.revokes)
			}
			if env.vault.mintedRevokes != tt.wantMinted {
				t.Errorf("minted token revoked %d times, want %d", env.vault.mintedRevokes, tt.wantMinted)
			}
		})
	}
}

// TestFetchTokenLookAlike: data with an "id" or "accessor" key that is not
// a token lookup is a secret like any other.
func TestFetchTokenLookAlike(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, plan.Secret{Name: "ids", Path: "secret/data/look-alike", Format: plan.FormatEnv})
	if _, err := env.fetcher(t).Fetch(context.Background()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	got := listDir(t, env.dir)["ids"]
	for _, want := range []string{"ID=user-17\n", "ACCESSOR=front-door\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("ids = %q, want a line %q", got, want)
		}
	}
}

func TestLooksLikeToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    any
		want bool
	}{
		{"hvs.CAESIJ2lqfNrK2TQ4Ll0Xs", true},
		{"hvb.AAAAAQJ2lqfNrK2TQ4Ll0Xs", true},
		{"s.Q4Ll0XsCAESIJ2lqfNrK2T", true},
		{"b.AAAAAQJ2lqfNrK2TQ4Ll0Xs", true},
		{"s.short", false},
		{"hvs.", false},
		{"user-17", false},
		{"root", false},
		{"hvs.has space inside it", false},
		{42, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := looksLikeToken(tt.v); got != tt.want {
			t.Errorf("looksLikeToken(%v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

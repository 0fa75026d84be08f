package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	wispfetch "wisp.dev/wisp/fetch"
	"wisp.dev/wisp/plan"
)

// TestFetchRefusesVaultToken: wisp-fetch never writes a Vault token into
// the app's files. Plan validation refuses auth/ and sys/ paths before
// any Vault call, and fetch.New validates the plan, so no hand-built plan
// can take those paths past it from outside the package. The answers
// themselves still come from the real Vault here: a proxy in front of it
// serves, on paths a plan may name (as a plugin mount could), Vault's own
// answers of auth/token/create (an auth block with a new token) and
// auth/token/lookup-self (the token in the data), with the real login's
// token and a policy that allows both. The fetch fails with one line
// naming the secret and its path, writes nothing, shows no token, and
// revokes both the login's token and the minted one.
func TestFetchRefusesVaultToken(t *testing.T) {
	t.Parallel()
	good := plan.Secret{Name: "config", Path: "secret/data/team-orders/orders-api"}

	t.Run("plan validation", func(t *testing.T) {
		t.Parallel()
		for _, p := range []string{"auth/token/create", "auth/token/lookup-self", "sys/wrapping/wrap"} {
			_, err := wispfetch.New(wispfetch.Config{
				Plan: plan.Plan{Version: plan.Version, Role: "token-reader", Dir: t.TempDir(),
					Secrets: []plan.Secret{good, {Name: "tok", Path: p}}},
				SocketAddr: shared.stack.SocketAddr(),
				VaultAddr:  shared.stack.VaultAddr(),
			})
			if err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("New with a plan reading %s: %v, want a refusal naming the path", p, err)
			}
		}
	})

	tests := []struct {
		name    string
		secret  plan.Secret
		wantSub []string
		minted  bool
	}{
		{
			name:    "auth block of auth/token/create",
			secret:  plan.Secret{Name: "child", Path: "minted/creds/app"},
			wantSub: []string{`read secret "child" from minted/creds/app: `, "returns a Vault token", "auth block"},
			minted:  true,
		},
		{
			name:    "data of auth/token/lookup-self",
			secret:  plan.Secret{Name: "self", Path: "whoami/creds/app", Format: "raw:id"},
			wantSub: []string{`read secret "self" from whoami/creds/app: `, "returns a Vault token", "token lookup"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := newTokenProxy(t)
			dir := t.TempDir()
			var logs bytes.Buffer
			f, err := wispfetch.New(wispfetch.Config{
				Plan: plan.Plan{Version: plan.Version, Role: "token-reader", Dir: dir,
					Secrets: []plan.Secret{good, tt.secret}},
				SocketAddr: shared.stack.SocketAddr(),
				VaultAddr:  tp.url,
				Deadline:   30 * time.Second,
				Logger:     slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			_, err = f.Fetch(context.Background())
			if err == nil {
				t.Fatalf("Fetch: no error; logs:\n%s", logs.String())
			}
			if !errors.Is(err, wispfetch.ErrVaultToken) {
				t.Errorf("error %q does not wrap fetch.ErrVaultToken", err)
			}
			msg := err.Error()
			for _, sub := range tt.wantSub {
				if !strings.Contains(msg, sub) {
					t.Errorf("error %q does not contain %q", msg, sub)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			login, minted := tp.tokens()
			if login == "" || (tt.minted && minted == "") {
				t.Fatalf("the proxy saw no login token (%t) or no minted token (%t)", login != "", minted != "")
			}
			noLeak(t, "error", msg, login, minted)
			noLeak(t, "logs", logs.String(), login, minted)
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%d files written despite the refusal", len(entries))
			}
			for what, tok := range map[string]string{"login's token": login, "minted token": minted} {
				if tok != "" && tokenAlive(t, tok) {
					t.Errorf("the %s is still valid after the refusal", what)
				}
			}
			t.Logf("%s", msg)
		})
	}
}

// tokenProxy forwards to the stack's Vault, except two paths that a plan
// may name: GET /v1/minted/creds/app becomes POST /v1/auth/token/create
// and GET /v1/whoami/creds/app becomes GET /v1/auth/token/lookup-self. It
// records the tokens that Vault's answers carry.
type tokenProxy struct {
	url string

	mu            sync.Mutex
	login, minted string
}

func newTokenProxy(t *testing.T) *tokenProxy {
	t.Helper()
	target, err := url.Parse(shared.stack.VaultAddr())
	if err != nil {
		t.Fatal(err)
	}
	tp := &tokenProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			switch r.In.URL.Path {
			case "/v1/minted/creds/app":
				r.Out.Method = http.MethodPost
				r.Out.URL.Path = "/v1/auth/token/create"
				r.Out.Body = io.NopCloser(strings.NewReader("{}"))
				r.Out.ContentLength = 2
			case "/v1/whoami/creds/app":
				r.Out.URL.Path = "/v1/auth/token/lookup-self"
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			var body struct {
				Auth *struct {
					ClientToken string `json:"client_token"`
				} `json:"auth"`
			}
			if json.Unmarshal(b, &body) == nil && body.Auth != nil {
				tp.mu.Lock()
				switch resp.Request.URL.Path {
				case "/v1/auth/jwt/login":
					tp.login = body.Auth.ClientToken
				case "/v1/auth/token/create":
					tp.minted = body.Auth.ClientToken
				}
				tp.mu.Unlock()
			}
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	tp.url = srv.URL
	return tp
}

func (tp *tokenProxy) tokens() (login, minted string) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.login, tp.minted
}

// tokenAlive reports whether Vault still knows tok (looked up with the
// root token, so that the lookup does not depend on tok's policies).
func tokenAlive(t *testing.T, tok string) bool {
	t.Helper()
	c, err := shared.stack.VaultClient()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Auth().Token().LookupWithContext(context.Background(), tok)
	var re *vault.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusBadRequest) {
		return false
	}
	if err != nil {
		t.Fatalf("look up a token: %v", err)
	}
	return true
}

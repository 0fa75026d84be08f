package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"wisp.dev/wisp/plan"
)

const (
	jwtCanary   = "eyJhbGciOiJFUzI1NiJ9.CANARY-jwt.sig"
	tokenCanary = "hvs.CANARY-token-0123456789"
	// mintedCanary is the child token that the fake's auth/token/create
	// hands out.
	mintedCanary = "hvs.CANARY-minted-0123456789"
	spiffeID     = "spiffe://example.org/ns/app/sa/app"
)

// fakeVault is just enough of Vault's HTTP API: JWT login and reads.
type fakeVault struct {
	mu sync.Mutex
	// fail503 makes the next n logins answer 503.
	fail503 int
	logins  int
	revokes int
	// mintedRevokes counts revoke-self calls made with mintedCanary.
	mintedRevokes int
	// loginArrived, when set, receives each login as it arrives, and the
	// login answers only once releaseLogin is closed.
	loginArrived chan struct{}
	releaseLogin chan struct{}
}

func (v *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reply := func(code int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}
	errs := func(code int, msg ...string) { reply(code, map[string]any{"errors": msg}) }
	if r.URL.Path == "/v1/auth/jwt/login" {
		v.mu.Lock()
		v.logins++
		fail := v.fail503 > 0
		v.fail503--
		v.mu.Unlock()
		if fail {
			errs(503, "Vault is sealed")
			return
		}
		var body struct{ Role, JWT string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if v.loginArrived != nil {
			v.loginArrived <- struct{}{}
			<-v.releaseLogin
		}
		switch {
		case body.JWT != jwtCanary:
			errs(400, "error validating token: invalid audience (aud) claim")
		case body.Role != "app":
			errs(400, fmt.Sprintf("role %q could not be found", body.Role))
		default:
			reply(200, map[string]any{"auth": map[string]any{
				"client_token": tokenCanary, "lease_duration": 3600, "renewable": true, "policies": []string{"app"},
			}})
		}
		return
	}
	if r.URL.Path == "/v1/auth/token/revoke-self" && r.Header.Get("X-Vault-Token") == mintedCanary {
		v.mu.Lock()
		v.mintedRevokes++
		v.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Header.Get("X-Vault-Token") != tokenCanary {
		errs(403, "permission denied")
		return
	}
	switch r.URL.Path {
	case "/v1/auth/token/revoke-self":
		v.mu.Lock()
		v.revokes++
		v.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case "/v1/secret/data/app":
		reply(200, map[string]any{"data": map[string]any{
			"data":     map[string]any{"username": "app", "password": canary, "port": 5432},
			"metadata": map[string]any{"version": 3, "created_time": "2026-01-01T00:00:00Z"},
		}})
	case "/v1/secret/data/deleted":
		reply(404, map[string]any{"data": map[string]any{
			"data":     nil,
			"metadata": map[string]any{"version": 2, "created_time": "2026-01-01T00:00:00Z", "deletion_time": "2026-01-02T00:00:00Z"},
		}})
	case "/v1/database/creds/app":
		reply(200, map[string]any{"lease_id": "database/creds/app/abc", "lease_duration": 60, "renewable": true,
			"data": map[string]any{"username": "v-app-x", "password": canary}})
	case "/v1/secret/data/missing":
		errs(404)
	case "/v1/secret/data/flaky":
		errs(503, "Vault is sealed")
	// Answers that carry a Vault token, which wisp-fetch must never write.
	// tokens/creds/app stands for a plugin mount that mints tokens.
	case "/v1/auth/token/create", "/v1/tokens/creds/app":
		reply(200, map[string]any{"auth": map[string]any{
			"client_token": mintedCanary, "accessor": "acc-minted", "lease_duration": 3600, "renewable": true,
			"policies": []string{"app"},
		}})
	case "/v1/auth/token/lookup-self":
		reply(200, map[string]any{"data": map[string]any{
			"id": tokenCanary, "accessor": "acc-login", "policies": []string{"app"}, "ttl": 3599, "path": "auth/jwt/login",
		}})
	case "/v1/secret/data/token-copy":
		reply(200, map[string]any{"data": map[string]any{
			"data":     map[string]any{"client_token": "s.CANARY-copied-012345678901", "accessor": "acc-copied"},
			"metadata": map[string]any{"version": 1, "created_time": "2026-01-01T00:00:00Z"},
		}})
	case "/v1/secret/wrapped":
		reply(200, map[string]any{"wrap_info": map[string]any{
			"token": "hvs.CANARY-wrapping-0123456789", "accessor": "acc-wrap", "ttl": 300,
		}})
	case "/v1/secret/data/look-alike":
		reply(200, map[string]any{"data": map[string]any{
			"data":     map[string]any{"id": "user-17", "accessor": "front-door", "client_token": 42, "token": "s.short"},
			"metadata": map[string]any{"version": 1, "created_time": "2026-01-01T00:00:00Z"},
		}})
	default:
		errs(403, "permission denied")
	}
}

type testEnv struct {
	dir   string
	logs  *bytes.Buffer
	vault *fakeVault
	cfg   Config
	svid  func(ctx context.Context, aud string) (string, string, error)
}

func newTestEnv(t *testing.T, secrets ...plan.Secret) *testEnv {
	t.Helper()
	fv := &fakeVault{}
	srv := httptest.NewServer(fv)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	logs := &bytes.Buffer{}
	return &testEnv{
		dir: dir, logs: logs, vault: fv,
		cfg: Config{
			Plan:       plan.Plan{Version: plan.Version, Role: "app", Dir: dir, Secrets: secrets},
			SocketAddr: "unix:///nonexistent/agent.sock",
			VaultAddr:  srv.URL,
			Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Deadline:   time.Minute,
		},
		svid: func(context.Context, string) (string, string, error) { return jwtCanary, spiffeID, nil },
	}
}

func (e *testEnv) fetcher(t *testing.T) *Fetcher {
	t.Helper()
	clock := &fakeTime{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f, err := New(e.cfg, WithSVIDSource(e.svid), WithClock(clock.Now), WithRand(func() float64 { return 0 }))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.retry.sleep = clock.sleep
	return f
}

// noLeak fails when a secret shows up in s.
func noLeak(t *testing.T, what, s string) {
	t.Helper()
	for _, c := range []string{canary, jwtCanary, tokenCanary, "CANARY"} {
		if strings.Contains(s, c) {
			t.Errorf("%s leaks %q:\n%s", what, c, s)
		}
	}
}

func TestFetch(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t,
		plan.Secret{Name: "config", Path: "secret/data/app"},
		plan.Secret{Name: "db", Path: "database/creds/app", Format: plan.FormatEnv, Mode: 0o400},
		plan.Secret{Name: "url", Path: "database/creds/app", Template: "postgres://{{.username}}:{{.password}}@db/app"},
	)
	metas, err := env.fetcher(t).Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(metas) != 3 {
		t.Fatalf("got %d metas", len(metas))
	}
	files := listDir(t, env.dir)
	want := map[string]string{
		"config": `{"password":"` + canary + `","port":5432,"username":"app"}` + "\n",
		"db":     "PASSWORD=" + canary + "\nUSERNAME=v-app-x\n",
		"url":    "postgres://v-app-x:" + canary + "@db/app",
	}
	for name, content := range want {
		if files[name] != content {
			t.Errorf("%s = %q, want %q", name, files[name], content)
		}
	}
	modes := map[string]fs.FileMode{"config": 0o440, "db": 0o400, "url": 0o440, ".db.meta.json": 0o444}
	for name, mode := range modes {
		fi, err := os.Stat(filepath.Join(env.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %#o, want %#o", name, fi.Mode().Perm(), mode)
		}
	}
	var meta Meta
	if err := json.Unmarshal([]byte(files[".db.meta.json"]), &meta); err != nil {
		t.Fatalf("db metadata: %v", err)
	}
	exp := time.Date(2026, 1, 2, 3, 5, 5, 0, time.UTC)
	wantMeta := Meta{Name: "db", Path: "database/creds/app", FetchedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		LeaseID: "database/creds/app/abc", LeaseDuration: 60, Renewable: true, ExpiresAt: &exp}
	if diff := cmp.Diff(wantMeta, meta); diff != "" {
		t.Errorf("db metadata (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(files[".config.meta.json"]), &meta); err != nil || meta.KVVersion != 3 {
		t.Errorf("config metadata: %v, kvVersion %d, want 3", err, meta.KVVersion)
	}
	if len(files) != 6 {
		t.Errorf("folder holds %d files, want 3 secrets + 3 metadata files: %v", len(files), keysOf(files))
	}
	for name, content := range files {
		if strings.HasSuffix(name, ".meta.json") {
			noLeak(t, name, content)
		}
	}
	noLeak(t, "logs", env.logs.String())
	if env.vault.revokes != 0 {
		t.Errorf("token revoked %d times after a success; its leases must live", env.vault.revokes)
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestFetchAllOrNothing: when any step fails, no file is written, the error
// is one line naming what and where, and nothing leaks.
func TestFetchAllOrNothing(t *testing.T) {
	t.Parallel()
	good := plan.Secret{Name: "config", Path: "secret/data/app"}
	tests := []struct {
		name      string
		secrets   []plan.Secret
		role      string
		svidErr   error
		deadline  time.Duration
		wantSub   []string
		wantRetry bool
	}{
		{
			name:    "forbidden path",
			secrets: []plan.Secret{good, {Name: "other", Path: "secret/data/other"}},
			wantSub: []string{`read secret "other" from secret/data/other: permission denied (HTTP 403)`, `grant read on "secret/data/other"`},
		},
		{
			name:    "missing secret",
			secrets: []plan.Secret{good, {Name: "gone", Path: "secret/data/missing"}},
			wantSub: []string{`read secret "gone" from secret/data/missing: nothing at this path (HTTP 404)`},
		},
		{
			name:    "deleted KV version",
			secrets: []plan.Secret{good, {Name: "gone", Path: "secret/data/deleted"}},
			wantSub: []string{"deleted or destroyed"},
		},
		{
			name:    "missing template key",
			secrets: []plan.Secret{good, {Name: "t", Path: "secret/data/app", Template: "{{ .token }}"}},
			wantSub: []string{`render secret "t" from secret/data/app`, `no entry for key "token"`, "wisp.dev/template-t"},
		},
		{
			name:    "template ranging over a value",
			secrets: []plan.Secret{good, {Name: "t", Path: "secret/data/app", Template: "{{ range .password }}{{ end }}"}},
			wantSub: []string{`render secret "t" from secret/data/app: execute template t: line 1 column 9: range over a value that is not a list or map`},
		},
		{
			name:    "template comparing the data map",
			secrets: []plan.Secret{good, {Name: "t", Path: "secret/data/app", Template: "{{ if eq . . }}{{ end }}"}},
			wantSub: []string{`execute template t: line 1 column 6: calling eq failed: values that cannot be compared`},
		},
		{
			name:    "missing raw key",
			secrets: []plan.Secret{good, {Name: "r", Path: "secret/data/app", Format: "raw:token"}},
			wantSub: []string{`key "token" is not in the data (keys: password, port, username)`},
		},
		{
			name:    "unknown role",
			secrets: []plan.Secret{good},
			role:    "nope",
			wantSub: []string{`vault login with role "nope" at auth/jwt/login: role "nope" could not be found (HTTP 400)`, "vault read auth/jwt/role/nope"},
		},
		{
			name:      "no identity",
			secrets:   []plan.Secret{good},
			svidErr:   status.Error(codes.PermissionDenied, "no identity issued"),
			deadline:  3 * time.Second,
			wantSub:   []string{"fetch JWT-SVID", "no identity issued", "gave up after", "registration entry"},
			wantRetry: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t, tt.secrets...)
			if tt.role != "" {
				env.cfg.Plan.Role = tt.role
			}
			if tt.deadline != 0 {
				env.cfg.Deadline = tt.deadline
			}
			if tt.svidErr != nil {
				env.svid = func(context.Context, string) (string, string, error) { return "", "", tt.svidErr }
			}
			f := env.fetcher(t)
			if tt.svidErr != nil {
				// The fake clock never reaches the real deadline: the fifth
				// wait ends as the deadline would. (Cancelling the caller's
				// context instead is a stop: TestStoppedBeforeFirstFetch.)
				sleeps := 0
				inner := f.retry.sleep
				f.retry.sleep = func(c context.Context, d time.Duration) error {
					// The agent syncs a new entry every 5 s: the asks for
					// the SVID stay at most a second apart.
					if d > time.Second {
						t.Errorf("wait %d before asking for the SVID again: %v, want at most 1s", sleeps+1, d)
					}
					if sleeps++; sleeps == 5 {
						return context.DeadlineExceeded
					}
					return inner(c, d)
				}
				_, err := f.Fetch(context.Background())
				checkFailure(t, env, err, tt.wantSub)
				return
			}
			_, err := f.Fetch(context.Background())
			checkFailure(t, env, err, tt.wantSub)
			// A failure after the login revokes the token (and its leases).
			wantRevokes := 1
			if env.vault.logins == 0 || tt.role != "" {
				wantRevokes = 0
			}
			if env.vault.revokes != wantRevokes {
				t.Errorf("token revoked %d times, want %d", env.vault.revokes, wantRevokes)
			}
		})
	}
}

func checkFailure(t *testing.T, env *testEnv, err error, wantSub []string) {
	t.Helper()
	if err == nil {
		t.Fatal("Fetch: no error")
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error %T is not an *Error", err)
	}
	msg := err.Error()
	for _, sub := range wantSub {
		if !strings.Contains(msg, sub) {
			t.Errorf("error %q does not contain %q", msg, sub)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	noLeak(t, "error", msg)
	noLeak(t, "logs", env.logs.String())
	if files := listDir(t, env.dir); len(files) != 0 {
		t.Errorf("files written despite the failure: %v", keysOf(files))
	}
}

// TestFetchRetriesSealedVault: 503 is retried, then the fetch succeeds.
func TestFetchRetriesSealedVault(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, plan.Secret{Name: "config", Path: "secret/data/app"})
	env.vault.fail503 = 2
	if _, err := env.fetcher(t).Fetch(context.Background()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if env.vault.logins != 3 {
		t.Errorf("logins = %d, want 3", env.vault.logins)
	}
	if !strings.Contains(env.logs.String(), `"msg":"retrying"`) {
		t.Errorf("no retry logged:\n%s", env.logs.String())
	}
	noLeak(t, "logs", env.logs.String())
}

func TestFetchMissingDir(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, plan.Secret{Name: "config", Path: "secret/data/app"})
	env.cfg.Plan.Dir = filepath.Join(env.dir, "not-mounted")
	_, err := env.fetcher(t).Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not-mounted") || env.vault.logins != 0 {
		t.Errorf("Fetch: %v after %d logins, want a failure naming the folder before any login", err, env.vault.logins)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Plan:       plan.Plan{Version: "v0", Dir: "rel"},
		SocketAddr: "/no/scheme.sock",
		VaultAddr:  "vault:8200",
		AuthPath:   "/jwt/",
		MinBackoff: time.Second, MaxBackoff: time.Millisecond,
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate: no error")
	}
	for _, sub := range []string{"WISP_PLAN", "SPIFFE_ENDPOINT_SOCKET", "VAULT_ADDR", "WISP_AUTH_PATH", "max backoff"} {
		if !strings.Contains(err.Error(), sub) {
			t.Errorf("%q does not name %s", err, sub)
		}
	}
}

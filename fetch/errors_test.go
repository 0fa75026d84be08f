package fetch

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	vault "github.com/hashicorp/vault/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSVIDErrorClassification(t *testing.T) {
	t.Parallel()
	const addr = "unix:///run/spire/agent.sock"
	tests := []struct {
		name      string
		err       error
		transient bool
		wantSub   []string
	}{
		{
			name:      "no identity issued yet",
			err:       status.Error(codes.PermissionDenied, "no identity issued"),
			transient: true,
			wantSub:   []string{"PermissionDenied: no identity issued", "registration entry"},
		},
		{
			name:      "socket missing",
			err:       status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial unix /run/spire/agent.sock: connect: no such file or directory"`),
			transient: true,
			wantSub:   []string{"no such file or directory", "check the Workload API socket " + addr},
		},
		{name: "deadline", err: status.Error(codes.DeadlineExceeded, "context deadline exceeded"), transient: true},
		{name: "context", err: context.DeadlineExceeded, transient: true},
		{name: "bad argument", err: status.Error(codes.InvalidArgument, "audience must be specified"), wantSub: []string{"WISP_AUDIENCE"}},
		{name: "bad address", err: errors.New(`workload endpoint socket URI must have a "tcp" or "unix" scheme`), wantSub: []string{"SPIFFE_ENDPOINT_SOCKET"}},
		{name: "internal", err: status.Error(codes.Internal, "boom"), wantSub: []string{"SPIRE agent's logs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := svidError("fetch JWT-SVID", addr, tt.err)
			if e.Transient != tt.transient {
				t.Errorf("Transient = %v, want %v", e.Transient, tt.transient)
			}
			for _, sub := range tt.wantSub {
				if !strings.Contains(e.Error(), sub) {
					t.Errorf("%q does not contain %q", e.Error(), sub)
				}
			}
			if strings.Contains(e.Error(), "\n") {
				t.Errorf("message spans lines: %q", e.Error())
			}
		})
	}
}

func TestVaultErrorClassification(t *testing.T) {
	t.Parallel()
	login := vaultContext{step: stepLogin, addr: "http://127.0.0.1:8200", role: "payments", authPath: "jwt",
		audience: "vault", spiffeID: "spiffe://example.org/ns/pay/sa/api"}
	read := vaultContext{step: stepRead, addr: "http://127.0.0.1:8200", role: "payments", path: "secret/data/pay/db"}
	resp := func(code int, msgs ...string) error {
		return &vault.ResponseError{HTTPMethod: "PUT", URL: "http://127.0.0.1:8200/v1/x", StatusCode: code, Errors: msgs}
	}
	refused := &url.Error{Op: "Put", URL: "http://127.0.0.1:8200/v1/auth/jwt/login", Err: &net.OpError{
		Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}}
	tests := []struct {
		name      string
		vc        vaultContext
		err       error
		transient bool
		wantSub   []string
	}{
		{name: "connection refused", vc: login, err: refused, transient: true,
			wantSub: []string{"connection refused", "check Vault is reachable at http://127.0.0.1:8200 (VAULT_ADDR)"}},
		{name: "sealed", vc: login, err: resp(503, "Vault is sealed"), transient: true, wantSub: []string{"Vault is sealed (HTTP 503)", "unsealed"}},
		{name: "standby", vc: read, err: resp(503), transient: true, wantSub: []string{"Service Unavailable (HTTP 503)"}},
		{name: "500", vc: read, err: resp(500, "internal error"), transient: true, wantSub: []string{"server logs"}},
		{name: "429", vc: read, err: resp(429, "rate limited"), transient: true},
		{name: "412", vc: read, err: resp(412, "required index state not present"), transient: true},
		{name: "wrong audience", vc: login, err: resp(400, "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience"),
			wantSub: []string{"invalid audience (aud) claim", `bound_audiences contains "vault"`}},
		{name: "wrong subject", vc: login, err: resp(400, "error validating claims: invalid subject (sub) claim"),
			wantSub: []string{"invalid subject (sub) claim", "bound_subject matches this pod's SPIFFE ID spiffe://example.org/ns/pay/sa/api"}},
		{name: "unknown role", vc: login, err: resp(400, `role "payments" could not be found`),
			wantSub: []string{"could not be found", "vault read auth/jwt/role/payments"}},
		{name: "login permission denied", vc: login, err: resp(403, "permission denied"),
			wantSub: []string{"permission denied (HTTP 403)", "spiffe://example.org/ns/pay/sa/api"}},
		{name: "multierror text", vc: read, err: resp(403, "1 error occurred:\n\t* permission denied\n\n"),
			wantSub: []string{"op: permission denied (HTTP 403): check"}},
		{name: "read permission denied", vc: read, err: resp(403, "permission denied"),
			wantSub: []string{"permission denied (HTTP 403)", `policies of role "payments" grant read on "secret/data/pay/db"`}},
		{name: "unknown db role", vc: read, err: resp(400, "unknown role: nope"), wantSub: []string{"secrets engine role"}},
		{name: "tls", vc: read, err: &url.Error{Op: "Get", URL: "https://v", Err: x509.UnknownAuthorityError{}},
			wantSub: []string{"VAULT_CACERT"}},
		{name: "context deadline", vc: read, err: fmt.Errorf("do: %w", context.DeadlineExceeded), transient: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := vaultError("op", tt.vc, tt.err, nil)
			if e.Transient != tt.transient {
				t.Errorf("Transient = %v, want %v (%s)", e.Transient, tt.transient, e)
			}
			for _, sub := range tt.wantSub {
				if !strings.Contains(e.Error(), sub) {
					t.Errorf("%q does not contain %q", e.Error(), sub)
				}
			}
			if strings.Contains(e.Error(), "\n") {
				t.Errorf("message spans lines: %q", e.Error())
			}
			if IsTransient(e) != tt.transient {
				t.Errorf("IsTransient = %v", IsTransient(e))
			}
		})
	}
}

// TestScrubber: server messages that echo a token or JWT lose them.
func TestScrubber(t *testing.T) {
	t.Parallel()
	var sc scrubber
	sc.add(secretString(canary))
	sc.add(secretString("short")) // too short to scrub safely
	err := &vault.ResponseError{StatusCode: 502, Errors: []string{"proxy: bad token " + canary}}
	e := vaultError("op", vaultContext{step: stepRead}, err, &sc)
	if strings.Contains(e.Error(), canary) || !strings.Contains(e.Error(), redacted) {
		t.Errorf("Error() = %q, want the canary redacted", e.Error())
	}
}

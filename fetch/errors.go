package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is a failed step of a fetch. Its message is one line: what failed
// and where (Op), why (Err), and what to check (Hint).
type Error struct {
	// Op names the step and its target, e.g.
	// `vault login with role "payments" at auth/jwt/login`.
	Op string
	// Err is the cause, already cleaned to one line with no secret in it.
	Err error
	// Hint says what to check, e.g. "check the role's bound_subject ...".
	Hint string
	// Transient errors are retried within the deadline.
	Transient bool
	// Attempts is how many attempts were made, when more than one.
	Attempts int
	// Elapsed is how long the attempts took, when more than one.
	Elapsed time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(oneLine(e.Err.Error()))
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (gave up after %d attempts in %s)", e.Attempts, e.Elapsed.Round(100*time.Millisecond))
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Transient
}

// oneLine flattens a message to one line of at most 400 bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// svidError classifies a Workload API failure.
func svidError(op, addr string, err error) *Error {
	e := &Error{Op: op, Err: err}
	if ctxErr(err) {
		e.Transient = true
		e.Hint = fmt.Sprintf("check the SPIRE agent answers on %s", addr)
		return e
	}
	st, ok := status.FromError(err)
	if !ok {
		e.Hint = fmt.Sprintf("check SPIFFE_ENDPOINT_SOCKET %q", addr)
		return e
	}
	msg := st.Message()
	// gRPC wraps a dial error in two layers of "desc = ..."; the dial error
	// itself says it all.
	if _, dial, ok := strings.Cut(msg, "Error while dialing: "); ok {
		msg = strings.TrimSuffix(dial, `"`)
	}
	e.Err = fmt.Errorf("%s: %s", st.Code(), msg)
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Canceled:
		e.Transient = true
		e.Hint = fmt.Sprintf("check the Workload API socket %s exists (SPIFFE CSI driver volume) and the SPIRE agent is running", addr)
	case codes.PermissionDenied:
		// SPIRE answers "no identity issued" until its agent has synced a new
		// registration entry (seconds), and for workloads it never matches.
		e.Transient = true
		e.Hint = "check a SPIRE registration entry matches this workload (its selectors) and the agent has synced it"
	case codes.InvalidArgument:
		e.Hint = "check WISP_AUDIENCE"
	default:
		e.Hint = "check the SPIRE agent's logs"
	}
	return e
}

// vaultStep says which kind of Vault request failed, for the hint.
type vaultStep int

const (
	stepLogin vaultStep = iota
	stepRead
	stepOther
)

// vaultContext is what a hint may mention.
type vaultContext struct {
	step     vaultStep
	addr     string
	role     string
	authPath string
	audience string
	spiffeID string
	path     string
}

// vaultError classifies a Vault failure: transport errors and 5xx, 412 and
// 429 answers are transient; TLS errors and other answers are permanent.
func vaultError(op string, vc vaultContext, err error, sc *scrubber) *Error {
	e := &Error{Op: op, Err: errors.New(sc.scrub(err.Error()))}
	var re *vault.ResponseError
	switch {
	case errors.As(err, &re):
		e.Err = errors.New(responseMessage(re, sc))
		e.Transient = re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests ||
			re.StatusCode == http.StatusPreconditionFailed
		e.Hint = vaultHint(vc, re)
	case isTLSError(err):
		e.Err = errors.New(transportMessage(err, sc))
		e.Hint = fmt.Sprintf("check VAULT_CACERT trusts the certificate of %s", vc.addr)
	case ctxErr(err) || isNetError(err):
		e.Err = errors.New(transportMessage(err, sc))
		e.Transient = true
		e.Hint = fmt.Sprintf("check Vault is reachable at %s (VAULT_ADDR) from this pod", vc.addr)
	}
	return e
}

// responseMessage is Vault's error list and status code, on one line,
// scrubbed before it is cut to length (a cut would split a secret).
func responseMessage(re *vault.ResponseError, sc *scrubber) string {
	msg := strings.Join(vaultMessages(re), "; ")
	if msg == "" {
		msg = http.StatusText(re.StatusCode)
	}
	return fmt.Sprintf("%s (HTTP %d)", oneLine(sc.scrub(msg)), re.StatusCode)
}

// vaultMessages flattens Vault's error list, whose entries may be
// go-multierror texts ("1 error occurred:\n\t* permission denied\n\n").
func vaultMessages(re *vault.ResponseError) []string {
	var out []string
	for _, e := range re.Errors {
		for _, line := range strings.Split(e, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "* "))
			if line == "" || isMultierrorHeader(line) {
				continue
			}
			out = append(out, line)
		}
	}
	return out
}

// isMultierrorHeader matches go-multierror's "<n> error(s) occurred:".
func isMultierrorHeader(line string) bool {
	n, rest, ok := strings.Cut(line, " ")
	if !ok || (rest != "error occurred:" && rest != "errors occurred:") {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

func transportMessage(err error, sc *scrubber) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is in the Op already
	}
	return oneLine(sc.scrub(err.Error()))
}

func isTLSError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
	)
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) ||
		errors.As(err, &cve) || errors.As(err, &rhe)
}

func isNetError(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}

func ctxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// vaultHint turns Vault's answer into what to check. Vault reports most
// login problems as HTTP 400 with a message, so the message is matched here;
// only the hint depends on it, never the retry decision.
func vaultHint(vc vaultContext, re *vault.ResponseError) string {
	msg := strings.ToLower(strings.Join(vaultMessages(re), " "))
	switch {
	case re.StatusCode == http.StatusServiceUnavailable && strings.Contains(msg, "sealed"):
		return fmt.Sprintf("check Vault at %s is unsealed", vc.addr)
	case re.StatusCode == http.StatusServiceUnavailable || re.StatusCode == http.StatusTooManyRequests:
		return fmt.Sprintf("check Vault at %s is unsealed, active and not rate limiting", vc.addr)
	case re.StatusCode >= 500:
		return "check Vault's server logs"
	}
	switch vc.step {
	case stepLogin:
		switch {
		case strings.Contains(msg, "audience") || strings.Contains(msg, "(aud)"):
			return fmt.Sprintf("check the role's bound_audiences contains %q (WISP_AUDIENCE)", vc.audience)
		case strings.Contains(msg, "subject") || strings.Contains(msg, "(sub)"):
			return fmt.Sprintf("check the role's bound_subject matches this pod's SPIFFE ID %s", vc.spiffeID)
		case strings.Contains(msg, "role") && (strings.Contains(msg, "not found") || strings.Contains(msg, "could not be found")):
			return fmt.Sprintf("check the role exists: vault read auth/%s/role/%s", vc.authPath, vc.role)
		case re.StatusCode == http.StatusForbidden || strings.Contains(msg, "permission denied"):
			return fmt.Sprintf("check the role's bound_subject matches this pod's SPIFFE ID %s, and JWT auth is enabled at auth/%s (WISP_AUTH_PATH)", vc.spiffeID, vc.authPath)
		case re.StatusCode == http.StatusNotFound || strings.Contains(msg, "no handler") || strings.Contains(msg, "unsupported path"):
			return fmt.Sprintf("check JWT auth is enabled at auth/%s (WISP_AUTH_PATH)", vc.authPath)
		case strings.Contains(msg, "signature") || strings.Contains(msg, "issuer") || strings.Contains(msg, "key"):
			return fmt.Sprintf("check auth/%s/config trusts SPIRE's keys (jwks_url or oidc_discovery_url of the SPIRE OIDC discovery provider)", vc.authPath)
		default:
			return fmt.Sprintf("check the role auth/%s/role/%s and auth/%s/config", vc.authPath, vc.role, vc.authPath)
		}
	case stepRead:
		switch {
		case re.StatusCode == http.StatusForbidden && !strings.Contains(vc.path, "/data/"):
			return fmt.Sprintf("check the token policies of role %q grant read on %q (a KV v2 secret is read at <mount>/data/<name>)", vc.role, vc.path)
		case re.StatusCode == http.StatusForbidden:
			return fmt.Sprintf("check the token policies of role %q grant read on %q", vc.role, vc.path)
		case re.StatusCode == http.StatusNotFound:
			return kvHint(vc.path)
		case strings.Contains(msg, "role"):
			return fmt.Sprintf("check the secrets engine role behind %q exists", vc.path)
		default:
			return fmt.Sprintf("check the path %q and its secrets engine", vc.path)
		}
	}
	return ""
}

// kvHint is the hint for a path with nothing behind it.
func kvHint(p string) string {
	if !strings.Contains(p, "/data/") {
		return fmt.Sprintf("check %q exists; a KV v2 secret is read at <mount>/data/<name>", p)
	}
	return fmt.Sprintf("check %q exists (vault kv get) and its latest version is not deleted", p)
}

package fetch

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

const redacted = "[redacted]"

// secretString holds a Vault token or a JWT-SVID. It prints as [redacted]
// with every fmt verb and in slog; reveal() is the only way to the value.
type secretString string

func (secretString) String() string                 { return redacted }
func (secretString) GoString() string               { return redacted }
func (secretString) LogValue() slog.Value           { return slog.StringValue(redacted) }
func (s secretString) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (s secretString) reveal() string               { return string(s) }

// secretBytes holds a rendered file. It prints as [redacted].
type secretBytes []byte

func (secretBytes) String() string               { return redacted }
func (secretBytes) GoString() string             { return redacted }
func (secretBytes) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (secretBytes) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Data is one secret's data as read from Vault (for KV v2, the inner data
// map). It prints as [redacted]; range over it to use it.
type Data map[string]any

func (Data) String() string               { return redacted }
func (Data) GoString() string             { return redacted }
func (Data) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Data) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// scrubber removes known secret strings from messages, as a second line of
// defence: the current token and JWT-SVID (Vault and SPIRE do not echo
// them, but a proxy's error page might), and every leaf value of the data
// read, in the forms a message could quote it (raw, JSON- and Go-quoted,
// with its white space folded), which no error is built from either.
type scrubber struct {
	secrets []string
	// data holds each secret's leaf values, by secret name: a new read
	// replaces the previous one.
	data map[string][]string
}

// minScrubbed is the shortest value scrubbed: shorter ones would blank out
// common words of the messages and say little.
const minScrubbed = 4

func (s *scrubber) add(v secretString) {
	if len(v) >= 8 {
		s.secrets = append(s.secrets, v.reveal())
	}
}

// setData records the leaf values of the data read for a secret.
func (s *scrubber) setData(name string, d Data) {
	var vals []string
	leaves(map[string]any(d), func(v string) {
		if len(v) >= minScrubbed {
			vals = append(vals, quotedForms(v)...)
		}
	})
	if s.data == nil {
		s.data = map[string][]string{}
	}
	s.data[name] = vals
}

// leaves calls f with every leaf of v that is a string or a number.
func leaves(v any, f func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			leaves(e, f)
		}
	case []any:
		for _, e := range v {
			leaves(e, f)
		}
	case string:
		f(v)
	case json.Number:
		f(string(v))
	case nil, bool:
	default:
		f(fmt.Sprint(v))
	}
}

// quotedForms is v and the forms a message could quote it in.
func quotedForms(v string) []string {
	forms := []string{v, strings.Join(strings.Fields(v), " ")}
	for _, q := range []string{strconv.Quote(v), strconv.QuoteToASCII(v), jsonQuote(v, true), jsonQuote(v, false)} {
		forms = append(forms, q[1:len(q)-1])
	}
	out := forms[:0]
	for _, f := range forms {
		if len(f) >= minScrubbed {
			out = append(out, f)
		}
	}
	return out
}

func jsonQuote(v string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(v) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

func (s *scrubber) scrub(msg string) string {
	if s == nil {
		return msg
	}
	vals := append([]string(nil), s.secrets...)
	for _, d := range s.data {
		vals = append(vals, d...)
	}
	// Longest first: a value that holds another is removed whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		msg = strings.ReplaceAll(msg, v, redacted)
	}
	return msg
}

// scrubErr returns err with every known secret scrubbed from its message.
// An *Error stays one, its Err scrubbed, so that IsTransient and errors.As
// keep working; its Op and Hint are built from the plan and the config
// alone, and are kept whole (a value such as a username "orders" would
// blank out a path such as secret/data/team-orders/...). Another error
// whose message changes becomes a scrubbedError, which matches the
// sentinels err matched (errors.Is) but does not unwrap to the unscrubbed
// message.
func (s *scrubber) scrubErr(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		c := *e
		c.Err = s.scrubErr(e.Err)
		return &c
	}
	msg := err.Error()
	if scrubbed := s.scrub(msg); scrubbed != msg {
		return &scrubbedError{msg: scrubbed, cause: err}
	}
	return err
}

// scrubbedError is an error whose message was scrubbed.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }

// GoString keeps %#v from printing the cause.
func (e *scrubbedError) GoString() string { return "scrubbedError(" + strconv.Quote(e.msg) + ")" }

// Is matches what the cause matches; there is no Unwrap, which would hand
// out the unscrubbed message.
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.cause, target) }

// item and session hold secrets in unexported fields, which fmt would print
// by reflection; they describe themselves instead.

func (it *item) String() string         { return fmt.Sprintf("item(%s from %s)", it.spec.Name, it.spec.Path) }
func (it *item) GoString() string       { return it.String() }
func (it *item) LogValue() slog.Value   { return slog.StringValue(it.String()) }
func (s *session) String() string       { return fmt.Sprintf("session(%s)", s.spiffeID) }
func (s *session) GoString() string     { return s.String() }
func (s *session) LogValue() slog.Value { return slog.StringValue(s.String()) }

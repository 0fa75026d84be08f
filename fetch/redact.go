package fetch

import (
	"fmt"
	"log/slog"
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

// scrubber removes known secret strings (the current token and JWT-SVID)
// from messages that come from servers, as a second line of defence: Vault
// and SPIRE do not echo them, but a proxy's error page might.
type scrubber struct {
	secrets []string
}

func (s *scrubber) add(v secretString) {
	if len(v) >= 8 {
		s.secrets = append(s.secrets, v.reveal())
	}
}

func (s *scrubber) scrub(msg string) string {
	if s == nil {
		return msg
	}
	for _, v := range s.secrets {
		msg = strings.ReplaceAll(msg, v, redacted)
	}
	return msg
}

// item and session hold secrets in unexported fields, which fmt would print
// by reflection; they describe themselves instead.

func (it *item) String() string         { return fmt.Sprintf("item(%s from %s)", it.spec.Name, it.spec.Path) }
func (it *item) GoString() string       { return it.String() }
func (it *item) LogValue() slog.Value   { return slog.StringValue(it.String()) }
func (s *session) String() string       { return fmt.Sprintf("session(%s)", s.spiffeID) }
func (s *session) GoString() string     { return s.String() }
func (s *session) LogValue() slog.Value { return slog.StringValue(s.String()) }

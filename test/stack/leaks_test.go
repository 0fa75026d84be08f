package stack

import (
	"slices"
	"testing"
)

func TestCredentials(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		// A lease ID that happens to hold "eyJ" (seen in a real run).
		{`"leaseID":"database/creds/orders-short/kBv6Sx3eWvrNUcPkATCNeyJP"`, nil},
		{`"leaseID":"database/creds/rotate-db/DYP3SKZkdj1t0SID1w6eaqVD"`, nil},
		{`"msg":"token revoked","accessor":"hvs-like"`, nil},
		{`token=hvs.CAESIJ2lqfNrK2TQ4Ll0XsZzYw`, []string{"hvs.CAESIJ2lqfNrK2TQ4Ll0XsZzYw"}},
		{`"token":"s.Q0nRPZKmqx7Yp2Ld9wXbCfGh"`, []string{"s.Q0nRPZKmqx7Yp2Ld9wXbCfGh"}},
		{
			`jwt eyJhbGciOiJFUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZyJ9.c2ln`,
			[]string{"eyJhbGciOiJFUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZyJ9"},
		},
	} {
		if got := Credentials(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Credentials(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

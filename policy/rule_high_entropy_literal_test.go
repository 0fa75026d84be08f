package policy

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
)

func TestRuleHighEntropyLiteral(t *testing.T) {
	t.Parallel()
	e := only(t, RuleHighEntropyLiteral)
	cert := corpusValue(t, "testdata/corpus/benign.txt", "CA_CERT")
	der := corpusValue(t, "testdata/corpus/benign.txt", "TRUST_ANCHOR_DER")
	pubDER := corpusValue(t, "testdata/corpus/benign.txt", "VERIFIER_KEY_DER")
	sshBlob := corpusValue(t, "testdata/corpus/benign.txt", "SSH_KEY_BLOB")
	tests := []struct {
		name, env, value string
		want             bool
	}{
		{"base64 key", "SESSION_BLOB", "q8Z2pX7vN4kR1tY6wB3mJ9cF5hL0dS2aQ3eR5tY7uI9o", true},
		{"base64url key", "FERNET_KEYS", "q8Z2pX7vN4kR1tY6wB3mJ9cF5hL0dS2a-Q3eR5tY7_uI", true},
		{"padded base64 of random bytes", "MASTER_SEED_B64", "3q2+7wAAAAD/ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNF", true},
		{"base62 token", "LICENSE", "q8Z2pX7vN4kR1tY6wB3mJ9cF5hL0dS2aQ3eR5tY7uI9oP", true},
		{"aws secret key under a plain name", "S3_CREDENTIALS", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYq3Zx9Kp2Lm", true},
		{"31 characters", "X", "q8Z2pX7vN4kR1tY6wB3mJ9cF5hL0dS2", false},
		{"no digits", "X", "qZpXvNkRtYwBmJcFhLdSaQeRtYuIoPaS", false},
		{"hex key (left to env-name-literal)", "X", "3f9c0e1b2d4f6a8c3f9c0e1b2d4f6a8c3f9c0e1b2d4f6a8c3f9c0e1b2d4f6a8c", false},
		{"upper-case hex", "GPG_FINGERPRINT", "3F9C0E1B2D4F6A8C3F9C0E1B2D4F6A8C3F9C0E1B", false},
		{"uuid", "X", "123e4567-e89b-12d3-a456-426614174000", false},
		{"git sha", "X", "3b4c9e1f0a2d5e6f7a8b9c0d1e2f3a4b5c6d7e8f", false},
		{"image digest", "X", "sha256:3b4c9e1f0a2d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f", false},
		{"integrity hash", "X", "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC", false},
		{"pem certificate", "X", cert, false},
		{"base64 of a pem certificate", "X", base64.StdEncoding.EncodeToString([]byte(cert)), false},
		{"der certificate", "X", der, false},
		{"der public key", "X", pubDER, false},
		{"ssh public key line", "X", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC3q3Zx9Kp2Lm7Nw4Rt8Vb1 me@host", false},
		{"ssh public key blob", "X", sshBlob, false},
		{"public key pem", "X", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----", false},
		{"path", "X", "/var/run/secrets/kubernetes.io/serviceaccount/q8Z2pX7vN4kR1tY6", false},
		{"url", "X", "https://example.com/q8Z2pX7vN4kR1tY6wB3mJ9cF5hL0dS2aQ3eR5", false},
		{"base64 of json config", "X", base64.StdEncoding.EncodeToString([]byte(`{"features":{"search":true},"maxItems":50}`)), false},
		{"camel case identifier", "MAIN_CLASS", "OrdersServiceReconciliationWorkerConfiguration2024", false},
		{"public name", "SIGNING_PUBLIC_KEY", "q8Z2pX7vN4kR1tY6wB3mJ9cF5hL0dS2aQ3eR5tY7uI9o", false},
		{"id name", "AUTH0_CLIENT_ID", "q8Z2pX7vN4kR1tY6wB3mJ9cF5hL0dS2a", false},
		{"site key name", "RECAPTCHA_SITE_KEY", "6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := flaggedBy(e, lit(tt.env, tt.value)); (len(got) > 0) != tt.want {
				t.Errorf("flagged by %v, want flagged %v (entropy %.2f)", got, tt.want, shannon(strings.TrimSpace(tt.value)))
			}
		})
	}
}

// corpusValue returns the value of the first line named name in a corpus.
func corpusValue(t *testing.T, path, name string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	for _, c := range readCorpus(t, path) {
		if c.name == name {
			return c.value
		}
	}
	t.Fatalf("%s: no %s", path, name)
	return ""
}

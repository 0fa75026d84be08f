package policy

import (
	"encoding/base64"
	"strings"
	"testing"
)

// Fake credentials: random-looking bodies in the real formats.
const (
	fakeBody36 = "aB3dE5fG7hJ9kL2mN4pQ6rS8tV0wX1yZ3bC5"
	fakeJWT    = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmMtb3JkZXJzIiwiaWF0IjoxNzE3MDAwMDAwfQ.q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0Jf5Gs3Ae9Ui2Oo7Pk"
	fakePEM    = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0Jf5Gs3Ae9Ui2Oo7Pk\n-----END RSA PRIVATE KEY-----"
)

func TestRuleKnownCredentialFormat(t *testing.T) {
	t.Parallel()
	e := only(t, RuleKnownCredentialFormat)
	tests := []struct {
		name, env, value string
		want             string // substring of the reason, "" for not flagged
	}{
		// Token prefixes.
		{"aws key id", "AWS_ACCESS_KEY_ID", "AKIAQ3ZX9KP2LM7NW4RT", "AWS access key ID"},
		{"aws sts key id", "X", "ASIAQ3ZX9KP2LM7NW4RT", "AWS access key ID"},
		{"aws key id too short", "X", "AKIAQ3ZX9KP2LM7NW4R", ""},
		{"aws key id inside a word", "X", "XAKIAQ3ZX9KP2LM7NW4RT", ""},
		{"github classic", "X", "ghp_" + fakeBody36, "GitHub token"},
		{"github low entropy", "X", "ghp_000000000000000000000000abcdef000000", "GitHub token"},
		{"github server-to-server", "X", "ghs_" + fakeBody36, "GitHub token"},
		{"github fine-grained", "X", "github_pat_11ABCDEFG0" + fakeBody36 + "_" + fakeBody36, "GitHub token"},
		{"gitlab", "X", "glpat-xY3kLm9PqR2sT4uV6wZ8", "GitLab token"},
		{"slack bot", "X", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "Slack token"},
		{"slack app", "X", "xapp-1-A0123456789-1234567890123-abcdef0123456789", "Slack token"},
		{"stripe live", "X", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "Stripe secret key"},
		{"stripe restricted", "X", "rk_live_4eC39HqLyjWDarjtT1zdp7dc", "Stripe restricted key"},
		{"stripe publishable is public", "X", "pk_live_4eC39HqLyjWDarjtT1zdp7dc", ""},
		{"vault service token", "X", "hvs.CAESIJlU3ZzJm0tV4b5Xq3x1n2Yk", "Vault token"},
		{"vault legacy token", "X", "s.Zq8Xw3Kp9Lm2Nv4Rt6Yb1Cd5", "Vault token"},
		{"vault legacy shape without digits", "X", "s.abcdefghijklmnopqrstuvwx", ""},
		{"host name starting with s.", "X", "s.example.com", ""},
		{"google api key", "X", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "Google API key"},
		{"npm", "X", "npm_" + fakeBody36, "npm token"},
		{"openai", "X", "sk-proj-" + fakeBody36 + "abcd", "OpenAI"},
		{"sendgrid", "X", "SG." + fakeBody36[:22] + "." + fakeBody36 + "aB3dE5f", "SendGrid"},
		{"bootstrap token", "X", "abcdef.0123456789abcdef", "bootstrap token"},
		{"bootstrap shape without digits", "X", "abcdef.ghijklmnopqrstuv", ""},
		// Structure.
		{"pem private key", "TLS_KEY", fakePEM, "PEM private key"},
		{"pem openssh key", "X", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "PEM private key"},
		{"pem in json", "SA_JSON", `{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}`, "PEM private key"},
		{"pem certificate is public", "X", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----", ""},
		{"pem public key is public", "X", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----", ""},
		{"base64 of a pem private key", "X", base64.StdEncoding.EncodeToString([]byte(fakePEM)), "base64 of text that contains a PEM private key"},
		{"jwt", "X", fakeJWT, "JSON Web Token"},
		{"jwt after Bearer", "X", "Bearer " + fakeJWT, "JSON Web Token"},
		{"eyJ that is not a jwt", "X", "eyJmZWF0dXJlcyI6eyJzZWFyY2giOnRydWV9fQ==", ""},
		{"three parts, header not json", "X", "eyJub3QganNvbg.eyJzdWIiOiIxIn0.abc", ""},
		{"postgres url", "DATABASE_URL", "postgres://app:S3cretPassw0rd@db.example.com:5432/app", "URL with a password"},
		{"redis url, empty user", "X", "redis://:q3Zx9Kp2Lm7N@redis:6379/0", "URL with a password"},
		{"jdbc url with password param", "X", "jdbc:postgresql://db:5432/app?user=app&password=q3Zx9Kp2Lm7N", "secret assignment"},
		{"url with user only", "X", "https://user@example.com/path", ""},
		{"url without credentials", "X", "https://api.example.com/v1?limit=10", ""},
		{"url with placeholder password", "X", "postgres://app:${DB_PASSWORD}@db:5432/app", ""},
		{"url with a common word as password", "X", "postgres://app:password@localhost/app", "URL with a password"},
		{"url with a placeholder password", "X", "postgres://app:<password>@localhost/app", ""},
		{"url with a reference as password", "X", "postgres://app:${DB_PASS}@localhost/app", ""},
		{"ado connection string", "X", "Server=tcp:sql,1433;Database=o;User Id=o;Password=q3Zx9Kp2!;Encrypt=true;", "secret assignment"},
		{"ado Pwd", "X", "Data Source=sql01;Initial Catalog=crm;Pwd=q3Zx9Kp2Lm;", "secret assignment"},
		{"azure storage account key", "X", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=" + strings.Repeat("q3Zx9Kp2", 8) + "==;", "secret assignment"},
		{"sas signature", "X", "https://a.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig=q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0", "secret assignment"},
		{"api_key query parameter", "X", "https://api.example.com/v1?api_key=3f9c0e1b2d4f6a8c", "secret assignment"},
		{"jvm option", "JAVA_OPTS", "-Xmx1g -Djavax.net.ssl.keyStorePassword=q3Zx9Kp2! -Dfile.encoding=UTF-8", "secret assignment"},
		{"flag", "ARGS", "--db-host=db --db-password=q3Zx9Kp2Lm --verbose", "secret assignment"},
		{"json password", "CONFIG", `{"db": {"host": "db", "password": "q3Zx9Kp2Lm"}}`, "secret assignment"},
		{"yaml password", "CONFIG", "password: q3Zx9Kp2Lm", "secret assignment"},
		{"password file flag", "ARGS", "--password-file=/etc/app/password --token-ttl=3600", ""},
		{"min length", "X", "password_min_length=12", ""},
		{"changeit truststore", "X", "-Djavax.net.ssl.trustStorePassword=changeit", ""},
		{"placeholder assignment", "X", "password=${DB_PASSWORD}", ""},
		{"boolean assignment", "X", "token=true", ""},
		{"arn with :secret:", "X", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf", ""},
		{"basic auth", "X", "Basic " + base64.StdEncoding.EncodeToString([]byte("deploy:q3Zx9Kp2Lm")), "Authorization"},
		{"basic without colon", "X", "Basic " + base64.StdEncoding.EncodeToString([]byte("just-a-word")), ""},
		{"bearer token", "X", "Bearer q3Zx9Kp2Lm7Nw4Rt8Vb1", "Authorization"},
		{"bearer alone", "TOKEN_TYPE", "Bearer", ""},
		// gitleaks (second stage).
		{"gitleaks: twilio api key", "TWILIO_AUTH", "SK0123456789abcdef0123456789abcdef", "gitleaks rule twilio-api-key"},
		{"slack webhook", "ALERTS", "https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFGHI/q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6H", "Slack webhook URL"},
		// Webhook URLs whose path is the credential.
		{"discord webhook", "NOTIFY_URL", "https://discord.com/api/webhooks/1234567890123456789/" + fakeBody36 + "q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0Jf5Gs3A", "Discord webhook URL"},
		{"discordapp webhook", "X", "https://discordapp.com/api/webhooks/1234567890123456789/" + fakeBody36 + "q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0Jf5Gs3A", "Discord webhook URL"},
		{"discord invite", "X", "https://discord.com/invite/acme", ""},
		{"discord webhook without token", "X", "https://discord.com/api/webhooks/1234567890123456789", ""},
		{"teams webhook", "X", "https://acme.webhook.office.com/webhookb2/1b2c3d4e-aaaa-bbbb-cccc-123456789abc@0f0e0d0c-aaaa-bbbb-cccc-123456789abc/IncomingWebhook/0123456789abcdef0123456789abcdef/0f0e0d0c-aaaa-bbbb-cccc-123456789abc", "Teams webhook URL"},
		// Authorization header values under any name.
		{"basic header", "UPSTREAM_HEADERS", "Authorization: Basic YWRtaW46aHVudGVyMg==", "Authorization credential"},
		{"basic unpadded", "X", "Basic YWRtaW46aHVudGVyMg", "Authorization credential"},
		{"basic no colon", "X", "Basic aGVsbG8=", ""},
		{"bearer short token", "X", "Bearer a1b2c3d4e5", "Authorization credential"},
		{"bearer reference", "X", "Bearer $(API_TOKEN)", ""},
		{"token scheme", "X_AUTH", "token 0123456789abcdef0123456789abcdef01234567", "Authorization credential"},
		{"okta ssws", "X", "SSWS 00q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0Jf5Gs3Ae9Ui2O", "Authorization credential"},
		{"splunk hec", "X", "Splunk 12345678-1234-1234-1234-123456789abc", "Authorization credential"},
		{"token in prose", "HELP", "the token expires after a day", ""},
		// Known by name and shape.
		{"datadog app key", "DD_APP_KEY", "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c", "Datadog application key"},
		{"datadog application key", "DD_APPLICATION_KEY", "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c", "Datadog application key"},
		{"datadog api key", "DATADOG_API_KEY", "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "Datadog API key"},
		{"40 hex elsewhere", "BUILD_SHA", "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c", ""},
		// Vendor prefixes.
		{"mailchimp", "X", "0123456789abcdef0123456789abcdef-us12", "Mailchimp"},
		{"entra client secret", "X", "Abc8Q~dEfGhIjKlMnOpQrStUvWxYz0123456789", "Entra ID"},
		{"age secret key", "X", "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQY", "age secret key"},
		{"google oauth secret", "X", "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", "Google OAuth client secret"},
		{"docker hub pat", "X", "dckr_pat_q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0Jf", "Docker Hub"},
		{"linear", "X", "lin_api_" + fakeBody36 + "q3Zx", "Linear"},
		// References and configuration in JSON.
		{"json plain word", "FEATURES", `{"rollout": {"seed": "orders"}}`, ""},
		{"json password", "CONFIG", `{"password": "hunter22"}`, "secret assignment"},
		{"json reference", "CONFIG", `{"password": "vault:secret/data/app#password"}`, ""},
		{"gitleaks generic rule ignored", "CLIENT_KEY_ID", "q3Zx9Kp2Lm7Nw4Rt8Vb1", ""},
		// Benign.
		{"short", "LOG_LEVEL", "info", ""},
		{"uuid", "REQUEST_ID", "123e4567-e89b-12d3-a456-426614174000", ""},
		{"git sha", "GIT_COMMIT", "3b4c9e1f0a2d5e6f7a8b9c0d1e2f3a4b5c6d7e8f", ""},
		{"image digest", "IMAGE", "registry.example.com/app@sha256:3b4c9e1f0a2d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f", ""},
		{"ssh public key", "DEPLOY_KEY_PUB", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0Jf5Gs3Ae9Ui2Oo7Pk deploy@ci", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := e.Evaluate(podWithEnv(lit(tt.env, tt.value)))
			switch {
			case tt.want == "" && len(d.Violations) > 0:
				t.Errorf("flagged: %s", d.Violations[0].Reason)
			case tt.want != "" && len(d.Violations) == 0:
				t.Errorf("not flagged, want %q", tt.want)
			case tt.want != "" && !strings.Contains(d.Violations[0].Reason, tt.want):
				t.Errorf("reason %q, want %q", d.Violations[0].Reason, tt.want)
			}
		})
	}
}

// TestGitleaksPrefilter checks that plain values never reach gitleaks.
func TestGitleaksPrefilter(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		want  bool
	}{
		{"info", false},
		{"https://api.example.com/v1", false},
		{"/var/lib/app/data/cache-2024", false},
		{"3b4c9e1f0a2d5e6f7a8b9c0d1e2f3a4b5c6d7e8f", false},              // hex only
		{"123e4567-e89b-12d3-a456-426614174000", false},                  // UUID
		{"acme-prod-284512", false},                                      // words and numbers
		{"-Xms512m -Xmx2g -XX:+UseG1GC -XX:MaxGCPauseMillis=200", false}, // flags
		{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false},
		{"sha512-" + strings.Repeat("q3Zx9Kp2+/", 8), false},
		{"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC3q3Zx9Kp2Lm7Nw4Rt8Vb1 me@host", false},
		{"SK0123456789abcdef0123456789abcdef", true},
		{"q3Zx9Kp2Lm7Nw4Rt8Vb1", true},
		{"pul-0123456789abcdef0123456789abcdef01234567", true},
		{"https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFGHI/q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6H", true},
		{strings.Repeat("q3Zx9Kp2", 1100), false}, // longer than 8 KiB
	} {
		l := newLiteral(tt.value)
		if got := worthGitleaks(&l); got != tt.want {
			t.Errorf("worthGitleaks(%.40q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

package policy

import "testing"

func TestRuleEnvNameLiteral(t *testing.T) {
	t.Parallel()
	e := only(t, RuleEnvNameLiteral)
	tests := []struct {
		name, value string
		want        bool
	}{
		// Secret names with credential-looking literals.
		{"DB_PASSWORD", "Tr0ub4dor&3xY!", true},
		{"POSTGRES_PASSWORD", "Summer2024!", true},
		{"dbPassword", "P@ssw0rd123", true},
		{"spring.datasource.password", "hX9#qLm2vR", true},
		{"REDIS_PASS", "s3cr3tpassw0rd", true},
		{"SFTP_PWD", "hX9#qLm2vR", true},
		{"CLIENT_SECRET", "q3Zx9Kp2Lm7Nw4Rt8Vb1", true},
		{"GITHUB_TOKEN", "3b4c9e1f0a2d5e6f7a8b9c0d1e2f3a4b5c6d7e8f", true}, // old 40-hex tokens
		{"API_KEY", "3f9c0e1b2d4f6a8c", true},
		{"X_APIKEY", "3f9c0e1b2d4f6a8c", true},
		{"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYq3Zx9Kp2Lm", true},
		{"STORAGE_ACCESS_KEY", "q3Zx9Kp2Lm7Nw4Rt8Vb1", true},
		{"SAML_PRIVATE_KEY", "q3Zx9Kp2Lm7Nw4Rt8Vb1", true},
		{"LDAP_CREDENTIALS", "q3Zx9Kp2Lm7Nw4Rt8Vb1", true},
		{"DB_CREDS", "q3Zx9Kp2Lm7Nw4Rt8Vb1", true},
		{"SIGNING_KEY", "q3Zx9Kp2Lm7Nw4Rt8Vb1", true},
		{"RAILS_MASTER_KEY", "3f9c0e1b2d4f6a8c3f9c0e1b2d4f6a8c", true},
		{"VAULT_SECRET_ID", "123e4567-e89b-12d3-a456-426614174000", true}, // AppRole secret ids are UUIDs
		{"HEROKU_API_KEY", "123e4567-e89b-12d3-a456-426614174000", true},
		{"TOTP_SECRET", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", true},
		{"ERLANG_COOKIE", "QWERTYUIOPASDFGHJKLZXCVBNMQWERTY", true},
		{"SECRET_KEY_BASE", "q3Zx9Kp2Lm7Nw4Rt8Vb1", true},
		{"DB_PASSWORD", "production2024", true},
		{"DB_PASSWORD", "postgres://app:q3Zx9Kp2@db/app", true},
		// The brief's must-pass list.
		{"TOKEN_AUDIENCE", "vault", false},
		{"SECRET_MOUNT_PATH", "/vault/secrets", false},
		{"PASSWORD_MIN_LENGTH", "12", false},
		{"DB_PASSWORD_FILE", "/vault/secrets/db", false},
		{"SECRET_NAME", "db-creds", false},
		{"ENABLE_TOKEN_AUTH", "true", false},
		{"API_TOKEN", "false", false},
		{"DB_PASSWORD", "12345678", false},
		{"DB_PASSWORD", "1h30m", false},
		{"DB_PASSWORD", "/run/secrets/db-password", false},
		{"DB_PASSWORD", "https://vault.example.com/v1/secret/data/db", false},
		{"DB_PASSWORD", "changeme", false},
		{"ADMIN_PASSWORD", "password", false},
		{"POSTGRES_PASSWORD", "postgres", false},
		{"DB_PASSWORD", "$(DB_PASSWORD_FROM_FILE)", false},
		{"DB_PASSWORD", "${DB_PASSWORD}", false},
		{"DB_PASSWORD", "{{ .Values.db.password }}", false},
		{"DB_PASSWORD", "********", false},
		{"DB_PASSWORD", "correct horse battery staple", false}, // passphrases with spaces: not reported
		{"DB_PASSWORD", "hunter2", false},                      // shorter than 8
		{"DB_PASSWORD", "db.example.com", false},
		// Qualified names describe a secret.
		{"API_KEY_HEADER", "X-API-Key-2024", false},
		{"TOKEN_TTL", "1h", false},
		{"JWT_ALGORITHM", "RS256", false},
		{"PASSWORD_HASHER", "argon2id", false},
		{"SECRET_BACKEND", "vault", false},
		{"TOKEN_ISSUER", "https://issuer.example.com", false},
		{"AWS_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf", false},
		{"ACCESS_KEY_ID", "AKIAQ3ZX9KP2LM7NW4RT", false}, // key ids are known-credential-format's
		{"TOKEN_ENDPOINT", "https://login.example.com/oauth2/token", false},
		{"SECRET_VERSION", "v2024-06-11T10", false},
		{"STRIPE_PUBLISHABLE_KEY", "pk_live_q3Zx9Kp2Lm7Nw4Rt8Vb1", false},
		{"MAPBOX_PUBLIC_TOKEN", "pk.eyJ1IjoiYWNtZSJ9.q3Zx9Kp2Lm7Nw4Rt8Vb1", false},
		// Not secret names at all.
		{"CACHE_KEY", "orders:v2:q3Zx9Kp2Lm7Nw4Rt8Vb1", false},
		{"TOKENIZER_MODEL", "cl100k_base", false},
		{"MAX_TOKENS", "2048", false},
		{"PASS_THROUGH", "Tr0ub4dor&3xY!", false},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			if got := flaggedBy(e, lit(tt.name, tt.value)); (len(got) > 0) != tt.want {
				t.Errorf("flagged by %v, want flagged %v", got, tt.want)
			}
		})
	}
}

func TestSecretName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		kv     bool
		secret bool
	}{
		{"DB_PASSWORD", false, true},
		{"db-password", false, true},
		{"dbPassword", false, true},
		{"DBPASSWORD", false, true},
		{"MYSQL_ROOT_PASSWORD", false, true},
		{"APIKey", false, true},
		{"apiKey", false, true},
		{"X_API_KEY", false, true},
		{"AccountKey", true, true},
		{"SharedAccessKey", true, true},
		{"Pwd", true, true},
		{"PWD", false, true},
		{"PWD_HISTORY", false, false}, // PWD only as the last word
		{"sig", true, true},
		{"sig", false, false},
		{"AUTHTOKEN", false, true},
		{"REFRESH_TOKEN", false, true},
		{"TOKEN", false, true},
		{"PASSWORD_FILE", false, false},
		{"PASSWORD_RESET_URL", false, false},
		{"DB_PASSWORD_SECRET_NAME", false, false},
		{"SECRET_ID", false, true},
		{"ACCESS_KEY_ID", false, false},
		{"PUBLIC_KEY", false, false},
		{"SIGNING_PUBLIC_KEY", false, false},
		{"CACHE_KEY", false, false},
		{"MONKEY", false, false},
		{"KEY", false, false},
		{"", false, false},
		{"____", false, false},
		{"NUM_TOKENS", false, false},
	} {
		if got := secretName(tt.name, tt.kv); got != tt.secret {
			t.Errorf("secretName(%q, %v) = %v, want %v", tt.name, tt.kv, got, tt.secret)
		}
	}
}

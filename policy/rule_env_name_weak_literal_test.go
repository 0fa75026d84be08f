package policy

import "testing"

func TestRuleEnvNameWeakLiteral(t *testing.T) {
	t.Parallel()
	alone := only(t, RuleEnvNameWeakLiteral)
	all := mustDefault(t)
	tests := []struct {
		env, value string
		want       bool // flagged by env-name-weak-literal alone
		wantAny    bool // flagged by the default policy
	}{
		// The weak and default passwords public manifests carry.
		{"GF_SECURITY_ADMIN_PASSWORD", "admin", true, true},
		{"MYSQL_PASSWORD", "wordpress", true, true},
		{"MYSQL_ROOT_PASSWORD", "rootpass", true, true},
		{"POSTGRES_PASSWORD", "postgres", true, true},
		{"MINIO_SECRET_KEY", "minio123", true, true},
		{"DB_PASSWORD", "password123", true, true},
		{"DB_PASSWORD", "changeme", true, true},
		{"KEYSTORE_PASSWORD", "changeit", true, true},
		{"RABBITMQ_DEFAULT_PASS", "guest", true, true},
		{"REDIS_PWD", "redis", true, true},
		{"JWT_SECRET", "secret", true, true},
		{"SESSION_SECRET", "keyboard cat", true, true},
		{"VAULT_TOKEN", "root", true, true},
		{"STRIPE_API_KEY", "test", true, true},
		{"clientSecret", "hunter2", true, true},
		{"APP_KEY", "base64-app", true, true},
		{"DB_PASSWORD", "Tr0ub4dor&3xY!", true, true}, // a strong one too, when alone
		// Qualified names describe the secret.
		{"DB_PASSWORD_FILE", "/vault/secrets/db", false, false},
		{"PASSWORD_MIN_LENGTH", "12", false, false},
		{"MYSQL_ALLOW_EMPTY_PASSWORD", "true", false, false},
		{"MYSQL_RANDOM_ROOT_PASSWORD", "yes", false, false},
		{"PASSWORD_ENCRYPTION", "scram-sha-256", false, false},
		{"REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm", false, false},
		{"TOKEN_AUDIENCE", "vault", false, false},
		// Weaker words are env-name-literal's, which judges the value.
		{"MINIO_ACCESS_KEY", "minio", false, false},
		{"CREDENTIALS_PROVIDER", "irsa", false, false},
		{"RANDOM_SEED", "orders", false, false},
		// Values that are not passwords.
		{"DB_PASSWORD", "", false, false},
		{"DB_PASSWORD", "$(DB_PASSWORD_FROM_FILE)", false, false},
		{"DB_PASSWORD", "${DB_PASSWORD}", false, false},
		{"DB_PASSWORD", "{{ .Values.db.password }}", false, false},
		{"DB_PASSWORD", "<your password>", false, false},
		{"DB_PASSWORD", "********", false, false},
		{"DB_PASSWORD", "none", false, false},
		{"DB_PASSWORD", "vault:secret/data/x#password", false, false},
		{"DB_PASSWORD", "ref+vault://secret/data/x#/password", false, false},
		{"DB_PASSWORD", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf", false, false},
		{"DB_PASSWORD", "projects/acme/secrets/db/versions/3", false, false},
		{"DB_PASSWORD", "op://prod/db/password", false, false},
		{"VAULT_SECRET", "secret/data/team-a/app", false, false},
		{"TOKEN_URL_SECRET", "https://login.example.com/token", false, false},
		{"INGRESS_TLS_SECRET", "web-tls", false, false},
		{"DB_PASSWORD_SECRET", "postgres", false, false},
		{"ADMIN_PASSWORD", "db-credentials", false, false},
		{"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET", "airflow-metadata", false, false},
		{"API_TOKEN", "30", false, false},
		{"OPENAI_API_KEY", "OPENAI_API_KEY_VALUE", false, false},
		{"ETCD_DISCOVERY_TOKEN", "INSERT_ETCD_DISCOVERY_TOKEN", false, false},
		{"PASSWORD", "PASSWORD", true, true}, // works as set
		{"DB_PASSWORD", "INSERT_OTHER_THING", true, true},
		{"SECRET_ID", "orders-db-key", false, false},
		{"VAULT_SECRET_ID", "0f5c2a7e-6b1d-4c3a-9e8f-2d7b1a4c6e90", false, true}, // env-name-literal's
		{"API_TOKEN", "redis.default.svc:6379", false, false},
		{"JWT_SECRET", "This value is set by the operator from the Secret named in the release values", false, false},
		{"SIGNING_KEY", "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			if got := len(alone.Evaluate(podWithEnv(lit(tt.env, tt.value))).Violations) > 0; got != tt.want {
				t.Errorf("env-name-weak-literal alone: flagged = %v, want %v", got, tt.want)
			}
			if got := len(all.Evaluate(podWithEnv(lit(tt.env, tt.value))).Violations) > 0; got != tt.wantAny {
				t.Errorf("default policy: flagged = %v, want %v", got, tt.wantAny)
			}
		})
	}
}

// TestWeakLiteralDisabledAlone checks a team can switch the rule off and
// keep the others.
func TestWeakLiteralDisabledAlone(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, Spec{Rules: RuleSettings{Disabled: []string{RuleEnvNameWeakLiteral}}})
	if v := e.Evaluate(podWithEnv(lit("POSTGRES_PASSWORD", "postgres"))).Violations; len(v) != 0 {
		t.Errorf("weak password flagged with the rule off: %v", v)
	}
	if v := e.Evaluate(podWithEnv(lit("POSTGRES_PASSWORD", "Tr0ub4dor&3xY!"))).Violations; len(v) != 1 || v[0].RuleID != RuleEnvNameLiteral {
		t.Errorf("strong password with the weak rule off: %v, want one env-name-literal", v)
	}
}

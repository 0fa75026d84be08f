package policy

import "testing"

func TestIsReference(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{"$(DB_PASSWORD)", true},
		{"${DB_PASSWORD}", true},
		{"${DB_PASSWORD:-hunter2}", false}, // the default is a literal
		{"$(A)$(B)", false},
		{"{{ .Values.password }}", true},
		{"{{resolve:secretsmanager:prod/db:SecretString:password}}", true},
		{"vault:secret/data/team-a/db#password", true},
		{"vault:secret/data/team-a/db#password#3", true},
		{">>vault:database/creds/app#password", true},
		{"vault:secret/data/team-a/db", false}, // bank-vaults needs the key
		{"vault:", false},
		{"vault:s3cr3t#x y", false},
		{"ref+vault://secret/data/app#/password", true},
		{"ref+awssecrets://prod/db#/password", true},
		{"ref+://x", false},
		{"op://prod/db/password", true},
		{"sm://acme/db-password", true},
		{"berglas://acme-secrets/db", true},
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf", true},
		{"arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db/password", true},
		{"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"arn:aws:iam::123456789012:user/admin", false},
		{"projects/acme/secrets/db-password", true},
		{"projects/acme/secrets/db-password/versions/latest", true},
		{"projects/acme/topics/orders", false},
		{"@Microsoft.KeyVault(SecretUri=https://acme.vault.azure.net/secrets/db/)", true},
		{"ENC[AES256_GCM,data:q3Zx9Kp2,iv:a,tag:b,type:str]", true},
		{"hunter2", false},
		{"postgres://app:hunter2@db/app", false},
	} {
		if got := isReference(tt.v); got != tt.want {
			t.Errorf("isReference(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// TestReferencesPassEveryRule: a reference under any name, in any rule,
// is not a secret.
func TestReferencesPassEveryRule(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	for _, v := range []string{
		"vault:secret/data/team-a/db#password",
		"ref+vault://secret/data/team-a/db#/password",
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:team-a/db-Q3Zx9K",
		"projects/acme-prod/secrets/Q3Zx9Kp2Lm7Nw4Rt8Vb1Yc6Hd0Jf5Gs3/versions/2",
		"op://team-a/db/password",
	} {
		for _, name := range []string{"DB_PASSWORD", "API_TOKEN", "DATABASE", "X"} {
			if d := e.Evaluate(podWithEnv(lit(name, v))); len(d.Violations) > 0 {
				t.Errorf("%s=%s flagged: %s", name, v, d.Violations[0].RuleID)
			}
		}
	}
}

package policy

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestDetectionClasses holds the default policy to each class of value the
// detection rules decide, on both sides: the rule that reports it, or ""
// when nothing may.
func TestDetectionClasses(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	cipher := base64.StdEncoding.EncodeToString([]byte("\x8f\x01\xe3\x9a\x7c\x44\xd0\x12\xfe\x6b\x3a\x91\x05\xcc\x27\x80\x9d\x4e\xb1\x73\x1a\xe8\x56\x02\x11\x3c\xa0\x7e"))
	kcf, weak, nl, he := RuleKnownCredentialFormat, RuleEnvNameWeakLiteral, RuleEnvNameLiteral, RuleHighEntropyLiteral
	tests := []struct {
		class, name, v, want string
	}{
		// A connection string whose password is a common word: weak, not
		// a placeholder, for the URL rule and the weak rule alike.
		{"dsn word", "DATABASE_URL", "postgres://app:password@db/x", kcf},
		{"dsn word", "DATABASE_URL", "mysql://root:changeme@db:3306/x", kcf},
		{"dsn word", "REDIS_URL", "redis://:secret@redis:6379/0", kcf},
		{"dsn word", "DB_PASSWORD", "password", weak},
		{"dsn word", "DB_URI_PASSWORD", "postgres://app:admin@db/x", kcf},
		{"dsn word", "DB_CONN", "Server=db;User Id=sa;Password=password;", kcf},
		{"dsn word", "JDBC_URL", "jdbc:sqlserver://db;user=sa;password=secret", kcf},
		{"dsn word", "DB_DSN", "root:password@tcp(mysql:3306)/app?parseTime=true", kcf},
		{"dsn word", "PG_DSN", "host=db port=5432 user=app password=pw dbname=x sslmode=disable", kcf},
		{"dsn word", "JDBC_URL", "jdbc:postgresql://db:5432/x?user=app&password=pw", kcf},
		{"dsn word", "ODBC", "Driver={ODBC Driver 18};Server=db;Uid=sa;Pwd=admin;", kcf},
		{"dsn placeholder", "DB_DSN", "root:${MYSQL_PASSWORD}@tcp(mysql:3306)/app", ""},
		{"dsn placeholder", "DB_DSN", "root@tcp(mysql:3306)/app", ""},
		{"dsn placeholder", "PG_DSN", "host=db port=5432 user=app dbname=x sslmode=disable", ""},
		{"dsn placeholder", "DATABASE_URL", "postgres://user:<password>@db/x", ""},
		{"dsn placeholder", "DATABASE_URL", "postgres://user:${DB_PASS}@db/x", ""},
		{"dsn placeholder", "DATABASE_URL", "postgres://user:$(DB_PASS)@db/x", ""},
		{"dsn placeholder", "DATABASE_URL", "postgres://user:****@db/x", ""},
		{"dsn placeholder", "DATABASE_URL", "postgres://user:your-password-here@db/x", ""},
		{"dsn placeholder", "DATABASE_URL", "postgres://user@db/x", ""},
		// A secret inside a structured value.
		{"structured", "APP_CONFIG", `{"apiKey":"abc123xyz"}`, kcf},
		{"structured", "APP_CONFIG", `{"password":"admin"}`, kcf},
		{"structured", "APP_CONFIG", `{"db": {"password": "hunter2"}}`, kcf},
		{"structured", "APP_CONFIG", `{"token":"letmein"}`, kcf},
		{"structured", "APP_CONFIG", "password: hunter2", kcf},
		{"structured", "APP_CONFIG", "db:\n  host: db\n  password: admin\n", kcf},
		{"structured", "APP_CONFIG", "auth:\n  - clientSecret: s3cr3t\n", kcf},
		{"structured", "APP_CONFIG", "db:\n  password: \"admin\"\n", kcf},
		{"structured", "KAFKA_SASL_JAAS_CONFIG", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="pw";`, kcf},
		{"structured", "APP_ENV", "DB_HOST=db\nDB_PASS=pw\n", kcf},
		{"structured", "APP_PROPERTIES", "spring.datasource.url=jdbc:postgresql://db/x\nspring.datasource.password=admin", kcf},
		{"structured benign", "APP_CONFIG", `{"password":"${DB_PASSWORD}"}`, ""},
		{"structured benign", "APP_ENV", "DB_HOST=db\nDB_PASS=\n", ""},
		{"structured benign", "APP_ARGS", "--tls-secret=ingress-tls --port=8443", ""},
		{"structured benign", "APP_CONFIG", `{"password":"<password>"}`, ""},
		{"structured benign", "APP_CONFIG", `{"passwordFile":"/run/secrets/db"}`, ""},
		{"structured benign", "APP_CONFIG", `{"tokenTTL":"30s","secretName":"app-secret"}`, ""},
		{"structured benign", "APP_CONFIG", `{"seed":"orders","cookie":"session"}`, ""},
		{"structured benign", "APP_CONFIG", "db:\n  host: db\n  password: \n", ""},
		{"structured benign", "APP_CONFIG", "tls:\n  secret: ingress-tls\n", ""},
		{"structured benign", "MOTD", "Reset your password: see the portal", ""},
		{"structured benign", "HELP", "token: paste it here", ""},
		// A random token of moderate length under a name ending in KEY.
		{"key name", "FOO_BAR_KEY", "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9x", he},
		{"key name", "RELAY_KEY", "Zx81kPq0Lm3Nb7Vc2Xs9Qw4E", he},
		{"key name benign", "CACHE_KEY", "orders-v2", ""},
		{"key name benign", "PARTITION_KEY", "UserProfileCacheV2Key01", ""},
		{"key name benign", "FOO_PUBLIC_KEY", "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9x", ""},
		{"key name benign", "FOO_BAR_KEY_ID", "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9x", ""},
		// Cloud connection strings in their vendor's syntax.
		{"vendor", "AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=mykey;EndpointSuffix=core.windows.net", kcf},
		{"vendor", "AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=secret", kcf},
		{"vendor", "SERVICEBUS", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=abc", kcf},
		{"vendor", "EVENTHUB", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=password;EntityPath=hub", kcf},
		{"vendor", "SIGNALR", "Endpoint=https://x.service.signalr.net;AccessKey=foo;Version=1.0;", kcf},
		{"vendor", "IOTHUB", "HostName=x.azure-devices.net;DeviceId=d;SharedAccessKey=devkey", kcf},
		{"vendor", "COSMOS", "AccountEndpoint=https://x.documents.azure.com:443/;AccountKey=cosmos;", kcf},
		{"vendor", "REDIS", "redis:6380,password=pw,ssl=True,abortConnect=False", kcf},
		{"vendor", "AZURE_STORAGE_ACCOUNT_KEY", "devkey", weak},
		{"vendor", "AzureWebJobsStorage__accountKey", "storagekey1", weak},
		{"vendor", "SERVICEBUS_SHARED_ACCESS_KEY", "sbkey", weak},
		{"vendor", "OCP_APIM_SUBSCRIPTION_KEY", "apimkey", weak},
		{"vendor", "AZURE_STORAGE_ACCESS_KEY", "devkey", weak},
		{"vendor benign", "MINIO_ACCESS_KEY", "minio", ""},
		{"vendor benign", "STORAGE_ACCESS_KEY", "minio", ""},
		{"vendor benign", "AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=<account-key>", ""},
		{"vendor benign", "AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=$(KEY)", ""},
		{"vendor benign", "SERVICEBUS", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=", ""},
		{"vendor benign", "APPINSIGHTS", "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://x.in.applicationinsights.azure.com/", ""},
		// A Kubernetes object's name under a secret name.
		{"object name", "TLS_SECRET", "ingress-cert", ""},
		{"object name", "CA_SECRET", "root-ca", ""},
		{"object name", "WEBHOOK_SECRET", "webhook-server-cert", ""},
		{"object name", "JWT_SECRET", "jwt-keys", ""},
		{"object name", "OAUTH_SECRET", "oauth2-proxy-auth", ""},
		{"object name", "REGISTRY_SECRET", "registry-htpasswd", ""},
		{"object name", "KAFKA_SECRET", "kafka-truststore", ""},
		{"object name", "KUBECONFIG_SECRET", "cluster-kubeconfig", ""},
		{"object name", "IMAGE_PULL_SECRET", "regcred", ""},
		{"object name weak", "JWT_SECRET", "jwt-key", weak},
		{"object name weak", "SESSION_SECRET", "super-secret-session-key", weak},
		{"object name weak", "JWT_SECRET", "Ingress-Cert", nl},
		{"object name weak", "JWT_SECRET", "certificate", weak},
		// Fill-in text.
		{"fill-in", "APP_SECRET", "your-secret-here", ""},
		{"fill-in", "API_KEY", "sk-your-key-here", ""},
		{"fill-in", "OPENAI_API_KEY", "sk-xxxxxxxxxxxxxxxxxxxxxxxx", ""},
		{"fill-in", "API_KEY", "YOUR_API_KEY", ""},
		{"fill-in", "GITHUB_TOKEN", "GITHUB_TOKEN", ""},
		{"fill-in", "SLACK_BOT_TOKEN", "BOT_TOKEN", ""},
		{"fill-in", "JWT_SECRET", "REPLACE_ME", ""},
		{"fill-in", "DB_PASSWORD", "postgres://db/x?password=your-password", ""},
		{"fill-in", "OPENAI_API_KEY", "sk-...", ""},
		{"fill-in", "OPENAI_API_KEY", "sk-<your-key>", ""},
		{"fill-in", "GITHUB_TOKEN", "ghp_yourtokenhere", ""},
		{"fill-in", "STRIPE_SECRET_KEY", "sk_test_000000000000", ""},
		{"fill-in vendor", "SLACK_BOT_TOKEN", "xoxb-your-slack-bot-token-here", ""},
		{"fill-in vendor", "SLACK_BOT_TOKEN", "xoxb-xxxxxxxxxxxx-xxxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx", ""},
		{"fill-in vendor", "GITHUB_TOKEN", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", ""},
		{"fill-in vendor", "OPENAI_API_KEY", "sk-proj-your-openai-api-key-goes-here-xxxxxxxx", ""},
		{"fill-in vendor", "STRIPE_SECRET_KEY", "sk_live_XXXXXXXXXXXXXXXXXXXXXXXX", ""},
		{"fill-in vendor", "AWS_ACCESS_KEY_ID", "AKIAXXXXXXXXXXXXXXXX", ""},
		{"fill-in vendor", "GOOGLE_API_KEY", "AIzaXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", ""},
		{"fill-in vendor", "NPM_TOKEN", "npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", ""},
		{"fill-in vendor", "SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX", ""},
		{"fill-in vendor", "AUTHORIZATION", "Bearer your-token-here", ""},
		{"fill-in vendor real", "GITHUB_TOKEN", "ghp_" + strings.Repeat("aB3dE5fG7h", 4)[:36], kcf},
		{"fill-in vendor real", "AWS_ACCESS_KEY_ID", "AKIAQ3EGRTLMZX7PNW5B", kcf},
		{"fill-in vendor real", "SLACK_BOT_TOKEN", "xoxb-your-token " + "xoxb-1234567890-1234567890123-" + strings.Repeat("aB3dE5fG", 3), kcf},
		{"fill-in", "API_KEY", "%API_KEY%", ""},
		{"fill-in", "DB_PASSWORD", "@db.password@", ""},
		{"fill-in", "DB_PASSWORD", "#{DbPassword}#", ""},
		{"fill-in", "DB_PASSWORD", "__DB_PASSWORD__", ""},
		{"fill-in weak", "DB_PASSWORD", "yourpassword", weak},
		{"fill-in weak", "PASSWORD", "PASSWORD", weak},
		{"fill-in weak", "POSTGRES_PASSWORD", "postgres_password", weak},
		{"fill-in weak", "API_KEY", "your-key-aB3dE5fG7hJ9kL1m", nl},
		// Instructions or prose.
		{"prose", "SECRET", "Set this to a random string of 32 characters", ""},
		{"prose", "APP_SECRET", "Replace with the output of openssl rand -hex 32", ""},
		{"prose", "TOKEN", "Get it from the admin console", ""},
		{"prose weak", "SESSION_SECRET", "keyboard cat", weak},
		{"prose weak", "PASSPHRASE", "correct horse battery staple", weak},
		// Ciphertext under a name that says so.
		{"ciphertext", "ENCRYPTED_PASSWORD", cipher, ""},
		{"ciphertext", "DB_PASSWORD_ENCRYPTED", cipher, ""},
		{"ciphertext", "SEALED_TOKEN", cipher, ""},
		{"ciphertext", "ENCRYPTED_PASSWORD", "ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)", ""},
		{"ciphertext", "ENCRYPTED_SECRET", "$ANSIBLE_VAULT;1.1;AES256\n62313365396662343061393464336163383764373764613633653634306231386433626436623361\n", ""},
		{"ciphertext no", "DB_PASSWORD", cipher, nl},
		{"ciphertext no", "SESSION_BLOB", cipher, he},
		{"ciphertext no", "ENCRYPTION_KEY", cipher, nl},
		{"ciphertext no", "ENCRYPTED_PASSWORD", "admin", weak},
		{"ciphertext no", "ENCRYPTED_PASSWORD", base64.StdEncoding.EncodeToString([]byte("password=hunter2")), kcf},
		// A numeric password or PIN; a setting's number passes.
		{"pin", "SECURITY_TOKEN", "12345", weak},
		{"pin", "ADMIN_PIN_PASSWORD", "4711", weak},
		{"pin", "API_TOKEN", "30", ""},
		{"pin", "SESSION_SECRET", "86400", ""},
		// The secret half of a key pair.
		{"secret access key", "AWS_SECRET_ACCESS_KEY", "minioadmin", weak},
		{"secret access key", "AWS_ACCESS_KEY_ID", "minioadmin", ""},
		// A trust store's password: only a strong one.
		{"trust store", "TRUSTSTORE_PASSWORD", "changeit", ""},
		{"trust store", "JAVA_OPTS", "-Djavax.net.ssl.trustStorePassword=changeit", ""},
		{"trust store", "TRUSTSTORE_PWD", "aZ3$k9Lm!2", nl},
		{"trust store", "KEYSTORE_PASSWORD", "changeit", weak},
	}
	for _, tt := range tests {
		t.Run(tt.class+"/"+tt.name+"="+strings.ReplaceAll(tt.v, "\n", `\n`), func(t *testing.T) {
			t.Parallel()
			got := ""
			if v := e.Evaluate(podWithEnv(lit(tt.name, tt.v))).Violations; len(v) > 0 {
				got = v[0].RuleID
			}
			if got != tt.want {
				t.Errorf("flagged by %q, want %q", got, tt.want)
			}
		})
	}
}

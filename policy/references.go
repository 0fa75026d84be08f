package policy

import "strings"

// isReference reports whether the whole of v (trimmed) points at a secret
// kept elsewhere instead of being one. Such values pass every rule: they are
// how a manifest names a secret without carrying it. Recognised:
//
//   - Kubernetes and shell references: $(VAR), ${VAR};
//   - templates: {{ ... }} (Helm, Go, CloudFormation's {{resolve:...}});
//   - bank-vaults' Vault references: vault:<path>#<key>[#<version>], also
//     behind its >> prefix;
//   - helmfile/vals references: ref+<backend>://...;
//   - 1Password references: op://<vault>/<item>/<field>;
//   - Berglas references: sm://<project>/<secret>, berglas://<bucket>/<object>;
//   - ARNs of AWS Secrets Manager, SSM parameters and KMS keys;
//   - GCP Secret Manager names: projects/<p>/secrets/<s>[/versions/<v>];
//   - Azure Key Vault references: @Microsoft.KeyVault(...);
//   - SOPS-encrypted values: ENC[AES256_GCM,data:...].
//
// The grammar is strict (the whole value, no white space except inside a
// template): "vault:" alone, or a token with "$(" somewhere inside it, is
// not a reference.
func isReference(v string) bool {
	v = strings.TrimSpace(v)
	if len(v) < 4 {
		return false
	}
	switch v[0] { // the first bytes of the forms below
	case '{', '$', '@', 'E', '>', 'v', 'r', 'o', 's', 'b', 'a', 'p':
	default:
		return false
	}
	switch {
	case strings.HasPrefix(v, "{{") && strings.HasSuffix(v, "}}"):
		return strings.Count(v, "{{") == 1
	case strings.HasPrefix(v, "$(") && strings.HasSuffix(v, ")"):
		return envVarName(v[2 : len(v)-1])
	case strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}"):
		name, _, _ := strings.Cut(v[2:len(v)-1], ":")
		return envVarName(name) && !strings.Contains(v, ":-") && !strings.Contains(v, ":=")
	case strings.HasPrefix(v, "@Microsoft.KeyVault(") && strings.HasSuffix(v, ")"):
		return !strings.ContainsAny(v, " \t\n")
	case strings.HasPrefix(v, "ENC[") && strings.HasSuffix(v, "]"):
		return strings.Contains(v, ",data:") && !strings.ContainsAny(v, " \t\n")
	}
	if strings.ContainsAny(v, " \t\r\n") {
		return false
	}
	switch {
	case strings.HasPrefix(v, "vault:") || strings.HasPrefix(v, ">>vault:"):
		_, rest, _ := strings.Cut(v, "vault:")
		path, key, ok := strings.Cut(rest, "#")
		return ok && refPath(path) && key != "" && !strings.Contains(key, "/")
	case strings.HasPrefix(v, "ref+"):
		i := strings.Index(v, "://")
		return i > len("ref+") && isScheme(v[len("ref+"):i]) && len(v) > i+3
	case strings.HasPrefix(v, "op://"), strings.HasPrefix(v, "sm://"), strings.HasPrefix(v, "berglas://"):
		_, rest, _ := strings.Cut(v, "://")
		return strings.Count(rest, "/") >= 1 && refPath(rest)
	case strings.HasPrefix(v, "arn:"):
		return secretStoreARN(v)
	case strings.HasPrefix(v, "projects/"):
		p := strings.Split(v, "/")
		return (len(p) == 4 || len(p) == 6 && p[4] == "versions") && p[1] != "" && p[2] == "secrets" && p[3] != ""
	}
	return false
}

// secretStoreARN reports whether v is the ARN of an AWS Secrets Manager
// secret, an SSM parameter or a KMS key:
// arn:<partition>:<service>:<region>:<account>:<resource>.
func secretStoreARN(v string) bool {
	p := strings.SplitN(v, ":", 6)
	if len(p) != 6 || !strings.HasPrefix(p[1], "aws") || p[5] == "" {
		return false
	}
	switch p[2] {
	case "secretsmanager":
		return strings.HasPrefix(p[5], "secret:")
	case "ssm":
		return strings.HasPrefix(p[5], "parameter/")
	case "kms":
		return strings.HasPrefix(p[5], "key/") || strings.HasPrefix(p[5], "alias/")
	}
	return false
}

// refPath reports whether p is a non-empty path of name segments (letters,
// digits and -_.@+=), as Vault paths and item names are.
func refPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") && len(p) == 1 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !isAlnum(c) && !inSet(c, "-_./@+= ") {
			return false
		}
	}
	return true
}

// envVarName reports whether s is a variable name: letters, digits and
// _ (plus - and ., which Kubernetes allows), not starting with a digit.
func envVarName(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !inSet(c, "_-.") {
			return false
		}
	}
	return true
}

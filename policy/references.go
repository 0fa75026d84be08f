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
	// Dispatch on the first byte: most values start like no reference,
	// and pay for one switch.
	switch v[0] {
	case '{':
		return strings.HasPrefix(v, "{{") && strings.HasSuffix(v, "}}") && strings.Count(v, "{{") == 1
	case '$':
		switch {
		case v[1] == '(' && v[len(v)-1] == ')':
			return envVarName(v[2 : len(v)-1])
		case v[1] == '{' && v[len(v)-1] == '}':
			name, _, _ := strings.Cut(v[2:len(v)-1], ":")
			return envVarName(name) && !strings.Contains(v, ":-") && !strings.Contains(v, ":=")
		}
		return false
	case '@':
		return strings.HasPrefix(v, "@Microsoft.KeyVault(") && strings.HasSuffix(v, ")") && !strings.ContainsAny(v, " \t\n")
	case 'E':
		return strings.HasPrefix(v, "ENC[") && strings.HasSuffix(v, "]") && strings.Contains(v, ",data:") && !strings.ContainsAny(v, " \t\n")
	case 'v', '>':
		rest, ok := strings.CutPrefix(v, "vault:")
		if !ok {
			rest, ok = strings.CutPrefix(v, ">>vault:")
		}
		path, key, found := strings.Cut(rest, "#")
		return ok && found && refPath(path) && key != "" && !strings.ContainsAny(key, "/ \t\n")
	case 'r':
		i := strings.Index(v, "://")
		return strings.HasPrefix(v, "ref+") && i > len("ref+") && isScheme(v[len("ref+"):i]) && len(v) > i+3 && !strings.ContainsAny(v, " \t\n")
	case 'o', 's', 'b':
		for _, p := range [...]string{"op://", "sm://", "berglas://"} {
			if rest, ok := strings.CutPrefix(v, p); ok {
				return strings.Contains(rest, "/") && refPath(rest)
			}
		}
		return false
	case 'a':
		return strings.HasPrefix(v, "arn:") && !strings.ContainsAny(v, " \t\n") && secretStoreARN(v)
	case 'p':
		if !strings.HasPrefix(v, "projects/") || strings.ContainsAny(v, " \t\n") {
			return false
		}
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
		if c := p[i]; !isAlnum(c) && !inSet(c, "-_./@+=") {
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

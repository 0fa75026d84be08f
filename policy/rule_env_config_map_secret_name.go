package policy

import "strconv"

// Rule env-config-map-secret-name (warn only).
//
// Detects: a secret kept in a ConfigMap, by its names: an env var whose
// valueFrom.configMapKeyRef has a secret-looking env var name or key
// (DB_PASSWORD from key "password" of ConfigMap "db"), or an
// envFrom[].configMapRef whose ConfigMap name or prefix says it holds
// secrets (db-credentials, app-secrets, prefix API_TOKEN_). A ConfigMap is
// readable by more people than a Secret and is never encrypted at rest.
//
// Warn only: wisp cannot read the ConfigMap at admission without an API
// call per request (which the design rules out), so it cannot tell a
// password from PASSWORD_POLICY=strict held under a secret-looking key. In
// enforce mode the violation is an admission warning, never a denial; in
// audit mode it is audited like any other.
//
// Reads: env[*].name and env[*].valueFrom.configMapKeyRef.key,
// envFrom[*].configMapRef.name and envFrom[*].prefix, of every container
// kind. Names are judged like env-name-literal's (secretName):
// PASSWORD_MIN_LENGTH, SECRET_NAME or TOKEN_AUDIENCE pass.
// allow.names silences it for the env var names it lists.
// Example (warned):
//
//	env:
//	- name: DB_PASSWORD
//	  valueFrom: {configMapKeyRef: {name: db, key: password}}
func envConfigMapSecretNameRule() Rule {
	return Rule{
		ID:        RuleEnvConfigMapSecret,
		Heuristic: true,
		WarnOnly:  true,
		Summary:   "a secret-looking env var or key comes from a ConfigMap (configMapKeyRef), or envFrom imports a ConfigMap whose name says it holds secrets; a warning, never a denial",
		Since:     ruleCMSince,
		Remedy:    remedyMoveToVault + " (a ConfigMap is not read at admission: this is a warning)",
		check: func(_ *Evaluator, it *item) string {
			switch {
			case it.env != nil && it.env.ValueFrom != nil && it.env.ValueFrom.ConfigMapKeyRef != nil:
				ref := it.env.ValueFrom.ConfigMapKeyRef
				if !it.secretName() && !secretName(ref.Key, false) {
					return ""
				}
				return "value comes from key " + strconv.Quote(ref.Key) + " of ConfigMap " + strconv.Quote(ref.Name) + " under a secret-looking name"
			case it.from != nil && it.from.ConfigMapRef != nil:
				name := it.from.ConfigMapRef.Name
				if !secretName(name, false) && !secretName(it.from.Prefix, false) {
					return ""
				}
				return "every key of ConfigMap " + strconv.Quote(name) + " becomes an env var, and its name says it holds secrets"
			}
			return ""
		},
	}
}

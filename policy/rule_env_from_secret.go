package policy

import "strconv"

// Rule env-from-secret.
//
// Detects: a container that imports every key of a Kubernetes Secret as env
// vars.
// Reads: spec.{initContainers,containers,ephemeralContainers}[*].envFrom[*].secretRef.
// Allowed: envFrom[].configMapRef. allow.names does not apply (there is no
// single name); exempt the pod or the namespace instead.
// Example (flagged):
//
//	envFrom:
//	- secretRef: {name: app-env}
//
// The violation's Env is "envFrom:<secret name>".
func envFromSecretRule() Rule {
	return Rule{
		ID:      RuleEnvFromSecret,
		Summary: "a container imports a whole Kubernetes Secret as env vars (envFrom[].secretRef)",
		Since:   ruleSince,
		Remedy:  remedyVaultFrom,
		check: func(_ *Evaluator, it *item) string {
			if it.from == nil || it.from.SecretRef == nil {
				return ""
			}
			return "every key of Secret " + strconv.Quote(it.from.SecretRef.Name) + " becomes an env var"
		},
	}
}

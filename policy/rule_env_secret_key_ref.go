package policy

import "strconv"

// Rule env-secret-key-ref.
//
// Detects: an env var whose value comes from a Kubernetes Secret.
// Reads: spec.{initContainers,containers,ephemeralContainers}[*].env[*].valueFrom.secretKeyRef.
// Allowed: every other valueFrom (fieldRef, resourceFieldRef,
// configMapKeyRef, fileKeyRef); names on allow.names.
// Example (flagged):
//
//	env:
//	- name: DB_PASSWORD
//	  valueFrom: {secretKeyRef: {name: db-creds, key: password}}
//
// The Secret's name and key are named in the violation; they are not secret.
func envSecretKeyRefRule() Rule {
	return Rule{
		ID:      RuleEnvSecretKeyRef,
		Summary: "an env var takes its value from a Kubernetes Secret (env[].valueFrom.secretKeyRef)",
		Since:   ruleSince,
		Remedy:  remedyVault,
		check: func(_ *Evaluator, it *item) string {
			if it.env == nil || it.env.ValueFrom == nil || it.env.ValueFrom.SecretKeyRef == nil {
				return ""
			}
			ref := it.env.ValueFrom.SecretKeyRef
			return "value comes from key " + strconv.Quote(ref.Key) + " of Secret " + strconv.Quote(ref.Name)
		},
	}
}

package policy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Rule is one detection rule. Rules are pure detectors: they look at one env
// entry (or envFrom entry) of one container, or (secret-volume) at the
// pod's volumes; the Evaluator alone applies modes, exemptions and allow
// lists.
type Rule struct {
	// ID is stable forever: it appears in denials, the rule metric label,
	// rules.disabled and the docs. Never rename or reuse one.
	ID string
	// Summary says in one line what the rule detects.
	Summary string
	// Since is the wisp version that introduced the rule.
	Since string
	// Remedy is appended to every violation of the rule.
	Remedy string
	// DefaultOff rules run only when rules.enabled names them.
	DefaultOff bool
	// Heuristic rules judge a literal by its name or its look; allow.names
	// silences them (and only them) for the names it lists.
	Heuristic bool
	// WarnOnly rules never deny: in enforce mode their violations are
	// warnings (what they flag cannot be known at admission).
	WarnOnly bool

	// check returns the reason it flags it, or "". It runs in rule order;
	// the first rule that flags an entry reports it.
	check func(e *Evaluator, it *item) string
	// slow, if set, is an expensive second stage, run only for entries
	// that no rule's check flagged.
	slow func(e *Evaluator, it *item) string
}

// Rule IDs. The order of DefaultRules is the order rules are tried in.
const (
	RuleEnvSecretKeyRef       = "env-secret-key-ref"
	RuleEnvFromSecret         = "env-from-secret"
	RuleKnownCredentialFormat = "known-credential-format"
	RuleEnvNameLiteral        = "env-name-literal"
	RuleHighEntropyLiteral    = "high-entropy-literal"
	RuleEnvNameWeakLiteral    = "env-name-weak-literal"
	RuleEnvConfigMapSecret    = "env-config-map-secret-name"
	RuleSecretVolume          = "secret-volume"
)

// Remedies and the version the rules appeared in.
const (
	remedyVault       = "fetch it from Vault with a wisp.dev/secret-<name> annotation instead; wisp.dev/env-{env}: \"<name>#<key>\" keeps it an env var, the app unchanged"
	remedyMoveToVault = "store it in Vault and mount it with a wisp.dev/secret-<name> annotation instead; wisp.dev/env-{env}: \"<name>#<key>\" keeps it an env var, the app unchanged"
	remedyVaultFrom   = "fetch it from Vault with a wisp.dev/secret-<name> annotation instead; wisp.dev/env-<VAR>: \"<name>#<key>\" sets each variable, the app unchanged"
	// envPlaceholder in a remedy is replaced by the env var's name.
	envPlaceholder = "{env}"
	ruleSince      = "v0.1.0"
	ruleWeakSince  = "v0.2.0"
	ruleCMSince    = "v0.3.0"
	// ruleSecretVolumeSince is the version of rule secret-volume.
	ruleSecretVolumeSince = "v0.3.0"
)

// DefaultRules returns wisp's rules, in the order they are tried: an explicit
// list, a new slice on every call.
func DefaultRules() []Rule {
	return []Rule{
		envSecretKeyRefRule(),
		envFromSecretRule(),
		knownCredentialFormatRule(),
		envNameLiteralRule(),
		highEntropyLiteralRule(),
		envNameWeakLiteralRule(),
		envConfigMapSecretNameRule(),
		secretVolumeRule(),
	}
}

// item is one entry of a container's env or envFrom, as rules see it.
type item struct {
	env  *corev1.EnvVar        // an env entry, or nil
	from *corev1.EnvFromSource // an envFrom entry, or nil
	lit  literal               // facts of env.Value when it is a literal
	// nameAllowed: allow.names lists the env var's name; heuristic rules
	// skip it.
	nameAllowed bool

	nameDone   bool
	nameSecret bool
}

// literal reports whether the entry is an env var with a literal value.
func (it *item) literal() bool { return it.env != nil && it.env.ValueFrom == nil && it.lit.v != "" }

// secretName reports (once) whether the env var's name says it is a secret.
func (it *item) secretName() bool {
	if !it.nameDone {
		it.nameDone = true
		it.nameSecret = secretName(it.env.Name, false)
	}
	return it.nameSecret
}

// validateRules checks a rule set: IDs unique and kebab-case, every rule
// with a check.
func validateRules(rules []Rule) error {
	seen := make(map[string]bool, len(rules))
	for i, r := range rules {
		switch {
		case !isRuleID(r.ID):
			return fmt.Errorf("rule %d: id %q is not kebab-case", i, r.ID)
		case seen[r.ID]:
			return fmt.Errorf("rule %d: duplicate id %q", i, r.ID)
		case r.check == nil:
			return fmt.Errorf("rule %s: no check", r.ID)
		}
		seen[r.ID] = true
	}
	return nil
}

// isRuleID reports whether id matches ^[a-z0-9]+(-[a-z0-9]+)*$.
func isRuleID(id string) bool {
	if id == "" || id[0] == '-' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c == '-' && id[i-1] == '-' {
			return false
		}
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

package setup

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"wisp.dev/wisp/policy"
)

// Config is what NewPlan needs besides the policy.
type Config struct {
	// TrustDomain of the SPIFFE IDs, e.g. example.org. Required.
	TrustDomain string
	// Mount is the JWT auth method's path (auth/<Mount>). Required: the
	// policy's injection.authPath.
	Mount string
	// Audience every role binds: the policy's injection.audience. Required.
	Audience string
	// How Vault checks a JWT-SVID's signature: exactly one of the SPIRE
	// OIDC discovery provider's URL, its JWKS URL, or PEM public keys.
	OIDCDiscoveryURL string
	JWKSURL          string
	PublicKeys       []string
	// CAPEM is the CA Vault trusts for OIDCDiscoveryURL or JWKSURL.
	// Default: Vault's system roots.
	CAPEM string
	// BoundIssuer is the iss claim Vault requires. Default: none.
	BoundIssuer string
	// Namespaces are the cluster's namespaces to grant roles to. Required.
	Namespaces []string
	// Roles are concrete role names for the policy's role globs
	// ("{namespace}.*"): a glob cannot be a Vault role.
	Roles []string
	// TokenPolicies are each role's Vault policies; "{role}" stands for the
	// role's name. Default: ["{role}"].
	TokenPolicies []string
}

// Validate names each bad field.
func (c Config) Validate() error {
	var errs []error
	if c.TrustDomain == "" || strings.ContainsAny(c.TrustDomain, "/*: ") {
		errs = append(errs, fmt.Errorf("trust domain %q: want a name such as example.org", c.TrustDomain))
	}
	if c.Mount == "" || strings.HasPrefix(c.Mount, "/") || strings.HasSuffix(c.Mount, "/") {
		errs = append(errs, fmt.Errorf("auth mount %q: want a path such as jwt", c.Mount))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("audience: empty"))
	}
	n := 0
	for _, s := range []bool{c.OIDCDiscoveryURL != "", c.JWKSURL != "", len(c.PublicKeys) > 0} {
		if s {
			n++
		}
	}
	if n != 1 {
		errs = append(errs, errors.New("give exactly one of the OIDC discovery URL, the JWKS URL or public keys"))
	}
	if c.CAPEM != "" && len(c.PublicKeys) > 0 {
		errs = append(errs, errors.New("a CA is for a URL; public keys need none"))
	}
	if len(c.Namespaces) == 0 {
		errs = append(errs, errors.New("namespaces: none: name the namespaces to grant roles to"))
	}
	for _, r := range c.Roles {
		if r == "" || strings.ContainsAny(r, "*?{}/ ") {
			errs = append(errs, fmt.Errorf("role %q: want a Vault role name, not a glob", r))
		}
	}
	return errors.Join(errs...)
}

// Plan is the Vault configuration a policy calls for.
type Plan struct {
	Mount string
	// AuthConfig is the body of auth/<Mount>/config.
	AuthConfig map[string]any
	// Roles, sorted by name.
	Roles []Role
	// Notes say which role globs of the policy got no role, and why.
	Notes []string
}

// Role is one Vault JWT role.
type Role struct {
	Name string
	// Namespaces whose pods may log in with it, sorted.
	Namespaces []string
	// Body is the body of auth/<Mount>/role/<Name>.
	Body map[string]any
}

// Path of the auth config and of a role.
func (p Plan) ConfigPath() string            { return "auth/" + p.Mount + "/config" }
func (p Plan) RolePath(name string) string   { return "auth/" + p.Mount + "/role/" + name }
func (p Plan) rolesPath() string             { return "auth/" + p.Mount + "/role" }
func spiffeGlob(td, namespace string) string { return "spiffe://" + td + "/ns/" + namespace + "/sa/*" }

// NewPlan computes the plan: one role per concrete role name the policy's
// bindings give the namespaces (a role pattern without glob characters once
// {namespace} is replaced, and each of cfg.Roles), each bound to the
// namespaces that policy lets name it.
func NewPlan(cfg Config, bindings []policy.RoleBinding, ev *policy.Evaluator) (Plan, error) {
	if err := cfg.Validate(); err != nil {
		return Plan{}, err
	}
	if len(bindings) == 0 {
		return Plan{}, errors.New("the policy has no roles bindings: every namespace may name every role, so no role can be bound to namespaces")
	}
	p := Plan{Mount: cfg.Mount, AuthConfig: authConfig(cfg)}
	names, notes := roleNames(bindings, cfg.Namespaces)
	for _, r := range cfg.Roles {
		names[r] = true
	}
	p.Notes = notes
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, name := range sorted {
		var nss []string
		for _, ns := range cfg.Namespaces {
			if ev.AllowedRole(ns, name) == nil {
				nss = append(nss, ns)
			}
		}
		if len(nss) == 0 {
			return Plan{}, fmt.Errorf("role %q: the policy lets none of the namespaces %s name it", name, strings.Join(cfg.Namespaces, ", "))
		}
		sort.Strings(nss)
		p.Roles = append(p.Roles, Role{Name: name, Namespaces: nss, Body: roleBody(cfg, name, nss)})
	}
	return p, nil
}

// roleNames are the concrete role names of the bindings for the
// namespaces, and a note for each role pattern that is a glob.
func roleNames(bindings []policy.RoleBinding, namespaces []string) (map[string]bool, []string) {
	names := map[string]bool{}
	var notes []string
	for i, b := range bindings {
		for j, r := range b.Roles {
			if strings.ContainsAny(strings.ReplaceAll(r, "{namespace}", ""), "*?") {
				notes = append(notes, fmt.Sprintf("roles[%d].roles[%d] %q is a glob: no role is created for it; name its roles with --role", i, j, r))
				continue
			}
			for _, ns := range namespaces {
				if matchesAny(b.Namespaces, ns) {
					names[strings.ReplaceAll(r, "{namespace}", ns)] = true
				}
			}
		}
	}
	return names, notes
}

// matchesAny reports whether a namespace glob of a binding matches ns. The
// role's namespaces are then decided by policy.Evaluator.AllowedRole; this
// only finds the names.
func matchesAny(globs []string, ns string) bool {
	for _, g := range globs {
		if globMatch(g, ns) {
			return true
		}
	}
	return false
}

// globMatch is the policy's glob: "*" any run, "?" one byte.
func globMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && globMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && globMatch(pattern[1:], s[1:])
}

func authConfig(cfg Config) map[string]any {
	keys := cfg.PublicKeys
	if keys == nil {
		keys = []string{}
	}
	c := map[string]any{
		"oidc_discovery_url":     cfg.OIDCDiscoveryURL,
		"oidc_discovery_ca_pem":  "",
		"jwks_url":               cfg.JWKSURL,
		"jwks_ca_pem":            "",
		"jwt_validation_pubkeys": keys,
		"bound_issuer":           cfg.BoundIssuer,
	}
	switch {
	case cfg.OIDCDiscoveryURL != "":
		c["oidc_discovery_ca_pem"] = cfg.CAPEM
	case cfg.JWKSURL != "":
		c["jwks_ca_pem"] = cfg.CAPEM
	}
	return c
}

func roleBody(cfg Config, name string, namespaces []string) map[string]any {
	subs := make([]string, len(namespaces))
	for i, ns := range namespaces {
		subs[i] = spiffeGlob(cfg.TrustDomain, ns)
	}
	tp := cfg.TokenPolicies
	if len(tp) == 0 {
		tp = []string{"{role}"}
	}
	pols := make([]string, len(tp))
	for i, t := range tp {
		pols[i] = strings.ReplaceAll(t, "{role}", name)
	}
	return map[string]any{
		"role_type":         "jwt",
		"user_claim":        "sub",
		"bound_audiences":   []string{cfg.Audience},
		"bound_claims_type": "glob",
		"bound_claims":      map[string]any{"sub": subs},
		"token_policies":    pols,
	}
}

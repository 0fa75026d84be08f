// Package setup derives Vault's JWT auth configuration from wisp's platform
// policy, and brings a Vault in line with it (`wisp setup vault`).
//
// NewPlan is pure: from the policy's role bindings, the namespaces given and
// the trust domain it computes the auth method's config (how Vault checks a
// JWT-SVID: SPIRE's OIDC discovery URL, JWKS URL or public keys) and one
// Vault role per concrete role name. Each role accepts a JWT-SVID only when
// its audience is the policy's and its subject is the SPIFFE ID of a
// service account in one of the namespaces the policy lets name that role
// (bound_claims globs spiffe://<trust domain>/ns/<namespace>/sa/*). Vault
// itself then refuses a pod of another namespace, even one that bypassed
// admission. The namespaces a role is bound to are exactly those for which
// policy.Evaluator.AllowedRole says yes, the check admission makes.
//
// Diff reads what Vault has and Apply writes what differs, through the
// two-method Client; both are idempotent: a second Apply writes nothing.
// Roles are merged (a field the plan does not set, such as token_ttl, is
// left as it is); the auth config is written whole.
//
// setup imports policy and github.com/hashicorp/vault/api. It reads no
// environment and keeps no globals; a Plan is immutable.
package setup

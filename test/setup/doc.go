// Package setup tests `wisp setup vault` against a real Vault and SPIRE
// (test/stack): it runs the commands of docs/setup-vault.md (the policy of
// its yaml block, the OIDC URL replaced by the stack's JWKS URL), checks
// that a second --apply writes nothing and that --dry-run shows a change,
// that the printed vault commands give what --apply gives, and that a
// JWT-SVID SPIRE issues to namespace team-b cannot log in with team-a's
// role while team-a's can: Vault itself refuses, whatever admission did.
//
// Vault and SPIRE come from test/scripts/ensure-vault.sh and
// ensure-spire.sh (built once, cached). A missing prerequisite fails the
// tests.
package setup

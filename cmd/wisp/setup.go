package main

import (
	"context"
	"fmt"
	"io"
	"os"

	vault "github.com/hashicorp/vault/api"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/setup"
)

func newSetupCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Configure what wisp relies on",
	}
	cmd.AddCommand(newSetupVaultCommand())
	return cmd
}

// setupVaultOptions are the flags of wisp setup vault.
type setupVaultOptions struct {
	policy, caFile  string
	publicKeyFiles  []string
	apply, dryRun   bool
	mount, audience string
	cfg             setup.Config
}

func newSetupVaultCommand() *cobra.Command {
	var o setupVaultOptions
	cmd := &cobra.Command{
		Use:   "vault --policy FILE --trust-domain TD --namespace NS... (--oidc-discovery-url URL | --jwks-url URL | --jwt-validation-pubkey FILE) [--apply | --dry-run]",
		Short: "Print or apply Vault's JWT auth config and one role per policy role, bound to its namespaces",
		Long: `Derives Vault's JWT auth configuration from the platform policy's role
bindings: how Vault checks a JWT-SVID (SPIRE's OIDC discovery URL, JWKS URL or
public keys), and one role per concrete role name the bindings give the
namespaces named with --namespace ("{namespace}" replaced; a glob such as
"{namespace}-*" needs its names given with --role). Each role has role_type
jwt, user_claim sub, bound_audiences the policy's audience, and bound_claims
(glob) sub: spiffe://<trust domain>/ns/<namespace>/sa/* for exactly the
namespaces the policy lets name it, so Vault refuses a JWT-SVID of any other
namespace even if admission were bypassed.

Without --apply or --dry-run it prints the vault CLI commands. --dry-run shows
what differs from what Vault has; --apply writes only that (a second --apply
writes nothing). Both use VAULT_ADDR, VAULT_TOKEN and the other VAULT_*
variables of the vault CLI. The auth mount and the audience default to the
policy's injection.authPath and injection.audience.`,
		Example: `  wisp setup vault --policy policy.yaml --trust-domain example.org \
    --namespace team-a --namespace team-b \
    --oidc-discovery-url https://oidc.spire.example.org --apply`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSetupVault(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.policy, "policy", "", "the platform policy file (its roles bindings; required)")
	f.StringVar(&o.cfg.TrustDomain, "trust-domain", "", "SPIFFE trust domain of the JWT-SVIDs (required)")
	f.StringSliceVar(&o.cfg.Namespaces, "namespace", nil, "a namespace to grant its roles to (repeat; required)")
	f.StringSliceVar(&o.cfg.Roles, "role", nil, "a role name for a role glob of the policy (repeat)")
	f.StringVar(&o.cfg.OIDCDiscoveryURL, "oidc-discovery-url", "", "SPIRE's OIDC discovery provider (Vault reads /.well-known/openid-configuration)")
	f.StringVar(&o.cfg.JWKSURL, "jwks-url", "", "the JWKS of SPIRE's JWT signing keys")
	f.StringSliceVar(&o.publicKeyFiles, "jwt-validation-pubkey", nil, "a PEM public key file that signs JWT-SVIDs (repeat)")
	f.StringVar(&o.caFile, "ca-file", "", "PEM CA Vault trusts for the discovery or JWKS URL (default: Vault's system roots)")
	f.StringVar(&o.cfg.BoundIssuer, "bound-issuer", "", "the iss claim Vault requires (default: any)")
	f.StringVar(&o.mount, "auth-mount", "", "JWT auth mount (default: the policy's injection.authPath)")
	f.StringVar(&o.audience, "audience", "", "the audience roles bind (default: the policy's injection.audience)")
	f.StringSliceVar(&o.cfg.TokenPolicies, "token-policies", []string{"{role}"}, "Vault policies of each role's tokens; {role} is the role's name")
	f.BoolVar(&o.apply, "apply", false, "write the configuration to Vault (only what differs)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show what --apply would change")
	cmd.MarkFlagsMutuallyExclusive("apply", "dry-run")
	for _, req := range []string{"policy", "trust-domain", "namespace"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}

func runSetupVault(ctx context.Context, stdout, stderr io.Writer, o setupVaultOptions) error {
	plan, err := setupPlan(o)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	for _, n := range plan.Notes {
		fmt.Fprintf(stderr, "wisp: note: %s\n", n)
	}
	if !o.apply && !o.dryRun {
		_, err := io.WriteString(stdout, setup.Script(plan))
		return err
	}
	c, err := vault.NewClient(vault.DefaultConfig()) // VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, ...
	if err != nil {
		return fmt.Errorf("vault client: %w", err)
	}
	vc := setup.VaultClient{C: c}
	changes, err := setup.Diff(ctx, vc, plan)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		fmt.Fprintln(stdout, ch)
	}
	if !setup.Pending(changes) {
		fmt.Fprintln(stdout, "no changes")
		return nil
	}
	if o.dryRun {
		return nil
	}
	if err := setup.Apply(ctx, vc, changes); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "applied")
	return nil
}

// setupPlan reads the policy and the files the flags name.
func setupPlan(o setupVaultOptions) (setup.Plan, error) {
	data, err := os.ReadFile(o.policy)
	if err != nil {
		return setup.Plan{}, fmt.Errorf("read policy: %w", err)
	}
	snap, err := config.Parse(data)
	if err != nil {
		return setup.Plan{}, &locatedError{where: "policy " + o.policy, err: err}
	}
	var file config.File // the bindings as written; Parse validated them
	if err := yaml.Unmarshal(data, &file); err != nil {
		return setup.Plan{}, fmt.Errorf("policy %s: %w", o.policy, err)
	}
	cfg := o.cfg
	cfg.Mount, cfg.Audience = o.mount, o.audience
	if cfg.Mount == "" {
		cfg.Mount = snap.Injection.AuthPath
	}
	if cfg.Audience == "" {
		cfg.Audience = snap.Injection.Audience
	}
	if o.caFile != "" {
		b, err := os.ReadFile(o.caFile)
		if err != nil {
			return setup.Plan{}, fmt.Errorf("read --ca-file: %w", err)
		}
		cfg.CAPEM = string(b)
	}
	for _, f := range o.publicKeyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return setup.Plan{}, fmt.Errorf("read --jwt-validation-pubkey: %w", err)
		}
		cfg.PublicKeys = append(cfg.PublicKeys, string(b))
	}
	return setup.NewPlan(cfg, file.Roles, snap.Policy)
}

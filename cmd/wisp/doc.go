// Command wisp is the companion of the wisp admission webhook: it runs the
// webhook's own code on manifests, without a cluster, and scans what runs in
// a cluster.
//
//	wisp inject -f FILE|- [--policy FILE] [-o yaml|json]
//	wisp check -f FILE|DIR|-... [--policy FILE] [-o text|json]
//	wisp scan [--kubeconfig F] [--context C] [-n NS | -A] [--policy F] [-o text|json|report] [--apply-reports]
//	wisp setup vault --policy F --trust-domain TD --namespace NS... (--oidc-discovery-url U | --jwks-url U | --jwt-validation-pubkey F) [--apply | --dry-run]
//	wisp migrate -f FILE|- [--policy FILE]
//	wisp version
//
// wisp migrate rewrites manifests written for the Vault Agent Injector into
// wisp's own annotations (mutate.MigrateVaultAnnotations): exit 0 when all
// of it translated, 1 when something needs a person (a comment in the
// output and a line on standard error name it), 2 for bad input. wisp
// inject prints the webhook's admission warnings (mutate.VaultWarnings) on
// standard error.
//
// wisp scan lists Pods and the six workload kinds through the API, page by
// page, judges them with the policy in each namespace's mode (package scan),
// prints the findings and, with --apply-reports, writes one OpenReports
// Report per namespace. Exit codes: 0 clean, --exit-code (1) when there are
// violations, 2 when the cluster cannot be reached or read (one line naming
// the API call and the permission it needs) or for a bad flag or policy.
//
// wisp inject reads Kubernetes manifests (multi-document YAML, JSON, or a v1
// List) and writes them back with every opted-in pod injected exactly as the
// webhook would inject it: the SPIFFE CSI volume, the in-memory secrets
// volume, the wisp-fetch init container and the secrets mount. Pods,
// Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs are
// injected (through their pod templates); other objects, and pods that do not
// opt in or are injected already, pass through unchanged.
//
// Exit codes: 0 on success; 1 when the webhook would deny an object (its
// wisp.dev/* annotations are malformed), with the webhook's message on
// standard error and nothing on standard output; 2 for unreadable or
// unparsable input, a bad flag or a bad injection config.
//
// The version printed by wisp version is set at build time:
//
//	go build -ldflags "-X main.version=v0.1.0" ./cmd/wisp
package main

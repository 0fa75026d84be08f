// Package mutate turns an opted-in pod into a wisp pod: it parses and
// validates the app team's wisp.dev/* annotations and adds the SPIFFE CSI
// volume, the in-memory secrets volume, the wisp-fetch init container (with
// its fetch plan) and the secrets mount in the chosen app containers.
//
// The webhook, the wisp CLI and the tests share this one code path.
//
// For the move from the Vault Agent Injector, Config.VaultAgentAnnotations
// makes Inject read the Vault Agent Injector's annotations as aliases of
// wisp's (the table is in annotations.go; wisp's own key wins when a pod
// sets both) and translate their Consul Template templates to wisp
// templates, or refuse them with a clear message. EffectiveAnnotations gives
// other readers of wisp's annotations the same view.
//
// mutate is pure: it does no I/O, reads no clock and no environment, keeps no
// globals and never modifies its input pod. It imports k8s.io/api, the
// apimachinery types those use, wisp's plan package, internal/memo and
// internal/expansion only.
// It never logs: it returns data and errors. Every function is safe for
// concurrent use. A Cache, which the admission path passes to InjectCached,
// remembers what an injection derives from the annotations alone (the
// parsed request, its plan, whether each template parses), bounded in
// bytes: it changes what an injection costs, never what it returns. The
// injected pod is a copy of what changes only; the rest is shared with the
// input, and both are read-only.
//
// Injection is idempotent: a pod whose wisp.dev/status annotation says
// "injected" is returned unchanged, so re-applies are no-ops; on
// reinvocation, an app container a later webhook added gets the secrets
// mount (Completed), and nothing else changes. The status annotation is the
// pod author's word: CheckPlans (which the webhook and the CLI share) checks
// every fetch plan's role whatever it says, and refuses a plan admission
// could not read as it will run (valueFrom, envFrom, "$(", --plan).
// A malformed annotation yields an error naming each bad annotation and no
// pod at all, never a half-mutated one.
package mutate

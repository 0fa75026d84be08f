// Command wisp-fetch is wisp's init container (and, with --sidecar, its
// renewal sidecar): it proves the pod's SPIFFE identity to Vault and writes
// the secrets of its fetch plan to the shared in-memory volume.
//
// Environment (set by the webhook): SPIFFE_ENDPOINT_SOCKET, VAULT_ADDR,
// WISP_AUTH_PATH, WISP_AUDIENCE, WISP_PLAN; optional: VAULT_CACERT,
// VAULT_NAMESPACE, WISP_SIDECAR, WISP_DEADLINE, WISP_LOG_LEVEL, and
// WISP_INSTALL_SHIM (copy this binary there first, as the exec shim of
// wisp.dev/env-<NAME>).
//
// Run under the name wisp-env (the installed shim) it is the exec shim of
// package fetch/envshim: wisp-env -- <program> [args...].
//
// Modes:
//
//	wisp-fetch                 fetch once, write the files, exit (init container)
//	wisp-fetch --sidecar       fetch, write <dir>/.wisp-ready, then keep the token
//	                           and leases renewed and the files fresh; on SIGTERM
//	                           revoke every lease and token it obtained (superseded
//	                           ones too) and exit 0
//	wisp-fetch --check-ready   exit 0 once <dir>/.wisp-ready exists (startupProbe)
//
// SIGTERM (or SIGINT) before the first fetch completed, in either mode, is a
// clean stop: nothing is written, what was obtained is revoked, one log line
// says so, and the exit status is 0.
//
// Logs are JSON lines on standard error. Exit status: 0 on success; 1 when
// fetching failed (or, with --check-ready, not ready yet), ending with one
// plain line on standard error that says what failed, where, and what to
// check; 2 for a bad flag, plan or environment.
package main

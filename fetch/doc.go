// Package fetch is wisp-fetch's logic: it proves the pod's identity with a
// JWT-SVID from the SPIFFE Workload API, logs in to Vault's JWT auth method
// with the plan's role, reads every secret of the plan, renders each one
// (json, env, raw:<key> or a Go template) and writes the files atomically.
// In sidecar mode it then keeps the token and the leases renewed, re-fetches
// a secret before its lease runs out, and revokes everything on shutdown.
//
// Imports: the standard library, wisp's plan package, go-spiffe
// (workloadapi) and vault/api. It reads no environment variable and no flag:
// cmd/wisp-fetch maps those onto Config.
//
// Invariants:
//   - All or nothing: every secret is read and rendered in memory before the
//     first file is written; a failed write removes what the run wrote, and
//     a run that fails after logging in revokes its token (and so the
//     leases it read). A run whose context ends before the first fetch
//     completed does the same and returns ErrStopped: a stop, not a failure.
//   - On shutdown the sidecar revokes every token and lease it obtained
//     that has not run out, superseded ones too: it remembers them until
//     they run out.
//   - No Vault token is ever written to a file: a read whose answer carries
//     one (an auth block, a response-wrapping token, a token lookup) fails
//     with ErrVaultToken, and a token it minted is revoked at once.
//   - A file is replaced by rename(2) of a fully written, fsynced temporary
//     file in the same folder, so a reader sees the old or the new content,
//     never a mix.
//   - No secret value (Vault token, JWT-SVID, secret data, rendered file)
//     appears in an error, a log line or a metadata file. The types that hold
//     them print as "[redacted]". A template's execution error gives the
//     template, the position and the kind of failure (plan.RedactExecError),
//     never text/template's message, which quotes data; and every leaf value
//     of the data read is scrubbed from every error that leaves the Fetcher.
//   - Errors are *Error values (ErrStopped aside): one line saying what failed, where, why, and
//     what to check; transient ones are retried with capped exponential
//     backoff and jitter within Config.Deadline, permanent ones fail at once.
//
// Concurrency: a Fetcher serves one Fetch or RunSidecar call at a time.
//
// Env format: keys are upper-cased and every character outside [A-Z0-9_]
// becomes "_" (a leading digit gets a "_" prefix), so each line is a valid
// shell assignment; two keys that map to the same name are an error. Values
// made only of [A-Za-z0-9_@%+=:,./-] are written bare, any other value is
// single-quoted for POSIX sh ('\” for a quote; newlines kept verbatim), so
// `set -a; . file; set +a` loads it exactly. Numbers and booleans are written
// as in JSON, objects and arrays as compact JSON.
package fetch

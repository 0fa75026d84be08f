// Package envshim is wisp's exec shim: it lets an app that reads its
// credentials from environment variables run unchanged with wisp.
//
// The webhook rewrites each selected app container's command to
// `[/wisp/bin/wisp-env, --, <its command>...]` and sets WISP_ENV, a JSON
// Spec naming, for each variable of a wisp.dev/env-<NAME> annotation, the
// secret file wisp-fetch wrote and the key to read from it. wisp-fetch's
// init container places the shim (its own binary, as wisp-env) on a
// wisp-bin volume. At start the shim reads the files, adds the variables to
// the environment (WISP_ENV itself is removed) and execs the original
// program: same PID, so signals and the exit status are the program's own;
// no shell is needed, so it works in distroless images.
//
// It fails closed: when a file or a key is missing, it prints one line per
// problem naming the variable, the secret and the key (never a value) and
// exits 1 without running anything.
//
// Values live only in the process's environment, fixed at start: a dynamic
// credential that expires needs a restart (files with the sidecar rotate in
// place).
package envshim

// Package fetch holds wisp-fetch's end-to-end tests: the real binary, run as
// a process with the environment the webhook gives the injected container
// (the plan comes from mutate.Inject on the pods in testdata/), against real
// SPIRE, Vault and PostgreSQL started once by TestMain (package test/stack).
//
// Vault and SPIRE come from test/scripts/ensure-*.sh (built once, cached);
// WISP_BIN_DIR, when set, names a folder holding a prebuilt wisp-fetch, and
// WISP_KEEP_STACK=1 keeps the stack's folder (logs) after the run. These
// tests never skip for want of a component: without it they fail.
//
// Speed: go test -run '^$' -bench FetchProcess -benchtime 20x ./test/fetch/
package fetch

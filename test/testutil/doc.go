// Package testutil holds what wisp's tests against real components share:
// locating (or building) kube-apiserver and etcd for envtest, free ports,
// waiting for a TLS listener, a goroutine-safe log buffer, and the fenced
// code blocks of a docs page (the tests that run a page's commands).
//
// Only tests and the demo import it. It never skips a test: a missing
// component is built, and a failed build is an error.
package testutil

// Package metrics holds what wisp's packages share about their Prometheus
// collectors: registering one so that a second component of the same
// process (two watchers, a test's second server) shares the first's.
package metrics

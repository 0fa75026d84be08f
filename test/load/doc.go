// Command load measures wisp-webhook under load, against a floor: a no-op
// webhook (TLS, decode the review and the pod, answer allowed) built with
// the same Go and measured in the same run, so wisp's throughput reads as a
// fraction of what any Go webhook could do on this machine.
//
//	go run ./test/load -duration 10s -c 1,8,64 -scenario injected,large
//	go run ./test/load -soak 5m
//
// It builds cmd/wisp-webhook and test/load/floor with `go build` into a
// temporary folder, starts them as child processes on 127.0.0.1 (wisp with
// --dev-certs --log-level warn), and drives each with a closed loop of c
// workers, one keep-alive HTTPS connection each, for every scenario and
// concurrency, floor and wisp back to back (in alternating order). Every
// answer is checked (uid
// echoed, allowed or denied as expected, a JSONPatch when expected). It
// prints req/s, p50/p90/p99/max latency, errors, the server's CPU (from
// /proc/<pid>/stat) and resident memory (/proc/<pid>/status), then one
// table of every wisp scenario against the floor: req/s and p99 as ratios
// to the floor's on the same pod, and each server's RSS idle and after the
// load, with the goals on the injected pod. Servers: floor, wisp, wisp-info (wisp at
// --log-level info, one JSON line per request, to a file).
//
// -soak runs wisp alone at -c (64 by default) for that long with valid
// reviews mixed with hostile requests (malformed JSON, truncated bodies,
// bodies over the limit, wrong content types, other kinds, 10,000 env
// vars, huge annotations, deep nesting, and the attack's requests), samples
// its memory every second and fails on a crash, a wrong answer or a
// growing memory trend.
//
// -attack runs, before the soak, three phases of that long on a fresh
// wisp-webhook each, as the chart runs it (GOMAXPROCS=2, the chart's
// memory limit): the ordinary injected pod at 100 requests a second alone,
// then beside 8 connections sending hostile requests back to back (a
// forged 2.8 MB fetch plan, 25,000 literal passwords, a 250 KiB template
// on a pod that does not opt in, 200,000 empty containers, a 900 KiB env
// var name, the largest templates the limits allow), then the same with
// one lane for all requests; it prints the ordinary pod's latency, peak
// RSS and how each hostile request was answered, and fails when a goal is
// missed.
//
// -baseline-bin PATH adds another wisp-webhook build (the previous
// version) to the bench's servers, measured interleaved in the same run,
// and with -attack a last phase: that build under the attack.
//
// -pprof DIR builds wisp-webhook with net/http/pprof (through a build
// overlay: neither the sources nor the release binary have it) and writes a
// CPU profile of each wisp run, and a heap profile at the end, into DIR.
//
// Only 127.0.0.1 is contacted. The exit status is 1 when a request got a
// wrong answer, a goal was missed with -goals, or the soak failed.
package main

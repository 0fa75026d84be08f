// Package webhook is wisp's admission webhook: an HTTPS server built on
// controller-runtime's webhook server and admission helpers, serving
//
//	/mutate   pod CREATE: deny static secrets where the policy enforces,
//	          inject opted-in pods (JSONPatch), deny malformed annotations,
//	          and fetch plans mutate.CheckPlans refuses (Vault roles the
//	          namespace may not name, plans it could not check)
//	/validate pods and the pod templates of Deployments, StatefulSets,
//	          DaemonSets, ReplicaSets, Jobs, CronJobs, CREATE and UPDATE: the
//	          platform policy (enforce: deny, warn-only rules as warnings;
//	          warn: warnings; audit: auditAnnotations), and mutate.CheckPlans;
//	          an UPDATE is judged on what it changes
//	/healthz  liveness
//	/readyz   readiness: the TLS listener answers with a loaded certificate
//	/metrics  Prometheus metrics
//
// The admission path is decode -> policy -> mutate.InjectCached -> JSONPatch
// -> encode, with no call to the Kubernetes API and no I/O besides the
// request itself. A pod review is decoded with its pod in one pass by
// json-iterator (case-sensitive, after a JSON and UTF-8 check; anything it
// refuses goes through sigs.k8s.io/json, and FuzzPodDecoder holds the two
// to the same result). The JSONPatch of an injection is built from the
// parts mutate adds (patch.go), not by diffing two documents, and its
// values are written without reflection (patchvalue.go). Bodies are capped
// (refused by their Content-Length, unread) and each request has read and
// write deadlines on its connection, the API server's timeout when it is
// shorter; the handler answers a margin before it (the policy stops
// judging there). A gate (gate.go) bounds what is decoded and judged at
// once: small requests (every ordinary pod) in a lane of their own, twice
// GOMAXPROCS at once; larger ones half GOMAXPROCS at once, within budgets
// of memory for their bodies and for their decoded objects (estimated
// from the JSON before decoding). Answers list at most MaxListed
// violations (answers.go). On shutdown, in-flight requests
// complete while the listener closes. test/load measures all this under
// load against a no-op webhook, beside a hostile attack, and soaks it with
// hostile requests.
//
// It imports config (the policy snapshot it reads per request), mutate and
// policy (both pure), internal/workload, controller-runtime, json-iterator
// and Prometheus. Handlers are immutable after construction
// and safe for concurrent use. Nothing here logs
// a secret: log lines and metrics carry the request's uid, namespace, name,
// result and latency, never annotation values or env values.
package webhook

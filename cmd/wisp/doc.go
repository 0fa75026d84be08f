// Command wisp is the offline companion of the wisp admission webhook: it
// runs the webhook's own code on manifests, without a cluster.
//
//	wisp inject -f FILE|- [--config FILE] [-o yaml|json]
//	wisp version
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

// Command bench measures pod start as users feel it, on the real node of
// test/node (needs root; `make bench-node`):
//
//	go run ./test/node/bench -n 20 -rollout 100
//
// It starts the whole of wisp on one node (StartEnv: kubelet, containerd,
// the SPIFFE CSI driver, SPIRE, Vault, PostgreSQL, the helm-installed
// webhook), adds Vault's Kubernetes auth method (against this API server's
// TokenReview, the pods' own projected tokens as reviewer JWTs) and a file
// audit device, and builds a Vault Agent image from the Vault binary the
// tests use, as test/node builds the test app's (one layer written by
// go-containerregistry), pushed to the env's registry on 127.0.0.1: the
// kubelet pulls it, like wisp's and the app's, with IfNotPresent.
//
// Start latency: -n rounds, each creating, one after the other in a
// rotating order, a plain pod (the app, no secrets), a wisp-injected pod
// and a pod with a Vault Agent init container as the Vault Agent Injector
// configures it (exit_after_auth, one template per secret, Kubernetes auth,
// /vault/secrets on a memory emptyDir, the injector's default resources);
// both fetch the same secrets: one KV secret through a template and one
// dynamic PostgreSQL credential. Each pod's time runs from the client's
// Create call to the watch event that shows it Ready; the injected pod's
// time is split with the timestamps wisp-fetch logs. The pod cgroup's
// memory high-water mark and CPU time, less the plain pod's, are the init
// container's resources.
//
// Rollout: a Deployment of -rollout injected replicas with wisp.dev/sidecar,
// scaled from 0 at once, under a SPIFFE ID registered just before (its first
// pod waits for the SPIRE agent's entry sync); Vault's audit log counts
// logins, reads and leases, and after the Deployment is deleted, the tokens
// and leases left are listed.
//
// It prints one table, then, as its last line, one JSON object with the
// figures.
package main

// Command demo runs wisp's whole mission on one machine, against real
// components (`make demo`, i.e. `go run ./test/demo`):
//
//  1. It starts a real single-node Kubernetes (test/node: kube-apiserver,
//     etcd, controller-manager, scheduler, a kubelet with containerd, the
//     SPIFFE CSI driver), PostgreSQL, SPIRE with the k8s workload attestor
//     and Vault (test/stack), and an OCI registry on 127.0.0.1; it pushes
//     wisp's release there (`make image chart push`) and installs it with
//     `helm install` of the pushed chart on the policy examples/policy.yaml
//     (its Vault address pointed at the local Vault), the kubelet pulling
//     wisp's image from the registry. The first run builds the components from
//     the Go module proxy (test/scripts/ensure-*.sh), then they are cached.
//  2. It creates examples/static-secrets.yaml (denied by the policy) and
//     examples/pod.yaml (admitted and injected; its image replaced by the
//     demo's app, on the host network) in namespace team-a, and follows the
//     pod as the kubelet runs it: wisp-fetch's log, the 0440 files on the
//     node, the app's PostgreSQL login as its own dynamic user; then it
//     revokes that credential's lease and shows the role gone and the app's
//     next login failing.
//  3. It stops every process it started and removes its temporary folders,
//     also on Ctrl-C or SIGTERM, and fails if anything is left behind.
//
// Needs root (a kubelet and containerd). Exit status 0 on success; 1 with
// one line `demo: FAILED: ...` on failure; 130 when interrupted.
package main

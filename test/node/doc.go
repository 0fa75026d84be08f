// Package node runs a real single-node Kubernetes cluster on this machine,
// on loopback only, for wisp's end-to-end tests and `make demo`: etcd and
// kube-apiserver (test/scripts/ensure-k8s.sh), kube-controller-manager,
// kube-scheduler and a kubelet v1.37.2 (ensure-node.sh), containerd + runc
// + the CNI plugins from Debian's packages, and the SPIFFE CSI driver
// registered with the kubelet (ensure-csi.sh). No Docker: images come from
// an OCI registry the env serves in process on 127.0.0.1:<free port>
// (go-containerregistry's pkg/registry, plain HTTP), which containerd pulls
// from through a generated hosts.toml (config_path of its CRI plugin).
//
// Env ships wisp as a release does: `make image chart push` (the image
// index for linux/amd64 and linux/arm64 with its SBOMs, built by
// cmd/wisp-release; the chart packaged by helm; both pushed by
// cmd/wisp-release) to that registry, then `helm install wisp
// oci://<registry>/charts/wisp --version <v> --plain-http`; the kubelet
// pulls wisp's image (imagePullPolicy IfNotPresent) and takes its own
// platform's image from the index. The test app's image, which is also the
// sandbox ("pause") image, is built from test/node/testapp and pushed there
// too. Env.Stop stops the registry and removes its blobs.
//
// Every listener is on 127.0.0.1 (free ports); pods that talk to a service
// use hostNetwork, so their traffic stays on loopback too. The node is named
// "localhost" and the API server reaches it by that Hostname address.
//
// What it needs from the machine: root, cgroup v1 or v2 mounted under
// /sys/fs/cgroup, and Debian's containerd, runc and containernetworking-
// plugins (ensure-node.sh installs them when missing). What this machine
// lacks, and how the node works around it:
//   - no CAP_SYS_RESOURCE: containerd's restrict_oom_score_adj;
//   - cgroup v1: the kubelet's failCgroupV1 false, cgroupfs driver, and its
//     own cgroupRoot created in every v1 hierarchy;
//   - loopback-only node: no --node-ip, node name "localhost", API server
//     --kubelet-preferred-address-types Hostname;
//   - no node-driver-registrar on the module proxy: test/tools/csi/registrar.
//
// Start takes a machine-wide lock (one node at a time: the kubelet and
// containerd write a few fixed host paths); Stop deletes every pod, stops
// every process, unmounts, removes the cgroups, network namespaces, host
// paths and folders the node created, and Leftovers reports anything that
// survived, so a test can fail on it.
package node

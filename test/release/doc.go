// Package release tests `make image`, `make chart` and `make push` as
// docs/release.md shows them: it runs every fenced sh block of that page,
// with the registry address replaced by an in-process registry
// (go-containerregistry's pkg/registry, over TLS on 127.0.0.1, trusted
// through SSL_CERT_FILE so that the commands run unchanged) and the cluster
// by a kube-apiserver of its own (envtest). It checks that `make image`
// twice gives the same index digest, that the pushed index holds linux/amd64
// and linux/arm64, that each platform's SBOM lists the Go modules of each
// binary pulled from the registry, that the chart is pullable with helm and
// installs, and that its Deployment names the pushed image.
//
// helm comes from test/scripts/ensure-helm.sh unless WISP_HELM names a helm
// binary; kube-apiserver and etcd from test/scripts/ensure-k8s.sh unless
// KUBEBUILDER_ASSETS is set. A missing prerequisite fails the test.
package release

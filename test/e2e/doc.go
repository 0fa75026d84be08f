// Package e2e holds wisp's end-to-end tests: a real kube-apiserver and etcd
// (controller-runtime's envtest) call wisp's webhook over HTTPS on pod CREATE.
//
// The binaries come from test/scripts/ensure-k8s.sh, which builds them once
// from the Go module proxy and caches them; KUBEBUILDER_ASSETS, when set,
// names a folder that already holds them. These tests never skip for want of
// the binaries: without them they fail.
package e2e

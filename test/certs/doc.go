// Package certs tests wisp's certificate sources against a real
// kube-apiserver and etcd (controller-runtime's envtest): several auto-mode
// replicas racing on one Secret, the API server calling a webhook served
// from that Secret, rotation of the serving certificate and of the CA while
// pods are being created, and files mode reloading under load.
//
// The binaries come from test/scripts/ensure-k8s.sh (cached);
// KUBEBUILDER_ASSETS, when set, names a folder that already holds them.
// Without them these tests fail rather than skip.
package certs

// Package chart tests wisp's Helm chart (charts/wisp) and its image build:
//
//   - render_test.go: `helm lint` and `helm template` with every values file
//     of testdata/; every rendered object is decoded strictly into its typed
//     Kubernetes struct (cert-manager and Prometheus Operator objects into a
//     field whitelist), and the chart's promises are asserted: replicas,
//     disruption budget, restricted security context, probes, webhook
//     configurations, minimal RBAC, the policy file, the values schema;
//   - deploy_test.go: the rendered webhook configurations, RBAC and policy in
//     a real kube-apiserver (envtest) calling a wisp webhook run in the test
//     process: which requests reach wisp (CEL matchConditions, selectors),
//     injection, denial, what the service account may do;
//   - dockerfile_test.go: both binaries build with the Dockerfile's flags.
//
// helm comes from test/scripts/ensure-helm.sh (built once, cached) unless
// WISP_HELM names a helm binary; kube-apiserver and etcd from
// test/scripts/ensure-k8s.sh unless KUBEBUILDER_ASSETS is set. A missing
// prerequisite fails the tests; nothing is skipped.
package chart

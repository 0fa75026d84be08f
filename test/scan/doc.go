// Package scan tests `wisp scan` as a built binary against a real
// kube-apiserver and etcd (controller-runtime's envtest) that serves the
// OpenReports Report CRD of the chart: the text and JSON findings in every
// mode, exemptions and owner resolution, the Reports written by
// --apply-reports (created, unchanged on a re-run, a fixed workload removed),
// and the exit status and message of a user whose RBAC lacks a permission.
//
// TestScanScale (skipped unless -scale) fills the API server with 10,000
// workloads and 30,000 pods and measures the scan's wall time and peak RSS:
//
//	KUBEBUILDER_ASSETS="$(test/scripts/ensure-k8s.sh)" go test -count=1 -timeout 30m -run TestScanScale ./test/scan -scale -v
//
// The API server's binaries come from test/scripts/ensure-k8s.sh (cached);
// these tests fail without them, they never skip.
package scan

// Package scan answers the platform team's question before it switches a
// cluster to enforce: which workloads that already run carry static secrets,
// in which namespaces, under which rules and modes, and who owns them.
//
// Scan lists the Pods and the six workload kinds (Deployments, StatefulSets,
// DaemonSets, ReplicaSets, Jobs, CronJobs) through the API, page by page
// (limit and continue: a cluster with tens of thousands of objects is never
// held in one list), and judges each with the same policy.Evaluator as the
// webhook, with each namespace's real labels (its mode label, exemption
// selector). Owners are resolved by controller ownerReferences: a pod or
// workload whose controller is a scanned workload (Pod -> ReplicaSet ->
// Deployment, Pod -> Job -> CronJob, a StatefulSet's or DaemonSet's pods) is
// not reported itself, its top-level workload is, once, with the number of
// pods it runs; a pod whose owner is missing or of another kind is judged
// and reported as itself, with its owner chain. Whoever creates a pod
// writes its ownerReferences, so a pod counts as its owner's only if that
// owner runs pods (ReplicaSet, StatefulSet, DaemonSet, Job), is listed
// under the kind, name and uid the reference gives, and selects the pod's
// labels (a ReplicaSet's pod also carries its pod-template-hash); and every
// pod is judged: one that carries a violation its owner's template does not
// is reported as itself, with those violations.
//
// Reports turns a Result into OpenReports objects (openreports.io/v1alpha1
// Report, one per namespace, named "wisp"), and ApplyReports writes them
// with server-side apply under the field manager "wisp-scan": results are
// ordered and each result keeps the timestamp of its first sighting, so a
// run that finds what the previous one found changes nothing (same
// resourceVersion), and a fixed workload drops out of its Report.
//
// scan imports k8s.io/api, k8s.io/apimachinery, k8s.io/client-go (its typed
// clients), github.com/openreports/reports-api and wisp's policy package. It
// keeps no globals, reads no environment and does not log: it returns data
// and errors. Every API failure is an *APIError naming the call, the
// resource and, when the API server refused it, the permission it needs.
// Values of env vars never appear in a Result, a Report or an error: only
// their names, the rule and the kind of secret.
package scan

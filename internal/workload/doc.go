// Package workload finds the pod template of a decoded Kubernetes object and
// writes a changed one back, so that code written for pods (mutate, policy)
// also serves Deployments, StatefulSets, DaemonSets, ReplicaSets (apps/v1),
// Jobs and CronJobs (batch/v1).
//
// It works on *unstructured.Unstructured: PodOf converts the template to a
// typed *corev1.Pod, and SetPod writes only what changed back into the
// object, as a strategic merge patch computed between the typed forms. Fields
// unknown to k8s.io/api survive, and the object gains no noise that it did not
// have (creationTimestamp: null, status: {}, resources: {}).
//
// workload imports k8s.io/api and k8s.io/apimachinery only. It does no I/O
// and keeps no mutable state (its only globals are sentinel errors and a
// read-only table of kinds). PodOf never modifies its object; SetPod modifies
// only its object, and only on success. Calls are safe for concurrent use on
// distinct objects.
package workload

package scan

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// object is one listed item, as much of it as the scan needs.
type object struct {
	ref   Ref
	owner *metav1.OwnerReference
	// selector selects the pods of a workload that runs pods (ReplicaSet,
	// StatefulSet, DaemonSet, Job); nil for the others. It points into the
	// page, as tmpl does.
	selector *metav1.LabelSelector
	// tmpl is the pod template (for a Pod: its own metadata and spec). It
	// points into the page being read: use it before the next page.
	tmpl *corev1.PodTemplateSpec
}

// kind lists one resource page by page.
type kind struct {
	kind string
	gvr  schema.GroupVersionResource
	// page lists one page and calls each for its items; it returns the
	// continue token.
	page func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions, each func(object)) (string, error)
}

// workloadKinds are the six workload kinds, owners before what they own.
func workloadKinds() []kind {
	apps := func(r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: r}
	}
	batch := func(r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: r}
	}
	return []kind{
		{"Deployment", apps("deployments"), func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions, each func(object)) (string, error) {
			l, err := c.AppsV1().Deployments(ns).List(ctx, opts)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				it := &l.Items[i]
				each(newObject("apps/v1", "Deployment", &it.ObjectMeta, &it.Spec.Template))
			}
			return l.Continue, nil
		}},
		{"ReplicaSet", apps("replicasets"), func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions, each func(object)) (string, error) {
			l, err := c.AppsV1().ReplicaSets(ns).List(ctx, opts)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				it := &l.Items[i]
				each(newObject("apps/v1", "ReplicaSet", &it.ObjectMeta, &it.Spec.Template).selecting(it.Spec.Selector))
			}
			return l.Continue, nil
		}},
		{"StatefulSet", apps("statefulsets"), func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions, each func(object)) (string, error) {
			l, err := c.AppsV1().StatefulSets(ns).List(ctx, opts)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				it := &l.Items[i]
				each(newObject("apps/v1", "StatefulSet", &it.ObjectMeta, &it.Spec.Template).selecting(it.Spec.Selector))
			}
			return l.Continue, nil
		}},
		{"DaemonSet", apps("daemonsets"), func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions, each func(object)) (string, error) {
			l, err := c.AppsV1().DaemonSets(ns).List(ctx, opts)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				it := &l.Items[i]
				each(newObject("apps/v1", "DaemonSet", &it.ObjectMeta, &it.Spec.Template).selecting(it.Spec.Selector))
			}
			return l.Continue, nil
		}},
		{"CronJob", batch("cronjobs"), func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions, each func(object)) (string, error) {
			l, err := c.BatchV1().CronJobs(ns).List(ctx, opts)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				it := &l.Items[i]
				each(newObject("batch/v1", "CronJob", &it.ObjectMeta, &it.Spec.JobTemplate.Spec.Template))
			}
			return l.Continue, nil
		}},
		{"Job", batch("jobs"), func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions, each func(object)) (string, error) {
			l, err := c.BatchV1().Jobs(ns).List(ctx, opts)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				it := &l.Items[i]
				each(newObject("batch/v1", "Job", &it.ObjectMeta, &it.Spec.Template).selecting(it.Spec.Selector))
			}
			return l.Continue, nil
		}},
	}
}

// podKind lists pods.
func podKind() kind {
	return kind{"Pod", schema.GroupVersionResource{Version: "v1", Resource: "pods"}, func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions, each func(object)) (string, error) {
		l, err := c.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			it := &l.Items[i]
			each(newObject("v1", "Pod", &it.ObjectMeta, &corev1.PodTemplateSpec{ObjectMeta: it.ObjectMeta, Spec: it.Spec}))
		}
		return l.Continue, nil
	}}
}

func newObject(apiVersion, kind string, m *metav1.ObjectMeta, tmpl *corev1.PodTemplateSpec) object {
	o := object{
		ref:  Ref{APIVersion: apiVersion, Kind: kind, Namespace: m.Namespace, Name: m.Name, UID: m.UID},
		tmpl: tmpl,
	}
	if c := metav1.GetControllerOfNoCopy(m); c != nil {
		owner := *c
		o.owner = &owner
	}
	return o
}

// selecting sets o's pod selector.
func (o object) selecting(sel *metav1.LabelSelector) object {
	o.selector = sel
	return o
}

// listAll lists every object of k in cfg's namespace, cfg.PageSize at a
// time, and calls each for every one.
func listAll(ctx context.Context, c kubernetes.Interface, k kind, cfg Config, each func(object)) error {
	opts := metav1.ListOptions{Limit: cfg.PageSize}
	for {
		cont, err := k.page(ctx, c, cfg.Namespace, opts, each)
		if err != nil {
			return &APIError{Verb: "list", Resource: k.gvr, Namespace: cfg.Namespace, Err: err}
		}
		if cont == "" {
			return nil
		}
		opts.Continue = cont
	}
}

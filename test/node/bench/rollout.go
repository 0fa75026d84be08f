package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"wisp.dev/wisp/test/stack"
)

// rolloutResult is what the rollout showed.
type rolloutResult struct {
	pods, ready, failed int
	// allReady is from the scale-up to the last pod Ready; first is the
	// first pod Ready (the entry sync); podP50/P95 are each pod's time from
	// its creation (as the watch saw it) to Ready.
	allReady, first, podP50, podP95 time.Duration
	vault                           auditCounts
	// probes are the sidecars' startup probes (exec) by result.
	probes                 map[string]int
	tokensLeft, leasesLeft int
	// delete is from the Deployment's deletion to the last pod gone.
	delete time.Duration
	// plain is the same rollout of plain pods: all Ready.
	plain time.Duration
}

// rollout first scales a Deployment of plain pods (the same app, no
// secrets) from 0 to replicas, the node's own pace, and deletes it; then
// registers the rollout's SPIFFE ID, scales a Deployment of injected pods
// with the sidecar from 0 to replicas, waits for them all, counts Vault's
// work in its audit log and the sidecars' startup probes, deletes the
// Deployment and lists the tokens and leases left.
func (b *bench) rollout(ctx context.Context, replicas int, res *results) error {
	base, err := b.deploy(ctx, "plain-roll", b.appSpec(wispSA), nil, replicas)
	if err != nil {
		return fmt.Errorf("plain: %w", err)
	}
	b.logf("bench: plain rollout: %d/%d Ready in %s", base.ready, base.pods, base.allReady.Round(time.Millisecond))
	if base.delete, err = b.undeploy(ctx, "plain-roll"); err != nil {
		return err
	}
	if err := b.env.Stack.RegisterWorkload(ctx, stack.Workload{SPIFFEID: rollID, Selectors: []string{"k8s:ns:" + ns, "k8s:sa:" + rollSA}}); err != nil {
		return err
	}
	mark, err := auditSize(b.audit)
	if err != nil {
		return err
	}
	ann := wispAnnotations(rollRole, "roll")
	ann["wisp.dev/sidecar"] = "true"
	r, err := b.deploy(ctx, "roll", b.appSpec(rollSA), ann, replicas)
	r.plain = base.allReady
	res.rollout = &r
	if err != nil {
		return err
	}
	b.logf("bench: rollout: %d/%d Ready in %s (first %s)", r.ready, r.pods, r.allReady.Round(time.Millisecond), r.first.Round(time.Millisecond))
	if r.vault, err = countAudit(b.audit, mark); err != nil {
		return err
	}
	if r.probes, err = b.startupProbes(ctx); err != nil {
		return err
	}
	if r.delete, err = b.undeploy(ctx, "roll"); err != nil {
		return err
	}
	if r.tokensLeft, r.leasesLeft, err = b.left(ctx, "jwt", rollRole, "database/creds/roll/"); err != nil {
		return err
	}
	res.rollout = &r
	return nil
}

// deploy creates a Deployment of 0 replicas of the pod (label app=name),
// scales it to replicas and waits until they are all Ready.
func (b *bench) deploy(ctx context.Context, name string, spec corev1.PodSpec, ann map[string]string, replicas int) (rolloutResult, error) {
	c := b.env.Node.Client()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: ann}, Spec: spec},
		},
	}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return rolloutResult{}, fmt.Errorf("create Deployment %s: %w", name, err)
	}
	w, err := c.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return rolloutResult{}, fmt.Errorf("watch the pods of %s: %w", name, err)
	}
	defer w.Stop()
	t0 := time.Now()
	if _, err := c.AppsV1().Deployments(ns).UpdateScale(ctx, name, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       autoscalingv1.ScaleSpec{Replicas: int32(replicas)},
	}, metav1.UpdateOptions{}); err != nil {
		return rolloutResult{}, fmt.Errorf("scale %s to %d: %w", name, replicas, err)
	}
	return b.waitRollout(ctx, w, t0, replicas)
}

// undeploy deletes the Deployment and waits until its last pod is gone.
func (b *bench) undeploy(ctx context.Context, name string) (time.Duration, error) {
	c := b.env.Node.Client()
	t0 := time.Now()
	if err := c.AppsV1().Deployments(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationBackground)}); err != nil {
		return 0, fmt.Errorf("delete Deployment %s: %w", name, err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		return err == nil && len(pods.Items) == 0, nil
	}); err != nil {
		return 0, fmt.Errorf("wait for the pods of %s to go: %w", name, err)
	}
	return time.Since(t0), nil
}

// waitRollout follows the watch until replicas pods are Ready (a pod that
// fails or restarts counts as failed).
func (b *bench) waitRollout(ctx context.Context, w watch.Interface, t0 time.Time, replicas int) (rolloutResult, error) {
	r := rolloutResult{pods: replicas}
	seen := map[string]time.Time{}
	ready := map[string]bool{}
	failed := map[string]bool{}
	var perPod []time.Duration
	timeout := time.After(15 * time.Minute)
	for len(ready) < replicas {
		select {
		case <-timeout:
			return r, fmt.Errorf("%d of %d pods Ready after 15 min", len(ready), replicas)
		case <-ctx.Done():
			return r, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return r, fmt.Errorf("the watch of the rollout's pods ended (%d Ready)", len(ready))
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			now := time.Now()
			if _, ok := seen[p.Name]; !ok {
				seen[p.Name] = now
			}
			if p.Status.Phase == corev1.PodFailed || restarts(p) > 0 {
				failed[p.Name] = true
			}
			if isReady(p) && !ready[p.Name] {
				ready[p.Name] = true
				perPod = append(perPod, now.Sub(seen[p.Name]))
				if len(ready) == 1 {
					r.first = now.Sub(t0)
				}
			}
		}
	}
	r.allReady = time.Since(t0)
	r.ready, r.failed = len(ready), len(failed)
	slices.Sort(perPod)
	r.podP50, r.podP95 = pct(perPod, 50), pct(perPod, 95)
	return r, nil
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		n += s.RestartCount
	}
	return n
}

// pct is the p-th percentile of sorted durations (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

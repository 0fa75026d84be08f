package node

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// WaitPod polls the pod until cond says done or returns an error, or
// timeout; the error names the pod's last phase and container states.
func (n *Node) WaitPod(ctx context.Context, ns, name string, timeout time.Duration, cond func(*corev1.Pod) (bool, error)) (*corev1.Pod, error) {
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := n.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return cond(p)
	})
	if err != nil {
		return last, fmt.Errorf("pod %s/%s: %w; last status: %s", ns, name, err, DescribePod(last))
	}
	return last, nil
}

// PodOf waits for a pod with the given label selector and returns its name.
func (n *Node) PodOf(ctx context.Context, ns, selector string, timeout time.Duration) (string, error) {
	var name string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := n.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil || len(pods.Items) == 0 {
			return false, nil
		}
		name = pods.Items[0].Name
		return true, nil
	})
	if err != nil {
		return "", fmt.Errorf("wait for a pod %s in %s: %w", selector, ns, err)
	}
	return name, nil
}

// Logs returns a container's log (the previous run's with previous).
func (n *Node) Logs(ctx context.Context, ns, pod, container string, previous bool) (string, error) {
	rc, err := n.client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: previous}).Stream(ctx)
	if err != nil {
		return "", fmt.Errorf("logs of %s/%s[%s]: %w", ns, pod, container, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return "", fmt.Errorf("logs of %s/%s[%s]: %w", ns, pod, container, err)
	}
	return string(b), nil
}

// PodLogs is the last lines of every container of every pod in ns, for
// error messages.
func (n *Node) PodLogs(ctx context.Context, ns string, lines int) string {
	pods, err := n.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s: %s\n", p.Name, DescribePod(&p))
		for _, c := range p.Spec.Containers {
			l, err := n.Logs(ctx, ns, p.Name, c.Name, false)
			if err != nil {
				l = err.Error()
			}
			fmt.Fprintf(&b, "[%s]\n%s\n", c.Name, lastLines(l, lines))
		}
	}
	return b.String()
}

// DescribePod is a one-line summary: phase, then each container's state.
func DescribePod(p *corev1.Pod) string {
	if p == nil {
		return "(no pod)"
	}
	var b strings.Builder
	b.WriteString(string(p.Status.Phase))
	for _, group := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, s := range group {
			fmt.Fprintf(&b, "; %s: %s", s.Name, stateString(s.State))
			if s.LastTerminationState.Terminated != nil {
				fmt.Fprintf(&b, " (last: %s)", stateString(s.LastTerminationState))
			}
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			fmt.Fprintf(&b, "; %s: %s", c.Type, c.Message)
		}
	}
	return b.String()
}

func stateString(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Terminated != nil:
		return fmt.Sprintf("terminated %s exit %d %q", s.Terminated.Reason, s.Terminated.ExitCode, s.Terminated.Message)
	case s.Waiting != nil:
		return fmt.Sprintf("waiting %s %q", s.Waiting.Reason, s.Waiting.Message)
	}
	return "unknown"
}

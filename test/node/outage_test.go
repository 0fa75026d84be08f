package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/test/node"
)

// TestWebhookOutage: with wisp's pods gone (its Deployment scaled to 0) the
// API server refuses, naming wisp, exactly what wisp must judge where it
// enforces: a pod with an env value or opted in, and a workload's new pod
// template, in an enforcing namespace. Everything else is created as usual:
// kube-system, wisp's own namespace (so wisp can always come back: no
// deadlock), a namespace whose mode is audit, and a pod that neither opts
// in nor has an env value. When wisp is back, a Deployment whose new pod was
// refused meanwhile gets it without anyone touching it (its ReplicaSet
// retries). Not parallel: no pod may need wisp meanwhile.
func TestWebhookOutage(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	env := shared.env
	c := env.Node.Client()
	before := vaultLeases(ctx, t)
	// The Deployment's init-only pods keep their credentials to their TTL.
	t.Cleanup(func() { revokeCreated(context.Background(), t, before) })

	// A Deployment that runs before the outage, and scales up during it.
	name := "outage"
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: appNS},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations("app")},
				Spec:       podSpec(appSA, corev1.RestartPolicyAlways, appArgs("-hold")...),
			},
		},
	}
	if _, err := c.AppsV1().Deployments(appNS).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Deployment: %v", err)
	}
	t.Cleanup(func() { deleteDeployment(t, appNS, name) })
	if err := waitDeploymentRunning(ctx, appNS, name, 1, 2*time.Minute); err != nil {
		t.Fatal(err)
	}

	down := time.Now()
	if err := env.ScaleWisp(ctx, 0); err != nil {
		t.Fatal(err)
	}
	wispUp := false
	t.Cleanup(func() {
		if !wispUp {
			_ = env.ScaleWisp(context.Background(), 1)
		}
	})
	t.Logf("wisp scaled to 0 in %s", time.Since(down).Round(time.Millisecond))

	// Scale up: the ReplicaSet's new pod is refused.
	if _, err := c.AppsV1().Deployments(appNS).UpdateScale(ctx, name, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: appNS}, Spec: autoscalingv1.ScaleSpec{Replicas: 2},
	}, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scale the Deployment during the outage: %v", err)
	}

	withEnv := func(ns, pod string) *corev1.Pod {
		spec := podSpec("default", corev1.RestartPolicyNever, "-hold")
		spec.Containers[0].Env = []corev1.EnvVar{{Name: "GREETING", Value: "hello"}}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns}, Spec: spec}
	}
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "outage-plain", Namespace: appNS}, Spec: podSpec("default", corev1.RestartPolicyNever, "-hold")}
	optedIn := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "outage-opted-in", Namespace: appNS, Annotations: annotations("app")},
		Spec: podSpec(appSA, corev1.RestartPolicyNever, "-hold")}
	newDeploy := d.DeepCopy()
	newDeploy.ObjectMeta = metav1.ObjectMeta{Name: "outage-new", Namespace: appNS}
	tests := []struct {
		what string
		pod  *corev1.Pod
		dep  *appsv1.Deployment
		// refusedBy is the webhook the API server names; empty: created.
		refusedBy string
	}{
		{what: "a pod with an env value in an enforcing namespace", pod: withEnv(appNS, "outage-env"), refusedBy: "mutate.wisp.dev"},
		{what: "an opted-in pod", pod: optedIn, refusedBy: "mutate.wisp.dev"},
		{what: "a new opted-in Deployment", dep: newDeploy, refusedBy: "validate-workloads.wisp.dev"},
		{what: "a pod neither opted in nor with an env value", pod: plain},
		{what: "a pod with an env value in kube-system", pod: withEnv("kube-system", "outage-env")},
		{what: "a pod with an env value in wisp's namespace", pod: withEnv(node.WispNamespace, "outage-env")},
		{what: "a pod with an env value in a namespace in audit mode", pod: withEnv(audited, "outage-env")},
	}
	for _, tt := range tests {
		var err error
		if tt.pod != nil {
			_, err = c.CoreV1().Pods(tt.pod.Namespace).Create(ctx, tt.pod, metav1.CreateOptions{})
			if err == nil {
				t.Cleanup(func() { deletePod(tt.pod.Namespace, tt.pod.Name) })
			}
		} else {
			_, err = c.AppsV1().Deployments(tt.dep.Namespace).Create(ctx, tt.dep, metav1.CreateOptions{})
			if err == nil {
				t.Cleanup(func() { deleteDeployment(t, tt.dep.Namespace, tt.dep.Name) })
			}
		}
		switch {
		case tt.refusedBy == "" && err != nil:
			t.Errorf("%s: refused while wisp is down: %v", tt.what, err)
		case tt.refusedBy != "" && err == nil:
			t.Errorf("%s: created while wisp is down, want a refusal naming %s", tt.what, tt.refusedBy)
		case tt.refusedBy != "" && !strings.Contains(err.Error(), `failed calling webhook "`+tt.refusedBy+`"`):
			t.Errorf("%s: %v; want the API server's \"failed calling webhook %q\"", tt.what, err, tt.refusedBy)
		default:
			t.Logf("%s: %s", tt.what, firstLine(err))
		}
	}
	// The refused scale-up shows in the ReplicaSet's events, the reason a
	// user would look for.
	if ev := waitEvent(ctx, t, appNS, "FailedCreate", "mutate.wisp.dev", 30*time.Second); ev != "" {
		t.Logf("ReplicaSet event: %s", ev)
	}

	// wisp comes back after about 20 s (a rollout gone wrong, a node
	// drained): its own pod is admitted (its namespace never goes to
	// wisp), and the refused replica appears without anyone touching the
	// Deployment, when its ReplicaSet's back-off next retries.
	time.Sleep(time.Until(down.Add(20 * time.Second)))
	up := time.Now()
	if err := env.ScaleWisp(ctx, 1); err != nil {
		t.Fatal(err)
	}
	wispUp = true
	t.Logf("wisp back (ready) %s after the scale-up; down for %s", time.Since(up).Round(time.Millisecond), up.Sub(down).Round(time.Second))
	if err := waitDeploymentRunning(ctx, appNS, name, 2, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("RECOVERY webhook-outage: the refused replica ran %s after wisp was back (outage %s)",
		time.Since(up).Round(time.Second), up.Sub(down).Round(time.Second))
}

// waitDeploymentRunning waits until n pods of the Deployment run their
// app container.
func waitDeploymentRunning(ctx context.Context, ns, name string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pods, err := shared.env.Node.Client().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		running := 0
		var states []string
		if err == nil {
			for i := range pods.Items {
				p := &pods.Items[i]
				if ok, _ := running1(p); ok && p.DeletionTimestamp == nil {
					running++
				}
				states = append(states, p.Name+": "+node.DescribePod(p))
			}
		}
		if running >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return &waitError{what: name + ": " + itoa(running) + " of " + itoa(n) + " pods running", states: states}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func running1(p *corev1.Pod) (bool, error) { return running("app")(p) }

// waitEvent waits for an event of reason in ns whose message holds want,
// and returns its message ("" after timeout, which is only logged: events
// are best effort).
func waitEvent(ctx context.Context, t *testing.T, ns, reason, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		evs, err := shared.env.Node.Client().CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + reason})
		if err == nil {
			for _, e := range evs.Items {
				if strings.Contains(e.Message, want) {
					return e.InvolvedObject.Kind + " " + e.InvolvedObject.Name + ": " + e.Message
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("no %s event holding %q in %s after %s", reason, want, ns, timeout)
	return ""
}

func firstLine(err error) string {
	if err == nil {
		return "created"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

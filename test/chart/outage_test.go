package chart

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/test/testutil"
)

// TestDeployWispDown: the chart's webhook configurations, rendered for a
// wisp nobody serves (a port where nothing listens), in a real API server.
// What the API server then refuses is what wisp must see where it
// enforces: an object with an env value in a namespace whose mode is
// enforce (by name, by label, or by a bad label value, as wisp reads it),
// and an opted-in pod anywhere. A namespace that warns or audits (by
// namespaces.modes or by label) keeps creating pods and workloads with env
// values, and a plain pod is created everywhere. The node test
// (test/node TestWebhookOutage) shows the same with wisp's pods gone.
func TestDeployWispDown(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	const scope, byName = "wisp.dev/down-test", "wisp-down-audit"
	r := render(t, []string{"deploy.yaml"}, "fullnameOverride=wisp-down",
		"webhook.url=https://127.0.0.1:"+strconv.Itoa(port), "webhook.caBundle="+c.caBundle,
		// Only this test's namespaces: the other tests' wisp keeps serving theirs.
		"webhook.namespaceSelector.matchExpressions[0].key="+scope, "webhook.namespaceSelector.matchExpressions[0].operator=Exists",
		"policy.namespaces.modes."+byName+"=audit")
	for _, o := range r {
		switch obj := o.Obj.(type) {
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			_, err = c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, obj, metav1.CreateOptions{})
			t.Cleanup(func() {
				_ = c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), obj.Name, metav1.DeleteOptions{})
			})
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			_, err = c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, obj, metav1.CreateOptions{})
			t.Cleanup(func() {
				_ = c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), obj.Name, metav1.DeleteOptions{})
			})
		}
		if err != nil {
			t.Fatalf("apply %s %s: %v", o.Kind, o.Name, err)
		}
	}

	label := "wisp.dev/policy-mode"
	namespaces := []struct {
		name    string
		labels  map[string]string
		enforce bool
	}{
		{name: "wisp-down-enforce", labels: map[string]string{scope: ""}, enforce: true},
		{name: byName, labels: map[string]string{scope: ""}},
		{name: "wisp-down-label-enforce", labels: map[string]string{scope: "", label: "enforce"}, enforce: true},
		{name: "wisp-down-label-warn", labels: map[string]string{scope: "", label: "warn"}},
		{name: "wisp-down-label-audit", labels: map[string]string{scope: "", label: "audit"}},
		{name: "wisp-down-label-bad", labels: map[string]string{scope: "", label: "enforced"}, enforce: true},
	}
	for _, ns := range namespaces {
		if _, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.name, Labels: ns.labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = c.client.CoreV1().Namespaces().Delete(context.Background(), ns.name, metav1.DeleteOptions{})
		})
	}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	// The API server loads new configurations within a few seconds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.client.CoreV1().Pods(namespaces[0].name).Create(ctx, testPod("probe", optIn()), dry)
		if err != nil && strings.Contains(err.Error(), "failed calling webhook") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server does not call the stopped wisp 30 s after its configurations were applied (last: %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	env := literal("GREETING", "hello")
	for _, ns := range namespaces {
		for _, tc := range []struct {
			what    string
			create  func() error
			refused bool
		}{
			{"a pod with an env value", func() error {
				_, err := c.client.CoreV1().Pods(ns.name).Create(ctx, testPod("env", nil, env), dry)
				return err
			}, ns.enforce},
			{"a Deployment with an env value", func() error {
				_, err := c.client.AppsV1().Deployments(ns.name).Create(ctx, deployment("env", podSpec(env)), dry)
				return err
			}, ns.enforce},
			{"an opted-in pod", func() error {
				_, err := c.client.CoreV1().Pods(ns.name).Create(ctx, testPod("orders", optIn()), dry)
				return err
			}, true},
			{"a plain pod", func() error {
				_, err := c.client.CoreV1().Pods(ns.name).Create(ctx, testPod("plain", nil), dry)
				return err
			}, false},
		} {
			err := tc.create()
			switch {
			case tc.refused && (err == nil || !strings.Contains(err.Error(), "failed calling webhook")):
				t.Errorf("%s, %s: %v; want the API server's \"failed calling webhook\"", ns.name, tc.what, err)
			case !tc.refused && err != nil:
				t.Errorf("%s, %s: refused while wisp is down: %v", ns.name, tc.what, err)
			}
		}
	}
}

func deployment(name string, spec corev1.PodSpec) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"wisp.dev/wisp/test/testutil"
)

// The binary as the chart runs it: --cert-mode=auto against a real API
// server. It creates its Secret, patches caBundle into both webhook
// configurations, and the API server then trusts it: an opted-in pod is
// injected and a static secret denied.
func TestAutoCertificatesThroughTheAPIServer(t *testing.T) {
	if err := testutil.EnsureKubeAssets(); err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	user, err := env.AddUser(envtest.User{Name: "wisp", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ns := range []string{"wisp-system", "team-a"} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	createWebhookConfigs(t, client, base)

	logs := &testutil.SyncBuffer{}
	cmd := newCommand(logs)
	cmd.SetArgs([]string{"--cert-mode", "auto", "--kubeconfig", kcPath, "--namespace", "wisp-system",
		"--service-name", "wisp-webhook", "--cert-hosts", "127.0.0.1", "--host", "127.0.0.1", "--port", fmt.Sprint(port)})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("wisp-webhook did not stop")
		}
	})

	// Ready once the Secret exists, caBundle is written and namespaces synced.
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: insecureTLS()}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := insecure.Get(base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not ready: %s\nlogs:\n%s", body, logs.String())
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("not serving: %v\nlogs:\n%s", err, logs.String())
		}
		select {
		case err := <-done:
			t.Fatalf("wisp-webhook exited: %v\nlogs:\n%s", err, logs.String())
		default:
		}
		time.Sleep(100 * time.Millisecond)
	}

	secret, err := client.CoreV1().Secrets("wisp-system").Get(ctx, "wisp-webhook-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the certificate Secret: %v", err)
	}
	mwc, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "wisp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(mwc.Webhooks[0].ClientConfig.CABundle) == 0 || !strings.Contains(string(mwc.Webhooks[0].ClientConfig.CABundle), strings.TrimSpace(string(secret.Data["ca.crt"]))) {
		t.Fatalf("caBundle of the mutating webhook does not hold the Secret's CA")
	}

	// The API server trusts wisp now.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{
			"wisp.dev/inject": "true", "wisp.dev/role": "web", "wisp.dev/secret-db": "database/creds/web",
		}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	var created *corev1.Pod
	for {
		created, err = client.CoreV1().Pods("team-a").Create(ctx, pod, metav1.CreateOptions{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // the apiserver's webhook client may lag the caBundle a moment
	}
	if err != nil {
		t.Fatalf("create an opted-in pod: %v\nlogs:\n%s", err, logs.String())
	}
	if len(created.Spec.InitContainers) == 0 || created.Spec.InitContainers[0].Name != "wisp-fetch" {
		t.Errorf("pod not injected: %+v", created.Spec.InitContainers)
	}
	bad := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "leaky"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx",
			Env: []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}}}}},
	}
	if _, err := client.CoreV1().Pods("team-a").Create(ctx, bad, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "DB_PASSWORD") {
		t.Errorf("a pod with a secretKeyRef: %v, want a denial naming DB_PASSWORD", err)
	}
}

func createWebhookConfigs(t *testing.T, client kubernetes.Interface, base string) {
	t.Helper()
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
	ns := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "team-a"}}
	mutateURL, validateURL := base+"/mutate", base+"/validate"
	ctx := context.Background()
	_, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "wisp"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.wisp.dev", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &mutateURL}, Rules: rules, NamespaceSelector: ns,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "wisp"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.wisp.dev", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &validateURL}, Rules: rules, NamespaceSelector: ns,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

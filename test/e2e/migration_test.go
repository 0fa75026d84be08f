package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stricterPolicy is testPolicy with the Vault Agent Injector's annotations
// read as aliases, Secret volumes judged (rule secret-volume) and some
// Secrets allowed by name.
const stricterPolicy = testPolicy + `rules:
  enabled: [secret-volume]
allow:
  secrets:
  - names: ["safe-*"]
  - names: ["pull-*"]
    namespaces: ["legacy-only-*"]
injection:
  vaultAgentAnnotations: true
`

// withPolicy serves doc as the platform policy for the rest of the test.
func withPolicy(t *testing.T, doc string) {
	t.Helper()
	set := func(doc string) error {
		if err := os.WriteFile(shared.policyPath, []byte(doc), 0o644); err != nil {
			return err
		}
		shared.policy.Reload()
		_, err := shared.policy.LastError()
		return err
	}
	t.Cleanup(func() {
		if err := set(testPolicy); err != nil {
			t.Error(err)
		}
	})
	if err := set(doc); err != nil {
		t.Fatal(err)
	}
}

func secretVolume(name, secret string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}
}

// Through the API server: a Secret volume is refused where rule
// secret-volume is on, unless allow.secrets names the Secret; so is an
// env reference to a Secret, and allow.secrets never lets a literal
// through.
func TestAllowedSecretsAndSecretVolumes(t *testing.T) {
	ctx := context.Background()
	withPolicy(t, stricterPolicy)
	ns := namespace(t, shared)
	pods := shared.client.CoreV1().Pods(ns)
	plain := func() *corev1.Pod { return readPod(t, filepath.Join("testdata", "plain-pod.yaml")) }

	p := plain()
	p.Spec.Volumes = append(p.Spec.Volumes, secretVolume("tls", "web-tls"))
	_, err := pods.Create(ctx, p, metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `volume "tls": mounts Secret "web-tls" (rule secret-volume)`) {
		t.Errorf("a Secret volume: %v; want Forbidden by rule secret-volume", err)
	}

	p = plain()
	p.Spec.Volumes = append(p.Spec.Volumes, secretVolume("tls", "safe-tls"))
	p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "safe-db"}, Key: "password"}}})
	p.Spec.Containers[0].EnvFrom = append(p.Spec.Containers[0].EnvFrom, corev1.EnvFromSource{
		SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "safe-env"}}})
	if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Errorf("references to allowed Secrets were refused: %v", err)
	}

	p = plain()
	p.Spec.Containers[0].EnvFrom = append(p.Spec.Containers[0].EnvFrom, corev1.EnvFromSource{
		SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "pull-creds"}}})
	if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "rule env-from-secret") {
		t.Errorf("a Secret allowed in other namespaces only: %v; want Forbidden", err)
	}

	p = plain()
	p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "SAFE_GITHUB_TOKEN", Value: "ghp_" + "R8x2Lq7Vt4Zp9Km3Nw6Yb1Hc5Jd0Fs2Ga7Qe"})
	if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err == nil || !apierrors.IsForbidden(err) {
		t.Errorf("a literal credential: %v; want Forbidden", err)
	}
}

// kubectl apply prints the Vault Agent Injector annotations wisp does not
// honour: the API server passes the mutating webhook's warnings on.
func TestVaultAnnotationWarningsReachTheClient(t *testing.T) {
	ctx := context.Background()
	withPolicy(t, stricterPolicy)
	ns := namespace(t, shared)
	client, w := clientWithWarnings(t)
	p := readPod(t, filepath.Join("testdata", "pod.yaml"))
	p.Annotations["vault.hashicorp.com/agent-init-first"] = "false"
	p.Annotations["vault.hashicorp.com/agent-pre-populate-only"] = "true"
	created, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Spec.InitContainers[0].Name != "wisp-fetch" {
		t.Errorf("not injected: %v", created.Spec.InitContainers)
	}
	want := "vault.hashicorp.com/agent-init-first is not honoured by wisp: wisp-fetch is always the first init container"
	if got := w.all(); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
}

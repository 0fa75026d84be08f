package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/mutate"
)

// Attacks by a tenant who may create pods but not change the policy. Each
// went through before the fix it names.

// Bypass: `kubectl debug` adds containers through the
// pods/ephemeralcontainers subresource (UPDATE). The new debug container is
// judged like any container; a clean one is still allowed.
func TestEphemeralContainerWithStaticSecretIsDenied(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	pod := readPod(t, filepath.Join("testdata", "plain-pod.yaml"))
	created, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	debug := func(name string, env []corev1.EnvVar, envFrom []corev1.EnvFromSource) error {
		p, err := shared.client.CoreV1().Pods(ns).Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: name, Image: "busybox:1.36", Env: env, EnvFrom: envFrom,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullIfNotPresent,
			},
		})
		_, err = shared.client.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx, created.Name, p, metav1.UpdateOptions{})
		return err
	}
	token := "ghp_" + "R8x2Lq7Vt4Zp9Km3Nw6Yb1Hc5Jd0Fs2Ga7Qe"
	for _, tc := range []struct {
		name    string
		env     []corev1.EnvVar
		envFrom []corev1.EnvFromSource
		want    string
	}{
		{name: "secret-key-ref", env: []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}}, want: "DB_PASSWORD"},
		{name: "literal-token", env: []corev1.EnvVar{{Name: "GITHUB_TOKEN", Value: token}}, want: "GITHUB_TOKEN"},
		{name: "env-from-secret", envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "app-secrets"}}}}, want: "app-secrets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := debug("debug-"+tc.name, tc.env, tc.envFrom)
			if err == nil || !apierrors.IsForbidden(err) {
				t.Fatalf("kubectl debug with %s: %v, want Forbidden", tc.name, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ephemeral container") {
				t.Errorf("denial does not name the ephemeral container's %s:\n%v", tc.want, err)
			}
			if strings.Contains(err.Error(), "R8x2Lq7V") {
				t.Errorf("denial echoes the token")
			}
		})
	}
	if err := debug("debug-clean", []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "debug"}}, nil); err != nil {
		t.Errorf("a clean debug container was refused: %v", err)
	}
}

// Bypass: a pod that arrives "already injected" (wisp.dev/status: injected
// and a hand-written wisp-fetch container whose plan names a role the
// namespace may not use) skipped the role binding. The plan's role is now
// checked whatever the status says, in any container that carries one.
func TestAlreadyInjectedPodIsRoleChecked(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	forged := func(role string) *corev1.Pod {
		pod := readPod(t, filepath.Join("testdata", "pod.yaml"))
		pod.Namespace, pod.Name = ns, "forged-"+role
		pod.Annotations[mutate.AnnotationRole] = role
		out, res, err := mutate.Inject(pod, mutate.Config{})
		if err != nil || res != mutate.Injected {
			t.Fatalf("forge an injected pod: %v %v", res, err)
		}
		return out
	}
	_, err := shared.client.CoreV1().Pods(ns).Create(ctx, forged("platform-admin"), metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "platform-admin") {
		t.Fatalf("a pre-injected pod with a foreign role: %v, want Forbidden naming platform-admin", err)
	}

	// The plan moved to an app container under another name.
	pod := forged("platform-admin")
	pod.Name = "forged-helper"
	plan := pod.Spec.InitContainers[0].Env
	pod.Spec.InitContainers = pod.Spec.InitContainers[1:]
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "helper", Image: "ghcr.io/wisp-dev/wisp:v0.1.0", Env: plan})
	_, err = shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "platform-admin") {
		t.Fatalf("a plan in an app container with a foreign role: %v, want Forbidden naming platform-admin", err)
	}

	// The namespace's own role, pre-injected, is admitted.
	if _, err := shared.client.CoreV1().Pods(ns).Create(ctx, forged(ns+"-reader"), metav1.CreateOptions{}); err != nil {
		t.Errorf("a pre-injected pod with the namespace's own role was refused: %v", err)
	}
}

// Bypass: a credential written as a string constant in a template (plainly,
// through b64dec, or split across actions) ended up in the secret file.
// Template literals, and what a template renders, are judged by the
// literal rules.
func TestTemplateLiteralIsDenied(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, shared)
	const stripe = "sk_live_" + "51Hx7Qk2eZvKYlo2C9qQyT3b"
	for i, tpl := range []string{
		"[api]\nkey = " + stripe + "\n",
		`key = {{ "` + base64.StdEncoding.EncodeToString([]byte(stripe)) + `" | b64dec }}`,
		stripe[:16] + "{{/* */}}" + stripe[16:] + "\n",
		`{{ print "` + stripe[:16] + `" "` + stripe[16:] + `" }}`,
	} {
		pod := readPod(t, filepath.Join("testdata", "pod.yaml"))
		pod.Name = fmt.Sprintf("smuggler-%d", i)
		pod.Annotations["wisp.dev/template-db"] = tpl
		_, err := shared.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err == nil || !apierrors.IsForbidden(err) {
			t.Fatalf("template %d: %v, want Forbidden", i, err)
		}
		if !strings.Contains(err.Error(), "annotation wisp.dev/template-db") || strings.Contains(err.Error(), "51Hx7Qk") {
			t.Errorf("template %d: denial must name the annotation and never the value:\n%v", i, err)
		}
	}
}

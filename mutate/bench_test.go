package mutate_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/mutate"
)

// benchPod is a typical opted-in pod: two app containers with a few env vars
// and resources, three secrets (templated KV, database env, raw field).
func benchPod(annotations map[string]string) *corev1.Pod {
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	env := []corev1.EnvVar{
		{Name: "LOG_LEVEL", Value: "info"},
		{Name: "DB_CREDENTIALS_FILE", Value: "/vault/secrets/db"},
		{Name: "HTTP_PORT", Value: "8080"},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "billing-worker-5c6b9f7d8-",
			Namespace:    "team-billing",
			Labels:       map[string]string{"app.kubernetes.io/name": "billing-worker", "pod-template-hash": "5c6b9f7d8"},
			Annotations:  annotations,
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: "billing-worker",
			Containers: []corev1.Container{
				{Name: "worker", Image: "registry.example.com/team-billing/billing-worker:3.2.0", Env: env, Resources: res,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
				{Name: "proxy", Image: "envoyproxy/envoy:v1.31.2", Env: env[:1], Resources: res,
					Ports: []corev1.ContainerPort{{Name: "envoy", ContainerPort: 15001}}},
			},
		},
	}
}

func BenchmarkInject(b *testing.B) {
	pod := benchPod(map[string]string{
		"wisp.dev/inject":          "true",
		"wisp.dev/role":            "billing-worker",
		"wisp.dev/secret-stripe":   "secret/data/team-billing/stripe",
		"wisp.dev/template-stripe": "STRIPE_API_KEY={{ .api_key | quote }}\nSTRIPE_WEBHOOK_SECRET={{ .webhook_secret | quote }}\n",
		"wisp.dev/secret-db":       "database/creds/billing-worker",
		"wisp.dev/format-db":       "env",
		"wisp.dev/secret-tls-key":  "pki/issue/billing",
		"wisp.dev/format-tls-key":  "raw:private_key",
		"prometheus.io/scrape":     "true",
	})
	b.ReportAllocs()
	for b.Loop() {
		out, res, err := mutate.Inject(pod, mutate.Config{})
		if err != nil || res != mutate.Injected || out == nil {
			b.Fatalf("Inject = %v, %v", res, err)
		}
	}
}

func BenchmarkInjectNotRequested(b *testing.B) {
	pod := benchPod(map[string]string{"prometheus.io/scrape": "true"})
	b.ReportAllocs()
	for b.Loop() {
		if _, res, err := mutate.Inject(pod, mutate.Config{}); err != nil || res != mutate.NotRequested {
			b.Fatalf("Inject = %v, %v", res, err)
		}
	}
}

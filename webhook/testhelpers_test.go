package webhook

import (
	"encoding/json"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// realisticPod is an opted-in pod like a team's: two containers, a few env
// vars, three secrets.
func realisticPod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "payments-6f7c9d-",
			Namespace:    "team-a",
			Labels:       map[string]string{"app": "payments", "pod-template-hash": "6f7c9d"},
			Annotations: map[string]string{
				"wisp.dev/inject":          "true",
				"wisp.dev/role":            "payments",
				"wisp.dev/secret-config":   "secret/data/payments/config",
				"wisp.dev/template-config": "{{ range $k, $v := . }}{{ $k }}={{ $v }}\n{{ end }}",
				"wisp.dev/secret-db":       "database/creds/payments",
				"wisp.dev/format-db":       "env",
				"wisp.dev/secret-stripe":   "secret/data/payments/stripe",
				"wisp.dev/format-stripe":   "raw:api_key",
			},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{
					Name:  "app",
					Image: "registry.example.com/payments:1.4.2",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
					Env: []corev1.EnvVar{
						{Name: "DB_CREDENTIALS_FILE", Value: "/vault/secrets/db"},
						{Name: "LOG_LEVEL", Value: "info"},
						{Name: "HTTP_PORT", Value: "8080"},
					},
				},
				{
					Name:  "metrics",
					Image: "registry.example.com/exporter:0.9.0",
					Env:   []corev1.EnvVar{{Name: "SCRAPE_INTERVAL", Value: "15s"}},
				},
			},
		},
	}
}

func plainPod() *corev1.Pod {
	p := realisticPod()
	p.Annotations = nil
	return p
}

func review(t testing.TB, kind string, op admissionv1.Operation, obj any) []byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("3f1c2a9e-1111-4d2b-9a1e-5f8f0e6c7b21"),
			Kind:      metav1.GroupVersionKind{Version: "v1", Kind: kind},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: "team-a",
			Operation: op,
			Object:    runtime.RawExtension{Raw: raw},
		},
	}
	body, err := json.Marshal(ar)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

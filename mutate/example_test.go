package mutate_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/mutate"
)

func ExampleInject() {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "orders-api",
			Namespace: "team-orders",
			Annotations: map[string]string{
				"wisp.dev/inject":    "true",
				"wisp.dev/role":      "orders-api",
				"wisp.dev/secret-db": "database/creds/orders-api",
				"wisp.dev/format-db": "env",
			},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "api", Image: "registry.example.com/orders-api:1.14.2"}},
		},
	}

	out, res, err := mutate.Inject(pod, mutate.Config{})
	if err != nil {
		fmt.Println("denied:", err)
		return
	}
	fmt.Println("result:", res)
	for _, c := range out.Spec.InitContainers {
		fmt.Println("init container:", c.Name)
	}
	for _, v := range out.Spec.Volumes {
		fmt.Println("volume:", v.Name)
	}
	for _, m := range out.Spec.Containers[0].VolumeMounts {
		fmt.Printf("api mounts %s at %s, read-only %v\n", m.Name, m.MountPath, m.ReadOnly)
	}
	for _, e := range out.Spec.InitContainers[0].Env {
		if e.Name == mutate.EnvPlan {
			fmt.Println("plan:", e.Value)
		}
	}

	// Injecting again changes nothing.
	_, res, _ = mutate.Inject(out, mutate.Config{})
	fmt.Println("again:", res)

	// Output:
	// result: injected
	// init container: wisp-fetch
	// volume: wisp-spiffe
	// volume: wisp-secrets
	// api mounts wisp-secrets at /vault/secrets, read-only true
	// plan: {"version":"wisp.dev/v1alpha1","role":"orders-api","dir":"/wisp/secrets","secrets":[{"name":"db","path":"database/creds/orders-api","format":"env"}]}
	// again: already-injected
}

func ExampleInject_denied() {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "orders-api",
			Annotations: map[string]string{
				"wisp.dev/inject":    "true",
				"wisp.dev/secret-DB": "/database/creds/orders-api",
				"wisp.dev/format-db": "yaml",
			},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "registry.example.com/orders-api:1.14.2"}}},
	}
	out, _, err := mutate.Inject(pod, mutate.Config{})
	fmt.Println("pod returned:", out != nil)
	fmt.Println(err)

	// Output:
	// pod returned: false
	// annotation wisp.dev/format-db: no wisp.dev/secret-db annotation names a secret "db"
	// annotation wisp.dev/role: is missing; an injected pod must name the Vault role to log in with
	// annotation wisp.dev/secret-<name>: no secret is requested; add at least one, e.g. wisp.dev/secret-db: database/creds/app
	// annotation wisp.dev/secret-DB: secret name "DB" is not a DNS label (lower-case letters, digits and '-', at most 63)
}

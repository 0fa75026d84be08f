package policy_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/policy"
)

func ExampleEvaluator_Evaluate() {
	spec, err := policy.ParseSpec([]byte(`
mode: enforce
namespaces:
  modes: {legacy: audit}
  exempt: [kube-system]
roles:
- namespaces: ["team-*"]
  roles: ["{namespace}-*"]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, err := policy.Compile(spec)
	if err != nil {
		fmt.Println(err)
		return
	}

	o := policy.Object{
		Kind:      "Deployment",
		Namespace: "team-a",
		Name:      "web",
		Spec: &corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "app",
			Image: "registry.example.com/web:1.4.2",
			Env: []corev1.EnvVar{
				{Name: "LOG_LEVEL", Value: "info"},
				{Name: "DB_PASSWORD_FILE", Value: "/vault/secrets/db"},
				{Name: "DB_PASSWORD", Value: "Tr0ub4dor&3xY!"},
				{Name: "DATABASE_URL", Value: "postgres://web:Tr0ub4dor3xY@db:5432/web"},
			},
		}}},
	}
	d := ev.Evaluate(o)
	fmt.Println("mode:", d.Mode, "denied:", d.Denied())
	for _, m := range d.Messages(o) {
		fmt.Println(m)
	}
	fmt.Println(ev.AllowedRole("team-a", "team-a-web"))
	fmt.Println(ev.AllowedRole("team-a", "team-b-web"))
	// Output:
	// mode: enforce denied: true
	// Deployment team-a/web: container "app": env DB_PASSWORD: literal value looks like a credential under a secret-looking name (rule env-name-literal); store it in Vault and mount it with a wisp.dev/secret-<name> annotation instead; wisp.dev/env-DB_PASSWORD: "<name>#<key>" keeps it an env var, the app unchanged
	// Deployment team-a/web: container "app": env DATABASE_URL: literal value contains a URL with a password (rule known-credential-format); store it in Vault and mount it with a wisp.dev/secret-<name> annotation instead; wisp.dev/env-DATABASE_URL: "<name>#<key>" keeps it an env var, the app unchanged
	// <nil>
	// vault role not allowed: role "team-b-web" in namespace "team-a": the namespace may name only team-a-*
}

package policy

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// realisticObject is a Deployment's pod template as teams write them: two
// containers, ten env vars between them, one from a Secret.
func realisticObject() Object {
	app := []corev1.EnvVar{
		{Name: "LOG_LEVEL", Value: "info"},
		{Name: "HTTP_PORT", Value: "8080"},
		{Name: "DB_HOST", Value: "orders-db.team-orders.svc.cluster.local"},
		{Name: "DB_PASSWORD_FILE", Value: "/vault/secrets/db"},
		{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: "http://otel-collector.observability:4317"},
		{Name: "JAVA_OPTS", Value: "-Xms512m -Xmx2g -XX:+UseG1GC"},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "STRIPE_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "stripe"}, Key: "key"}}},
	}
	proxy := []corev1.EnvVar{
		{Name: "ENVOY_LOG_LEVEL", Value: "warn"},
		{Name: "UPSTREAM", Value: "http://127.0.0.1:8080"},
	}
	return Object{
		Kind: "Deployment", Namespace: "team-orders", Name: "orders-api",
		Labels: map[string]string{"app.kubernetes.io/name": "orders-api"},
		Spec: &corev1.PodSpec{Containers: []corev1.Container{
			{Name: "api", Image: "registry.example.com/orders-api:2.14.3", Env: app},
			{Name: "proxy", Image: "envoyproxy/envoy:v1.31.2", Env: proxy},
		}},
	}
}

// manyEnvObject has one container with n literal env vars cycling through
// the corpus files' kinds: benign values and credentials, short and long.
func manyEnvObject(tb testing.TB, n int) Object {
	pos := readCorpus(tb, "testdata/corpus/positive.txt")
	ben := readCorpus(tb, "testdata/corpus/benign.txt")
	env := make([]corev1.EnvVar, 0, n)
	for i := 0; len(env) < n; i++ {
		c := ben[i%len(ben)]
		if i%4 == 3 { // one credential in four
			c = pos[i%len(pos)]
		}
		env = append(env, corev1.EnvVar{Name: fmt.Sprintf("%s_%d", c.name, i), Value: c.value})
	}
	o := podWithEnv(env...)
	return o
}

func BenchmarkEvaluate(b *testing.B) {
	e := mustDefault(b)
	for _, bc := range []struct {
		name string
		o    Object
	}{
		{"realistic", realisticObject()},
		{"1000-env", manyEnvObject(b, 1000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Evaluate(bc.o)
			}
		})
	}
}

// BenchmarkCompile measures loading the default policy, gitleaks' rules
// included.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(Spec{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTemplateLiterals reads the literals of templates as an
// Evaluator does when it has not met them yet: a wisp template and a Vault
// Agent template (parse, constants, and the render over stub data).
func BenchmarkTemplateLiterals(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"wisp", "[db]\nurl = postgres://{{ .username }}:{{ .password | urlquery }}@db:5432/app\nregion = {{ .region | default \"eu-west-1\" }}\n{{ range $k, $v := .extra }}{{ $k | upper }}={{ $v | quote }}\n{{ end }}"},
		{"vault", "{{- with secret \"database/creds/app\" -}}\npostgres://{{ .Data.username }}:{{ .Data.password }}@postgres.db.svc:5432/billing\n{{- end }}\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				templateLiterals(bc.text)
			}
		})
	}
}

package chart

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"wisp.dev/wisp/certs"
	"wisp.dev/wisp/config"
	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/test/testutil"
	"wisp.dev/wisp/webhook"
)

// deployCluster is a real kube-apiserver (envtest) with the chart's webhook
// configurations, rendered in url mode, pointing at a wisp webhook served by
// this process with the chart's policy file.
type deployCluster struct {
	env        *envtest.Environment
	cfg        *rest.Config
	client     kubernetes.Interface
	registry   *prometheus.Registry
	logs       *testutil.SyncBuffer
	namespaces *webhook.NamespaceCache
	url        string
	caBundle   string
	stop       func()
}

var (
	deployOnce sync.Once
	deploy     *deployCluster
	deployErr  error
)

// cluster returns the shared deploy cluster, starting it on first use.
func cluster(t *testing.T) *deployCluster {
	t.Helper()
	bin := helmBinary(t)
	deployOnce.Do(func() {
		start := time.Now()
		deploy, deployErr = startDeploy(bin)
		if deployErr == nil {
			fmt.Fprintf(os.Stderr, "chart: API server with the chart's webhooks up in %s\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if deployErr != nil {
		t.Fatalf("start the deploy cluster: %v", deployErr)
	}
	return deploy
}

func startDeploy(helm string) (_ *deployCluster, err error) {
	if err := testutil.EnsureKubeAssets(); err != nil {
		return nil, err
	}
	var cleanups []func()
	stop := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()

	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("envtest: %w", err)
	}
	cleanups = append(cleanups, func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "chart: stop envtest:", err)
		}
	})
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())

	// The serving certificate: a dev CA, whose PEM is the caBundle.
	port, err := testutil.FreePort()
	if err != nil {
		cancel()
		return nil, err
	}
	bundle, err := certs.NewDev([]string{"127.0.0.1"}, time.Now(), 2*time.Hour)
	if err != nil {
		cancel()
		return nil, err
	}
	certDir, err := os.MkdirTemp("", "wisp-chart-certs-")
	if err != nil {
		cancel()
		return nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(certDir) })
	if err := bundle.WriteDir(certDir); err != nil {
		cancel()
		return nil, err
	}
	c := &deployCluster{
		env:      env,
		cfg:      cfg,
		client:   client,
		registry: prometheus.NewRegistry(),
		logs:     &testutil.SyncBuffer{},
		url:      "https://127.0.0.1:" + strconv.Itoa(port),
		caBundle: base64.StdEncoding.EncodeToString(bundle.CAPEM),
	}

	out, err := execHelm(helm, c.templateArgs("deploy.yaml")...)
	if err != nil {
		cancel()
		return nil, err
	}
	r, err := decodeAll(out)
	if err != nil {
		cancel()
		return nil, err
	}
	var policyFile string
	for _, o := range r.find("ConfigMap") {
		policyFile = o.Obj.(*corev1.ConfigMap).Data["policy.yaml"]
	}
	snap, err := config.Parse([]byte(policyFile))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("the chart's policy file: %w", err)
	}

	nsCache, factory := webhook.NewNamespaceCache(client)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	c.namespaces = nsCache
	srv, err := webhook.New(webhook.Options{
		Host:       "127.0.0.1",
		Port:       port,
		CertDir:    certDir,
		Snapshots:  config.Static{Snapshot: snap},
		Namespaces: nsCache,
		Logger:     slog.New(slog.NewJSONHandler(c.logs, nil)),
		Registry:   c.registry,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	cleanups = append(cleanups, func() {
		// The webhook stops before the API server.
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "chart: webhook:", err)
		}
		factory.Shutdown()
	})
	if err := testutil.WaitTLS(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second); err != nil {
		return nil, err
	}

	// What `helm install` would apply: the release namespace and both
	// webhook configurations.
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: releaseNS}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	for _, o := range r {
		switch obj := o.Obj.(type) {
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			_, err = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, obj, metav1.CreateOptions{})
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			_, err = client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, obj, metav1.CreateOptions{})
		}
		if err != nil {
			return nil, fmt.Errorf("apply %s %s: %w", o.Kind, o.Name, err)
		}
	}
	if err := c.waitWebhooks(ctx); err != nil {
		return nil, err
	}
	c.stop = stop
	return c, nil
}

// templateArgs renders the chart in url mode pointing at the test's wisp.
func (c *deployCluster) templateArgs(values string, sets ...string) []string {
	return templateArgs([]string{values}, append([]string{"webhook.url=" + c.url, "webhook.caBundle=" + c.caBundle}, sets...)...)
}

// waitWebhooks waits until the API server calls wisp: it loads webhook
// configurations asynchronously. A dry-run pod is injected once it does.
func (c *deployCluster) waitWebhooks(ctx context.Context) error {
	ns, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-"}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	probe := testPod("probe", optIn())
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := c.client.CoreV1().Pods(ns.Name).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && got.Annotations[mutate.AnnotationStatus] == mutate.StatusInjected {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server does not call wisp 30s after its webhook configurations were created (last: %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// calls returns how many admission requests wisp answered on /mutate and
// /validate so far, whatever the result.
func (c *deployCluster) calls(t *testing.T) (mutating, validating float64) {
	t.Helper()
	families, err := c.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "wisp_admission_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "endpoint" {
					continue
				}
				switch l.GetValue() {
				case webhook.EndpointMutate:
					mutating += m.GetCounter().GetValue()
				case webhook.EndpointValidate:
					validating += m.GetCounter().GetValue()
				}
			}
		}
	}
	return mutating, validating
}

// expectCalls runs fn and checks how many requests reached each endpoint.
// The deploy tests do not run in parallel, so the counts are theirs.
func (c *deployCluster) expectCalls(t *testing.T, mutating, validating float64, fn func()) {
	t.Helper()
	m0, v0 := c.calls(t)
	fn()
	m1, v1 := c.calls(t)
	if m1-m0 != mutating || v1-v0 != validating {
		t.Errorf("requests reaching wisp: /mutate %v, /validate %v; want %v and %v", m1-m0, v1-v0, mutating, validating)
	}
}

// namespace creates a namespace with labels for one test and waits until
// wisp's namespace cache knows it (its mode label decides the policy mode).
func (c *deployCluster) namespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	ctx := context.Background()
	ns, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "team-", Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = c.client.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	deadline := time.Now().Add(10 * time.Second)
	for c.namespaces.Labels(ns.Name) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("wisp's namespace cache does not know %s after 10s", ns.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ns.Name
}

func optIn() map[string]string {
	return map[string]string{
		mutate.AnnotationInject:              "true",
		mutate.AnnotationRole:                "orders",
		mutate.AnnotationSecretPrefix + "db": "database/creds/orders",
	}
}

// testPod is a pod with one container "app" and the given annotations.
func testPod(name string, annotations map[string]string, env ...corev1.EnvVar) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec:       podSpec(env...),
	}
}

func podSpec(env ...corev1.EnvVar) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/orders:1.0.0", Env: env}}}
}

func secretRef(name string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "orders-db"}, Key: "password"}}}
}

func literal(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func isInjected(p *corev1.Pod) bool {
	return p.Annotations[mutate.AnnotationStatus] == mutate.StatusInjected &&
		len(p.Spec.InitContainers) > 0 && p.Spec.InitContainers[0].Name == mutate.FetchContainerName
}

// (a) kube-system is excluded by namespaceSelector: an opted-in pod with a
// static secret there never reaches wisp, and is neither injected nor denied.
func TestDeployKubeSystemNeverReachesWisp(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	for _, ns := range []string{"kube-system", releaseNS} {
		t.Run(ns, func(t *testing.T) {
			p := testPod("", optIn(), secretRef("DB_PASSWORD"))
			p.GenerateName = "kube-"
			var got *corev1.Pod
			c.expectCalls(t, 0, 0, func() {
				var err error
				got, err = c.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
				if err != nil {
					t.Fatalf("create pod in %s: %v", ns, err)
				}
			})
			t.Cleanup(func() { _ = c.client.CoreV1().Pods(ns).Delete(context.Background(), got.Name, metav1.DeleteOptions{}) })
			if isInjected(got) || len(got.Spec.InitContainers) != 0 {
				t.Errorf("the pod in %s was injected", ns)
			}
		})
	}
}

// (b) an annotated pod in an ordinary namespace is injected; the injected
// pod then passes /validate.
func TestDeployAnnotatedPodInjected(t *testing.T) {
	c := cluster(t)
	ns := c.namespace(t, nil)
	var got *corev1.Pod
	c.expectCalls(t, 1, 1, func() {
		var err error
		got, err = c.client.CoreV1().Pods(ns).Create(context.Background(), testPod("orders", optIn()), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create pod: %v", err)
		}
	})
	if !isInjected(got) {
		t.Errorf("the stored pod is not injected: annotations %v, init containers %d", got.Annotations, len(got.Spec.InitContainers))
	}
}

// With migration.vaultAgentAnnotations, a pod annotated only for the Vault
// Agent Injector (no env at all) reaches wisp through the CEL condition and
// is injected.
func TestDeployVaultAgentPodInjected(t *testing.T) {
	c := cluster(t)
	ns := c.namespace(t, nil)
	p := testPod("billing", map[string]string{
		mutate.VaultAnnotationAgentInject:              "true",
		mutate.VaultAnnotationRole:                     "billing",
		mutate.VaultAnnotationSecretPrefix + "db":      "database/creds/billing",
		mutate.VaultAnnotationTemplatePrefix + "db":    `{{ with secret "database/creds/billing" }}{{ .Data.username }}:{{ .Data.password }}{{ end }}`,
		mutate.VaultPrefix + "agent-pre-populate-only": "true",
	})
	var got *corev1.Pod
	c.expectCalls(t, 1, 1, func() {
		var err error
		got, err = c.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create pod: %v", err)
		}
	})
	if !isInjected(got) {
		t.Errorf("the Vault-annotated pod is not injected")
	}

	// An alias cannot bypass the policy's role bindings.
	p = testPod("payments", map[string]string{
		mutate.VaultAnnotationAgentInject:         "true",
		mutate.VaultAnnotationRole:                "payments-admin",
		mutate.VaultAnnotationSecretPrefix + "db": "database/creds/payments",
	})
	_, err := c.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "payments-admin") {
		t.Errorf("a Vault-annotated pod naming a role outside the policy's bindings: got %v, want a denial naming the role", err)
	}
}

// (c) a pod that neither opts in nor has env that detection reads is never
// sent to wisp, and neither are such workloads; the positive controls prove
// that each branch of the CEL condition does send what it should (a CEL
// field typo compiles and would otherwise pass every negative case).
func TestDeployPlainPodNeverReachesWisp(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	audit := c.namespace(t, map[string]string{"wisp.dev/policy-mode": "audit"})
	pods := c.client.CoreV1().Pods(audit)
	create := func(t *testing.T, p *corev1.Pod) *corev1.Pod {
		t.Helper()
		p.GenerateName, p.Name = "pod-", ""
		got, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create pod: %v", err)
		}
		return got
	}
	configMapRef := corev1.EnvVar{Name: "FEATURES", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "features"}, Key: "list"}}}
	fieldRef := corev1.EnvVar{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}

	tests := []struct {
		name                 string
		pod                  *corev1.Pod
		mutating, validating float64
	}{
		{"no env, no opt-in", testPod("", nil), 0, 0},
		{"other annotations, a role without inject", testPod("", map[string]string{"example.com/team": "orders", mutate.AnnotationRole: "orders"}), 0, 0},
		{"empty literal", testPod("", nil, literal("EMPTY", "")), 0, 0},
		{"plain command and args", withArgs(testPod("", nil), []string{"/app"}, []string{"--port=8080", "plan"}), 0, 0},
		{"downward API files of other fields", withVolumes(testPod("", nil), downwardVolume("metadata.name", "metadata.namespace"),
			projectedDownward("metadata.namespace")), 0, 0},
		// Positive controls: each reaches both endpoints (audit mode admits).
		{"a literal value", testPod("", nil, literal("LOG_LEVEL", "info")), 1, 1},
		{"a secretKeyRef", testPod("", nil, secretRef("DB_PASSWORD")), 1, 1},
		{"a configMapKeyRef", testPod("", nil, configMapRef), 1, 1},
		{"a fieldRef", testPod("", nil, fieldRef), 1, 1},
		{"a downward API file of an annotation", withVolumes(testPod("", nil), downwardVolume("metadata.annotations['k']")), 1, 1},
		{"a projected downward API file of the labels", withVolumes(testPod("", nil), projectedDownward("metadata.labels")), 1, 1},
		{"inject false still reaches wisp", testPod("", map[string]string{mutate.AnnotationInject: "false"}), 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.expectCalls(t, tt.mutating, tt.validating, func() { create(t, tt.pod) })
		})
	}
	// wisp-fetch's --plan flag reaches wisp with no env at all, and is
	// refused in every mode (by /mutate: /validate is not called).
	for _, p := range []*corev1.Pod{
		withArgs(testPod("", nil), nil, []string{"--plan", "/cm/plan.json"}),
		withArgs(testPod("", nil), []string{"sh", "-c", "f -plan=/cm/p"}, nil),
	} {
		t.Run("--plan in "+strings.Join(append(p.Spec.Containers[0].Command, p.Spec.Containers[0].Args...), " "), func(t *testing.T) {
			p.GenerateName = "pod-"
			c.expectCalls(t, 1, 0, func() {
				if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "--plan flag") {
					t.Errorf("want a denial of the --plan flag, got %v", err)
				}
			})
		})
	}
	t.Run("envFrom secretRef", func(t *testing.T) {
		p := testPod("", nil)
		p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "orders"}}}}
		c.expectCalls(t, 1, 1, func() { create(t, p) })
	})
	t.Run("envFrom configMapRef", func(t *testing.T) {
		p := testPod("", nil)
		p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "orders"}}}}
		c.expectCalls(t, 1, 1, func() { create(t, p) })
	})
	t.Run("a secret in an init container only", func(t *testing.T) {
		p := testPod("", nil)
		p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "registry.example.com/migrate:1.0.0", Env: []corev1.EnvVar{secretRef("DB_PASSWORD")}}}
		c.expectCalls(t, 1, 1, func() { create(t, p) })
	})

	// Workloads reach /validate only; without env or opt-in, not at all.
	deployments := c.client.AppsV1().Deployments(audit)
	deployment := func(name string, env ...corev1.EnvVar) *appsv1.Deployment {
		labels := map[string]string{"app": name}
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(env...)},
			},
		}
	}
	t.Run("Deployment without env", func(t *testing.T) {
		c.expectCalls(t, 0, 0, func() {
			if _, err := deployments.Create(ctx, deployment("plain"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("Deployment with a secret, then updates", func(t *testing.T) {
		var d *appsv1.Deployment
		c.expectCalls(t, 0, 1, func() {
			var err error
			if d, err = deployments.Create(ctx, deployment("api", secretRef("DB_PASSWORD")), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		})
		// A change outside the pod template never reaches wisp.
		d.Labels = map[string]string{"tier": "backend"}
		d.Spec.Replicas = ptr(int32(3))
		c.expectCalls(t, 0, 0, func() {
			var err error
			if d, err = deployments.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		})
		// A change of the pod template does.
		d.Spec.Template.Spec.Containers[0].Image = "registry.example.com/orders:1.0.1"
		c.expectCalls(t, 0, 1, func() {
			if _, err := deployments.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("Deployment opted in, no env", func(t *testing.T) {
		d := deployment("opted-in")
		d.Spec.Template.Annotations = optIn()
		c.expectCalls(t, 0, 1, func() {
			if _, err := deployments.Create(ctx, d, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	})
	jobSpec := func(env ...corev1.EnvVar) batchv1.JobSpec {
		s := podSpec(env...)
		s.RestartPolicy = corev1.RestartPolicyNever
		return batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: s}}
	}
	for _, tt := range []struct {
		name string
		env  []corev1.EnvVar
		want float64
	}{{"no env", nil, 0}, {"a literal", []corev1.EnvVar{literal("REGION", "eu-west-1")}, 1}} {
		t.Run("Job with "+tt.name, func(t *testing.T) {
			c.expectCalls(t, 0, tt.want, func() {
				j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{GenerateName: "job-"}, Spec: jobSpec(tt.env...)}
				if _, err := c.client.BatchV1().Jobs(audit).Create(ctx, j, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			})
		})
		t.Run("CronJob with "+tt.name, func(t *testing.T) {
			c.expectCalls(t, 0, tt.want, func() {
				cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{GenerateName: "cron-"}, Spec: batchv1.CronJobSpec{
					Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec(tt.env...)}}}
				if _, err := c.client.BatchV1().CronJobs(audit).Create(ctx, cj, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func ptr[T any](v T) *T { return &v }

func withArgs(p *corev1.Pod, command, args []string) *corev1.Pod {
	p.Spec.Containers[0].Command, p.Spec.Containers[0].Args = command, args
	return p
}

func withVolumes(p *corev1.Pod, vols ...corev1.Volume) *corev1.Pod {
	p.Spec.Volumes = append(p.Spec.Volumes, vols...)
	return p
}

// downwardVolume is a downwardAPI volume with one file per field path.
func downwardVolume(fieldPaths ...string) corev1.Volume {
	return corev1.Volume{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: downwardFiles(fieldPaths)}}}
}

// projectedDownward is a projected volume (like a service account token's)
// with a downwardAPI source of one file per field path.
func projectedDownward(fieldPaths ...string) corev1.Volume {
	return corev1.Volume{Name: "projected", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: downwardFiles(fieldPaths)}},
	}}}}
}

func downwardFiles(fieldPaths []string) []corev1.DownwardAPIVolumeFile {
	var items []corev1.DownwardAPIVolumeFile
	for i, fp := range fieldPaths {
		items = append(items, corev1.DownwardAPIVolumeFile{Path: fmt.Sprintf("f%d", i), FieldRef: &corev1.ObjectFieldSelector{FieldPath: fp}})
	}
	return items
}

// (d) a pod with a static secret in an enforcing namespace is denied, and so
// is a workload, at apply time. This needs the policy engine wired into the
// webhook (webhook.Options.Snapshots carrying config.Snapshot.Policy).
func TestDeployStaticSecretDenied(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	ns := c.namespace(t, nil) // no mode label: the policy's default, enforce
	const notWired = "the webhook admitted a static secret in an enforcing namespace: the policy engine is not wired into webhook.New yet"
	check := func(t *testing.T, what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: %s", what, notWired)
		}
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "DB_PASSWORD") || !strings.Contains(err.Error(), "wisp") {
			t.Errorf("%s: want a wisp denial naming DB_PASSWORD, got: %v", what, err)
		}
	}
	t.Run("pod with secretKeyRef", func(t *testing.T) {
		_, err := c.client.CoreV1().Pods(ns).Create(ctx, testPod("leaky", nil, secretRef("DB_PASSWORD")), metav1.CreateOptions{})
		check(t, "pod", err)
	})
	t.Run("opted-in pod with secretKeyRef", func(t *testing.T) {
		_, err := c.client.CoreV1().Pods(ns).Create(ctx, testPod("leaky-opted-in", optIn(), secretRef("DB_PASSWORD")), metav1.CreateOptions{})
		check(t, "opted-in pod", err)
	})
	t.Run("StatefulSet with secretKeyRef", func(t *testing.T) {
		labels := map[string]string{"app": "db"}
		s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(secretRef("DB_PASSWORD"))},
		}}
		_, err := c.client.AppsV1().StatefulSets(ns).Create(ctx, s, metav1.CreateOptions{})
		check(t, "StatefulSet", err)
	})
	t.Run("kubectl debug container with secretKeyRef", func(t *testing.T) {
		// The chart's rules and CEL must send pods/ephemeralcontainers.
		pod, err := c.client.CoreV1().Pods(ns).Create(ctx, testPod("debug-target", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: "busybox:1.36", Env: []corev1.EnvVar{secretRef("DB_PASSWORD")},
			TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullIfNotPresent,
		}}}
		_, err = c.client.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx, pod.Name, pod, metav1.UpdateOptions{})
		check(t, "ephemeral container", err)
	})
	t.Run("CronJob with secretKeyRef", func(t *testing.T) {
		s := podSpec(secretRef("DB_PASSWORD"))
		s.RestartPolicy = corev1.RestartPolicyOnFailure
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "report"}, Spec: batchv1.CronJobSpec{Schedule: "0 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: s}}}}}
		_, err := c.client.BatchV1().CronJobs(ns).Create(ctx, cj, metav1.CreateOptions{})
		check(t, "CronJob", err)
	})
}

// TestDeployWebhookConfigsAccepted hands the webhook configurations of every
// values file to the API server (server-side dry run), which compiles their
// CEL matchConditions and validates every field.
func TestDeployWebhookConfigsAccepted(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	for _, f := range valuesFiles {
		t.Run(f, func(t *testing.T) {
			for _, o := range render(t, []string{f}, "fullnameOverride=dry-run") {
				var err error
				switch obj := o.Obj.(type) {
				case *admissionregistrationv1.MutatingWebhookConfiguration:
					_, err = c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, obj, dry)
				case *admissionregistrationv1.ValidatingWebhookConfiguration:
					_, err = c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, obj, dry)
				default:
					continue
				}
				if err != nil {
					t.Errorf("the API server refuses %s %s: %v", o.Kind, o.Name, err)
				}
			}
		})
	}
}

// TestDeployRBAC installs the chart's service account and RBAC (auto mode)
// and asks the API server's authorizer what wisp may do.
func TestDeployRBAC(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	for _, o := range render(t, []string{"values-default.yaml"}) {
		var err error
		switch obj := o.Obj.(type) {
		case *corev1.ServiceAccount:
			_, err = c.client.CoreV1().ServiceAccounts(releaseNS).Create(ctx, obj, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			_, err = c.client.RbacV1().ClusterRoles().Create(ctx, obj, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = c.client.RbacV1().ClusterRoleBindings().Create(ctx, obj, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = c.client.RbacV1().Roles(releaseNS).Create(ctx, obj, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = c.client.RbacV1().RoleBindings(releaseNS).Create(ctx, obj, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("apply %s %s: %v", o.Kind, o.Name, err)
		}
	}
	sa := "system:serviceaccount:" + releaseNS + ":wisp"
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNS, "system:authenticated"}
	type attrs = authorizationv1.ResourceAttributes
	core := func(verb, ns, resource, name string) attrs {
		return attrs{Verb: verb, Namespace: ns, Resource: resource, Name: name}
	}
	admission := func(verb, resource, name string) attrs {
		return attrs{Verb: verb, Group: "admissionregistration.k8s.io", Resource: resource, Name: name}
	}
	tests := []struct {
		attrs attrs
		want  bool
	}{
		{core("list", "", "namespaces", ""), true},
		{core("watch", "", "namespaces", ""), true},
		{core("get", releaseNS, "secrets", "wisp-tls"), true},
		{core("update", releaseNS, "secrets", "wisp-tls"), true},
		{core("list", releaseNS, "secrets", "wisp-tls"), true}, // field-selected by name
		{core("watch", releaseNS, "secrets", "wisp-tls"), true},
		{core("create", releaseNS, "secrets", ""), true},
		{admission("patch", "mutatingwebhookconfigurations", "wisp"), true},
		{admission("patch", "validatingwebhookconfigurations", "wisp"), true},
		{admission("watch", "validatingwebhookconfigurations", "wisp"), true},

		{core("get", releaseNS, "secrets", "other"), false},
		{core("list", releaseNS, "secrets", ""), false},
		{core("list", "", "secrets", ""), false},
		{core("get", "default", "secrets", "wisp-tls"), false},
		{core("delete", releaseNS, "secrets", "wisp-tls"), false},
		{core("create", "default", "secrets", ""), false},
		{admission("patch", "mutatingwebhookconfigurations", "other"), false},
		{admission("list", "mutatingwebhookconfigurations", ""), false},
		{admission("create", "validatingwebhookconfigurations", ""), false},
		{admission("delete", "validatingwebhookconfigurations", "wisp"), false},
		{core("get", "default", "pods", "x"), false},
		{core("create", releaseNS, "pods", ""), false},
		{core("list", releaseNS, "configmaps", ""), false},
		{core("update", "", "namespaces", "default"), false},
	}
	for _, tt := range tests {
		a := tt.attrs
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: sa, Groups: groups, ResourceAttributes: &a}}
		got, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SubjectAccessReview: %v", err)
		}
		if got.Status.Allowed != tt.want {
			t.Errorf("wisp may %s %s %s/%s in %q: %v, want %v", a.Verb, a.Group, a.Resource, a.Name, a.Namespace, got.Status.Allowed, tt.want)
		}
	}
}

package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"wisp.dev/wisp/test/testutil"
)

// The scale test's cluster: scaleNamespaces namespaces, each with 100
// workloads (30 Deployments and their 30 ReplicaSets, 20 StatefulSets, 10
// DaemonSets, 5 CronJobs and their 5 Jobs) and 300 pods (6 per ReplicaSet,
// 5 per StatefulSet, 1 per DaemonSet and Job, 5 alone): 70 things to judge
// per namespace. Every tenth top-level workload and one lone pod carry a
// secretKeyRef: 7 violations per namespace.
const (
	scaleNamespaces = 100
	scalePageSize   = 500
)

// TestScanScale fills a fresh API server with 10,000 workloads and 30,000
// pods and runs `wisp scan -A` (pages of 500) three times, reporting wall
// time and peak RSS (the goal: under 15 s and 150 MB on 2 cores); writes
// the 100 Reports with --apply-reports, twice (the second run changes none);
// scans one namespace in pages of 7, far fewer than its 100 workloads and
// 300 pods; and checks every scan finds exactly what was planted.
func TestScanScale(t *testing.T) {
	if !*scale {
		t.Skip("the scale test runs with -scale (minutes): go test -run TestScanScale ./test/scan -scale -v")
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{CRDInstallOptions: envtest.CRDInstallOptions{
		Paths: []string{filepath.Join(root, "charts", "wisp", "files", "openreports.io_reports.yaml")}, ErrorIfPathMissing: true,
	}}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	u, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, data, 0o600); err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}

	begin := time.Now()
	wantViolations := fill(t, cfg)
	t.Logf("created %d namespaces, %d workloads and %d pods in %s", scaleNamespaces, scaleNamespaces*100, scaleNamespaces*300, time.Since(begin).Round(time.Second))

	for i := range 3 {
		r := shared.run(t, "scan", "--kubeconfig", kc, "-A", "--policy", pol, "--page-size", fmt.Sprint(scalePageSize))
		if r.code != 1 {
			t.Fatalf("exit %d, stderr: %s", r.code, r.stderr)
		}
		_, findings, _ := strings.Cut(r.stdout, "\n\n")
		if got := strings.Count(findings, "\n"); got != wantViolations {
			t.Errorf("run %d: %d violations reported, want %d", i+1, got, wantViolations)
		}
		if rows := strings.Count(r.stdout, "\nscale-"); rows != scaleNamespaces {
			t.Errorf("run %d: %d namespace rows, want %d", i+1, rows, scaleNamespaces)
		}
		t.Logf("wisp scan -A --page-size %d, run %d: %s (wisp's CPU %s), peak RSS %.1f MB", scalePageSize, i+1, r.wall.Round(10*time.Millisecond), r.cpu.Round(10*time.Millisecond), float64(r.maxRSS)/1e6)
		if r.wall > 15*time.Second || r.maxRSS > 150e6 {
			t.Errorf("run %d: %s and %.1f MB; the goal is under 15 s and 150 MB", i+1, r.wall, float64(r.maxRSS)/1e6)
		}
	}

	// The Reports, written then re-applied unchanged.
	for i, want := range []string{
		fmt.Sprintf("wisp: reports: %d changed, 0 unchanged, 0 deleted\n", scaleNamespaces),
		fmt.Sprintf("wisp: reports: 0 changed, %d unchanged, 0 deleted\n", scaleNamespaces),
	} {
		r := shared.run(t, "scan", "--kubeconfig", kc, "-A", "--policy", pol, "--apply-reports", "--exit-code=0", "-o", "json")
		if r.code != 0 || r.stderr != want {
			t.Errorf("--apply-reports run %d: exit %d, stderr %q; want 0 and %q", i+1, r.code, r.stderr, want)
		}
		t.Logf("wisp scan -A --apply-reports -o json, run %d: %s (wisp's CPU %s), peak RSS %.1f MB", i+1, r.wall.Round(10*time.Millisecond), r.cpu.Round(10*time.Millisecond), float64(r.maxRSS)/1e6)
	}

	// Pagination: pages of 7 in a namespace of 100 workloads and 300 pods.
	r := shared.run(t, "scan", "--kubeconfig", kc, "-n", "scale-007", "--policy", pol, "--page-size", "7")
	_, findings, _ := strings.Cut(r.stdout, "\n\n")
	if want := wantViolations / scaleNamespaces; r.code != 1 || strings.Count(findings, "\n") != want ||
		!strings.Contains(r.stdout, "scale-007  warn  ") || !strings.Contains(r.stdout, "  70         ") {
		t.Errorf("-n scale-007 --page-size 7: exit %d, want %d violations in 70 workloads; stdout:\n%s", r.code, want, r.stdout)
	}
	t.Logf("wisp scan -n scale-007 --page-size 7: %s, peak RSS %.1f MB", r.wall.Round(10*time.Millisecond), float64(r.maxRSS)/1e6)

	// For comparison: the whole cluster in one page per kind.
	r = shared.run(t, "scan", "--kubeconfig", kc, "-A", "--policy", pol, "--page-size", "100000")
	t.Logf("wisp scan -A --page-size 100000 (one page per kind): %s (wisp's CPU %s), peak RSS %.1f MB", r.wall.Round(10*time.Millisecond), r.cpu.Round(10*time.Millisecond), float64(r.maxRSS)/1e6)
}

// fill creates the scale test's objects with parallel creates and returns
// the number of violations planted.
func fill(t *testing.T, cfg *rest.Config) int {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var violations atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := fillNamespace(ctx, c, i, &violations); err != nil {
					errOnce.Do(func() { firstErr = err })
				}
			}
		}()
	}
	for i := range scaleNamespaces {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return int(violations.Load())
}

func fillNamespace(ctx context.Context, c kubernetes.Interface, i int, violations *atomic.Int64) error {
	ns := fmt.Sprintf("scale-%03d", i)
	mode := []string{"enforce", "warn", "audit"}[i%3] // scale-007: warn
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"wisp.dev/policy-mode": mode}}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	n := 0 // top-level workloads so far: every tenth carries a secret
	spec := func(app string) corev1.PodTemplateSpec {
		n++
		t := scaleTemplate(app, n%10 == 0)
		if n%10 == 0 {
			violations.Add(1)
		}
		return t
	}
	pods := func(prefix string, count int, owner []metav1.OwnerReference, t corev1.PodTemplateSpec) error {
		for j := range count {
			p := &corev1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
			p.Name, p.OwnerReferences = fmt.Sprintf("%s-%d", prefix, j), owner
			if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
		return nil
	}
	for j := range 30 {
		name := fmt.Sprintf("web-%d", j)
		t := spec(name)
		sel := &metav1.LabelSelector{MatchLabels: t.Labels}
		d, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Selector: sel, Template: t}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-7d9f",
			OwnerReferences: controllerRef("Deployment", name, d.UID, "apps/v1")}, Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: t}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if err := pods(rs.Name, 6, controllerRef("ReplicaSet", rs.Name, rs.UID, "apps/v1"), t); err != nil {
			return err
		}
	}
	for j := range 20 {
		name := fmt.Sprintf("db-%d", j)
		t := spec(name)
		s, err := c.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: t.Labels}, Template: t}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if err := pods(name, 5, controllerRef("StatefulSet", name, s.UID, "apps/v1"), t); err != nil {
			return err
		}
	}
	for j := range 10 {
		name := fmt.Sprintf("agent-%d", j)
		t := spec(name)
		d, err := c.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: t.Labels}, Template: t}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if err := pods(name, 1, controllerRef("DaemonSet", name, d.UID, "apps/v1"), t); err != nil {
			return err
		}
	}
	for j := range 5 {
		name := fmt.Sprintf("cron-%d", j)
		t := spec(name)
		t.Spec.RestartPolicy = corev1.RestartPolicyNever
		jt := t
		jt.Labels = nil // the API server labels a Job's pods itself
		cj, err := c.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jt}}}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		job, err := c.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name + "-2900",
			OwnerReferences: controllerRef("CronJob", name, cj.UID, "batch/v1")}, Spec: batchv1.JobSpec{Template: jt}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		jp := t
		jp.Labels = job.Spec.Template.Labels // the labels its selector wants
		if err := pods(job.Name, 1, controllerRef("Job", job.Name, job.UID, "batch/v1"), jp); err != nil {
			return err
		}
	}
	for j := range 5 {
		t := scaleTemplate("lone", j == 0)
		if j == 0 {
			violations.Add(1)
		}
		if err := pods(fmt.Sprintf("lone-%d", j), 1, nil, t); err != nil {
			return err
		}
	}
	return nil
}

// scaleTemplate is a realistic pod template: two containers with env,
// ports, probes, resources and mounts; a secretKeyRef when leaky.
func scaleTemplate(app string, leaky bool) corev1.PodTemplateSpec {
	env := []corev1.EnvVar{
		{Name: "LOG_LEVEL", Value: "info"}, {Name: "PORT", Value: "8080"}, {Name: "REGION", Value: "eu-west-1"},
		{Name: "FEATURES", Value: "search,checkout,recommendations"}, {Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: "http://otel-collector.observability:4317"},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "GIT_COMMIT", Value: "3f5e1c9a7b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f"},
	}
	if leaky {
		env = append(env, secretRef("DB_PASSWORD"))
	}
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 10}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app": app, "app.kubernetes.io/part-of": "shop", "app.kubernetes.io/version": "1.4.2"},
			Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "app", Image: "registry.example.com/shop/" + app + ":1.4.2", Env: env, Resources: res,
					Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
					ReadinessProbe: probe, LivenessProbe: probe,
					VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}, {Name: "tmp", MountPath: "/tmp"}}},
				{Name: "proxy", Image: "registry.example.com/envoy:1.30.1", Resources: res,
					Env:   []corev1.EnvVar{{Name: "ENVOY_LOG_LEVEL", Value: "warn"}},
					Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}}},
			},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: app + "-config"}}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

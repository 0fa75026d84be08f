package chart

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	reportsclient "github.com/openreports/reports-api/pkg/client/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/internal/image"
)

const reportsName = "wisp-reports"

// TestReportsCronJob: reports.enabled renders a CronJob that runs `wisp
// scan --apply-reports` from wisp's image, restricted, under its own
// ServiceAccount with least-privilege RBAC, with the chart's policy; and the
// OpenReports CRD unless reports.installCRDs is false.
func TestReportsCronJob(t *testing.T) {
	t.Parallel()
	r := render(t, []string{"values-reports.yaml"})
	cj := named[*batchv1.CronJob](t, r, "CronJob", reportsName)
	if cj.Namespace != releaseNS || cj.Spec.Schedule != "*/30 * * * *" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("CronJob %s/%s schedule %q concurrency %q", cj.Namespace, cj.Name, cj.Spec.Schedule, cj.Spec.ConcurrencyPolicy)
	}
	spec := cj.Spec.JobTemplate.Spec.Template.Spec
	if spec.ServiceAccountName != reportsName || spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("pod: serviceAccountName %q restartPolicy %q", spec.ServiceAccountName, spec.RestartPolicy)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	wantArgs := []string{"--all-namespaces", "--apply-reports", "--policy=/etc/wisp/policy.yaml", "--page-size=250", "--exit-code=0"}
	if !cmp.Equal(c.Command, []string{"/usr/local/bin/wisp", "scan"}) || !cmp.Equal(c.Args, wantArgs) {
		t.Errorf("command %q args %q, want [/wisp scan] %q", c.Command, c.Args, wantArgs)
	}
	d, err := image.ParseDockerfile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Binaries, c.Command[0]) {
		t.Errorf("the CronJob runs %s, which the image %v lacks", c.Command[0], d.Binaries)
	}
	if dep := named[*appsv1.Deployment](t, r, "Deployment", "wisp"); c.Image != dep.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("image %q, want the webhook's %q", c.Image, dep.Spec.Template.Spec.Containers[0].Image)
	}
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !cmp.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v is not restricted", sc)
	}
	cm := named[*corev1.ConfigMap](t, r, "ConfigMap", "wisp-policy")
	if got := mountedFiles(t, &spec, &c)["/etc/wisp/policy.yaml"]; got != "ConfigMap "+cm.Name+" policy.yaml" {
		t.Errorf("/etc/wisp/policy.yaml is %q, want ConfigMap %s", got, cm.Name)
	}

	sa := named[*corev1.ServiceAccount](t, r, "ServiceAccount", reportsName)
	if sa.Namespace != releaseNS {
		t.Errorf("ServiceAccount in %q", sa.Namespace)
	}
	cr := named[*rbacv1.ClusterRole](t, r, "ClusterRole", reportsName)
	list := []string{"list"}
	wantRules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: list},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, Verbs: list},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: list},
		{APIGroups: []string{"openreports.io"}, Resources: []string{"reports"}, Verbs: []string{"get", "list", "create", "patch", "delete"}},
	}
	if diff := cmp.Diff(wantRules, cr.Rules); diff != "" {
		t.Errorf("ClusterRole %s rules (-want +got):\n%s", reportsName, diff)
	}
	crb := named[*rbacv1.ClusterRoleBinding](t, r, "ClusterRoleBinding", reportsName)
	wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: reportsName, Namespace: releaseNS}}
	if crb.RoleRef.Name != reportsName || crb.RoleRef.Kind != "ClusterRole" || !cmp.Equal(crb.Subjects, wantSubjects) {
		t.Errorf("ClusterRoleBinding roleRef %+v subjects %+v", crb.RoleRef, crb.Subjects)
	}

	// The CRD is the module's, unchanged.
	crd := named[*apiextensionsv1.CustomResourceDefinition](t, r, "CustomResourceDefinition", "reports.openreports.io")
	var want apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(moduleCRD(t), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, crd); diff != "" {
		t.Errorf("the chart's CRD differs from reports-api's (-module +chart):\n%s", diff)
	}

	if got := render(t, []string{"values-reports.yaml"}, "reports.installCRDs=false").find("CustomResourceDefinition"); len(got) != 0 {
		t.Errorf("installCRDs=false still renders %d CRDs", len(got))
	}
}

// moduleCRD returns the Report CRD of the reports-api module in go.mod, and
// checks the chart's copy is byte for byte the same.
func moduleCRD(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/openreports/reports-api")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m github.com/openreports/reports-api: %v", err)
	}
	want, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "openreports.io_reports.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(chartDir, "files", "openreports.io_reports.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("charts/wisp/files/openreports.io_reports.yaml is not the reports-api module's config/crd/openreports.io_reports.yaml")
	}
	return want
}

// TestDeployReports installs the reports part of the chart (the CRD, the
// ServiceAccount and its RBAC) in the real API server, then runs the
// CronJob's command once, as its ServiceAccount (impersonated: envtest has
// no node to run the Job): Reports appear for the namespaces with workloads.
func TestDeployReports(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	r := render(t, []string{"deploy.yaml"}, "reports.enabled=true")

	ext, err := apiextensionsclient.NewForConfig(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	crd := named[*apiextensionsv1.CustomResourceDefinition](t, r, "CustomResourceDefinition", "reports.openreports.io")
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the CRD: %v", err)
	}
	if err := envtest.WaitForCRDs(c.cfg, []*apiextensionsv1.CustomResourceDefinition{crd}, envtest.CRDInstallOptions{MaxTime: 30 * time.Second, PollInterval: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client.CoreV1().ServiceAccounts(releaseNS).Create(ctx, named[*corev1.ServiceAccount](t, r, "ServiceAccount", reportsName), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client.RbacV1().ClusterRoles().Create(ctx, named[*rbacv1.ClusterRole](t, r, "ClusterRole", reportsName), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client.RbacV1().ClusterRoleBindings().Create(ctx, named[*rbacv1.ClusterRoleBinding](t, r, "ClusterRoleBinding", reportsName), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A leaky Deployment (admitted in audit mode) and a clean one.
	leaky := c.namespace(t, map[string]string{"wisp.dev/policy-mode": "audit"})
	clean := c.namespace(t, nil)
	deploy := func(ns, name string, env ...corev1.EnvVar) {
		labels := map[string]string{"app": name}
		_, err := c.client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(env...)}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	deploy(leaky, "orders", secretRef("DB_PASSWORD"))
	deploy(clean, "site")

	// The CronJob's command, with the chart's policy file and the
	// ServiceAccount's identity.
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, renderedPolicyFile(t, r), 0o600); err != nil {
		t.Fatal(err)
	}
	cj := named[*batchv1.CronJob](t, r, "CronJob", reportsName)
	container := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	var args []string
	for _, a := range container.Args {
		args = append(args, strings.Replace(a, "--policy=/etc/wisp/policy.yaml", "--policy="+policyFile, 1))
	}
	wisp := filepath.Join(dir, "wisp")
	// The image's binaries are built from ./cmd/<their base name>.
	build := exec.Command("go", "build", "-o", wisp, "./cmd/"+filepath.Base(container.Command[0]))
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	kubeconfig := saKubeconfig(t, c, dir, "system:serviceaccount:"+releaseNS+":"+cj.Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName)
	cmd := exec.Command(wisp, append(append(container.Command[1:], args...), "--kubeconfig", kubeconfig)...)
	cmd.Env = []string{"HOME=" + dir}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstderr: %s", container.Command[0], strings.Join(args, " "), err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Deployment "+leaky+"/orders: ") || !strings.HasPrefix(stderr.String(), "wisp: reports: ") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}

	rc, err := reportsclient.NewForConfig(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for ns, want := range map[string][]string{leaky: {"Deployment/orders env-secret-key-ref warn"}, clean: nil} {
		rep, err := rc.OpenreportsV1alpha1().Reports(ns).Get(ctx, "wisp", metav1.GetOptions{})
		if err != nil {
			t.Errorf("the Report of %s: %v", ns, err)
			continue
		}
		var got []string
		for _, res := range rep.Results {
			got = append(got, res.Subjects[0].Kind+"/"+res.Subjects[0].Name+" "+res.Policy+" "+string(res.Result))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the Report of %s (-want +got):\n%s", ns, diff)
		}
	}
}

// saKubeconfig writes a kubeconfig of a cluster admin that impersonates a
// ServiceAccount (with the groups the API server gives it).
func saKubeconfig(t *testing.T, c *deployCluster, dir, sa string) string {
	t.Helper()
	u, err := c.env.AddUser(envtest.User{Name: "impersonator", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	ns := strings.Split(sa, ":")[2]
	for _, ai := range kc.AuthInfos {
		ai.Impersonate = sa
		ai.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

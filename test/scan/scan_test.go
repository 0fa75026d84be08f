package scan

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"wisp.dev/wisp/policy"
)

// testPolicy: enforce by default, a namespace label picks warn or audit,
// legacy-* namespaces and namespaces labelled wisp.dev/exempt are exempt,
// pods may exempt themselves with a reason.
const testPolicy = `apiVersion: wisp.dev/v1alpha1
kind: Policy
mode: enforce
namespaces:
  modeLabel: wisp.dev/policy-mode
  exempt: ["legacy-*"]
  exemptSelector: {matchLabels: {wisp.dev/exempt: "true"}}
exemptPods:
  annotation: {allowed: true, minReasonLength: 10}
`

// Planted values: none may appear in any output.
const (
	awsKey   = "AKIAZ3MHQ7LXK4T2V6PB"
	password = "Zx9#kL2mQp7$vR4tWq8!"
)

// missingRS is the UID of a ReplicaSet that does not exist.
const missingRS = types.UID("00000000-0000-4000-8000-000000000001")

func secretRef(name string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}
}

func fromSecret(name string) []corev1.EnvFromSource {
	return []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}
}

func podSpec(env ...corev1.EnvVar) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0.0", Env: env}}}
}

func template(app string, env ...corev1.EnvVar) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}}, Spec: podSpec(env...)}
}

func controllerRef(kind, name string, uid types.UID, apiVersion string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes}}
}

// fixture creates the namespaces and objects of the findings tests.
type fixture struct {
	t   *testing.T
	c   *cluster
	ctx context.Context
}

func (f fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f fixture) namespace(name string, labels map[string]string) {
	_, err := f.c.client.CoreV1().Namespaces().Create(f.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	f.must(err)
}

// deployment creates a Deployment, its ReplicaSet and n pods, labelled
// as the Deployment controller does; it returns the ReplicaSet.
func (f fixture) deployment(ns, name string, pods int, env ...corev1.EnvVar) *appsv1.ReplicaSet {
	tmpl := template(name, env...)
	d, err := f.c.client.AppsV1().Deployments(ns).Create(f.ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels}, Template: tmpl}}, metav1.CreateOptions{})
	f.must(err)
	rsTmpl := *tmpl.DeepCopy()
	rsTmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = "6b7c9d"
	rs, err := f.c.client.AppsV1().ReplicaSets(ns).Create(f.ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-6b7c9d",
		OwnerReferences: controllerRef("Deployment", name, d.UID, "apps/v1")},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: rsTmpl.Labels}, Template: rsTmpl}}, metav1.CreateOptions{})
	f.must(err)
	for i := range pods {
		f.pod(ns, name+"-6b7c9d-"+string(rune('a'+i)), controllerRef("ReplicaSet", rs.Name, rs.UID, "apps/v1"), rsTmpl.Labels, nil, env...)
	}
	return rs
}

func (f fixture) pod(ns, name string, owners []metav1.OwnerReference, labels, annotations map[string]string, env ...corev1.EnvVar) *corev1.Pod {
	p, err := f.c.client.CoreV1().Pods(ns).Create(f.ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: owners, Labels: labels, Annotations: annotations},
		Spec: podSpec(env...)}, metav1.CreateOptions{})
	f.must(err)
	return p
}

// setup creates the fixture once for the package's findings tests.
func setup(t *testing.T, c *cluster) (policyPath string) {
	t.Helper()
	policyPath = filepath.Join(c.dir, "policy.yaml")
	if _, err := os.Stat(policyPath); err == nil {
		return policyPath
	}
	f := fixture{t: t, c: c, ctx: context.Background()}

	f.namespace("shop", nil) // enforce: the policy's default
	f.deployment("shop", "web", 2, secretRef("DB_PASSWORD"))
	api := f.deployment("shop", "api", 1)
	// A pod that names api's ReplicaSet, with its labels, and carries a
	// secret api's template does not: reported as itself.
	f.pod("shop", "api-6b7c9d-z", controllerRef("ReplicaSet", api.Name, api.UID, "apps/v1"), api.Spec.Template.Labels, nil, secretRef("STRIPE_KEY"))
	// A pod whose ReplicaSet is gone: reported as itself, with its owner.
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "worker-5f7d8-x", OwnerReferences: controllerRef("ReplicaSet", "worker-5f7d8", missingRS, "apps/v1")}, Spec: podSpec()}
	p.Spec.Containers[0].EnvFrom = fromSecret("worker-env")
	_, err := c.client.CoreV1().Pods("shop").Create(f.ctx, p, metav1.CreateOptions{})
	f.must(err)
	f.pod("shop", "debug", nil, nil, map[string]string{policy.ExemptAnnotation: "vendor image, see TICKET-1234"}, secretRef("DB_PASSWORD"))
	f.pod("shop", "ci-runner", nil, nil, nil, corev1.EnvVar{Name: "AWS_ACCESS_KEY_ID", Value: awsKey})
	ds, err := c.client.AppsV1().DaemonSets("shop").Create(f.ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}, Template: template("agent")}}, metav1.CreateOptions{})
	f.must(err)
	f.pod("shop", "agent-q2x", controllerRef("DaemonSet", "agent", ds.UID, "apps/v1"), ds.Spec.Template.Labels, nil)

	f.namespace("shop-warn", map[string]string{"wisp.dev/policy-mode": "warn"})
	jobSpec := batchv1.JobSpec{Template: template("report", secretRef("API_TOKEN"))}
	jobSpec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	cj, err := c.client.BatchV1().CronJobs("shop-warn").Create(f.ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "report"},
		Spec: batchv1.CronJobSpec{Schedule: "0 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec}}}, metav1.CreateOptions{})
	f.must(err)
	jobSpec.Template.Labels = nil // the API server sets the Job's selector and labels
	job, err := c.client.BatchV1().Jobs("shop-warn").Create(f.ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "report-29000",
		OwnerReferences: controllerRef("CronJob", "report", cj.UID, "batch/v1")}, Spec: jobSpec}, metav1.CreateOptions{})
	f.must(err)
	f.pod("shop-warn", "report-29000-k8s", controllerRef("Job", job.Name, job.UID, "batch/v1"), job.Spec.Template.Labels, nil, secretRef("API_TOKEN"))

	f.namespace("shop-audit", map[string]string{"wisp.dev/policy-mode": "audit"})
	stsTmpl := template("db")
	stsTmpl.Spec.Containers[0].EnvFrom = fromSecret("db-creds")
	sts, err := c.client.AppsV1().StatefulSets("shop-audit").Create(f.ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: stsTmpl.Labels}, Template: stsTmpl}}, metav1.CreateOptions{})
	f.must(err)
	dbPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Labels: stsTmpl.Labels, OwnerReferences: controllerRef("StatefulSet", "db", sts.UID, "apps/v1")}, Spec: stsTmpl.Spec}
	_, err = c.client.CoreV1().Pods("shop-audit").Create(f.ctx, dbPod, metav1.CreateOptions{})
	f.must(err)
	migrate := batchv1.JobSpec{Template: template("migrate", corev1.EnvVar{Name: "PGPASSWORD", Value: password})}
	migrate.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	migrate.Template.Labels = nil
	_, err = c.client.BatchV1().Jobs("shop-audit").Create(f.ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "migrate"}, Spec: migrate}, metav1.CreateOptions{})
	f.must(err)

	f.namespace("legacy-billing", nil)
	f.deployment("legacy-billing", "invoices", 1, secretRef("DB_PASSWORD"))
	f.namespace("sandbox", map[string]string{"wisp.dev/exempt": "true"})
	f.pod("sandbox", "scratch", nil, nil, nil, secretRef("DB_PASSWORD"))
	f.namespace("clean", nil)
	f.deployment("clean", "site", 2, corev1.EnvVar{Name: "LOG_LEVEL", Value: "info"})

	if err := os.WriteFile(policyPath, []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	return policyPath
}

// noValues fails if an output carries a planted value.
func noValues(t *testing.T, r run) {
	t.Helper()
	for _, v := range []string{awsKey, password} {
		if strings.Contains(r.stdout+r.stderr, v) {
			t.Errorf("the output carries a planted value")
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// TestScanText: the summary table and one line per violation, exactly; the
// same with pages of 2 objects (smaller than every namespace's lists).
func TestScanText(t *testing.T) {
	c := shared
	pol := setup(t, c)
	var first string
	for _, page := range []string{"500", "2"} {
		r := c.run(t, "scan", "--kubeconfig", c.kubeconfig, "-A", "--policy", pol, "--page-size", page)
		if r.code != 1 {
			t.Fatalf("page size %s: exit %d, want 1; stderr: %s", page, r.code, r.stderr)
		}
		if want := "wisp: 7 static secret(s) found in 7 workload(s)\n"; r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
		noValues(t, r)
		if first == "" {
			first = r.stdout
			golden(t, "scan.txt", r.stdout)
		} else if r.stdout != first {
			t.Errorf("page size %s gives another output:\n%s", page, cmp.Diff(first, r.stdout))
		}
	}

	// One namespace, as its team would run it.
	r := c.run(t, "scan", "--kubeconfig", c.kubeconfig, "-n", "shop-warn", "--policy", pol)
	if r.code != 1 || !strings.HasPrefix(r.stdout, "NAMESPACE  MODE  WORKLOADS  VIOLATIONS\nshop-warn  warn  1          1 (env-secret-key-ref 1)\n\nCronJob shop-warn/report: ") ||
		strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("-n shop-warn: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	// --exit-code=0, as the CronJob runs it.
	if r := c.run(t, "scan", "--kubeconfig", c.kubeconfig, "-n", "shop-warn", "--policy", pol, "--exit-code=0"); r.code != 0 || r.stderr != "" {
		t.Errorf("--exit-code=0: exit %d, stderr %q", r.code, r.stderr)
	}
	// A clean namespace exits 0.
	if r := c.run(t, "scan", "--kubeconfig", c.kubeconfig, "-n", "clean", "--policy", pol); r.code != 0 || r.stdout != "NAMESPACE  MODE     WORKLOADS  VIOLATIONS\nclean      enforce  1          0\n" {
		t.Errorf("-n clean: exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// TestScanJSON: wisp check's JSON plus mode, owner chain and pods.
func TestScanJSON(t *testing.T) {
	c := shared
	pol := setup(t, c)
	r := c.run(t, "scan", "--kubeconfig", c.kubeconfig, "-A", "--policy", pol, "-o", "json", "--page-size", "3")
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("exit %d, want 1 and nothing on stderr; stderr: %s", r.code, r.stderr)
	}
	noValues(t, r)
	var out struct {
		Violations []struct {
			Kind, Namespace, Name, Container, Env, Rule, Message, Mode string
			Owners                                                     []struct{ Kind, Name string }
			Pods                                                       int
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	var got []string
	for _, v := range out.Violations {
		var owners []string
		for _, o := range v.Owners {
			owners = append(owners, o.Kind+"/"+o.Name)
		}
		got = append(got, strings.Join([]string{v.Mode, v.Kind, v.Namespace + "/" + v.Name, v.Container, v.Env, v.Rule, strings.Join(owners, ">"), string(rune('0' + v.Pods))}, " "))
		if !strings.HasPrefix(v.Message, v.Kind+" "+v.Namespace+"/"+v.Name+": ") {
			t.Errorf("message %q does not name its object", v.Message)
		}
	}
	want := []string{
		"enforce Deployment shop/web app DB_PASSWORD env-secret-key-ref  2",
		"enforce Pod shop/api-6b7c9d-z app STRIPE_KEY env-secret-key-ref ReplicaSet/api-6b7c9d>Deployment/api 1",
		"enforce Pod shop/ci-runner app AWS_ACCESS_KEY_ID known-credential-format  1",
		"enforce Pod shop/worker-5f7d8-x app envFrom:worker-env env-from-secret ReplicaSet/worker-5f7d8 1",
		"audit StatefulSet shop-audit/db app envFrom:db-creds env-from-secret  1",
		"audit Job shop-audit/migrate app PGPASSWORD " + ruleOf(t, out.Violations, "migrate") + "  0",
		"warn CronJob shop-warn/report app API_TOKEN env-secret-key-ref  1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	// The uids of listed owners change with every run; the missing
	// ReplicaSet's is fixed.
	golden(t, "scan.json", uids.ReplaceAllStringFunc(r.stdout, func(m string) string {
		if strings.Contains(m, string(missingRS)) {
			return m
		}
		return `"uid": "<uid>"`
	}))
}

var uids = regexp.MustCompile(`"uid": "[0-9a-f-]{36}"`)

// ruleOf returns the rule that flagged the named object's literal (the
// literal rules decide among themselves; the golden file pins it).
func ruleOf[V any](t *testing.T, vs []V, name string) string {
	t.Helper()
	for _, v := range vs {
		b, _ := json.Marshal(v)
		var m struct{ Name, Rule string }
		_ = json.Unmarshal(b, &m)
		if m.Name == name {
			return m.Rule
		}
	}
	return "?"
}

// reportOf reads wisp's Report of a namespace: its resourceVersion and its
// results as "Kind/name rule result".
func reportOf(t *testing.T, c *cluster, ns string) (string, []string, reportsv1alpha1.ReportSummary) {
	t.Helper()
	rep, err := c.reports.OpenreportsV1alpha1().Reports(ns).Get(context.Background(), "wisp", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Report %s/wisp: %v", ns, err)
	}
	var results []string
	for _, r := range rep.Results {
		if len(r.Subjects) != 1 || r.Source != "wisp" || r.Timestamp.Seconds == 0 {
			t.Errorf("result %+v: want one subject, source wisp, a timestamp", r)
		}
		results = append(results, r.Subjects[0].Kind+"/"+r.Subjects[0].Name+" "+r.Policy+" "+string(r.Result))
	}
	return rep.ResourceVersion, results, rep.Summary
}

// TestScanApplyReports: --apply-reports creates a Report per namespace; a
// re-run changes nothing; a fixed workload drops out of its Report; a
// namespace that becomes exempt loses its Report.
func TestScanApplyReports(t *testing.T) {
	c := shared
	pol := setup(t, c)
	ctx := context.Background()
	apply := func(wantStderr string) {
		t.Helper()
		r := c.run(t, "scan", "--kubeconfig", c.kubeconfig, "-A", "--policy", pol, "--apply-reports", "--exit-code=0", "--page-size", "2")
		if r.code != 0 || r.stderr != wantStderr {
			t.Fatalf("exit %d, stderr %q; want 0 and %q", r.code, r.stderr, wantStderr)
		}
		noValues(t, r)
	}
	apply("wisp: reports: 4 changed, 0 unchanged, 0 deleted\n")

	list, err := c.reports.OpenreportsV1alpha1().Reports("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var where []string
	for _, r := range list.Items {
		where = append(where, r.Namespace+"/"+r.Name)
	}
	slices.Sort(where)
	if diff := cmp.Diff([]string{"clean/wisp", "shop-audit/wisp", "shop-warn/wisp", "shop/wisp"}, where); diff != "" {
		t.Errorf("Reports (-want +got):\n%s", diff)
	}
	rv := map[string]string{}
	type want struct {
		results []string
		summary reportsv1alpha1.ReportSummary
	}
	wants := map[string]want{
		"shop": {[]string{
			"Deployment/web env-secret-key-ref fail",
			"Pod/api-6b7c9d-z env-secret-key-ref fail",
			"Pod/ci-runner known-credential-format fail",
			"Pod/worker-5f7d8-x env-from-secret fail",
		}, reportsv1alpha1.ReportSummary{Fail: 4}},
		"shop-warn":  {[]string{"CronJob/report env-secret-key-ref warn"}, reportsv1alpha1.ReportSummary{Warn: 1}},
		"shop-audit": {nil, reportsv1alpha1.ReportSummary{Warn: 2}},
		"clean":      {nil, reportsv1alpha1.ReportSummary{}},
	}
	for ns, w := range wants {
		var results []string
		var summary reportsv1alpha1.ReportSummary
		rv[ns], results, summary = reportOf(t, c, ns)
		if ns == "shop-audit" {
			if len(results) != 2 || results[0] != "StatefulSet/db env-from-secret warn" || results[1] != "Job/migrate env-name-literal warn" {
				t.Errorf("shop-audit results %q", results)
			}
		} else if diff := cmp.Diff(w.results, results); diff != "" {
			t.Errorf("%s results (-want +got):\n%s", ns, diff)
		}
		if summary != w.summary {
			t.Errorf("%s summary %+v, want %+v", ns, summary, w.summary)
		}
	}

	// A second run: nothing changed, so no Report changes.
	apply("wisp: reports: 0 changed, 4 unchanged, 0 deleted\n")
	for ns := range wants {
		if got, _, _ := reportOf(t, c, ns); got != rv[ns] {
			t.Errorf("%s: resourceVersion %s after a run that found the same, want %s", ns, got, rv[ns])
		}
	}

	// web is fixed: its result leaves shop's Report, the others stay.
	d, err := c.client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	broken := d.Spec.Template.Spec.Containers[0].Env
	d.Spec.Template.Spec.Containers[0].Env = nil
	t.Cleanup(func() { // the other tests expect web's violation
		if d, err := c.client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{}); err == nil {
			d.Spec.Template.Spec.Containers[0].Env = broken
			_, _ = c.client.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{})
		}
	})
	if _, err := c.client.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs, err := c.client.AppsV1().ReplicaSets("shop").Get(ctx, "web-6b7c9d", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs.Spec.Template.Spec.Containers[0].Env = nil
	if _, err := c.client.AppsV1().ReplicaSets("shop").Update(ctx, rs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Its pods, which still carry the secret, are replaced (there is no
	// controller here to do it).
	for _, name := range []string{"web-6b7c9d-a", "web-6b7c9d-b"} {
		p, err := c.client.CoreV1().Pods("shop").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.client.CoreV1().Pods("shop").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		p.ResourceVersion, p.UID = "", ""
		p.Spec.Containers[0].Env = nil
		if _, err := c.client.CoreV1().Pods("shop").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	apply("wisp: reports: 1 changed, 3 unchanged, 0 deleted\n")
	got, results, summary := reportOf(t, c, "shop")
	if got == rv["shop"] || summary.Fail != 3 || !cmp.Equal(results, wants["shop"].results[1:]) {
		t.Errorf("after fixing web: resourceVersion %s (was %s), summary %+v, results %q", got, rv["shop"], summary, results)
	}

	// shop-warn becomes exempt: wisp no longer judges it, its Report goes.
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, "shop-warn", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Labels["wisp.dev/exempt"] = "true"
	if _, err := c.client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns, err := c.client.CoreV1().Namespaces().Get(ctx, "shop-warn", metav1.GetOptions{})
		if err == nil {
			delete(ns.Labels, "wisp.dev/exempt")
			_, _ = c.client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
		}
	})
	apply("wisp: reports: 0 changed, 3 unchanged, 1 deleted\n")
	if _, err := c.reports.OpenreportsV1alpha1().Reports("shop-warn").Get(ctx, "wisp", metav1.GetOptions{}); err == nil {
		t.Error("the Report of shop-warn, now exempt, is still there")
	}
}

// TestScanRBAC: a user who lacks a permission gets exit 2 and one line
// naming the call and the permission.
func TestScanRBAC(t *testing.T) {
	c := shared
	pol := setup(t, c)
	ctx := context.Background()
	read := []string{"get", "list"}
	grant := func(user string, rules ...rbacv1.PolicyRule) string {
		t.Helper()
		_, err := c.client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: rules}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: user},
			Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		kc, err := c.userKubeconfig(user, nil)
		if err != nil {
			t.Fatal(err)
		}
		return kc
	}
	core := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces", "pods"}, Verbs: read}
	tests := []struct {
		name  string
		rules []rbacv1.PolicyRule
		args  []string
		want  string
	}{
		{"no statefulsets", []rbacv1.PolicyRule{core, {APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets"}, Verbs: read}},
			[]string{"-n", "shop"},
			`wisp: cannot list apps/v1 statefulsets in namespace "shop": forbidden (needs list on statefulsets.apps)`},
		{"no pods at cluster scope", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: read},
			{APIGroups: []string{"apps", "batch"}, Resources: []string{"*"}, Verbs: read}},
			[]string{"-A"},
			`wisp: cannot list v1 pods in all namespaces: forbidden (needs list on pods at cluster scope)`},
		{"no namespaces", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: read}},
			[]string{"-n", "shop"},
			`wisp: cannot get v1 namespaces "shop": forbidden (needs get on namespaces)`},
		{"reports read-only", []rbacv1.PolicyRule{core, {APIGroups: []string{"apps", "batch"}, Resources: []string{"*"}, Verbs: read},
			{APIGroups: []string{"openreports.io"}, Resources: []string{"reports"}, Verbs: read}},
			[]string{"-n", "clean", "--apply-reports"},
			`wisp: cannot apply openreports.io/v1alpha1 reports "wisp" in namespace "clean": forbidden (needs create and patch on reports.openreports.io)`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := grant("limited-"+string(rune('a'+i)), tt.rules...)
			r := c.run(t, append([]string{"scan", "--kubeconfig", kc, "--policy", pol}, tt.args...)...)
			if r.code != 2 || r.stderr != tt.want+"\n" || r.stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit 2 and %q", r.code, r.stderr, r.stdout, tt.want)
			}
		})
	}

	// An API server that is not there.
	r := c.run(t, "scan", "--kubeconfig", writeKubeconfig(t, c, "https://127.0.0.1:1"), "-A")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "wisp: cannot list v1 namespaces: cannot reach the API server: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("unreachable: exit %d, stderr %q", r.code, r.stderr)
	}
}

func writeKubeconfig(t *testing.T, c *cluster, server string) string {
	t.Helper()
	path := filepath.Join(c.dir, "unreachable.kubeconfig")
	data := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

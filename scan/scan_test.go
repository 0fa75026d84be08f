package scan

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"wisp.dev/wisp/policy"
)

// canary is a literal credential; it must never appear in any output.
const canary = "AKIAZ3MHQ7LXK4T2V6PB"

func testPolicy(t *testing.T) *policy.Evaluator {
	t.Helper()
	ev, err := policy.Compile(policy.Spec{
		Mode: policy.ModeEnforce,
		Namespaces: policy.NamespacePolicy{
			ModeLabel:      "wisp.dev/policy-mode",
			Exempt:         []string{"legacy-*"},
			ExemptSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"wisp.dev/exempt": "true"}},
		},
		ExemptPods: policy.PodExemptions{Annotation: policy.AnnotationExemption{Allowed: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func ns(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// terminating returns a namespace being deleted.
func terminating(name string) *corev1.Namespace {
	n := ns(name, nil)
	n.Status.Phase = corev1.NamespaceTerminating
	return n
}

func secretRef(name string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}
}

func awsKey() corev1.EnvVar { return corev1.EnvVar{Name: "AWS_ACCESS_KEY_ID", Value: canary} }

func tmpl(env ...corev1.EnvVar) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1", Env: env}}}}
}

// labelled returns t with labels, and a selector of them.
func labelled(t corev1.PodTemplateSpec, kv ...string) (corev1.PodTemplateSpec, *metav1.LabelSelector) {
	t.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Labels[kv[i]] = kv[i+1]
	}
	return t, &metav1.LabelSelector{MatchLabels: maps.Clone(t.Labels)}
}

func meta(namespace, name string, owner metav1.Object, ownerKind string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(namespace + "/" + name)}
	if owner != nil {
		m.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, schema.GroupVersionKind{Kind: ownerKind})}
	}
	return m
}

func deployment(namespace, name string, env ...corev1.EnvVar) *appsv1.Deployment {
	t, sel := labelled(tmpl(env...), "app", name)
	return &appsv1.Deployment{ObjectMeta: meta(namespace, name, nil, ""), Spec: appsv1.DeploymentSpec{Selector: sel, Template: t}}
}

// replicaSet is owner's ReplicaSet of pod-template-hash hash, as the
// Deployment controller makes it.
func replicaSet(owner *appsv1.Deployment, hash string) *appsv1.ReplicaSet {
	t, sel := labelled(owner.Spec.Template, "app", owner.Name, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	return &appsv1.ReplicaSet{ObjectMeta: meta(owner.Namespace, owner.Name+"-"+hash, owner, "Deployment"), Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: t}}
}

// pod is a pod of owner (nil: none), labelled as owner's template, with
// env in place of the template's.
func pod(namespace, name string, owner metav1.Object, ownerKind string, env ...corev1.EnvVar) *corev1.Pod {
	t := tmpl(env...)
	p := &corev1.Pod{ObjectMeta: meta(namespace, name, owner, ownerKind), Spec: t.Spec}
	switch o := owner.(type) {
	case *appsv1.ReplicaSet:
		p.Labels = maps.Clone(o.Spec.Template.Labels)
	case *appsv1.StatefulSet:
		p.Labels = maps.Clone(o.Spec.Template.Labels)
	case *batchv1.Job:
		p.Labels = maps.Clone(o.Spec.Template.Labels)
	}
	return p
}

// cluster is the fixture of the tests: every mode, exemptions, owned and
// unowned pods.
func cluster() []runtime.Object {
	web := deployment("team-a", "web", secretRef("DB_PASSWORD"), awsKey())
	webRS := replicaSet(web, "5d8f")
	clean := deployment("team-a", "clean")
	cleanRS := replicaSet(clean, "7c9a")
	cron := &batchv1.CronJob{ObjectMeta: meta("team-w", "nightly", nil, ""), Spec: batchv1.CronJobSpec{
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl(secretRef("TOKEN"))}}}}
	jobTmpl, jobSel := labelled(tmpl(secretRef("TOKEN")), "batch.kubernetes.io/controller-uid", "6c1a2b9e")
	job := &batchv1.Job{ObjectMeta: meta("team-w", "nightly-1", cron, "CronJob"), Spec: batchv1.JobSpec{Selector: jobSel, Template: jobTmpl}}
	missing := &appsv1.ReplicaSet{ObjectMeta: meta("team-a", "gone", nil, "")}
	exemptPod := pod("team-a", "debug", nil, "", secretRef("DB_PASSWORD"))
	exemptPod.Annotations = map[string]string{policy.ExemptAnnotation: "vendor image, tracked in TICKET-1234"}
	stsTmpl, stsSel := labelled(tmpl(secretRef("PGPASSWORD")), "app", "db")
	sts := &appsv1.StatefulSet{ObjectMeta: meta("team-au", "db", nil, ""), Spec: appsv1.StatefulSetSpec{Selector: stsSel, Template: stsTmpl}}
	return []runtime.Object{
		ns("team-a", nil),
		ns("team-w", map[string]string{"wisp.dev/policy-mode": "warn"}),
		ns("team-au", map[string]string{"wisp.dev/policy-mode": "audit"}),
		ns("legacy-x", nil),
		ns("team-sel", map[string]string{"wisp.dev/exempt": "true"}),
		ns("empty", nil),
		terminating("going"),
		deployment("going", "web", secretRef("DB_PASSWORD")),
		web, webRS, clean, cleanRS, cron, job, sts, exemptPod,
		pod("team-a", "web-5d8f-1", webRS, "ReplicaSet", secretRef("DB_PASSWORD"), awsKey()),
		pod("team-a", "web-5d8f-2", webRS, "ReplicaSet", secretRef("DB_PASSWORD"), awsKey()),
		pod("team-a", "clean-7c9a-1", cleanRS, "ReplicaSet"),
		pod("team-a", "gone-1", missing, "ReplicaSet", secretRef("API_TOKEN")),
		pod("team-a", "lone", nil, ""),
		pod("team-w", "nightly-1-x", job, "Job", secretRef("TOKEN")),
		pod("team-au", "db-0", sts, "StatefulSet", secretRef("PGPASSWORD")),
		deployment("legacy-x", "old", secretRef("DB_PASSWORD")),
		deployment("team-sel", "old", secretRef("DB_PASSWORD")),
		pod("team-sel", "old-pod", nil, "", secretRef("DB_PASSWORD")),
	}
}

// brief is a finding in a form easy to compare.
type brief struct {
	Object string
	Mode   policy.Mode
	Rule   string
	Env    string
	Pods   int
	Owners string
}

func briefs(r *Result) []brief {
	var out []brief
	for _, f := range r.Findings {
		var owners []string
		for _, o := range f.Owners {
			owners = append(owners, o.Kind+"/"+o.Name)
		}
		out = append(out, brief{f.Object.String(), f.Mode, f.Violation.RuleID, f.Violation.Env, f.Pods, strings.Join(owners, ",")})
	}
	return out
}

func TestScan(t *testing.T) {
	t.Parallel()
	for _, pageSize := range []int64{0, 1, 2, 1000} {
		t.Run("page size "+strconv.FormatInt(pageSize, 10), func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientset(cluster()...)
			pages := paginate(c)
			r, err := Scan(context.Background(), c, Config{Policy: testPolicy(t), PageSize: pageSize})
			if err != nil {
				t.Fatal(err)
			}
			want := []brief{
				{"Deployment going/web", policy.ModeEnforce, "env-secret-key-ref", "DB_PASSWORD", 0, ""},
				{"Deployment team-a/web", policy.ModeEnforce, "env-secret-key-ref", "DB_PASSWORD", 2, ""},
				{"Deployment team-a/web", policy.ModeEnforce, "known-credential-format", "AWS_ACCESS_KEY_ID", 2, ""},
				{"Pod team-a/gone-1", policy.ModeEnforce, "env-secret-key-ref", "API_TOKEN", 1, "ReplicaSet/gone"},
				{"StatefulSet team-au/db", policy.ModeAudit, "env-secret-key-ref", "PGPASSWORD", 1, ""},
				{"CronJob team-w/nightly", policy.ModeWarn, "env-secret-key-ref", "TOKEN", 1, ""},
			}
			if diff := cmp.Diff(want, briefs(r)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			type row struct {
				Name       string
				Mode       policy.Mode
				Exempt     bool
				Workloads  int
				Violations map[string]int
			}
			var rows []row
			for _, n := range r.Namespaces {
				rows = append(rows, row{n.Name, n.Mode, n.Exempt, n.Workloads, n.Violations})
			}
			wantRows := []row{
				{"empty", policy.ModeEnforce, false, 0, map[string]int{}},
				{"going", policy.ModeEnforce, false, 1, map[string]int{"env-secret-key-ref": 1}},
				{"legacy-x", policy.ModeEnforce, true, 1, map[string]int{}},
				// web, clean, gone-1, lone, debug (exempt by annotation)
				{"team-a", policy.ModeEnforce, false, 5, map[string]int{"env-secret-key-ref": 2, "known-credential-format": 1}},
				{"team-au", policy.ModeAudit, false, 1, map[string]int{"env-secret-key-ref": 1}},
				{"team-sel", policy.ModeEnforce, true, 2, map[string]int{}},
				{"team-w", policy.ModeWarn, false, 1, map[string]int{"env-secret-key-ref": 1}},
			}
			if diff := cmp.Diff(wantRows, rows); diff != "" {
				t.Errorf("namespaces (-want +got):\n%s", diff)
			}
			if pageSize == 1 && pages["pods"] < 9 { // 9 pods
				t.Errorf("pods were listed in %d pages, want one per pod", pages["pods"])
			}
			for _, f := range r.Findings {
				if strings.Contains(f.Message, canary) {
					t.Errorf("a message carries the value: %s", f.Message)
				}
			}
		})
	}
}

func TestScanOneNamespace(t *testing.T) {
	t.Parallel()
	c := fake.NewClientset(cluster()...)
	r, err := Scan(context.Background(), c, Config{Policy: testPolicy(t), Namespace: "team-w"})
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{{"CronJob team-w/nightly", policy.ModeWarn, "env-secret-key-ref", "TOKEN", 1, ""}}
	if diff := cmp.Diff(want, briefs(r)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if len(r.Namespaces) != 1 || r.Namespaces[0].Name != "team-w" {
		t.Errorf("namespaces %+v, want team-w alone", r.Namespaces)
	}

	_, err = Scan(context.Background(), c, Config{Policy: testPolicy(t), Namespace: "nope"})
	if err == nil || !strings.Contains(err.Error(), `namespace "nope" not found`) {
		t.Errorf("missing namespace: %v", err)
	}
}

func TestScanErrors(t *testing.T) {
	t.Parallel()
	forbidden := func(res schema.GroupResource) error { return apierrors.NewForbidden(res, "", errors.New("no")) }
	tests := []struct {
		name      string
		verb      string
		resource  string
		err       error
		namespace string
		want      string
	}{
		{"list deployments in a namespace", "list", "deployments", forbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}), "team-a",
			`cannot list apps/v1 deployments in namespace "team-a": forbidden (needs list on deployments.apps)`},
		{"list pods everywhere", "list", "pods", forbidden(schema.GroupResource{Resource: "pods"}), "",
			`cannot list v1 pods in all namespaces: forbidden (needs list on pods at cluster scope)`},
		{"list namespaces", "list", "namespaces", forbidden(schema.GroupResource{Resource: "namespaces"}), "",
			`cannot list v1 namespaces: forbidden (needs list on namespaces)`},
		{"get namespace", "get", "namespaces", forbidden(schema.GroupResource{Resource: "namespaces"}), "team-a",
			`cannot get v1 namespaces "team-a": forbidden (needs get on namespaces)`},
		{"unauthorized", "list", "cronjobs", apierrors.NewUnauthorized("no"), "",
			`cannot list batch/v1 cronjobs in all namespaces: unauthorized`},
		{"unreachable", "list", "namespaces", errors.New(`Get "https://127.0.0.1:1/api/v1/namespaces": dial tcp 127.0.0.1:1: connect: connection refused`), "",
			`cannot list v1 namespaces: cannot reach the API server: Get`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientset(cluster()...)
			c.PrependReactor(tt.verb, tt.resource, func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, tt.err })
			_, err := Scan(context.Background(), c, Config{Policy: testPolicy(t), Namespace: tt.namespace})
			var ae *APIError
			if !errors.As(err, &ae) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want an *APIError starting %q", err, tt.want)
			}
		})
	}
}

// paginate makes c's list calls honour limit and continue (the fake
// clientset returns everything at once), and counts the pages by resource.
func paginate(c *fake.Clientset) map[string]int {
	pages := map[string]int{}
	c.PrependReactor("list", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		la := action.(k8stesting.ListActionImpl)
		obj, err := c.Tracker().List(la.GetResource(), la.GetKind(), la.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		all := obj.(*corev1.PodList)
		start := 0
		if la.ListOptions.Continue != "" {
			start, _ = strconv.Atoi(la.ListOptions.Continue)
		}
		end := len(all.Items)
		if l := int(la.ListOptions.Limit); l > 0 && start+l < end {
			end = start + l
		}
		pages["pods"]++
		page := &corev1.PodList{Items: all.Items[start:end]}
		if end < len(all.Items) {
			page.Continue = strconv.Itoa(end)
		}
		return true, page, nil
	})
	return pages
}

// A pod's ownerReferences are written by whoever creates it: a pod that
// names a clean workload it does not belong to is judged as itself, and so
// is a real pod of a workload that carries a secret its template does not.
func TestScanForgedOwners(t *testing.T) {
	t.Parallel()
	clean := deployment("team-a", "clean")
	cleanRS := replicaSet(clean, "7c9a")
	// A ReplicaSet whose selector leaves out its pod-template-hash.
	loose := deployment("team-a", "loose")
	looseRS := replicaSet(loose, "1b2c")
	looseRS.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "loose"}}
	withLabels := func(p *corev1.Pod, kv ...string) *corev1.Pod {
		p.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
		return p
	}
	renamed := pod("team-a", "renamed", cleanRS, "ReplicaSet", secretRef("DB_PASSWORD"))
	renamed.OwnerReferences[0].Name = "other"
	rekinded := pod("team-a", "rekinded", cleanRS, "StatefulSet", secretRef("DB_PASSWORD"))
	tests := []struct {
		name   string
		pod    *corev1.Pod
		owners string // "": not reported
	}{
		{"the pod of a clean ReplicaSet", pod("team-a", "clean-7c9a-1", cleanRS, "ReplicaSet"), ""},
		{"names a clean Deployment", pod("team-a", "x", clean, "Deployment", secretRef("DB_PASSWORD")), "Deployment/clean"},
		{"names a clean ReplicaSet, without its labels", withLabels(pod("team-a", "x", cleanRS, "ReplicaSet", secretRef("DB_PASSWORD"))), "ReplicaSet/clean-7c9a"},
		{"with its labels but another pod-template-hash", withLabels(pod("team-a", "x", looseRS, "ReplicaSet", awsKey()), "app", "loose", "pod-template-hash", "9f9f"), "ReplicaSet/loose-1b2c"},
		{"its uid under another name", renamed, "ReplicaSet/other"},
		{"its uid under another kind", rekinded, "StatefulSet/clean-7c9a"},
		{"with its labels and hash, and a secret", pod("team-a", "x", cleanRS, "ReplicaSet", secretRef("DB_PASSWORD")), "ReplicaSet/clean-7c9a,Deployment/clean"},
		{"a clean forgery", pod("team-a", "x", clean, "Deployment"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientset(ns("team-a", nil), clean, cleanRS, loose, looseRS, tt.pod)
			r, err := Scan(context.Background(), c, Config{Policy: testPolicy(t)})
			if err != nil {
				t.Fatal(err)
			}
			var want []brief
			if tt.owners != "" {
				rule, env := "env-secret-key-ref", "DB_PASSWORD"
				if tt.pod.Spec.Containers[0].Env[0].Name == "AWS_ACCESS_KEY_ID" {
					rule, env = "known-credential-format", "AWS_ACCESS_KEY_ID"
				}
				want = []brief{{"Pod team-a/" + tt.pod.Name, policy.ModeEnforce, rule, env, 1, tt.owners}}
			}
			if diff := cmp.Diff(want, briefs(r)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/config"
)

// valuesFiles are the values files of testdata/, each rendered by the tests.
var valuesFiles = []string{
	"values-default.yaml",
	"values-cert-manager.yaml",
	"values-files.yaml",
	"values-url.yaml",
	"values-servicemonitor.yaml",
	"values-migration.yaml",
	"values-reports.yaml",
}

// TestValuesFilesListed keeps valuesFiles and testdata/ in step.
func TestValuesFilesListed(t *testing.T) {
	t.Parallel()
	got, err := filepath.Glob(filepath.Join("testdata", "values-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i] = filepath.Base(got[i])
	}
	want := slices.Clone(valuesFiles)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("testdata/values-*.yaml and valuesFiles differ (-valuesFiles +testdata):\n%s", diff)
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	for _, f := range valuesFiles {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			if out, err := runHelm(t, "lint", "--strict", chartDir, "--namespace", releaseNS, "--values", filepath.Join("testdata", f)); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestRenderedKinds renders every values file (decoding strictly is the
// check that no field is misspelt) and compares the set of objects.
func TestRenderedKinds(t *testing.T) {
	t.Parallel()
	base := []string{
		"ClusterRole/wisp", "ClusterRoleBinding/wisp", "ConfigMap/wisp-policy", "Deployment/wisp",
		"MutatingWebhookConfiguration/wisp", "PodDisruptionBudget/wisp", "Service/wisp", "ServiceAccount/wisp",
		"ValidatingWebhookConfiguration/wisp",
	}
	auto := append(slices.Clone(base), "Role/wisp", "RoleBinding/wisp")
	tests := map[string][]string{
		"values-default.yaml": auto,
		"values-cert-manager.yaml": append(slices.Clone(base),
			"Certificate/wisp-ca", "Certificate/wisp-tls", "Issuer/wisp-ca", "Issuer/wisp-selfsigned"),
		"values-files.yaml":          base,
		"values-url.yaml":            auto,
		"values-servicemonitor.yaml": append(slices.Clone(auto), "ServiceMonitor/wisp"),
		"values-migration.yaml":      auto,
		"values-reports.yaml": append(slices.Clone(auto), "ClusterRole/wisp-reports", "ClusterRoleBinding/wisp-reports",
			"CronJob/wisp-reports", "ServiceAccount/wisp-reports", "CustomResourceDefinition/reports.openreports.io"),
	}
	for _, f := range valuesFiles {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, o := range render(t, []string{f}) {
				got = append(got, o.Kind+"/"+o.Name)
			}
			slices.Sort(got)
			want := slices.Clone(tests[f])
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rendered objects (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeployment checks the promises of the default Deployment: highly
// available, restricted, probed, configured from the policy ConfigMap.
func TestDeployment(t *testing.T) {
	t.Parallel()
	r := render(t, []string{"values-default.yaml"})
	d := one[*appsv1.Deployment](t, r, "Deployment")
	if d.Namespace != releaseNS {
		t.Errorf("namespace %q, want %q", d.Namespace, releaseNS)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update %+v, want maxUnavailable 0", ru)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("selector %v does not select the pod template's labels %v (%v)", d.Spec.Selector, podLabels, err)
	}

	pdb := one[*policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget")
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}
	if s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || !s.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the webhook's pods", pdb.Spec.Selector)
	}

	spec := d.Spec.Template.Spec
	if spec.ServiceAccountName != "wisp" {
		t.Errorf("serviceAccountName %q, want wisp", spec.ServiceAccountName)
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", psc)
	}
	var keys []string
	for _, c := range spec.TopologySpreadConstraints {
		keys = append(keys, c.TopologyKey)
		if c.WhenUnsatisfiable != corev1.ScheduleAnyway || c.MaxSkew != 1 {
			t.Errorf("topology spread on %s: %s maxSkew %d, want ScheduleAnyway 1", c.TopologyKey, c.WhenUnsatisfiable, c.MaxSkew)
		}
		if s, err := metav1.LabelSelectorAsSelector(c.LabelSelector); err != nil || !s.Matches(podLabels) {
			t.Errorf("topology spread on %s does not select the webhook's pods", c.TopologyKey)
		}
	}
	if diff := cmp.Diff([]string{"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, keys); diff != "" {
		t.Errorf("topology spread keys (-want +got):\n%s", diff)
	}

	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container: runAsNonRoot is not true")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("container: readOnlyRootFilesystem is not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("container: allowPrivilegeEscalation is not false")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("container: privileged")
	case sc.Capabilities == nil || !cmp.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
		t.Errorf("container capabilities %+v, want drop ALL, add none", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("container: seccomp profile is not RuntimeDefault")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "webhook" || c.Ports[0].ContainerPort != 9443 {
		t.Errorf("ports %+v, want webhook 9443", c.Ports)
	}
	for name, p := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name || p.HTTPGet.Scheme != corev1.URISchemeHTTPS || p.HTTPGet.Port.String() != "webhook" {
			t.Errorf("probe %s: %+v, want an HTTPS GET of %s on port webhook", name, p, name)
		}
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
	}) {
		t.Errorf("env %+v has no POD_NAMESPACE from metadata.namespace", c.Env)
	}
	// The Go runtime's soft limit and the admission memory budget follow
	// the container's memory limit, through the downward API.
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		r := e.ValueFrom
		return e.Name == "WISP_MEMORY_LIMIT" && r != nil && r.ResourceFieldRef != nil && r.ResourceFieldRef.ContainerName == c.Name &&
			r.ResourceFieldRef.Resource == "limits.memory" && r.ResourceFieldRef.Divisor.String() == "1"
	}) {
		t.Errorf("env %+v has no WISP_MEMORY_LIMIT from the container's limits.memory in bytes", c.Env)
	}
	wantArgs := []string{"--port=9443", "--policy=/etc/wisp/policy.yaml", "--log-level=info", "--memory-limit=$(WISP_MEMORY_LIMIT)",
		"--cert-mode=auto", "--cert-secret=wisp-tls", "--service-name=wisp", "--mutating-webhook=wisp", "--validating-webhook=wisp"}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	// The policy ConfigMap is /etc/wisp/policy.yaml, without a subPath
	// mount (which would never see an update).
	files := mountedFiles(t, &spec, &c)
	if got := files["/etc/wisp/policy.yaml"]; got != "ConfigMap wisp-policy policy.yaml" {
		t.Errorf("/etc/wisp/policy.yaml is %q, want key policy.yaml of ConfigMap wisp-policy", got)
	}
	for _, m := range c.VolumeMounts {
		if m.SubPath != "" || m.SubPathExpr != "" {
			t.Errorf("mount %s uses a subPath: it would never see an update", m.MountPath)
		}
	}

	svc := one[*corev1.Service](t, r, "Service")
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != "webhook" {
		t.Errorf("service ports %+v, want 443 -> webhook", svc.Spec.Ports)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("service selector %v does not select the webhook's pods", svc.Spec.Selector)
	}
}

// mountedFiles maps each file a container sees through projected,
// configMap and secret volumes to "<Kind> <name> <key>".
func mountedFiles(t *testing.T, spec *corev1.PodSpec, c *corev1.Container) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, m := range c.VolumeMounts {
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			t.Fatalf("mount %s names no volume", m.Name)
		}
		v := spec.Volumes[i]
		add := func(kind, name string, items []corev1.KeyToPath) {
			for _, it := range items {
				files[filepath.Join(m.MountPath, it.Path)] = kind + " " + name + " " + it.Key
			}
		}
		switch {
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add("ConfigMap", s.ConfigMap.Name, s.ConfigMap.Items)
				}
				if s.Secret != nil {
					add("Secret", s.Secret.Name, s.Secret.Items)
				}
			}
		case v.ConfigMap != nil:
			add("ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items)
		case v.Secret != nil:
			add("Secret", v.Secret.SecretName, v.Secret.Items)
		}
	}
	return files
}

// webhooks returns every webhook of both configurations as the fields they
// share, with the configuration kind and the webhook name.
type webhookView struct {
	config, name       string
	clientConfig       admissionregistrationv1.WebhookClientConfig
	rules              []admissionregistrationv1.RuleWithOperations
	failurePolicy      *admissionregistrationv1.FailurePolicyType
	sideEffects        *admissionregistrationv1.SideEffectClass
	timeoutSeconds     *int32
	versions           []string
	namespaceSelector  *metav1.LabelSelector
	objectSelector     *metav1.LabelSelector
	matchConditions    []admissionregistrationv1.MatchCondition
	reinvocationPolicy *admissionregistrationv1.ReinvocationPolicyType
	annotations        map[string]string
}

func webhooks(t *testing.T, r rendered) []webhookView {
	t.Helper()
	var out []webhookView
	m := one[*admissionregistrationv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration")
	for _, w := range m.Webhooks {
		out = append(out, webhookView{"mutating", w.Name, w.ClientConfig, w.Rules, w.FailurePolicy, w.SideEffects, w.TimeoutSeconds,
			w.AdmissionReviewVersions, w.NamespaceSelector, w.ObjectSelector, w.MatchConditions, w.ReinvocationPolicy, m.Annotations})
	}
	v := one[*admissionregistrationv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration")
	for _, w := range v.Webhooks {
		out = append(out, webhookView{"validating", w.Name, w.ClientConfig, w.Rules, w.FailurePolicy, w.SideEffects, w.TimeoutSeconds,
			w.AdmissionReviewVersions, w.NamespaceSelector, w.ObjectSelector, w.MatchConditions, nil, v.Annotations})
	}
	return out
}

// TestWebhookConfigurations checks, for every values file, what every
// webhook of both configurations promises.
func TestWebhookConfigurations(t *testing.T) {
	t.Parallel()
	for _, f := range valuesFiles {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			r := render(t, []string{f})
			var vals struct {
				Webhook struct {
					FailurePolicy     string
					URL               string
					NamespaceSelector struct {
						ExcludeNamespaces []string
						MatchExpressions  []metav1.LabelSelectorRequirement
					}
				}
			}
			readValues(t, f, &vals)
			wantPolicy := admissionregistrationv1.Fail
			if vals.Webhook.FailurePolicy != "" {
				wantPolicy = admissionregistrationv1.FailurePolicyType(vals.Webhook.FailurePolicy)
			}
			d := one[*appsv1.Deployment](t, r, "Deployment")
			ws := webhooks(t, r)
			var names []string
			for _, w := range ws {
				names = append(names, w.name)
				if !cmp.Equal(w.versions, []string{"v1"}) {
					t.Errorf("%s: admissionReviewVersions %v, want [v1]", w.name, w.versions)
				}
				if w.sideEffects == nil || *w.sideEffects != admissionregistrationv1.SideEffectClassNone {
					t.Errorf("%s: sideEffects %v, want None", w.name, w.sideEffects)
				}
				if w.timeoutSeconds == nil || *w.timeoutSeconds != 5 {
					t.Errorf("%s: timeoutSeconds %v, want 5", w.name, w.timeoutSeconds)
				}
				// Detection outside enforcing namespaces fails open; the
				// rest (enforcement, injection) as the values say.
				want := wantPolicy
				if w.env() && !w.optIn() || w.config == "validating" && !w.enforcing() {
					want = admissionregistrationv1.Ignore
				}
				if w.failurePolicy == nil || *w.failurePolicy != want {
					t.Errorf("%s: failurePolicy %v, want %s", w.name, w.failurePolicy, want)
				}
				// Namespaces: kube-system, the release's and the extra ones
				// never reach wisp; any other does unless the extra
				// expressions say otherwise.
				sel, err := metav1.LabelSelectorAsSelector(w.namespaceSelector)
				if err != nil {
					t.Fatalf("%s: namespaceSelector: %v", w.name, err)
				}
				for _, ns := range append([]string{"kube-system", releaseNS}, vals.Webhook.NamespaceSelector.ExcludeNamespaces...) {
					if sel.Matches(namespaceLabels(ns, nil)) || sel.Matches(namespaceLabels(ns, map[string]string{"wisp.dev/enabled": "true"})) {
						t.Errorf("%s: namespace %s is sent to wisp", w.name, ns)
					}
				}
				if len(vals.Webhook.NamespaceSelector.MatchExpressions) > 0 && sel.Matches(namespaceLabels("team-a", nil)) {
					t.Errorf("%s: the extra namespace selector expressions are not applied", w.name)
				}
				// Objects: wisp never injects its own pods; the policy's
				// webhooks have no objectSelector, so no label can switch
				// detection off.
				if w.config == "validating" {
					if w.objectSelector != nil {
						t.Errorf("%s: objectSelector %v: a label would bypass secret detection", w.name, w.objectSelector)
					}
				} else {
					osel, err := metav1.LabelSelectorAsSelector(w.objectSelector)
					if err != nil {
						t.Fatalf("%s: objectSelector: %v", w.name, err)
					}
					if osel.Matches(labels.Set(d.Spec.Template.Labels)) || osel.Matches(labels.Set(d.Labels)) {
						t.Errorf("%s: objectSelector %v selects wisp's own pods", w.name, w.objectSelector)
					}
					if !osel.Matches(labels.Set{"app.kubernetes.io/name": "orders"}) {
						t.Errorf("%s: objectSelector %v leaves out ordinary pods", w.name, w.objectSelector)
					}
				}
				if len(w.matchConditions) == 0 {
					t.Errorf("%s: no matchConditions: every pod would reach wisp", w.name)
				}
				path := "/" + strings.TrimSuffix(w.config, "ing") + "e"
				if w.config == "mutating" {
					path = "/mutate"
				}
				checkClientConfig(t, w, vals.Webhook.URL, path)
			}
			var bases []string
			for _, w := range ws {
				if !slices.Contains(bases, w.base()) {
					bases = append(bases, w.base())
				}
			}
			wantBases := []string{"mutate.wisp.dev", "validate-pods.wisp.dev", "validate-replicationcontrollers.wisp.dev", "validate-podtemplates.wisp.dev", "validate-workloads.wisp.dev", "validate-jobs.wisp.dev", "validate-cronjobs.wisp.dev"}
			if diff := cmp.Diff(wantBases, bases); diff != "" {
				t.Errorf("webhooks (-want +got):\n%s", diff)
			}
			if f == "values-default.yaml" && !slices.Equal(names, wantBases) {
				t.Errorf("the default install has webhooks %v, want exactly %v (one namespace class)", names, wantBases)
			}
			checkRules(t, ws)
			checkRouting(t, ws, renderedPolicyFile(t, r), wantPolicy, len(vals.Webhook.NamespaceSelector.MatchExpressions) > 0)
		})
	}
}

// The namespace classes (templates/_helpers.tpl, wisp.namespaceClasses):
// each webhook is rendered once per class as <base><infix>.wisp.dev, and
// in a class that does not enforce, the mutating webhook is split into
// mutate<infix> (opted-in pods) and detect<infix> (env values only).
var classInfixes = []string{".unenforced-by-label", ".unenforced", ".by-label"}

// base is the webhook's name without its class: mutate.wisp.dev for
// detect<infix> too.
func (w webhookView) base() string {
	name := strings.Replace(w.name, "detect", "mutate", 1)
	for _, infix := range classInfixes {
		if strings.HasSuffix(name, infix+".wisp.dev") {
			return strings.TrimSuffix(name, infix+".wisp.dev") + ".wisp.dev"
		}
	}
	return name
}

// enforcing reports whether the webhook's class enforces.
func (w webhookView) enforcing() bool { return !strings.Contains(w.name, ".unenforced") }

// optIn and env say which requests the webhook's matchConditions let
// through: opted-in ones, ones with env values only, or both.
func (w webhookView) optIn() bool {
	return slices.ContainsFunc(w.matchConditions, func(c admissionregistrationv1.MatchCondition) bool {
		return c.Name == "opted-in-or-env-secrets" || c.Name == "opted-in"
	})
}

func (w webhookView) env() bool {
	return slices.ContainsFunc(w.matchConditions, func(c admissionregistrationv1.MatchCondition) bool {
		return c.Name == "opted-in-or-env-secrets" || c.Name == "env-secrets"
	})
}

// checkRouting: for every namespace a cluster could have (by name: in
// namespaces.modes or not; by label: the mode label absent, valid or not)
// and every request wisp must see (an opted-in object, an object with env
// values only), exactly one webhook of each base name is called, and its
// failurePolicy is the values' (Fail by default) where wisp itself would
// enforce or the pod opts in to injection, and Ignore where a wisp outage
// must not block a namespace that only warns or audits. The mode expected
// is the one wisp's own policy engine gives the namespace.
func checkRouting(t *testing.T, ws []webhookView, policyFile []byte, failPolicy admissionregistrationv1.FailurePolicyType, extraSelector bool) {
	t.Helper()
	snap, err := config.Parse(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	var rendered struct {
		Namespaces struct {
			Modes     map[string]string
			ModeLabel string
		}
	}
	if err := yaml.Unmarshal(policyFile, &rendered); err != nil {
		t.Fatal(err)
	}
	names := []string{"team-a"}
	for n := range rendered.Namespaces.Modes {
		names = append(names, n)
	}
	labelValues := []string{""}
	if rendered.Namespaces.ModeLabel != "" {
		labelValues = append(labelValues, "enforce", "warn", "audit", "bogus")
	}
	bases := map[string]bool{}
	for _, w := range ws {
		bases[w.base()] = true
	}
	for _, name := range names {
		for _, value := range labelValues {
			nsLabels := map[string]string{}
			if value != "" {
				nsLabels[rendered.Namespaces.ModeLabel] = value
			}
			if extraSelector {
				nsLabels["wisp.dev/enabled"] = "true"
			}
			mode, _ := snap.Policy.Namespace(name, nsLabels)
			for base := range bases {
				for _, optIn := range []bool{true, false} {
					var got []webhookView
					for _, w := range ws {
						sel, err := metav1.LabelSelectorAsSelector(w.namespaceSelector)
						if err != nil {
							t.Fatal(err)
						}
						if w.base() == base && sel.Matches(namespaceLabels(name, nsLabels)) && (optIn && w.optIn() || !optIn && w.env()) {
							got = append(got, w)
						}
					}
					what := fmt.Sprintf("%s, namespace %s %v (mode %s), opted in %v", base, name, nsLabels, mode, optIn)
					if len(got) != 1 {
						var gotNames []string
						for _, w := range got {
							gotNames = append(gotNames, w.name)
						}
						t.Errorf("%s: called by %d webhooks %v, want 1", what, len(got), gotNames)
						continue
					}
					want := admissionregistrationv1.Ignore
					if mode == "enforce" || optIn && got[0].config == "mutating" {
						want = failPolicy
					}
					if got[0].failurePolicy == nil || *got[0].failurePolicy != want {
						t.Errorf("%s: %s has failurePolicy %v, want %s", what, got[0].name, got[0].failurePolicy, want)
					}
				}
			}
		}
	}
}

func namespaceLabels(name string, extra map[string]string) labels.Set {
	l := labels.Set{"kubernetes.io/metadata.name": name}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// checkClientConfig: the Service on 443 at the right path, or the URL.
func checkClientConfig(t *testing.T, w webhookView, url, path string) {
	t.Helper()
	cc := w.clientConfig
	if url != "" {
		if cc.URL == nil || *cc.URL != url+path || cc.Service != nil || len(cc.CABundle) == 0 {
			t.Errorf("%s: clientConfig %+v, want url %s%s with a caBundle", w.name, cc, url, path)
		}
		return
	}
	s := cc.Service
	if cc.URL != nil || s == nil || s.Name != "wisp" || s.Namespace != releaseNS || s.Path == nil || *s.Path != path || s.Port == nil || *s.Port != 443 {
		t.Errorf("%s: clientConfig %+v, want service wisp/%s:443%s", w.name, cc, releaseNS, path)
	}
}

// checkRules: mutating on pod CREATE only (reinvoked if needed); validating
// on CREATE and UPDATE of pods and of every workload kind with a pod
// template, one webhook per shape (and namespace class).
func checkRules(t *testing.T, ws []webhookView) {
	t.Helper()
	type rule struct{ ops, group, version, resource string }
	cu := "CREATE,UPDATE"
	want := map[string][]rule{
		"mutate.wisp.dev": {{"CREATE", "", "v1", "pods"}},
		// pods/ephemeralcontainers: `kubectl debug` adds containers there.
		"validate-pods.wisp.dev":                   {{cu, "", "v1", "pods"}, {cu, "", "v1", "pods/ephemeralcontainers"}},
		"validate-replicationcontrollers.wisp.dev": {{cu, "", "v1", "replicationcontrollers"}},
		"validate-podtemplates.wisp.dev":           {{cu, "", "v1", "podtemplates"}},
		"validate-workloads.wisp.dev": {{cu, "apps", "v1", "deployments"}, {cu, "apps", "v1", "statefulsets"},
			{cu, "apps", "v1", "daemonsets"}, {cu, "apps", "v1", "replicasets"}},
		"validate-jobs.wisp.dev":     {{cu, "batch", "v1", "jobs"}},
		"validate-cronjobs.wisp.dev": {{cu, "batch", "v1", "cronjobs"}},
	}
	for _, w := range ws {
		var got []rule
		for _, r := range w.rules {
			var ops []string
			for _, o := range r.Operations {
				ops = append(ops, string(o))
			}
			for _, g := range r.APIGroups {
				for _, v := range r.APIVersions {
					for _, res := range r.Resources {
						got = append(got, rule{strings.Join(ops, ","), g, v, res})
					}
				}
			}
			if r.Scope == nil || *r.Scope != admissionregistrationv1.NamespacedScope {
				t.Errorf("%s: scope %v, want Namespaced", w.name, r.Scope)
			}
		}
		if w.config == "mutating" && (w.reinvocationPolicy == nil || *w.reinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy) {
			t.Errorf("%s: reinvocationPolicy %v, want IfNeeded", w.name, w.reinvocationPolicy)
		}
		if diff := cmp.Diff(want[w.base()], got, cmp.AllowUnexported(rule{})); diff != "" {
			t.Errorf("%s: rules (-want +got):\n%s", w.name, diff)
		}
	}
}

// TestMatchConditionText checks that each webhook's CEL reads the pod spec
// and metadata at its object's own paths. Whether the expressions compile
// and select the right requests is tested against a real API server
// (deploy_test.go).
func TestMatchConditionText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		file  string
		vault bool
	}{{"values-default.yaml", false}, {"values-migration.yaml", true}} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			paths := map[string][2]string{
				"mutate.wisp.dev":                          {"object.metadata", "object.spec"},
				"validate-pods.wisp.dev":                   {"object.metadata", "object.spec"},
				"validate-replicationcontrollers.wisp.dev": {"object.spec.template.metadata", "object.spec.template.spec"},
				"validate-podtemplates.wisp.dev":           {"object.template.metadata", "object.template.spec"},
				"validate-workloads.wisp.dev":              {"object.spec.template.metadata", "object.spec.template.spec"},
				"validate-jobs.wisp.dev":                   {"object.spec.template.metadata", "object.spec.template.spec"},
				"validate-cronjobs.wisp.dev":               {"object.spec.jobTemplate.spec.template.metadata", "object.spec.jobTemplate.spec.template.spec"},
			}
			for _, w := range webhooks(t, render(t, []string{tt.file})) {
				p := paths[w.base()]
				optIn := fmt.Sprintf("'wisp.dev/inject' in %s.annotations", p[0])
				env := []string{p[1] + ".containers.exists(", p[1] + ".initContainers.exists(", p[1] + ".ephemeralContainers.exists(",
					"has(e.value) || has(e.valueFrom)", "has(f.secretRef) || has(f.configMapRef)", "a.contains('-plan')",
					p[1] + ".volumes.exists(", "v.projected.sources.exists(", "i.fieldRef.fieldPath.startsWith('metadata.annotations')"}
				var want []string
				conds := w.matchConditions
				switch conds[0].Name {
				case "opted-in-or-env-secrets":
					want = append(env, optIn)
				case "opted-in":
					want = []string{optIn}
				case "env-secrets":
					// And not opted in: the opted-in request goes to mutate<infix>.
					want = env
					if len(conds) < 2 || conds[1].Name != "not-opted-in" || !strings.HasPrefix(conds[1].Expression, "!") || !strings.Contains(conds[1].Expression, optIn) {
						t.Errorf("%s: env-secrets without a not-opted-in condition: %+v", w.name, conds)
					}
				default:
					t.Errorf("%s: unknown match condition %q", w.name, conds[0].Name)
				}
				var text string
				for _, c := range conds {
					text += c.Expression + "\n"
				}
				for _, sub := range want {
					if !strings.Contains(text, sub) {
						t.Errorf("%s: CEL does not contain %q:\n%s", w.name, sub, text)
					}
				}
				if got := strings.Contains(text, "'vault.hashicorp.com/agent-inject' in "+p[0]+".annotations"); got != tt.vault && strings.Contains(text, optIn) {
					t.Errorf("%s: CEL reads vault.hashicorp.com/agent-inject: %v, want %v", w.name, got, tt.vault)
				}
				onUpdate := w.config == "validating"
				last := conds[len(conds)-1]
				if got := last.Name == "pod-spec-changed" && strings.Contains(last.Expression, "request.operation != 'UPDATE'"); got != onUpdate {
					t.Errorf("%s: update condition present: %v, want %v", w.name, got, onUpdate)
				}
			}
		})
	}
}

// TestCertificates checks each certificate mode end to end through the
// rendered objects: args, mounts, caBundle, cert-manager's objects.
func TestCertificates(t *testing.T) {
	t.Parallel()
	t.Run("auto", func(t *testing.T) {
		t.Parallel()
		r := render(t, []string{"values-default.yaml"})
		for _, w := range webhooks(t, r) {
			if len(w.clientConfig.CABundle) != 0 || w.annotations["cert-manager.io/inject-ca-from"] != "" {
				t.Errorf("%s: caBundle or inject-ca-from set; wisp patches caBundle itself in auto mode", w.name)
			}
		}
		d := one[*appsv1.Deployment](t, r, "Deployment")
		c := d.Spec.Template.Spec.Containers[0]
		for f := range mountedFiles(t, &d.Spec.Template.Spec, &c) {
			if strings.HasPrefix(f, "/etc/wisp/tls") {
				t.Errorf("auto mode mounts %s", f)
			}
		}
	})
	t.Run("cert-manager", func(t *testing.T) {
		t.Parallel()
		r := render(t, []string{"values-cert-manager.yaml"})
		byName := map[string]*unstructuredObject{}
		for _, o := range r {
			if o.Kind == "Certificate" || o.Kind == "Issuer" {
				byName[o.Kind+"/"+o.Name] = o.Obj.(*unstructuredObject)
			}
		}
		// selfsigned Issuer -> CA Certificate -> CA Issuer -> serving Certificate.
		if byName["Issuer/wisp-selfsigned"].get("spec.selfSigned") == nil {
			t.Error("Issuer wisp-selfsigned is not self-signed")
		}
		ca := byName["Certificate/wisp-ca"]
		if ca.get("spec.isCA") != true || ca.get("spec.issuerRef.name") != "wisp-selfsigned" || ca.get("spec.secretName") != "wisp-ca" {
			t.Errorf("CA certificate %v", ca.Object["spec"])
		}
		if byName["Issuer/wisp-ca"].get("spec.ca.secretName") != "wisp-ca" {
			t.Error("Issuer wisp-ca does not sign with the CA's Secret")
		}
		tls := byName["Certificate/wisp-tls"]
		if tls.get("spec.issuerRef.name") != "wisp-ca" || tls.get("spec.secretName") != "wisp-tls" {
			t.Errorf("serving certificate %v", tls.Object["spec"])
		}
		wantDNS := []any{"wisp", "wisp.wisp-system", "wisp.wisp-system.svc", "wisp.wisp-system.svc.cluster.local"}
		if diff := cmp.Diff(wantDNS, tls.get("spec.dnsNames")); diff != "" {
			t.Errorf("serving certificate DNS names (-want +got):\n%s", diff)
		}
		for _, w := range webhooks(t, r) {
			if got := w.annotations["cert-manager.io/inject-ca-from"]; got != releaseNS+"/wisp-tls" {
				t.Errorf("%s: inject-ca-from %q, want %s/wisp-tls", w.name, got, releaseNS)
			}
		}
		checkFileCerts(t, r, "wisp-tls")
		if len(r.find("Role")) != 0 {
			t.Error("cert-manager mode grants wisp access to Secrets")
		}
	})
	t.Run("files", func(t *testing.T) {
		t.Parallel()
		r := render(t, []string{"values-files.yaml"})
		for _, w := range webhooks(t, r) {
			if len(w.clientConfig.CABundle) == 0 {
				t.Errorf("%s: no caBundle in files mode", w.name)
			}
		}
		checkFileCerts(t, r, "wisp-serving-cert")
	})
}

// checkFileCerts: wisp reads tls.crt and tls.key of secret from
// /etc/wisp/tls, hot reloaded.
func checkFileCerts(t *testing.T, r rendered, secret string) {
	t.Helper()
	d := one[*appsv1.Deployment](t, r, "Deployment")
	c := d.Spec.Template.Spec.Containers[0]
	files := mountedFiles(t, &d.Spec.Template.Spec, &c)
	for _, k := range []string{"tls.crt", "tls.key"} {
		if got, want := files["/etc/wisp/tls/"+k], "Secret "+secret+" "+k; got != want {
			t.Errorf("/etc/wisp/tls/%s is %q, want %q", k, got, want)
		}
	}
	for _, a := range []string{"--cert-mode=files", "--cert-dir=/etc/wisp/tls"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v lack %s", c.Args, a)
		}
	}
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--cert-secret") }) {
		t.Errorf("args %v name an auto-mode Secret", c.Args)
	}
}

// TestNames renders with another full name and checks that every reference
// between objects follows: the Service and Secret wisp is told about, the
// configurations its RBAC and flags name, the policy ConfigMap it mounts.
func TestNames(t *testing.T) {
	t.Parallel()
	const name = "acme-wisp"
	r := render(t, []string{"values-default.yaml"}, "fullnameOverride="+name)
	d := one[*appsv1.Deployment](t, r, "Deployment")
	args := d.Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{"--cert-secret=" + name + "-tls", "--service-name=" + name, "--mutating-webhook=" + name, "--validating-webhook=" + name} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	if got := one[*corev1.Service](t, r, "Service").Name; got != name {
		t.Errorf("Service %q, want %q", got, name)
	}
	for _, w := range webhooks(t, r) {
		if w.clientConfig.Service == nil || w.clientConfig.Service.Name != name {
			t.Errorf("%s: clientConfig %+v does not name Service %s", w.name, w.clientConfig, name)
		}
	}
	m := one[*admissionregistrationv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration")
	v := one[*admissionregistrationv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration")
	cr := one[*rbacv1.ClusterRole](t, r, "ClusterRole")
	if got := cr.Rules[1].ResourceNames; !cmp.Equal(got, []string{m.Name}) || m.Name != v.Name || m.Name != name {
		t.Errorf("ClusterRole names %v; configurations %s and %s, want %s", got, m.Name, v.Name, name)
	}
	if got := one[*rbacv1.Role](t, r, "Role").Rules[0].ResourceNames; !cmp.Equal(got, []string{name + "-tls"}) {
		t.Errorf("Role names Secrets %v, want %s-tls", got, name)
	}
	cm := one[*corev1.ConfigMap](t, r, "ConfigMap")
	c := d.Spec.Template.Spec.Containers[0]
	if got := mountedFiles(t, &d.Spec.Template.Spec, &c)["/etc/wisp/policy.yaml"]; got != "ConfigMap "+cm.Name+" policy.yaml" {
		t.Errorf("/etc/wisp/policy.yaml is %q, want ConfigMap %s", got, cm.Name)
	}
	if got := d.Spec.Template.Spec.ServiceAccountName; got != one[*corev1.ServiceAccount](t, r, "ServiceAccount").Name {
		t.Errorf("the Deployment runs as %q, not the chart's ServiceAccount", got)
	}
}

func TestURLMode(t *testing.T) {
	t.Parallel()
	r := render(t, []string{"values-url.yaml"})
	if d := one[*appsv1.Deployment](t, r, "Deployment"); *d.Spec.Replicas != 3 {
		t.Errorf("replicas %d, want 3", *d.Spec.Replicas)
	}
	// clientConfig and failurePolicy Ignore are checked by
	// TestWebhookConfigurations.
}

// TestHostNetwork: on the host network the webhook listens on the chosen
// node port, resolves cluster names, and is probed on 127.0.0.1 (the
// kubelet shares its network namespace); extraEnv reaches the container.
func TestHostNetwork(t *testing.T) {
	t.Parallel()
	r := render(t, []string{"values-default.yaml"}, "hostNetwork=true", "port=10443",
		"extraEnv[0].name=GOMEMLIMIT", "extraEnv[0].value=100MiB")
	spec := one[*appsv1.Deployment](t, r, "Deployment").Spec.Template.Spec
	if !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %v dnsPolicy %q, want true and ClusterFirstWithHostNet", spec.HostNetwork, spec.DNSPolicy)
	}
	c := spec.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 10443 || !slices.Contains(c.Args, "--port=10443") {
		t.Errorf("ports %+v args %v, want 10443 in both", c.Ports, c.Args)
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if p.HTTPGet.Host != "127.0.0.1" {
			t.Errorf("probe %s host %q, want 127.0.0.1", p.HTTPGet.Path, p.HTTPGet.Host)
		}
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" && e.Value == "100MiB" }) {
		t.Errorf("env %+v lacks GOMEMLIMIT from extraEnv", c.Env)
	}
	// Off by default: pod network, probes on the pod IP.
	def := one[*appsv1.Deployment](t, render(t, []string{"values-default.yaml"}), "Deployment").Spec.Template.Spec
	if def.HostNetwork || def.Containers[0].ReadinessProbe.HTTPGet.Host != "" {
		t.Errorf("default: hostNetwork %v, probe host %q", def.HostNetwork, def.Containers[0].ReadinessProbe.HTTPGet.Host)
	}
}

// TestSingleReplica: a PodDisruptionBudget with minAvailable 1 over one
// replica would block every node drain, so none is rendered.
func TestSingleReplica(t *testing.T) {
	t.Parallel()
	r := render(t, []string{"values-default.yaml"}, "replicaCount=1")
	if n := len(r.find("PodDisruptionBudget")); n != 0 {
		t.Errorf("%d PodDisruptionBudgets with one replica, want none", n)
	}
}

// TestRBAC checks that wisp's service account gets only what it needs, in
// every mode: no wildcard, no Secret outside its own, nothing cluster-wide
// but namespaces and its own two webhook configurations.
func TestRBAC(t *testing.T) {
	t.Parallel()
	for _, f := range valuesFiles {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			r := render(t, []string{f})
			auto := len(r.find("Role")) > 0
			cr := named[*rbacv1.ClusterRole](t, r, "ClusterRole", "wisp")
			want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}}}
			if auto {
				want = append(want, rbacv1.PolicyRule{
					APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"},
					ResourceNames: []string{"wisp"}, Verbs: []string{"get", "list", "watch", "update", "patch"},
				})
			}
			if diff := cmp.Diff(want, cr.Rules); diff != "" {
				t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
			}
			rules := slices.Clone(cr.Rules)
			if auto {
				role := one[*rbacv1.Role](t, r, "Role")
				if role.Namespace != releaseNS {
					t.Errorf("Role in %q, want %q", role.Namespace, releaseNS)
				}
				want := []rbacv1.PolicyRule{
					{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"wisp-tls"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
					{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
				}
				if diff := cmp.Diff(want, role.Rules); diff != "" {
					t.Errorf("Role rules (-want +got):\n%s", diff)
				}
				rules = append(rules, role.Rules...)
				rb := one[*rbacv1.RoleBinding](t, r, "RoleBinding")
				checkBinding(t, rb.RoleRef, rb.Subjects, "Role")
			} else if len(r.find("RoleBinding")) != 0 {
				t.Error("a RoleBinding without auto mode")
			}
			for _, rule := range rules {
				for _, list := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames} {
					if slices.Contains(list, "*") {
						t.Errorf("rule %+v has a wildcard", rule)
					}
				}
				if slices.Contains(rule.Resources, "secrets") && len(rule.ResourceNames) == 0 &&
					slices.ContainsFunc(rule.Verbs, func(v string) bool { return v != "create" }) {
					t.Errorf("rule %+v reads or writes Secrets it does not own", rule)
				}
			}
			crb := named[*rbacv1.ClusterRoleBinding](t, r, "ClusterRoleBinding", "wisp")
			checkBinding(t, crb.RoleRef, crb.Subjects, "ClusterRole")
		})
	}
}

func checkBinding(t *testing.T, ref rbacv1.RoleRef, subjects []rbacv1.Subject, kind string) {
	t.Helper()
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "wisp", Namespace: releaseNS}}
	if ref.Kind != kind || ref.Name != "wisp" || !cmp.Equal(want, subjects) {
		t.Errorf("%sBinding: roleRef %+v subjects %+v, want %s wisp for %+v", kind, ref, subjects, kind, want)
	}
}

// TestPolicyConfigMap parses the rendered policy file with the webhook's own
// parser: what the chart writes, the webhook loads.
func TestPolicyConfigMap(t *testing.T) {
	t.Parallel()
	for _, f := range valuesFiles {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			snap := renderedPolicy(t, render(t, []string{f}))
			var vals struct {
				Migration struct{ VaultAgentAnnotations bool }
			}
			readValues(t, f, &vals)
			if snap.Injection.VaultAgentAnnotations != vals.Migration.VaultAgentAnnotations {
				t.Errorf("injection.vaultAgentAnnotations %v, want migration.vaultAgentAnnotations %v",
					snap.Injection.VaultAgentAnnotations, vals.Migration.VaultAgentAnnotations)
			}
		})
	}
	t.Run("migration keeps the injection values", func(t *testing.T) {
		t.Parallel()
		snap := renderedPolicy(t, render(t, []string{"values-migration.yaml"}))
		if snap.Injection.VaultAddr != "https://vault.example.com:8200" || snap.Injection.AuthPath != "kubernetes-jwt" {
			t.Errorf("injection %+v lost the policy values", snap.Injection)
		}
	})
	// Every documented policy field passes the values schema and reaches
	// the webhook unchanged.
	for _, src := range []string{"../../examples/policy.yaml", "../../policy/testdata/policy-full.yaml"} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			var p map[string]any
			if err := yaml.Unmarshal(data, &p); err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			delete(p, "apiVersion")
			delete(p, "kind")
			vals, err := yaml.Marshal(map[string]any{"policy": p})
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(file, vals, 0o600); err != nil {
				t.Fatal(err)
			}
			got := renderedPolicyFile(t, render(t, []string{file}))
			var gotMap map[string]any
			if err := yaml.Unmarshal(got, &gotMap); err != nil {
				t.Fatal(err)
			}
			p["apiVersion"], p["kind"] = config.APIVersion, config.Kind
			if diff := cmp.Diff(p, gotMap); diff != "" {
				t.Errorf("rendered policy differs from %s (-source +rendered):\n%s", src, diff)
			}
		})
	}
}

func renderedPolicyFile(t *testing.T, r rendered) []byte {
	t.Helper()
	cm := one[*corev1.ConfigMap](t, r, "ConfigMap")
	data, ok := cm.Data["policy.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no policy.yaml", cm.Name)
	}
	return []byte(data)
}

func renderedPolicy(t *testing.T, r rendered) *config.Snapshot {
	t.Helper()
	data := renderedPolicyFile(t, r)
	snap, err := config.Parse(data)
	if err != nil {
		t.Fatalf("the webhook would refuse the rendered policy: %v\n%s", err, data)
	}
	return snap
}

func TestServiceMonitor(t *testing.T) {
	t.Parallel()
	r := render(t, []string{"values-servicemonitor.yaml"})
	sm := one[*unstructuredObject](t, r, "ServiceMonitor")
	svc := one[*corev1.Service](t, r, "Service")
	sel, _ := sm.get("spec.selector.matchLabels").(map[string]any)
	for k, v := range sel {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%v; the Service has %q", k, v, svc.Labels[k])
		}
	}
	eps, _ := sm.get("spec.endpoints").([]any)
	if len(eps) != 1 {
		t.Fatalf("endpoints %v, want 1", eps)
	}
	ep := (&unstructuredObject{eps[0].(map[string]any)})
	if ep.get("port") != "webhook" || ep.get("path") != "/metrics" || ep.get("scheme") != "https" || ep.get("interval") != "15s" {
		t.Errorf("endpoint %v, want https port webhook /metrics every 15s", ep.Object)
	}
	if ep.get("tlsConfig.ca.secret.name") != "wisp-tls" || ep.get("tlsConfig.serverName") != "wisp.wisp-system.svc" {
		t.Errorf("tlsConfig %v, want the serving Secret's CA and the Service's name", ep.get("tlsConfig"))
	}
	if sm.get("metadata.labels.release") != "kube-prometheus-stack" {
		t.Errorf("labels %v lack release: kube-prometheus-stack", sm.get("metadata.labels"))
	}
}

// TestSchemaRejects checks that values.schema.json turns typos and bad
// values into errors of helm template.
func TestSchemaRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"typo at the top", []string{"replicas=3"}, "additional properties 'replicas' not allowed"},
		{"typo in webhook", []string{"webhook.timeoutSecond=3"}, "additional properties 'timeoutSecond' not allowed"},
		{"typo in policy", []string{"policy.injections.image=x"}, "additional properties 'injections' not allowed"},
		{"typo in injection", []string{"policy.injection.vaultAdress=https://v"}, "additional properties 'vaultAdress' not allowed"},
		{"bad failurePolicy", []string{"webhook.failurePolicy=Sometimes"}, "value must be one of 'Fail', 'Ignore'"},
		{"bad certificate mode", []string{"certificates.mode=self-signed"}, "value must be one of 'auto', 'cert-manager', 'files'"},
		{"bad policy mode", []string{"policy.mode=block"}, "value must be one of 'enforce', 'warn', 'audit'"},
		{"bad log level", []string{"logLevel=trace"}, "value must be one of"},
		{"timeout too long", []string{"webhook.timeoutSeconds=31"}, "maximum"},
		{"files mode without a Secret", []string{"certificates.mode=files"}, "secretName"},
		{"url without https", []string{"webhook.url=http://127.0.0.1:9443", "webhook.caBundle=QQ=="}, "does not match pattern"},
		{"url without caBundle", []string{"webhook.url=https://127.0.0.1:9443", "certificates.mode=cert-manager"}, "caBundle"},
		{"extraArgs not a flag", []string{"extraArgs={verbose}"}, "does not match pattern"},
		{"typo in reports", []string{"reports.enable=true"}, "additional properties 'enable' not allowed"},
		{"reports page size", []string{"reports.pageSize=0"}, "minimum"},
		{"typo in allow.secrets", []string{"policy.allow.secrets[0].name=safe-*"}, "additional properties 'name' not allowed"},
		{"bad Secret name glob", []string{"policy.allow.secrets[0].names[0]=Safe_*"}, "does not match pattern"},
		{"vaultAgentAnnotations in the policy", []string{"policy.injection.vaultAgentAnnotations=true"}, "set migration.vaultAgentAnnotations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := runHelm(t, templateArgs(nil, tt.set...)...)
			if err == nil {
				t.Fatalf("helm template --set %v succeeded; want an error saying %q\n%.300s", tt.set, tt.want, out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not say %q:\n%v", tt.want, err)
			}
		})
	}
}

// readValues decodes a values file of testdata/ leniently (values files
// are checked by the chart's schema, not here).
func readValues(t *testing.T, file string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// With rule secret-volume on, the CEL conditions also send pods (and pod
// templates) whose only secret is a Secret volume; without it they do not,
// so a pod with a Secret volume alone never waits on wisp.
func TestSecretVolumeRuleReachesWisp(t *testing.T) {
	t.Parallel()
	const secretVolume = "has(v.secret)"
	dir := t.TempDir()
	values := filepath.Join(dir, "secret-volume.yaml")
	if err := os.WriteFile(values, []byte("policy:\n  rules:\n    enabled: [secret-volume]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		files []string
		want  bool
	}{{nil, false}, {[]string{values}, true}} {
		for _, w := range webhooks(t, render(t, tt.files)) {
			var text string
			for _, c := range w.matchConditions {
				text += c.Expression
			}
			if strings.Contains(text, "exists(c,") && strings.Contains(text, secretVolume) != tt.want {
				t.Errorf("values %v: webhook %s sends Secret volumes: %v, want %v", tt.files, w.name, !tt.want, tt.want)
			}
		}
	}
}

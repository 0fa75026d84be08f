package mutate_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"wisp.dev/wisp/mutate"
)

// InjectCached gives what Inject gives, whether its cache holds the
// templates or not: on every golden input, and on pods whose templates do
// not parse (refused every time, with the same message).
func TestInjectCachedIsInject(t *testing.T) {
	cache := mutate.NewCache()
	for _, in := range goldenInputs(t) {
		path := filepath.Join(goldenDir, in)
		cfg := goldenConfig(t, path)
		want, wantRes, wantErr := mutate.Inject(readPod(t, path), cfg)
		for round := range 2 {
			got, res, err := mutate.InjectCached(readPod(t, path), cfg, cache)
			if res != wantRes || fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
				t.Errorf("%s, round %d: InjectCached = %v, %v; Inject = %v, %v", in, round, res, err, wantRes, wantErr)
			}
		}
	}
	// One cache for several configs, and for annotations that differ only
	// in where they came from (wisp's key, or the Vault Agent Injector's).
	vault := mutate.Config{VaultAgentAnnotations: true}
	for name, tc := range map[string]struct {
		pod func() *corev1.Pod
		cfg mutate.Config
	}{
		"default mount path": {func() *corev1.Pod { return newPod(optedIn(), "app") }, mutate.Config{}},
		"other mount path":   {func() *corev1.Pod { return newPod(optedIn(), "app") }, mutate.Config{MountPath: "/srv/secrets"}},
		"wisp's template":    {func() *corev1.Pod { return newPod(optedIn("wisp.dev/template-db", "{{ .password }}"), "app") }, vault},
		"wisp's key, Vault's syntax": {func() *corev1.Pod {
			return newPod(optedIn("wisp.dev/template-db", `{{ with secret "database/creds/app" }}{{ .Data.password }}{{ end }}`), "app")
		}, mutate.Config{VaultAgentAnnotations: true}},
		"Vault's template": {func() *corev1.Pod {
			return newPod(optedIn("vault.hashicorp.com/agent-inject-template-db", `{{ with secret "database/creds/app" }}{{ .Data.password }}{{ end }}`), "app")
		}, vault},
	} {
		want, wantRes, wantErr := mutate.Inject(tc.pod(), tc.cfg)
		for round := range 2 {
			got, res, err := mutate.InjectCached(tc.pod(), tc.cfg, cache)
			if res != wantRes || fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
				t.Errorf("%s, round %d: InjectCached = %v, %v; Inject = %v, %v", name, round, res, err, wantRes, wantErr)
			}
		}
		if wantErr != nil && !strings.Contains(name, "Vault's syntax") {
			t.Errorf("%s: %v", name, wantErr)
		}
	}
	for name, template := range map[string]string{
		"unclosed action": "{{ .password ",
		"unknown func":    "{{ nosuch .password }}",
		"redefined":       `{{define "db"}}x{{end}}y`, // the secret is named db
		"valid":           "{{ .password }}",
	} {
		pod := func() *corev1.Pod {
			return newPod(optedIn("wisp.dev/template-db", template), "app")
		}
		_, wantRes, wantErr := mutate.Inject(pod(), mutate.Config{})
		for round := range 2 {
			_, res, err := mutate.InjectCached(pod(), mutate.Config{}, cache)
			if res != wantRes || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Errorf("%s, round %d: InjectCached = %v, %v; Inject = %v, %v", name, round, res, err, wantRes, wantErr)
			}
		}
		if name != "valid" && wantErr == nil {
			t.Errorf("%s: the template was accepted", name)
		}
	}
}

// Role is the role Inject writes into the fetch plan, on every golden
// input (the Vault Agent Injector's aliases included) and when both keys
// are set.
func TestRoleIsThePlanRole(t *testing.T) {
	check := func(name string, pod *corev1.Pod, cfg mutate.Config) {
		t.Helper()
		out, res, err := mutate.Inject(pod, cfg)
		if err != nil || res != mutate.Injected {
			if strings.Contains(name, "keys") || strings.Contains(name, "alias") {
				t.Errorf("%s: not injected: %v %v", name, res, err)
			}
			return
		}
		if got, want := fetchPlan(t, out).Role, mutate.Role(pod.Annotations, cfg); got != want || got == "" {
			t.Errorf("%s: the plan's role is %q, mutate.Role says %q", name, got, want)
		}
	}
	for _, in := range goldenInputs(t) {
		path := filepath.Join(goldenDir, in)
		check(in, readPod(t, path), goldenConfig(t, path))
	}
	vault := mutate.Config{VaultAgentAnnotations: true}
	both := newPod(optedIn(mutate.VaultAnnotationRole, "vault-role", mutate.AnnotationRole, " wisp-role "))
	check("both keys", both, vault)
	alias := newPod(optedIn(mutate.VaultAnnotationRole, "\tvault-role", mutate.AnnotationRole, drop))
	check("alias only", alias, vault)
	if got := mutate.Role(alias.Annotations, mutate.Config{}); got != "" {
		t.Errorf("without the aliases, Role reads the Vault key: %q", got)
	}
}

// The injected copy shares what it does not change with its input, but an
// injection never writes into the input's arrays, even where they have
// room to spare: the input seen up to its capacity is unchanged.
func TestInjectLeavesSpareCapacityAlone(t *testing.T) {
	withRoom := func() *corev1.Pod {
		pod := newPod(optedIn("wisp.dev/socket", "true", "wisp.dev/env-DB_PASSWORD", "db#password", "wisp.dev/format-db", "env"), "app")
		c := &pod.Spec.Containers[0]
		c.Command = []string{"/app"}
		c.Env = append(make([]corev1.EnvVar, 0, 8), c.Env...)
		c.VolumeMounts = append(make([]corev1.VolumeMount, 0, 8), corev1.VolumeMount{Name: "data", MountPath: "/data"})
		pod.Spec.Volumes = append(make([]corev1.Volume, 0, 8), corev1.Volume{Name: "data"})
		pod.Spec.InitContainers = append(make([]corev1.Container, 0, 8), corev1.Container{Name: "setup", Image: "s:1"})
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{SupplementalGroups: append(make([]int64, 0, 8), 5)}
		return pod
	}
	full := func(p *corev1.Pod) *corev1.Pod {
		q := *p
		q.Spec.Volumes = p.Spec.Volumes[:cap(p.Spec.Volumes)]
		q.Spec.InitContainers = p.Spec.InitContainers[:cap(p.Spec.InitContainers)]
		sc := *p.Spec.SecurityContext
		sc.SupplementalGroups = sc.SupplementalGroups[:cap(sc.SupplementalGroups)]
		q.Spec.SecurityContext = &sc
		q.Spec.Containers = slices.Clone(p.Spec.Containers)
		for i := range q.Spec.Containers {
			c := &q.Spec.Containers[i]
			c.Env, c.VolumeMounts = c.Env[:cap(c.Env)], c.VolumeMounts[:cap(c.VolumeMounts)]
		}
		return q.DeepCopy()
	}
	pod := withRoom()
	before := full(pod)
	first, res, err := mutate.Inject(pod, mutate.Config{})
	if err != nil || res != mutate.Injected {
		t.Fatalf("Inject: %v, %v", res, err)
	}
	firstCopy := first.DeepCopy()
	second, _, _ := mutate.Inject(pod, mutate.Config{VolumeSizeLimit: ptr(resource.MustParse("1Mi"))})
	if diff := cmp.Diff(before, full(pod)); diff != "" {
		t.Errorf("Inject wrote into its input (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(firstCopy, first); diff != "" {
		t.Errorf("a second injection changed the first one's result (-before +after):\n%s", diff)
	}
	if reflect.DeepEqual(first, second) {
		t.Error("two configs gave the same pod: the test does not tell them apart")
	}
}
func ptr[T any](v T) *T { return &v }

package mutate_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/mutate"
)

// InjectCached gives what Inject gives, whether its cache holds the
// templates or not: on every golden input, and on pods whose templates do
// not parse (refused every time, with the same message).
func TestInjectCachedIsInject(t *testing.T) {
	cache := mutate.NewTemplateCache()
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

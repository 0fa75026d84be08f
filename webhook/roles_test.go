package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"wisp.dev/wisp/internal/config"
	"wisp.dev/wisp/mutate"
)

// An injected pod may only name the Vault roles its namespace is bound to:
// the role wisp writes into its plan (from wisp's annotation or, with the
// aliases on, the Vault Agent Injector's), and any plan the pod already
// carries in a container of its own.
func TestInjectedRolesAreChecked(t *testing.T) {
	t.Parallel()
	snap, err := config.Parse([]byte(`
apiVersion: wisp.dev/v1alpha1
kind: Policy
injection:
  vaultAgentAnnotations: true
roles:
  - namespaces: ["team-a"]
    roles: ["payments", "team-a-*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	h := NewMutatingHandler(config.Static{Snapshot: snap}, nil, nil, nil)
	foreignPlan := `{"version":"wisp.dev/v1alpha1","role":"payments","dir":"/wisp/secrets","secrets":[{"name":"a","path":"secret/data/a"}],"role":"team-b-admin"}`
	tests := []struct {
		name    string
		change  func(p *corev1.Pod)
		allowed bool
		says    string
	}{
		{name: "bound role", change: func(*corev1.Pod) {}, allowed: true},
		{name: "bound glob", change: func(p *corev1.Pod) { p.Annotations["wisp.dev/role"] = " team-a-reports " }, allowed: true},
		{name: "foreign role", change: func(p *corev1.Pod) { p.Annotations["wisp.dev/role"] = "team-b-admin" },
			says: `init container "wisp-fetch"`},
		{name: "foreign role by the Vault alias", change: func(p *corev1.Pod) {
			delete(p.Annotations, "wisp.dev/role")
			p.Annotations["vault.hashicorp.com/role"] = "team-b-admin"
		}, says: `init container "wisp-fetch"`},
		{name: "wisp's key wins over the alias", change: func(p *corev1.Pod) {
			p.Annotations["vault.hashicorp.com/role"] = "team-b-admin"
		}, allowed: true},
		{name: "a plan of the pod's own names a foreign role", change: func(p *corev1.Pod) {
			p.Spec.Containers[1].Env = append(p.Spec.Containers[1].Env, corev1.EnvVar{Name: mutate.EnvPlan, Value: foreignPlan})
		}, says: `container "metrics"`},
		{name: "a plan of the pod's own in an init container", change: func(p *corev1.Pod) {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "setup", Image: "s:1",
				Env: []corev1.EnvVar{{Name: mutate.EnvPlan, Value: foreignPlan}}})
		}, says: `init container "setup"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := realisticPod()
			tt.change(pod)
			raw := mustJSON(t, pod)
			req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				UID: "u", Kind: metaKind("Pod"), Namespace: "team-a", Operation: admissionv1.Create,
			}}
			req.Object.Raw = raw
			resp := h.Handle(context.Background(), req)
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed %v, want %v: %v", resp.Allowed, tt.allowed, resp.Result)
			}
			if tt.allowed {
				if len(resp.Patches) == 0 {
					t.Error("allowed without injecting")
				}
				return
			}
			if msg := resp.Result.Message; !strings.Contains(msg, tt.says) || !strings.Contains(msg, "team-b-admin") {
				t.Errorf("message %q: want it to name %s and the role", msg, tt.says)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

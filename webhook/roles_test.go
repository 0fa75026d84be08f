package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"wisp.dev/wisp/config"
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

// A namespace may not name a neighbour's role through {namespace}: under
// the binding the README used to recommend, team-a-b-db reads as team-a's
// and team-a-b's, and only team-a-b may name it, by wisp's annotation, the
// Vault alias or a plan of the pod's own. Under the binding it recommends
// now, the roles of the two namespaces cannot meet.
func TestNeighbourRolesAreRefused(t *testing.T) {
	t.Parallel()
	policy := func(pattern string) *config.Snapshot {
		snap, err := config.Parse([]byte("apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection: {vaultAgentAnnotations: true}\n" +
			"roles: [{namespaces: [\"team-*\"], roles: [\"" + pattern + "\"]}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	dash, dot := policy("{namespace}-*"), policy("{namespace}.*")
	byAnnotation := func(role string) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Annotations["wisp.dev/role"] = role }
	}
	byAlias := func(role string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			delete(p.Annotations, "wisp.dev/role")
			p.Annotations["vault.hashicorp.com/role"] = role
		}
	}
	byPlan := func(role string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Annotations["wisp.dev/role"] = "team-a-db"
			p.Spec.Containers[1].Env = append(p.Spec.Containers[1].Env, corev1.EnvVar{Name: mutate.EnvPlan,
				Value: `{"version":"wisp.dev/v1alpha1","role":"` + role + `","dir":"/wisp/secrets","secrets":[{"name":"a","path":"secret/data/a"}]}`})
		}
	}
	tests := []struct {
		name    string
		snap    *config.Snapshot
		ns      string
		change  func(*corev1.Pod)
		allowed bool
	}{
		{"own role", dash, "team-a", byAnnotation("team-a-db"), true},
		{"a neighbour's role", dash, "team-a", byAnnotation("team-a-b-db"), false},
		{"a neighbour's role by the alias", dash, "team-a", byAlias("team-a-b-db"), false},
		{"a neighbour's role in a plan", dash, "team-a", byPlan("team-a-b-db"), false},
		{"the neighbour's own role", dash, "team-a-b", byAnnotation("team-a-b-db"), true},
		{"dot: own role", dot, "team-a", byAnnotation("team-a.read-only"), true},
		{"dot: a neighbour's role", dot, "team-a", byAnnotation("team-a-b.db"), false},
		{"dot: the neighbour's own role", dot, "team-a-b", byAnnotation("team-a-b.db"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := NewMutatingHandler(config.Static{Snapshot: tt.snap}, nil, nil, nil)
			pod := realisticPod()
			pod.Namespace = tt.ns
			tt.change(pod)
			req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				UID: "u", Kind: metaKind("Pod"), Namespace: tt.ns, Operation: admissionv1.Create,
			}}
			req.Object.Raw = mustJSON(t, pod)
			resp := h.Handle(context.Background(), req)
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed %v, want %v: %v", resp.Allowed, tt.allowed, resp.Result)
			}
			if !tt.allowed && !strings.Contains(resp.Result.Message, "team-a-b") {
				t.Errorf("message %q: want it to name the role", resp.Result.Message)
			}
		})
	}
}

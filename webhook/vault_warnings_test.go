package webhook

import (
	"context"
	"slices"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"wisp.dev/wisp/config"
)

// The Vault Agent Injector's annotations that wisp does not honour are
// answered with admission warnings, which kubectl prints; an injection
// without them, or with the aliases off, has none.
func TestVaultAnnotationsWarned(t *testing.T) {
	t.Parallel()
	const (
		image = "vault.hashicorp.com/agent-image is not honoured by wisp: wisp sets wisp-fetch's image, resources and security context from the platform policy"
		first = "vault.hashicorp.com/agent-init-first is not honoured by wisp: wisp-fetch is always the first init container"
	)
	tests := []struct {
		name    string
		aliases bool
		extra   map[string]string
		want    []string
	}{
		{name: "warned", aliases: true, extra: map[string]string{
			"vault.hashicorp.com/agent-image": "hashicorp/vault:1.17", "vault.hashicorp.com/agent-init-first": "false",
			"vault.hashicorp.com/agent-pre-populate-only": "true"}, want: []string{image, first}},
		{name: "honoured only", aliases: true, extra: map[string]string{"vault.hashicorp.com/agent-init-first": "true"}},
		{name: "aliases off", extra: map[string]string{"vault.hashicorp.com/agent-image": "hashicorp/vault:1.17"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := "apiVersion: wisp.dev/v1alpha1\nkind: Policy\n"
			if tt.aliases {
				doc += "injection:\n  vaultAgentAnnotations: true\n"
			}
			snap, err := config.Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			h := NewMutatingHandler(config.Static{Snapshot: snap}, nil, nil, nil)
			pod := realisticPod()
			for k, v := range tt.extra {
				pod.Annotations[k] = v
			}
			req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				UID: "u", Kind: metaKind("Pod"), Namespace: "team-a", Operation: admissionv1.Create,
			}}
			req.Object.Raw = mustJSON(t, pod)
			resp := h.Handle(context.Background(), req)
			if !resp.Allowed || len(resp.Patches) == 0 {
				t.Fatalf("not injected: %v", resp.Result)
			}
			if !slices.Equal(resp.Warnings, tt.want) {
				t.Errorf("warnings %q\nwant %q", resp.Warnings, tt.want)
			}
		})
	}
}

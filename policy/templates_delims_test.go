package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A Vault Agent template with delimiters of its own is judged as wisp
// reads it: a credential split across [[ ]] actions is found whole.
func TestVaultTemplateDelimiters(t *testing.T) {
	t.Parallel()
	const (
		tmpl  = "vault.hashicorp.com/agent-inject-template-db"
		left  = "vault.hashicorp.com/agent-template-left-delim-db"
		right = "vault.hashicorp.com/agent-template-right-delim-db"
		split = `[[ with secret "kv/x" ]]key=AKIA[[/* */]]Z3MHQ7LXK4T2V6PB[[ end ]]`
	)
	e := mustDefault(t)
	for _, tt := range []struct {
		name string
		ann  map[string]string
		want bool
	}{
		{"with its delimiters", map[string]string{tmpl: split, left: "[[", right: "]]"}, true},
		{"wisp's own key is not a Vault template", map[string]string{"wisp.dev/template-db": split, left: "[[", right: "]]"}, false},
		{"default delimiters named", map[string]string{tmpl: `{{ .Data.x }}`, left: "{{", right: "}}"}, false},
		{"does not parse with them", map[string]string{tmpl: `[[ with`, left: "[[", right: "]]"}, false},
	} {
		o := Object{Kind: "Pod", Namespace: "team-a", Name: "web", Annotations: tt.ann, Spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}
		d := e.Evaluate(o)
		if got := len(d.Violations) > 0; got != tt.want {
			t.Errorf("%s: violations %v, want %v", tt.name, d.Messages(o), tt.want)
		}
	}
}

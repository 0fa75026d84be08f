package plan_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"wisp.dev/wisp/plan"
)

// FuzzParse feeds arbitrary bytes to Parse, as a tampered or truncated
// WISP_PLAN would. It checks that Parse never panics, returns no plan with an
// error, and that an accepted plan is valid and survives Marshal and Parse
// unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(validJSON))
	f.Add([]byte(`{"version":"wisp.dev/v1alpha1","role":"r","dir":"/s","secrets":[]}`))
	f.Add([]byte(`{"version":"wisp.dev/v1alpha1","role":"r","dir":"/s","secrets":[]}}`))
	f.Add([]byte(`{"version":"wisp.dev/v1alpha1","role":"r","dir":"/s","secrets":[{"name":"a","path":"kv/a","template":"{{ json . }}","mode":384}]}`))
	f.Add([]byte(`{"VERSION":"wisp.dev/v1alpha1","Role":"r","dir":"/s","secrets":null,"role":"x"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))

	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := plan.Parse(data)
		if err != nil {
			if diff := cmp.Diff(plan.Plan{}, p); diff != "" {
				t.Fatalf("Parse returned a plan with its error %q (-want +got):\n%s", err, diff)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted a plan that Validate refuses: %v", err)
		}
		for _, s := range p.Secrets {
			if !plan.IsFileName(s.Name) {
				t.Errorf("accepted secret name %q could escape the secrets folder", s.Name)
			}
			if m := s.FileMode(); m == 0 || m&^0o777 != 0 {
				t.Errorf("secret %s gets file mode %#o", s.Name, uint32(m))
			}
		}
		_ = p.String()
		doc, err := p.Marshal()
		if err != nil {
			t.Fatalf("Marshal of an accepted plan: %v", err)
		}
		back, err := plan.Parse(doc)
		if err != nil {
			t.Fatalf("Parse(Marshal(p)) refused a plan Parse accepted: %v\n%s", err, doc)
		}
		if diff := cmp.Diff(p, back); diff != "" {
			t.Errorf("Parse(Marshal(p)) != p (-want +got):\n%s", diff)
		}
	})
}

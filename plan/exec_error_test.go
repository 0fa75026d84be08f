package plan

import (
	"errors"
	"strings"
	"testing"
	"text/template"

	"github.com/google/go-cmp/cmp"
)

// TestRedactExecError: an execution error keeps the template's name, the
// position and the kind, and a key only when the template's text names it.
func TestRedactExecError(t *testing.T) {
	t.Parallel()
	const secret = "sk_live_51Hx7Qk2eZvKYlo2C9qQ"
	data := map[string]any{"pw": secret, "m": map[string]any{"k": secret}, "l": []any{secret}}
	tests := []struct {
		name string
		text string
		want ExecError
	}{
		{"range over a string", "{{ range .pw }}{{ end }}",
			ExecError{Template: "t", Line: 1, Column: 9, Kind: "range over a value that is not a list or map"}},
		{"eq of maps", "\n\n{{ eq .m .m }}",
			ExecError{Template: "t", Line: 3, Column: 3, Kind: "calling eq failed: values that cannot be compared"}},
		{"missing key", "{{ .m.nope }}",
			ExecError{Template: "t", Line: 1, Column: 5, Kind: `map has no entry for key "nope"`, Key: "nope"}},
		{"index out of range", "{{ index .l 3 }}",
			ExecError{Template: "t", Line: 1, Column: 3, Kind: "calling index failed: index out of range"}},
		{"an action holding >: ", `{{ index ">: map has no" 99 }}`,
			ExecError{Template: "t", Line: 1, Column: 3, Kind: "calling index failed: index out of range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := ParseTemplate("t", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			err = RedactExecError(tmpl, tt.text, tmpl.Execute(&strings.Builder{}, data))
			var got *ExecError
			if !errors.As(err, &got) {
				t.Fatalf("%v is not an *ExecError", err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), "sk_live") {
				t.Errorf("error leaks the value: %s", err)
			}
		})
	}
}

// TestRedactExecErrorKeepsOnlyTemplateWords: a key is echoed only when the
// template's text holds it as a field; a message that parses otherwise
// keeps its kind and no word; an error that is not text/template's says
// nothing but that execution failed.
func TestRedactExecErrorKeepsOnlyTemplateWords(t *testing.T) {
	t.Parallel()
	tmpl := template.Must(template.New("t").Parse("{{ .a }}"))
	forged := template.ExecError{Name: "t", Err: errors.New(`template: t:1:3: executing "t" at <.a>: map has no entry for key "sk_live_51Hx"`)}
	if got := RedactExecError(tmpl, "{{ .a }}", forged).Error(); got != "template t: line 1 column 3: map has no entry for key" {
		t.Errorf("forged key: %q", got)
	}
	if got := RedactExecError(tmpl, "{{ .a }}", errors.New("write sk_live_51Hx: broken pipe")).Error(); got != "template t: execution failed" {
		t.Errorf("other error: %q", got)
	}
	if RedactExecError(tmpl, "", nil) != nil {
		t.Error("nil error not kept")
	}
}

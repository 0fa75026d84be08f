package plan

import (
	"strings"
	"testing"
)

// TestTemplateErrorsNeverEchoTheTemplate: a broken template's error names
// the line and the kind of problem, never an identifier, string or
// character of the template (denials end up in events others can read).
func TestTemplateErrorsNeverEchoTheTemplate(t *testing.T) {
	const secret = "sk_live_51Hx7Qk2eZvKYlo2C9qQ"
	tests := []struct {
		text     string
		wantLine string
	}{
		{"{{ ." + secret + " | nosuchfunc }}", "line 1"},
		{"{{ " + secret + " }}", "line 1"},
		{"ok\n{{ \"" + secret + "\" ", "line 2"},
		{"{{ $" + secret + " }}", "line 1"},
		{"{{ .x.y( " + secret + " }}", "line 1"},
		{"a\nb\n{{ if }}" + secret, "line 3"},
		{"{{ '" + secret + "' }}", "line 1"},
		{"{{ #" + secret + " }}", "line 1"},
		{"{{ define \"" + secret + "\" }}x{{ end }}{{ template \"" + secret + "x\" }}", ""},
	}
	for _, tt := range tests {
		_, err := ParseTemplate("config", tt.text)
		if err == nil {
			if tt.wantLine != "" {
				t.Errorf("%q parsed", tt.text)
			}
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "sk_live") || strings.Contains(msg, "51Hx7Qk") {
			t.Errorf("error echoes the template: %s", msg)
		}
		if tt.wantLine != "" && !strings.Contains(msg, tt.wantLine) {
			t.Errorf("error %q does not say %s", msg, tt.wantLine)
		}
	}
}

package mutate

import (
	"regexp"
	"strings"
	"testing"
	"text/template/parse"
)

// Canaries of TestVaultTemplateRefusalsNeverEchoTheTemplate: a credential
// as a string constant and as an identifier.
const (
	canaryConst = "sk_live_51Hx7Qk2eZvKYlo2C9qQyT3b"
	canaryIdent = "AKIAZ5QWERTYUIOP7QAB"
)

// TestVaultTemplateRefusalsNeverEchoTheTemplate: each refusal of the Vault
// Agent template translation names the line and column and the kind of
// construct; no path, constant, helper, field or template name of the
// template appears in it, so a credential written there is never echoed in
// a denial or a warning.
func TestVaultTemplateRefusalsNeverEchoTheTemplate(t *testing.T) {
	t.Parallel()
	const path = "database/creds/app"
	with := func(body string) string { return `{{ with secret "` + path + `" }}` + body + `{{ end }}` }
	tests := []struct {
		name, template string
		want           string // the reason
		where          string // line and column
	}{
		{"another path", `{{ with secret "` + canaryConst + `" }}{{ end }}`, refuseOtherPath, "line 1 column 16"},
		{"another path on line 3", "a\nb\n  {{ with secret \"" + canaryIdent + "\" }}{{ end }}", refuseOtherPath, "line 3 column 18"},
		{"parameters", `{{ with secret "` + path + `" "common_name=` + canaryConst + `" }}{{ end }}`, refuseParameters, "line 1 column 9"},
		{"computed path", `{{ with secret (print "` + canaryConst + `") }}{{ end }}`, refuseComputedPath, "line 1 column 17"},
		{"two secrets", with("") + `{{ with secret "` + canaryConst + `" }}{{ end }}`, refuseTwoSecrets, "line 1 column 56"},
		{"else branch", with(`{{ else }}` + canaryConst), refuseElse, "line 1 column 49"},
		{"two variables (a parse error)", `{{ with $k, $` + canaryIdent + ` := secret "` + path + `" }}{{ end }}`, "parse template: line 1", ""},
		{"template call", with(`{{ template "` + canaryConst + `" }}`), refuseTemplateCall, "line 1 column 51"},
		{"define", `{{ define "` + canaryConst + `" }}` + canaryIdent + `{{ end }}`, refuseDefines, "line 1 column 48"},
		{"helper", with(`{{ ` + canaryIdent + ` "` + canaryConst + `" }}`), refuseHelper, "line 1 column 42"},
		{"helper in a pipeline", with(`{{ .Data.x | ` + canaryIdent + ` }}`), refuseHelper, "line 1 column 52"},
		{"field", with(`{{ .` + canaryIdent + ` }}`), refuseField, "line 1 column 42"},
		{"variable field", `{{ with $s := secret "` + path + `" }}{{ $s.` + canaryIdent + ` }}{{ end }}`, refuseField, "line 1 column 50"},
		{"metadata", with(`{{ .Data.metadata.` + canaryIdent + ` }}`), refuseMetadata, "line 1 column 47"},
		{"whole response", with(`{{ print "` + canaryConst + `" . }}`), refuseWholeDot, "line 1 column 83"},
		{"lone secret", `{{ secret "` + canaryConst + `" }}`, refuseLoneSecret, "line 1 column 4"},
		{"nested", `{{ if true }}{{ with secret "` + canaryConst + `" }}{{ end }}{{ end }}`, refuseNested, "line 1 column 22"},
		{"parse error", with(`{{ .Data.x "` + canaryConst), "parse template: line 1", ""},
		{"parse error with an identifier", with(`{{ ` + canaryIdent + `( }}`), "parse template: line 1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := translateVaultTemplate(tt.template, path)
			if err == nil {
				t.Fatal("translated")
			}
			msg := err.Error()
			for _, c := range []string{canaryConst, canaryIdent, "51Hx7Qk", "AKIAZ5", path} {
				if strings.Contains(msg, c) {
					t.Errorf("refusal %q holds %q", msg, c)
				}
			}
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, tt.where) {
				t.Errorf("refusal %q, want %q at %q", msg, tt.want, tt.where)
			}
			if !strings.HasSuffix(msg, "; "+vaultTemplateHint) {
				t.Errorf("refusal %q does not end with the hint", msg)
			}
		})
	}
}

// refusalShape is every refusal: a position and one of the reasons, or a
// parse error as plan.RedactTemplateError writes it (its own tests hold it
// to line and kind), then the hint.
var refusalShape = regexp.MustCompile(`^this Vault Agent template cannot be translated: (line \d+ column \d+: (` +
	strings.Join(quoteAll(refuseDefines, refuseTwoSecrets, refuseElse, refuseParameters, refuseComputedPath, refuseOtherPath,
		refuseTwoVariables, refuseNested, refuseTemplateCall, refuseLoneSecret, refuseHelper, refuseWholeDot, refuseWhole,
		refuseField, refuseMetadata), "|") +
	`)|parse template: line \d+( column \d+)?: .+); ` + regexp.QuoteMeta(vaultTemplateHint) + `$`)

func quoteAll(s ...string) []string {
	for i := range s {
		s[i] = regexp.QuoteMeta(s[i])
	}
	return s
}

// FuzzTranslateVaultTemplate: whatever the template, a refusal has the
// shape of refusalShape: beyond a parse error's kind, it holds nothing the
// template chose but numbers.
func FuzzTranslateVaultTemplate(f *testing.F) {
	f.Add("database/creds/app", `{{ with secret "database/creds/app" }}{{ .Data.username }}{{ end }}`)
	f.Add("kv/x", `{{ with secret "kv/y" }}{{ .Data.data.x | toJSON }}{{ template "t" }}{{ end }}`)
	f.Add("kv/x", "{{ define \"t\" }}x{{ end }}\n{{ with $a, $b := secret \"kv/x\" }}{{ $a.Lease }}{{ end }}")
	f.Add("kv/x", `{{ with secret "kv/x" }}{{ .Data.metadata }}{{ env "HOME" }}{{ . }}{{ end }}{{ secret "kv/x" }}`)
	f.Add("kv/x", `{{ with secret "kv/x" "a=b" }}{{ else }}{{ end }}{{ if 1 }}{{ with secret "kv/x" }}{{ end }}{{ end }}`)
	f.Add("kv/x", `{{ with secret "kv/x" }}{{ .Data.x "unclosed`)
	f.Fuzz(func(t *testing.T, path, text string) {
		if _, err := translateVaultTemplate(text, path); err != nil && !refusalShape.MatchString(err.Error()) {
			t.Fatalf("refusal %q has another shape", err)
		}
	})
}

// redelimitShape is every refusal of redelimit: a position and its reason,
// a define, or a redacted parse error, then the hint.
var redelimitShape = regexp.MustCompile(`^this Vault Agent template cannot be read with its delimiters: (line \d+ column \d+: ` +
	regexp.QuoteMeta(refuseDelimText) + `|` + regexp.QuoteMeta(refuseDefines) + `|parse template: line \d+( column \d+)?: .+); ` +
	regexp.QuoteMeta(vaultTemplateHint) + `$`)

// FuzzRedelimit: a template read with its delimiters is refused with
// nothing of its own in the message, or rewritten into one that Go reads
// with the default delimiters as the same tree.
func FuzzRedelimit(f *testing.F) {
	f.Add(`[[ with secret "kv/x" ]][[ .Data.data.x ]][[ end ]]`, "[[", "]]")
	f.Add(`<% .Data.x %> {{ literal }}`, "<%", "%>")
	f.Add(`[[- if .a -]] x [[ else ]] "}}" [[ end ]][[/* c */]]`, "[[", "]]")
	f.Add(`[[ define "t" ]][[ end ]]`, "[[", "")
	f.Fuzz(func(t *testing.T, text, left, right string) {
		out, err := redelimit(text, left, right)
		if err != nil {
			if !redelimitShape.MatchString(err.Error()) {
				t.Fatalf("refusal %q has another shape", err)
			}
			return
		}
		tr := parse.New("x")
		tr.Mode = parse.SkipFuncCheck | parse.ParseComments
		trees := map[string]*parse.Tree{}
		if _, err := tr.Parse(out, "", "", trees); err != nil {
			t.Fatalf("output %q does not parse: %v", out, err)
		}
		if strings.TrimSpace(left) == "" && strings.TrimSpace(right) == "" {
			if out != text {
				t.Fatalf("default delimiters changed the text")
			}
			return
		}
		if got := tr.Root.String(); got != out {
			t.Fatalf("output %q reads as %q", out, got)
		}
	})
}

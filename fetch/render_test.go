package fetch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"wisp.dev/wisp/plan"
)

const canary = "CANARY-s3cr3t-7f3a9"

func testData() Data {
	return Data{
		"username": "app",
		"password": canary,
		"port":     json.Number("5432"),
		"enabled":  true,
		"nested":   map[string]any{"a": "b"},
		"empty":    "",
		"null":     nil,
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret plan.Secret
		data   Data
		want   string
	}{
		{
			name:   "default is json",
			secret: plan.Secret{Name: "s", Path: "p"},
			data:   Data{"b": "2", "a": json.Number("1")},
			want:   `{"a":1,"b":"2"}` + "\n",
		},
		{
			name:   "json of nil data is an empty object",
			secret: plan.Secret{Name: "s", Path: "p", Format: plan.FormatJSON},
			data:   nil,
			want:   "{}\n",
		},
		{
			name:   "env: sorted, upper-cased, quoted when needed",
			secret: plan.Secret{Name: "s", Path: "p", Format: plan.FormatEnv},
			data: Data{
				"username": "app", "db-host": "127.0.0.1:5432", "2fa": "x", "port": json.Number("5432"),
				"spaced": "a b", "quote": "it's", "multi": "l1\nl2", "empty": "", "null": nil,
				"flag": true, "obj": map[string]any{"k": "v"}, "dollar": "$HOME",
			},
			want: "DB_HOST=127.0.0.1:5432\nDOLLAR='$HOME'\nEMPTY=''\nFLAG=true\nMULTI='l1\nl2'\nNULL=''\n" +
				"OBJ='{\"k\":\"v\"}'\nPORT=5432\nQUOTE='it'\\''s'\nSPACED='a b'\nUSERNAME=app\n_2FA=x\n",
		},
		{
			name:   "raw string",
			secret: plan.Secret{Name: "s", Path: "p", Format: "raw:password"},
			data:   testData(),
			want:   canary,
		},
		{
			name:   "raw number",
			secret: plan.Secret{Name: "s", Path: "p", Format: "raw:port"},
			data:   testData(),
			want:   "5432",
		},
		{
			name:   "raw object is json",
			secret: plan.Secret{Name: "s", Path: "p", Format: "raw:nested"},
			data:   testData(),
			want:   `{"a":"b"}`,
		},
		{
			name:   "template with helpers",
			secret: plan.Secret{Name: "s", Path: "p", Template: `{{ .username | upper }} {{ .password | b64enc | b64dec | len }} {{ quote .username }} {{ default "x" .empty }} {{ json .nested }} {{ .port }}`},
			data:   testData(),
			want:   fmt.Sprintf(`APP %d "app" x {"a":"b"} 5432`, len(canary)),
		},
		{
			name:   "template sees the data map itself",
			secret: plan.Secret{Name: "s", Path: "p", Template: `{{ range $k, $v := . }}{{ $k }};{{ end }}{{ json .username }}`},
			data:   Data{"b": "1", "a": "2", "username": "u"},
			want:   `a;b;username;"u"`,
		},
		{
			name:   "template: postgres URL",
			secret: plan.Secret{Name: "s", Path: "p", Template: `postgresql://{{ .username }}:{{ .password }}@db:5432/app`},
			data:   testData(),
			want:   "postgresql://app:" + canary + "@db:5432/app",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Render(tt.secret, tt.data)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Render (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secret  plan.Secret
		data    Data
		wantSub []string
	}{
		{
			name:    "raw: missing key names the key and the keys there are",
			secret:  plan.Secret{Name: "s", Path: "p", Format: "raw:token"},
			data:    testData(),
			wantSub: []string{`key "token" is not in the data`, "password", "username"},
		},
		{
			name:    "template: missing key",
			secret:  plan.Secret{Name: "s", Path: "p", Template: `{{ .username }}:{{ .token }}`},
			data:    testData(),
			wantSub: []string{`map has no entry for key "token"`},
		},
		{
			name:    "template: nested missing key",
			secret:  plan.Secret{Name: "s", Path: "p", Template: `{{ .nested.zzz }}`},
			data:    testData(),
			wantSub: []string{`map has no entry for key "zzz"`},
		},
		{
			name:    "template: field of a string",
			secret:  plan.Secret{Name: "s", Path: "p", Template: `{{ .password.x }}`},
			data:    testData(),
			wantSub: []string{`template s: line 1 column 12: field "x" of a value that is not a map`},
		},
		{
			name:    "template: bad base64 does not echo the input",
			secret:  plan.Secret{Name: "s", Path: "p", Template: `{{ b64dec .password }}`},
			data:    testData(),
			wantSub: []string{"not valid base64"},
		},
		{
			name:    "template: index out of range",
			secret:  plan.Secret{Name: "s", Path: "p", Template: `{{ index .password 99 }}`},
			data:    testData(),
			wantSub: []string{"index"},
		},
		{
			name:    "template: comparing a secret to a number",
			secret:  plan.Secret{Name: "s", Path: "p", Template: `{{ if lt .password 3 }}x{{ end }}`},
			data:    testData(),
			wantSub: []string{"lt"},
		},
		{
			name:    "env: keys that collide",
			secret:  plan.Secret{Name: "s", Path: "p", Format: plan.FormatEnv},
			data:    Data{"db-host": "a", "DB_HOST": canary},
			wantSub: []string{`"DB_HOST" and "db-host" both become DB_HOST`},
		},
		{
			name:    "env: empty key",
			secret:  plan.Secret{Name: "s", Path: "p", Format: plan.FormatEnv},
			data:    Data{"": canary},
			wantSub: []string{"empty key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Render(tt.secret, tt.data)
			if err == nil {
				t.Fatal("Render: no error")
			}
			for _, sub := range tt.wantSub {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not contain %q", err, sub)
				}
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error leaks the secret: %q", err)
			}
		})
	}
}

// TestRedactedTypes: the types holding secrets print as [redacted] with
// every verb and in slog, JSON and text.
func TestRedactedTypes(t *testing.T) {
	t.Parallel()
	values := map[string]any{
		"secretString": secretString(canary),
		"secretBytes":  secretBytes(canary),
		"Data":         Data{"password": canary},
		"item":         &item{content: secretBytes(canary)},
		"session":      &session{token: secretString(canary)},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, canary) || strings.Contains(out, fmt.Sprintf("%x", canary)) {
				t.Errorf("%s with %s prints the secret: %s", name, verb, out)
			}
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		if strings.Contains(buf.String(), canary) {
			t.Errorf("%s logs the secret: %s", name, buf.String())
		}
		if b, err := json.Marshal(v); err == nil && strings.Contains(string(b), canary) {
			t.Errorf("%s marshals the secret: %s", name, b)
		}
	}
}

package plan_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"wisp.dev/wisp/plan"
)

// validPlan is a plan wisp-fetch accepts, with one secret of each kind.
func validPlan() plan.Plan {
	return plan.Plan{
		Version: plan.Version,
		Role:    "orders-api",
		Dir:     "/vault/secrets",
		Secrets: []plan.Secret{
			{Name: "config", Path: "secret/data/team-orders/orders-api"},
			{Name: "db", Path: "database/creds/orders-api", Format: plan.FormatEnv},
			{Name: "tls-key", Path: "pki/issue/orders", Format: "raw:private_key", Mode: 0o400},
			{Name: "stripe", Path: "secret/data/stripe", Template: `KEY={{ .api_key | quote }}`},
		},
	}
}

const validJSON = `{"version":"wisp.dev/v1alpha1","role":"orders-api","dir":"/vault/secrets","secrets":[` +
	`{"name":"config","path":"secret/data/team-orders/orders-api"},` +
	`{"name":"db","path":"database/creds/orders-api","format":"env"},` +
	`{"name":"tls-key","path":"pki/issue/orders","format":"raw:private_key","mode":256},` +
	`{"name":"stripe","path":"secret/data/stripe","template":"KEY={{ .api_key | quote }}"}]}`

func TestMarshal(t *testing.T) {
	t.Parallel()
	got, err := validPlan().Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if diff := cmp.Diff(validJSON, string(got)); diff != "" {
		t.Errorf("encoded plan (-want +got); the format is read by wisp-fetch of other versions:\n%s", diff)
	}
	back, err := plan.Parse(got)
	if err != nil {
		t.Fatalf("Parse(Marshal(p)): %v", err)
	}
	if diff := cmp.Diff(validPlan(), back); diff != "" {
		t.Errorf("Parse(Marshal(p)) != p (-want +got):\n%s", diff)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want plan.Plan
	}{
		{name: "full", doc: validJSON, want: validPlan()},
		{name: "white space around", doc: "\n  " + validJSON + "\n\t ", want: validPlan()},
		{name: "no secrets", doc: `{"version":"wisp.dev/v1alpha1","role":"r","dir":"/s","secrets":[]}`,
			want: plan.Plan{Version: plan.Version, Role: "r", Dir: "/s", Secrets: []plan.Secret{}}},
		{name: "secrets null", doc: `{"version":"wisp.dev/v1alpha1","role":"r","dir":"/s","secrets":null}`,
			want: plan.Plan{Version: plan.Version, Role: "r", Dir: "/s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := plan.Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	// doc builds a plan document from a valid one with old replaced by new.
	doc := func(old, new string) string {
		if !strings.Contains(validJSON, old) {
			panic("test bug: " + old + " is not in validJSON")
		}
		return strings.Replace(validJSON, old, new, 1)
	}
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{name: "empty", doc: "", want: []string{"decode plan"}},
		{name: "not JSON", doc: "version: wisp.dev/v1alpha1", want: []string{"decode plan"}},
		{name: "array", doc: "[]", want: []string{"decode plan"}},
		{name: "truncated", doc: validJSON[:40], want: []string{"decode plan"}},
		{name: "unknown field", doc: doc(`"role"`, `"vaultToken":"x","role"`), want: []string{`unknown field "vaultToken"`}},
		{name: "unknown secret field", doc: doc(`"name":"config"`, `"name":"config","owner":"root"`), want: []string{`unknown field "owner"`}},
		{name: "trailing object", doc: validJSON + `{}`, want: []string{"trailing data"}},
		{name: "trailing brace", doc: validJSON + `}`, want: []string{"trailing data"}},
		{name: "trailing bracket", doc: validJSON + `]`, want: []string{"trailing data"}},
		{name: "trailing garbage", doc: validJSON + ` x`, want: []string{"trailing data"}},
		{name: "wrong type", doc: doc(`"mode":256`, `"mode":"0400"`), want: []string{"decode plan"}},
		{name: "other version", doc: doc(`wisp.dev/v1alpha1`, `wisp.dev/v2`), want: []string{`version "wisp.dev/v2" is not supported`}},
		{name: "no version", doc: doc(`"version":"wisp.dev/v1alpha1",`, ``), want: []string{`version "" is not supported`}},
		{name: "empty role", doc: doc(`"role":"orders-api"`, `"role":""`), want: []string{"role is empty"}},
		{name: "relative dir", doc: doc(`"dir":"/vault/secrets"`, `"dir":"vault/secrets"`), want: []string{`dir "vault/secrets" is not a clean absolute path`}},
		{name: "unclean dir", doc: doc(`"dir":"/vault/secrets"`, `"dir":"/vault/../etc"`), want: []string{"not a clean absolute path"}},
		{name: "dir with trailing slash", doc: doc(`"dir":"/vault/secrets"`, `"dir":"/vault/secrets/"`), want: []string{"not a clean absolute path"}},
		{name: "name escapes dir", doc: doc(`"name":"config"`, `"name":"../config"`), want: []string{`secrets[0]: name "../config" is not a DNS label`}},
		{name: "duplicate name", doc: doc(`"name":"db"`, `"name":"config"`), want: []string{`secrets[1]: name "config" is used twice`}},
		{name: "bad path", doc: doc(`"path":"pki/issue/orders"`, `"path":"/pki/issue/orders"`), want: []string{"secrets[2]: vault path", "must not start with /"}},
		{name: "bad format", doc: doc(`"format":"env"`, `"format":"yaml"`), want: []string{`secrets[1]: format "yaml" is unknown`}},
		{name: "template and format", doc: doc(`"template"`, `"format":"env","template"`), want: []string{"secrets[3]: set either a template or a format"}},
		{name: "bad template", doc: doc(`{{ .api_key | quote }}`, `{{ .api_key | quote`), want: []string{"secrets[3]: parse template"}},
		{name: "setuid mode", doc: doc(`"mode":256`, `"mode":8388608`), want: []string{"secrets[2]: mode", "beyond the permission bits"}},
		{name: "mode 04000", doc: doc(`"mode":256`, `"mode":2048`), want: []string{"beyond the permission bits"}},
		{name: "every problem at once",
			doc:  `{"version":"v0","role":"","dir":"rel","secrets":[{"name":"A","path":"","format":"xml"}]}`,
			want: []string{"invalid plan", "version", "role is empty", `dir "rel"`, `name "A"`, "vault path is empty", `format "xml"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := plan.Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse accepted a bad plan: %v", got)
			}
			if diff := cmp.Diff(plan.Plan{}, got); diff != "" {
				t.Errorf("Parse returned a plan with its error (-want +got):\n%s", diff)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := validPlan().Validate(); err != nil {
		t.Fatalf("Validate rejected a valid plan: %v", err)
	}
	p := validPlan()
	p.Role = ""
	p.Secrets[0].Name = "Config"
	p.Secrets[1].Path = "database/../sys"
	err := p.Validate()
	if err == nil {
		t.Fatal("Validate accepted a plan with three problems")
	}
	var j interface{ Unwrap() []error }
	if !errors.As(err, &j) || len(j.Unwrap()) != 3 {
		t.Errorf("want the three problems joined, got: %v", err)
	}

	// Strings that JSON would alter on the way to wisp-fetch are refused.
	p = validPlan()
	p.Role = "app\xc3"
	p.Dir = "/vault/\xff"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "role is not valid UTF-8") || !strings.Contains(err.Error(), "dir") {
		t.Errorf("Validate = %v, want role and dir refused as invalid UTF-8", err)
	}
}

func TestSecretValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret plan.Secret
		want   string // "" for valid
	}{
		{name: "json default", secret: plan.Secret{Name: "a", Path: "kv/data/a"}},
		{name: "json explicit", secret: plan.Secret{Name: "a", Path: "kv/data/a", Format: plan.FormatJSON}},
		{name: "template", secret: plan.Secret{Name: "a", Path: "kv/data/a", Template: "{{ .x }}"}},
		{name: "mode 0600", secret: plan.Secret{Name: "a", Path: "kv/data/a", Mode: 0o600}},
		{name: "directory bit", secret: plan.Secret{Name: "a", Path: "kv/data/a", Mode: fs.ModeDir | 0o700}, want: "beyond the permission bits"},
		{name: "no name", secret: plan.Secret{Path: "kv/data/a"}, want: `name "" is not a DNS label`},
		{name: "no path", secret: plan.Secret{Name: "a"}, want: "vault path is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.secret.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestFileMode(t *testing.T) {
	t.Parallel()
	if got := (plan.Secret{}).FileMode(); got != 0o440 {
		t.Errorf("default FileMode = %#o, want 0440", got)
	}
	if got := (plan.Secret{Mode: 0o400}).FileMode(); got != 0o400 {
		t.Errorf("FileMode = %#o, want the secret's 0400", got)
	}
}

func TestIsFileName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want bool
	}{
		{"db", true},
		{"a", true},
		{"0", true},
		{"tls-key", true},
		{"a1-b2-c3", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"-db", false},
		{"db-", false},
		{"DB", false},
		{"db.json", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a_b", false},
		{"a b", false},
		{"é", false},
		{"db\x00", false},
	}
	for _, tt := range tests {
		if got := plan.IsFileName(tt.name); got != tt.want {
			t.Errorf("IsFileName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestValidatePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want string // "" for valid
	}{
		{path: "secret/data/app"},
		{path: "database/creds/app"},
		{path: "secret/data/app/"},
		{path: "kv"},
		{path: "pki_int/issue/web.example.com"},
		{path: "", want: "is empty"},
		{path: "/secret/data/app", want: "must not start with /"},
		{path: "secret//app", want: "empty, . or .. segment"},
		{path: "secret/./app", want: "empty, . or .. segment"},
		{path: "secret/../sys/raw", want: "empty, . or .. segment"},
		{path: "..", want: "empty, . or .. segment"},
		{path: "secret/app//", want: "empty, . or .. segment"},
		{path: "secret/my app", want: "whitespace or a control character"},
		{path: "secret/app\n", want: "whitespace or a control character"},
		{path: "secret/\x7fapp", want: "whitespace or a control character"},
		{path: "secret/\x00", want: "whitespace or a control character"},
		{path: "secret/\xffapp", want: "not valid UTF-8"},
		{path: "secret/\u00e9t\u00e9"},
		// Paths that return Vault tokens (or act on Vault) never reach the
		// app's files.
		{path: "auth/token/create", want: "is refused: auth/ paths log in, create or look up tokens"},
		{path: "auth/token/lookup-self", want: "is refused: auth/"},
		{path: "auth/jwt/login", want: "is refused: auth/"},
		{path: "Auth/token/create", want: "is refused"},
		{path: "sys/wrapping/wrap", want: "is refused: sys/"},
		{path: "cubbyhole/x", want: "is refused: cubbyhole/"},
		{path: "secret/data/auth/token"},
		{path: "secret/data/sys"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			err := plan.ValidatePath(tt.path)
			if tt.want == "" {
				if err != nil {
					t.Errorf("ValidatePath(%q): %v", tt.path, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ValidatePath(%q) = %v, want an error saying %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format  plan.Format
		wantErr string
		rawKey  string
		isRaw   bool
	}{
		{format: ""},
		{format: "json"},
		{format: "env"},
		{format: "raw:password", rawKey: "password", isRaw: true},
		{format: "raw:tls.crt", rawKey: "tls.crt", isRaw: true},
		{format: "raw:", wantErr: `format "raw:" names no key`, isRaw: true},
		{format: "JSON", wantErr: `format "JSON" is unknown`},
		{format: "yaml", wantErr: "want json, env or raw:<key>"},
		{format: "raw", wantErr: "is unknown"},
		{format: " env", wantErr: "is unknown"},
		{format: "raw:\xff", wantErr: "not valid UTF-8", isRaw: true, rawKey: "\xff"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			t.Parallel()
			err := tt.format.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate(%q): %v", tt.format, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate(%q) = %v, want an error saying %q", tt.format, err, tt.wantErr)
			}
			key, ok := tt.format.RawKey()
			if ok != tt.isRaw || (ok && key != tt.rawKey) {
				t.Errorf("RawKey(%q) = %q, %v; want %q, %v", tt.format, key, ok, tt.rawKey, tt.isRaw)
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	got := validPlan().String()
	want := "plan(role=orders-api dir=/vault/secrets secrets=[config=secret/data/team-orders/orders-api db=database/creds/orders-api tls-key=pki/issue/orders stripe=secret/data/stripe])"
	if got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if strings.Contains(got, "api_key") {
		t.Errorf("String() shows a template: %q", got)
	}
}

func TestParseTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		text    string
		wantErr string
	}{
		{name: "plain text", text: "no actions"},
		{name: "empty", text: ""},
		{name: "field", text: "{{ .password }}"},
		{name: "range", text: "{{ range $k, $v := . }}{{ $k }}={{ $v }}\n{{ end }}"},
		{name: "helpers", text: `{{ .a | b64enc | quote }}{{ default "x" .b | upper }}`},
		{name: "unclosed action", text: "{{ .password ", wantErr: "parse template"},
		{name: "unknown function", text: "{{ env \"HOME\" }}", wantErr: `function … not defined (the functions are: b64dec`},
		{name: "unmatched end", text: "{{ end }}", wantErr: "parse template"},
		{name: "invalid UTF-8", text: "pw={{ .pw }}\xc3", wantErr: "parse template: text is not valid UTF-8"},
		{name: "UTF-8", text: "mot de passe \u00e0 {{ .pw }}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := plan.ParseTemplate("db", tt.text)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseTemplate: %v", err)
				}
				if tmpl.Name() != "db" {
					t.Errorf("template name = %q, want db (it appears in render errors)", tmpl.Name())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTemplate(%q) = %v, want an error saying %q", tt.text, err, tt.wantErr)
			}
			if tmpl != nil {
				t.Error("ParseTemplate returned a template with its error")
			}
		})
	}
}

// TestFuncs renders a template with each helper, as wisp-fetch does.
func TestFuncs(t *testing.T) {
	t.Parallel()
	data := map[string]any{
		"user":   "app",
		"pw":     `p"w$1`,
		"b64":    "czNjcjN0",
		"badb64": "canary-not-base64!",
		"pad":    "  spaced \n",
		"empty":  "",
		"null":   nil,
		"nested": map[string]any{"port": 5432, "ssl": true},
		"list":   []any{"a", 1},
		"chan":   make(chan int),
	}
	tests := []struct {
		name    string
		text    string
		want    string
		wantErr string
	}{
		{name: "json object", text: `{{ json .nested }}`, want: `{"port":5432,"ssl":true}`},
		{name: "json string", text: `{{ json .pw }}`, want: `"p\"w$1"`},
		{name: "json list", text: `{{ json .list }}`, want: `["a",1]`},
		{name: "json error", text: `{{ json .chan }}`, wantErr: "json: value is not JSON-encodable"},
		{name: "b64enc", text: `{{ b64enc .user }}`, want: "YXBw"},
		{name: "b64dec", text: `{{ b64dec .b64 }}`, want: "s3cr3t"},
		{name: "b64 round trip", text: `{{ .pw | b64enc | b64dec }}`, want: `p"w$1`},
		{name: "b64dec error", text: `{{ b64dec .badb64 }}`, wantErr: "b64dec: input is not valid base64"},
		{name: "upper", text: `{{ upper .user }}`, want: "APP"},
		{name: "lower", text: `{{ lower "MiXeD" }}`, want: "mixed"},
		{name: "trim", text: `[{{ trim .pad }}]`, want: "[spaced]"},
		{name: "quote string", text: `{{ quote .pw }}`, want: `"p\"w$1"`},
		{name: "quote number", text: `{{ quote .nested.port }}`, want: `"5432"`},
		{name: "default on empty", text: `{{ .empty | default "none" }}`, want: "none"},
		{name: "default on nil", text: `{{ default "none" .null }}`, want: "none"},
		{name: "default keeps value", text: `{{ default "none" .user }}`, want: "app"},
		{name: "env file", text: "DB_USER={{ .user }}\nDB_PASSWORD={{ .pw | quote }}\n", want: "DB_USER=app\nDB_PASSWORD=\"p\\\"w$1\"\n"},
		{name: "missing key is an error", text: `{{ .nope }}`, wantErr: `map has no entry for key "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := plan.ParseTemplate(tt.name, tt.text)
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			var b strings.Builder
			err = tmpl.Execute(&b, data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Execute = %v (output %q), want an error saying %q", err, b.String(), tt.wantErr)
				}
				if strings.Contains(err.Error(), "canary") {
					t.Errorf("render error echoes the secret's data: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("rendered %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFuncsList(t *testing.T) {
	t.Parallel()
	var got []string
	for name := range plan.Funcs() {
		got = append(got, name)
	}
	want := []string{"b64dec", "b64enc", "default", "json", "lower", "quote", "trim", "upper"}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("template helpers (-want +got); a new helper must be documented and tested:\n%s", diff)
	}
}

// TestMarshalEscapesDollars: a plan and an EnvSpec travel as env values,
// which the kubelet expands ($(VAR), $$): their encodings hold no "$", and
// decode to what was encoded.
func TestMarshalEscapesDollars(t *testing.T) {
	t.Parallel()
	p := validPlan()
	p.Secrets[3].Template = `{{ $k := .api_key }}KEY=$(cat /x) $$ $$$( ${HOME} {{ $k }}`
	doc, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "$(") || strings.Contains(string(doc), "$$") || !strings.Contains(string(doc), "{{ $k }}") {
		t.Errorf("plan encoding holds a $( or a $$, or escapes a $ the kubelet leaves alone: %s", doc)
	}
	got, err := plan.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}

	spec := plan.EnvSpec{Dir: "/vault/secrets", Vars: []plan.EnvVar{{Name: "A", Secret: "db", Key: "$(HOME)", Format: plan.FormatJSON}}}
	doc, err = spec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "$(") {
		t.Errorf("env spec encoding holds a $(: %s", doc)
	}
	back, err := plan.ParseEnvSpec(string(doc))
	if err != nil || back.Vars[0].Key != "$(HOME)" {
		t.Errorf("round trip: %+v %v", back, err)
	}
}

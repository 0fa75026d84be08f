package fetch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"wisp.dev/wisp/plan"
)

// numCanary is a secret made of digits, as a PIN or an account number.
const numCanary = "8675309123"

// leakData holds the canaries in a string, a nested map, a list and
// number-like values.
func leakData() Data {
	return Data{
		"username": "app",
		"password": canary,
		"nested":   map[string]any{"token": canary, "pin": json.Number(numCanary), "ok": true},
		"list":     []any{canary, "x", json.Number(numCanary)},
		"pin":      numCanary,
		"num":      json.Number(numCanary),
		"b64":      "!!" + canary,
	}
}

// leaked returns the canary that msg holds, or "".
func leaked(msg string) string {
	for _, c := range []string{canary, numCanary, "CANARY", "s3cr3t"} {
		if strings.Contains(msg, c) {
			return c
		}
	}
	return ""
}

// TestRenderErrorsCarryNoData: templates that fail on the data fail with
// the template's name, the position and the kind only, before any
// scrubbing (render) and after it (Render); for those marked quotes,
// text/template's own error quotes the data (a value, a whole map).
func TestRenderErrorsCarryNoData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		text   string
		want   string
		quotes bool
	}{
		{"range over a string", `{{ range .password }}{{ end }}`,
			"line 1 column 9: range over a value that is not a list or map", true},
		{"range with two variables over a string", `{{ range $k, $v := .password }}{{ end }}`,
			"line 1 column 19: range over a value that is not a list or map", true},
		{"eq of maps", `{{ eq .nested .nested }}`,
			"line 1 column 3: calling eq failed: values that cannot be compared", true},
		{"eq of lists", "x\n{{ if eq .list .list }}{{ end }}",
			"line 2 column 6: calling eq failed: values that cannot be compared", true},
		{"lt of a secret and a number", `{{ lt .password 3 }}`,
			"line 1 column 3: calling lt failed: values that cannot be compared", false},
		{"ne of a map and a number", `{{ ne .nested 1 }}`,
			"line 1 column 3: calling ne failed: values that cannot be compared", false},
		{"index of a value out of range", `{{ index .password 99 }}`,
			"line 1 column 3: calling index failed: index out of range", false},
		{"index of a list out of range", `{{ index .list 7 }}`,
			"line 1 column 3: calling index failed: index out of range", false},
		{"index of a list by a value", `{{ index .list .password }}`,
			"line 1 column 3: calling index failed: an index that is not an integer", false},
		{"printf of data piped into index", `{{ printf "%v" .nested | index .list }}`,
			"line 1 column 25: calling index failed: an index that is not an integer", false},
		{"printf of data piped into b64dec", `{{ printf "%v" .nested | b64dec }}`,
			"line 1 column 25: calling b64dec failed: input is not valid base64", false},
		{"b64dec of a value", `{{ b64dec .b64 }}`,
			"line 1 column 3: calling b64dec failed: input is not valid base64", false},
		{"slice out of range", `{{ slice .password 5 2 }}`,
			"line 1 column 3: calling slice failed: slice out of range", false},
		{"slice past the end", `{{ slice .pin 0 99 }}`,
			"line 1 column 3: calling slice failed: index out of range", false},
		{"call of a value", `{{ call .password }}`,
			"line 1 column 3: calling call failed: call of a value that is not a function", false},
		{"field of a value", `{{ .nested.pin.x }}`,
			`line 1 column 10: field "x" of a value that is not a map`, false},
		{"missing key keeps the key", `{{ with .nested }}{{ .nope }}{{ end }}`,
			`line 1 column 21: map has no entry for key "nope"`, false},
		{"in a defined template", `{{ define "x" }}{{ range .num }}{{ end }}{{ end }}{{ template "x" . }}`,
			"line 1 column 25: range over a value that is not a list or map", true},
		{"if over a pipeline that fails", `{{ if len .password | index .list }}{{ end }}`,
			"line 1 column 22: calling index failed: index out of range", false},
		{"range over a number", `{{ range .nested.pin }}{{ end }}`,
			"line 1 column 16: range over a value that is not a list or map", true},
		{"eq of a map and a list", `{{ eq .nested .list }}`,
			"line 1 column 3: calling eq failed: values that cannot be compared", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := plan.Secret{Name: "db", Path: "secret/data/db", Template: tt.text}
			raw := rawExecError(t, s, leakData())
			if tt.quotes && leaked(raw.Error()) == "" {
				t.Fatalf("text/template's own error %q quotes no data: the case tests nothing", raw)
			}
			_, inner := render(s, leakData())
			_, err := Render(s, leakData())
			for _, e := range []error{inner, err} {
				if e == nil {
					t.Fatal("no error")
				}
				want := "execute template db: " + tt.want
				if e.Error() != want {
					t.Errorf("error\n%q, want\n%q", e, want)
				}
				for _, msg := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
					if c := leaked(msg); c != "" {
						t.Errorf("error leaks %q: %s", c, msg)
					}
				}
			}
			var xe *plan.ExecError
			if !errors.As(err, &xe) || xe.Template != "db" || xe.Line == 0 {
				t.Errorf("error %#v is not a *plan.ExecError with a position", err)
			}
		})
	}
}

// rawExecError is text/template's own error for s over data.
func rawExecError(t *testing.T, s plan.Secret, data Data) error {
	t.Helper()
	tmpl, err := plan.ParseTemplate(s.Name, s.Template)
	if err != nil {
		t.Fatalf("ParseTemplate: %v", err)
	}
	var b strings.Builder
	err = tmpl.Execute(&b, map[string]any(data))
	if err == nil {
		t.Fatal("Execute: no error")
	}
	return err
}

// TestScrubberRemovesDataValues: the second line of defence alone removes
// every leaf value from text/template's own messages, and from messages
// that quote a value in JSON or Go syntax or with its white space folded.
func TestScrubberRemovesDataValues(t *testing.T) {
	t.Parallel()
	odd := "pa ss\n\"w<rd>\"\t" + canary
	data := leakData()
	data["odd"] = odd
	data["deep"] = map[string]any{"l": []any{map[string]any{"v": "s3cr3t-deep-value"}}}
	var sc scrubber
	sc.setData("db", data)
	msgs := []string{
		rawExecError(t, plan.Secret{Name: "db", Template: `{{ range .password }}{{ end }}`}, data).Error(),
		rawExecError(t, plan.Secret{Name: "db", Template: `{{ eq .nested .nested }}`}, data).Error(),
		rawExecError(t, plan.Secret{Name: "db", Template: `{{ range .num }}{{ end }}`}, data).Error(),
		rawExecError(t, plan.Secret{Name: "db", Template: `{{ eq .deep .deep }}`}, data).Error(),
		fmt.Sprintf("bad value %q", odd),
		fmt.Sprintf("bad value %+q", odd),
		"bad value " + string(must(json.Marshal(odd))),
		"bad value " + strings.Join(strings.Fields(odd), " "),
		fmt.Sprintf("bad map %v", map[string]any(data)),
	}
	for _, msg := range msgs {
		if leaked(msg) == "" && !strings.Contains(msg, "deep-value") {
			t.Fatalf("message %q quotes no data: the case tests nothing", msg)
		}
		got := sc.scrub(msg)
		if c := leaked(got); c != "" || strings.Contains(got, "deep-value") || strings.Contains(got, "w<rd>") {
			t.Errorf("scrubbed message still leaks: %s", got)
		}
		if !strings.Contains(got, redacted) {
			t.Errorf("scrubbed message %q says nothing was removed", got)
		}
	}
	// Short values and keys are left alone: they would blank out words.
	if got := sc.scrub("key nested: x app"); got != "key nested: x app" {
		t.Errorf("scrub changed %q", got)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestScrubErrKeepsTheErrorShape: an *Error stays one, transient or not;
// other errors keep matching their sentinels without unwrapping to the
// unscrubbed message.
func TestScrubErrKeepsTheErrorShape(t *testing.T) {
	t.Parallel()
	var sc scrubber
	sc.setData("db", leakData())
	sc.setData("plain", Data{"username": "orders"})
	in := &Error{Op: `read secret "db" from secret/data/team-orders/db`, Err: fmt.Errorf("%w: %s", ErrVaultToken, canary),
		Hint: "check team-orders' policy", Transient: true}
	out := sc.scrubErr(in)
	var e *Error
	if !errors.As(out, &e) || !IsTransient(out) || !errors.Is(out, ErrVaultToken) {
		t.Errorf("scrubbed %#v lost its shape", out)
	}
	for u := error(out); u != nil; u = errors.Unwrap(u) {
		if c := leaked(u.Error()); c != "" {
			t.Errorf("%T in the chain leaks %q: %s", u, c, u)
		}
	}
	if in.Err.Error() == e.Err.Error() {
		t.Error("the input was not copied")
	}
	// Op and Hint come from the plan: a value that is also a word of a
	// path does not blank it out.
	if e.Op != in.Op || e.Hint != in.Hint {
		t.Errorf("Op %q, Hint %q changed", e.Op, e.Hint)
	}
	plain := errors.New("clean")
	if sc.scrubErr(plain) != plain || sc.scrubErr(nil) != nil {
		t.Error("a clean error is not returned as is")
	}
}

// FuzzRenderNoLeak renders templates made of the fuzzer's text and of
// actions that fail on data (range, eq, index, slice, call, printf, with,
// len and wisp's helpers) over data holding canaries; no error, before or
// after scrubbing, may hold one.
func FuzzRenderNoLeak(f *testing.F) {
	f.Add(`{{ range .password }}{{ end }}`, []byte{})
	f.Add(`{{ eq .nested .nested }}`, []byte{})
	f.Add("", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(`{{ with .nested }}`, []byte{40, 41, 17, 42})
	f.Fuzz(func(t *testing.T, text string, picks []byte) {
		tmpl := buildTemplate(text, picks)
		if !boundedTemplate(tmpl) {
			t.Skip()
		}
		s := plan.Secret{Name: "db", Path: "secret/data/db", Template: tmpl}
		_, inner := render(s, leakData())
		_, err := Render(s, leakData())
		if xe := (*plan.ExecError)(nil); errors.As(inner, &xe) && !strings.HasPrefix(inner.Error(), "execute template db: ") {
			t.Fatalf("template %q: error %q does not name the template", tmpl, inner)
		}
		for _, e := range []error{inner, err} {
			if e == nil {
				continue
			}
			for _, msg := range []string{e.Error(), fmt.Sprintf("%+v", e)} {
				for _, c := range []string{canary, numCanary} {
					if strings.Contains(msg, c) && !strings.Contains(tmpl, c) {
						t.Fatalf("template %q: error leaks %q: %s", tmpl, c, msg)
					}
				}
			}
		}
	})
}

// fragments are pieces of actions the fuzzer picks from: whole actions
// that fail on data, and words to build pipelines with.
var fragments = []string{
	`{{ range .password }}{{ end }}`, `{{ eq .nested .nested }}`, `{{ index .list 9 }}`, `{{ index .password 99 }}`,
	`{{ printf "%v" .nested | b64dec }}`, `{{ slice .password 3 1 }}`, `{{ call .password }}`, `{{ with .nested }}{{ .nope }}{{ end }}`,
	`{{ len .ok }}`, `{{ b64dec .b64 }}`, `{{ json .nested }}`, `{{ lt .num .password }}`, `{{ .password.x }}`,
	`{{ range $k, $v := .pin }}{{ end }}`, `{{ if .nested }}`, `{{ end }}`, `{{ index .nested .password | upper | index .list }}`,
	`{{ printf "%s%v" .password .nested | eq .list }}`, `{{ quote .nested | slice 0 }}`, `{{ slice .pin 0 99 }}`,
	`{{ $x := .nested }}`, `{{ $x.pin.y }}`, `{{ range .list }}{{ . | b64dec }}{{ end }}`, `{{ template "t" . }}`,
	`{{ define "t" }}{{ eq .list . }}{{ end }}`, `{{ ge .pin .num }}`, `{{ index . "pin" | slice 2 1 }}`,
	`{{`, `}}`, ` .password`, ` .nested`, ` .list`, ` .num`, ` .pin`, ` .nested.token`, ` |`, ` index`, ` eq`, ` slice`,
	` printf "%v"`, ` call`, ` len`, ` b64dec`, ` json`, ` quote`, ` default`, ` upper`, ` range`, ` with`, ` 3`, ` (`, ` )`, ` .`,
}

// buildTemplate appends the picked fragments to text, each pick either
// before or after the fuzzer's text.
func buildTemplate(text string, picks []byte) string {
	var head, tail strings.Builder
	for _, p := range picks {
		frag := fragments[int(p&0x7f)%len(fragments)]
		if p&0x80 != 0 {
			head.WriteString(frag)
		} else {
			tail.WriteString(frag)
		}
	}
	return head.String() + text + tail.String()
}

// boundedTemplate refuses templates that would run too long or allocate
// too much for a fuzzer (a printf width of millions, nested ranges over
// large numbers, a template calling itself twice or in a range): wisp-fetch
// runs a pod's own template within the pod's own limits.
func boundedTemplate(tmpl string) bool {
	calls, ranges := strings.Count(tmpl, "template")+strings.Count(tmpl, "block"), strings.Count(tmpl, "range")
	if len(tmpl) > 4096 || ranges > 2 || calls > 1 || (calls > 0 && ranges > 0) {
		return false
	}
	digits := 0
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] >= '0' && tmpl[i] <= '9' {
			if digits++; digits > 2 {
				return false
			}
		} else {
			digits = 0
		}
	}
	return true
}

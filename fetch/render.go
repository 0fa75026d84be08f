package fetch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"wisp.dev/wisp/plan"
)

// Render renders one secret's data as its plan entry says: a Go template
// (plan.ParseTemplate: plan.Funcs, missingkey=error), or the format json
// (default), env or raw:<key>. Errors name the template, the position, the
// kind of failure and keys, never values; as a second line of defence every
// leaf value of data is scrubbed from them.
func Render(s plan.Secret, data Data) ([]byte, error) {
	b, err := render(s, data)
	if err != nil {
		var sc scrubber
		sc.setData(s.Name, data)
		return nil, sc.scrubErr(err)
	}
	return b, nil
}

// render is Render without the scrubbing: its errors are built from the
// template's position and the kind of failure (plan.RedactExecError),
// keys and fixed text.
func render(s plan.Secret, data Data) ([]byte, error) {
	m := map[string]any(data)
	if m == nil {
		m = map[string]any{}
	}
	if s.Template != "" {
		t, err := plan.ParseTemplate(s.Name, s.Template)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, m); err != nil {
			// text/template's message quotes the data it failed on.
			return nil, fmt.Errorf("execute %w", plan.RedactExecError(t, s.Template, err))
		}
		return b.Bytes(), nil
	}
	switch s.Format {
	case "", plan.FormatJSON:
		b, err := json.Marshal(m)
		if err != nil {
			// No cause: encoding/json's errors may quote a value.
			return nil, errors.New("encode json: data is not JSON-encodable")
		}
		return append(b, '\n'), nil
	case plan.FormatEnv:
		return renderEnv(m)
	}
	if key, ok := s.Format.RawKey(); ok {
		v, ok := m[key]
		if !ok {
			return nil, fmt.Errorf("format %s: key %q is not in the data (keys: %s)", s.Format, key, strings.Join(keys(m), ", "))
		}
		return []byte(scalar(v)), nil
	}
	return nil, fmt.Errorf("format %q is unknown", s.Format)
}

// keys returns m's keys, sorted.
func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// scalar formats a value for env and raw: strings as is, numbers and
// booleans as in JSON, null as "", objects and arrays as compact JSON.
func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func renderEnv(m map[string]any) ([]byte, error) {
	names := make(map[string]string, len(m))
	var errs []error
	for _, k := range keys(m) {
		n, err := envName(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := names[n]; dup {
			errs = append(errs, fmt.Errorf("format env: keys %q and %q both become %s", prev, k, n))
			continue
		}
		names[n] = k
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var b bytes.Buffer
	for _, n := range sorted {
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(shellQuote(scalar(m[names[n]])))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// envName maps a data key to a shell variable name (plan.EnvKey): the
// exec shim finds a key's line by the same mapping.
func envName(k string) (string, error) { return plan.EnvKey(k) }

// shellQuote leaves shell-safe values bare and single-quotes the others.
func shellQuote(v string) string {
	if v == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte("_@%+=:,./-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

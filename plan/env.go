package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
)

// PlanVar is the environment variable that carries the fetch plan (JSON)
// to wisp-fetch.
const PlanVar = "WISP_PLAN"

// EnvSpecVar is the environment variable that carries an EnvSpec (JSON) to
// the exec shim of an app container.
const EnvSpecVar = "WISP_ENV"

// InstallShimVar tells wisp-fetch where to place the exec shim (a copy of
// itself, run as wisp-env) for the app containers.
const InstallShimVar = "WISP_INSTALL_SHIM"

// EnvSpec is what the exec shim sets before it runs an app container's
// program: each variable from one key of one secret file.
type EnvSpec struct {
	// Dir is where the app container sees the secret files.
	Dir string `json:"dir"`
	// Vars are set in this order.
	Vars []EnvVar `json:"vars"`
}

// EnvVar is one environment variable from one key of one secret file.
type EnvVar struct {
	// Name is the variable, a C identifier.
	Name string `json:"name"`
	// Secret is the secret's name: its file is Dir/Secret.
	Secret string `json:"secret"`
	// Key is the field of the secret's data.
	Key string `json:"key"`
	// Format is the secret's format: json, env or raw:<key>.
	Format Format `json:"format"`
}

// Marshal encodes the spec as the shim reads it, with no "$(" or "$$" (see
// EscapeDollars).
func (s EnvSpec) Marshal() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return EscapeDollars(b), nil
}

// ParseEnvSpec decodes and checks an EnvSpec.
func ParseEnvSpec(s string) (EnvSpec, error) {
	var spec EnvSpec
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return spec, fmt.Errorf("%s: %w", EnvSpecVar, err)
	}
	if !path.IsAbs(spec.Dir) {
		return spec, fmt.Errorf("%s: dir %q is not an absolute path", EnvSpecVar, spec.Dir)
	}
	if len(spec.Vars) == 0 {
		return spec, fmt.Errorf("%s: no variables", EnvSpecVar)
	}
	for _, v := range spec.Vars {
		if !ValidEnvName(v.Name) {
			return spec, fmt.Errorf("%s: %q is not an environment variable name", EnvSpecVar, v.Name)
		}
		if !IsFileName(v.Secret) || v.Key == "" {
			return spec, fmt.Errorf("%s: variable %s: bad secret %q or empty key", EnvSpecVar, v.Name, v.Secret)
		}
		if err := v.Format.Validate(); err != nil {
			return spec, fmt.Errorf("%s: variable %s: %w", EnvSpecVar, v.Name, err)
		}
	}
	return spec, nil
}

// ValidEnvName reports whether s is a C identifier: [A-Za-z_][A-Za-z0-9_]*.
func ValidEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// EnvKey maps a data key to the variable name of the env format: upper
// case, [A-Z0-9_], not starting with a digit.
func EnvKey(k string) (string, error) {
	if k == "" {
		return "", errors.New("format env: the data has an empty key")
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(k) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	n := b.String()
	if n[0] >= '0' && n[0] <= '9' {
		n = "_" + n
	}
	return n, nil
}

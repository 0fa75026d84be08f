package envshim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"wisp.dev/wisp/plan"
)

// Name is the shim's file name on the wisp-bin volume; wisp-fetch runs as
// the shim when invoked under this name.
const Name = "wisp-env"

// Values reads every variable's value from its file. The error names each
// missing file or key, never a value.
func Values(spec plan.EnvSpec) (map[string]string, error) {
	out := make(map[string]string, len(spec.Vars))
	files := map[string][]byte{}
	var errs []error
	for _, v := range spec.Vars {
		data, ok := files[v.Secret]
		if !ok {
			b, err := os.ReadFile(filepath.Join(spec.Dir, v.Secret))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: read secret %s: %w", v.Name, v.Secret, unwrapPath(err)))
				files[v.Secret] = nil
				continue
			}
			data, files[v.Secret] = b, b
		}
		if data == nil {
			continue // already reported
		}
		val, err := lookup(data, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: secret %s: %w", v.Name, v.Secret, err))
			continue
		}
		out[v.Name] = val
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// unwrapPath drops the path of a *PathError: the message says which secret.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// lookup finds v.Key in a file of v.Format.
func lookup(data []byte, v plan.EnvVar) (string, error) {
	switch {
	case v.Format == plan.FormatEnv:
		want, err := plan.EnvKey(v.Key)
		if err != nil {
			return "", err
		}
		vals, err := ParseEnvFile(data)
		if err != nil {
			return "", err
		}
		val, ok := vals[want]
		if !ok {
			return "", fmt.Errorf("no key %s", v.Key)
		}
		return val, nil
	case strings.HasPrefix(string(v.Format), "raw:"):
		if strings.TrimPrefix(string(v.Format), "raw:") != v.Key {
			return "", fmt.Errorf("format %s provides key %s only, not %s", v.Format, strings.TrimPrefix(string(v.Format), "raw:"), v.Key)
		}
		return string(data), nil
	default: // json
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return "", errors.New("the file is not a JSON object")
		}
		val, ok := m[v.Key]
		if !ok {
			return "", fmt.Errorf("no key %s", v.Key)
		}
		switch val := val.(type) {
		case string:
			return val, nil
		case nil:
			return "", nil
		default:
			b, _ := json.Marshal(val)
			return string(b), nil
		}
	}
}

// Environ returns environ without plan.EnvSpecVar, with values set (replacing any
// variable of the same name).
func Environ(environ []string, values map[string]string) []string {
	out := make([]string, 0, len(environ)+len(values))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, set := values[k]; set || k == plan.EnvSpecVar {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range values {
		out = append(out, k+"="+v)
	}
	return out
}

// Exec is the shim's whole run: args are what follows the shim's own name
// ("--", the program, its arguments). It returns only on error; on success
// the program replaces the process.
func Exec(args []string, getenv func(string) string, environ []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("no program to run: want wisp-env -- <program> [args...]")
	}
	spec, err := plan.ParseEnvSpec(getenv(plan.EnvSpecVar))
	if err != nil {
		return err
	}
	values, err := Values(spec)
	if err != nil {
		return err
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return fmt.Errorf("find %s: %w", args[0], err)
	}
	if err := syscall.Exec(path, args, Environ(environ, values)); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// Install copies the running binary (wisp-fetch) to dst, mode 0555, through
// a temporary file and a rename, so a container never sees half a shim.
func Install(dst string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install the exec shim: find this binary: %w", err)
	}
	in, err := os.Open(self)
	if err != nil {
		return fmt.Errorf("install the exec shim: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("install the exec shim in %s: %w", filepath.Dir(dst), err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, in); err != nil {
		return fmt.Errorf("install the exec shim: copy: %w", err)
	}
	if err := tmp.Chmod(0o555); err != nil {
		return fmt.Errorf("install the exec shim: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("install the exec shim: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("install the exec shim: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("install the exec shim: %w", err)
	}
	done = true
	return nil
}

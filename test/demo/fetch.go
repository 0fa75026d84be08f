package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	wispfetch "wisp.dev/wisp/fetch"
	"wisp.dev/wisp/plan"
)

// logSummary turns wisp-fetch's JSON log into a few readable lines;
// consecutive retries of one step are counted on one line.
func logSummary(stderr string) []string {
	var out []string
	retryKey, retryErr, retries := "", "", 0
	flush := func() {
		if retries > 0 {
			out = append(out, fmt.Sprintf("retried %d× on %q (%s)", retries, retryErr, retryHint(retryErr)))
		}
		retryKey, retries = "", 0
	}
	for _, l := range strings.Split(stderr, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		s := func(k string) string { return field(rec, k) }
		msg := s("msg")
		if msg == "retrying" {
			if key := s("op") + ": " + s("err"); key != retryKey {
				flush()
				retryKey, retryErr = key, s("err")
			}
			retries++
			continue
		}
		flush()
		switch msg {
		case "logged in":
			out = append(out, fmt.Sprintf("got a JWT-SVID for %s; logged in to Vault as role %s (policies %s, token TTL %s)",
				s("spiffeID"), s("role"), s("policies"), s("ttl")))
		case "secret read":
			line := fmt.Sprintf("read %-8s <- %s", s("name"), s("path"))
			if s("leaseID") != "" {
				line += fmt.Sprintf(" (lease %s, renewable %s)", seconds(s("leaseDuration")), s("renewable"))
			}
			out = append(out, line)
		case "secrets written":
			d, err := time.ParseDuration(s("elapsed"))
			if err == nil {
				out = append(out, fmt.Sprintf("wrote %s files, %s after its start", s("count"), d.Round(time.Millisecond)))
			} else {
				out = append(out, fmt.Sprintf("wrote %s files", s("count")))
			}
		default:
			if lvl := s("level"); lvl == "WARN" || lvl == "ERROR" {
				out = append(out, strings.ToLower(lvl)+": "+msg)
			}
		}
	}
	flush()
	return out
}

// retryHint explains the usual transient failure.
func retryHint(key string) string {
	if strings.Contains(key, "no identity issued") {
		return "the SPIRE agent had not synced the new registration entry yet"
	}
	return "a transient failure, retried with backoff"
}

// field formats one attribute of a JSON log record.
func field(rec map[string]any, k string) string {
	switch v := rec[k].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v)
	}
}

// seconds renders a number of seconds as a duration ("3600" -> "1h0m0s").
func seconds(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil {
		return s + "s"
	}
	return (time.Duration(n) * time.Second).String()
}

// secretFile is one file wisp-fetch wrote.
type secretFile struct {
	name     string
	mode     os.FileMode
	uid, gid uint32
	size     int64
	data     []byte
}

// readSecrets reads the plan's files from dir, in plan order, and the
// names of the other files there (wisp's metadata).
func readSecrets(dir string, p plan.Plan) ([]secretFile, []string, error) {
	var files []secretFile
	want := map[string]bool{}
	for _, s := range p.Secrets {
		path := filepath.Join(dir, s.Name)
		fi, err := os.Stat(path)
		if err != nil {
			return nil, nil, fmt.Errorf("wisp-fetch exited 0 but %s is missing: %w", s.Name, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		f := secretFile{name: s.Name, mode: fi.Mode().Perm(), size: fi.Size(), data: data}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			f.uid, f.gid = st.Uid, st.Gid
		}
		files = append(files, f)
		want[s.Name] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var others []string
	for _, e := range entries {
		if !want[e.Name()] {
			others = append(others, e.Name())
		}
	}
	sort.Strings(others)
	return files, others, nil
}

// readMeta reads wisp's metadata of secret name.
func readMeta(dir, name string) (wispfetch.Meta, error) {
	var m wispfetch.Meta
	b, err := os.ReadFile(filepath.Join(dir, wispfetch.MetaFileName(name)))
	if err != nil {
		return m, fmt.Errorf("metadata of %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("metadata of %s: %w", name, err)
	}
	return m, nil
}

// parseEnvFile reads KEY=value lines as wisp's env format writes them
// (shell-safe values bare, others single-quoted).
func parseEnvFile(data []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
		}
		out[k] = v
	}
	return out
}

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// masked shows a rendered file on one line with every quoted value and
// every value of secrets replaced by ****.
func masked(data []byte, secrets []string) string {
	s := quoted.ReplaceAllString(string(data), `"****"`)
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "****")
		}
	}
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " | ")
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wisp.dev/wisp/plan"
)

func planJSON(t *testing.T, dir string) string {
	t.Helper()
	b, err := plan.Plan{Version: plan.Version, Role: "app", Dir: dir,
		Secrets: []plan.Secret{{Name: "config", Path: "secret/data/app"}}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	readyDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(readyDir, ".wisp-ready"), []byte("{}"), 0o444); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"SPIFFE_ENDPOINT_SOCKET": "unix://" + filepath.Join(dir, "missing.sock"),
		"VAULT_ADDR":             "http://127.0.0.1:1",
		"WISP_AUTH_PATH":         "jwt",
		"WISP_AUDIENCE":          "vault",
		"WISP_PLAN":              planJSON(t, dir),
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string // overrides base; "" deletes
		wantCode int
		wantOut  string
		wantErr  []string // substrings of the one plain stderr line
	}{
		{name: "version", args: []string{"--version"}, wantOut: "wisp-fetch dev\n"},
		{name: "no plan", env: map[string]string{"WISP_PLAN": ""}, wantCode: exitInvalid,
			wantErr: []string{"no plan: set WISP_PLAN"}},
		{name: "bad plan", env: map[string]string{"WISP_PLAN": `{"version":"x"}`}, wantCode: exitInvalid,
			wantErr: []string{"invalid plan", `version "x" is not supported`}},
		{name: "bad deadline", env: map[string]string{"WISP_DEADLINE": "soon"}, wantCode: exitInvalid,
			wantErr: []string{`WISP_DEADLINE "soon"`}},
		{name: "bad sidecar", env: map[string]string{"WISP_SIDECAR": "maybe"}, wantCode: exitInvalid,
			wantErr: []string{`WISP_SIDECAR "maybe"`}},
		{name: "bad vault address", env: map[string]string{"VAULT_ADDR": "vault:8200"}, wantCode: exitInvalid,
			wantErr: []string{`VAULT_ADDR`}},
		{name: "unknown flag", args: []string{"--nope"}, wantCode: exitInvalid, wantErr: []string{"unknown flag: --nope"}},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantCode: exitInvalid, wantErr: []string{`log level "loud"`}},
		{name: "plan file", args: []string{"--plan", filepath.Join(dir, "nope.json")}, wantCode: exitInvalid,
			wantErr: []string{"read plan " + filepath.Join(dir, "nope.json")}},
		{name: "not ready", args: []string{"--check-ready"}, wantCode: exitFailed, wantErr: []string{"not ready"}},
		{name: "ready", args: []string{"--check-ready"}, env: map[string]string{"WISP_PLAN": planJSON(t, readyDir)}},
		{name: "missing socket", args: []string{"--deadline", "1s"}, wantCode: exitFailed,
			wantErr: []string{`fetch JWT-SVID for audience "vault" from unix://`, "no such file or directory", "gave up after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			termLog := filepath.Join(t.TempDir(), "termination-log")
			if err := os.WriteFile(termLog, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			code := run(context.Background(), tt.args, func(k string) string { return env[k] }, &stdout, &stderr, termLog)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if tt.wantOut != "" && stdout.String() != tt.wantOut {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.wantOut)
			}
			var plain []string
			for _, l := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
				if l != "" && !strings.HasPrefix(l, "{") {
					plain = append(plain, l)
				}
			}
			msg, err := os.ReadFile(termLog)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.wantErr) == 0 {
				if len(plain) != 0 || len(msg) != 0 {
					t.Errorf("unexpected stderr lines %q, termination message %q", plain, msg)
				}
				return
			}
			if len(plain) != 1 || !strings.HasPrefix(plain[0], "wisp-fetch: ") {
				t.Fatalf("want one line starting wisp-fetch:, got %q", plain)
			}
			// The pod's status shows this one line, not the log's end.
			if string(msg) != plain[0] {
				t.Errorf("termination message %q, want the line %q", msg, plain[0])
			}
			for _, sub := range tt.wantErr {
				if !strings.Contains(plain[0], sub) {
					t.Errorf("%q does not contain %q", plain[0], sub)
				}
			}
		})
	}
}

// TestRunStopped: SIGTERM (the context ends) while the first fetch is still
// retrying is a clean exit: 0, one log line saying so, no plain line, no
// file.
func TestRunStopped(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"--sidecar"}} {
		t.Run(strings.Join(append([]string{"wisp-fetch"}, args...), " "), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{
				"SPIFFE_ENDPOINT_SOCKET": "unix://" + filepath.Join(dir, "missing.sock"),
				"VAULT_ADDR":             "http://127.0.0.1:1",
				"WISP_PLAN":              planJSON(t, dir),
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr, filepath.Join(dir, "no-termination-log"))
			if code != exitOK {
				t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr.String())
			}
			var stops int
			for _, l := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
				if !strings.HasPrefix(l, "{") {
					t.Errorf("plain line on stderr: %q", l)
				}
				if strings.Contains(l, `"msg":"stopped before the first fetch completed"`) {
					stops++
				}
			}
			if stops != 1 {
				t.Errorf("%d stop lines, want 1; stderr:\n%s", stops, stderr.String())
			}
			// No file: not even the termination log, which only a pod has.
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%d files written, want none", len(entries))
			}
		})
	}
}

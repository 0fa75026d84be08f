package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unreachableKubeconfig points at a port where nothing listens.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	data := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts:
- {name: c, context: {cluster: c, user: u, namespace: team-a}}
- {name: other, context: {cluster: c, user: u}}
current-context: c
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScanFlags(t *testing.T) {
	t.Parallel()
	kc := unreachableKubeconfig(t)
	tests := []struct {
		name string
		args []string
		want string // stderr's first line
	}{
		{"bad output", []string{"-o", "yaml"}, `wisp: output format "yaml": want text, json or report`},
		{"namespace and all", []string{"-n", "a", "-A"}, "wisp: --namespace and --all-namespaces exclude each other"},
		{"bad page size", []string{"--page-size", "0"}, "wisp: --page-size 0: want a positive number"},
		{"missing policy", []string{"--policy", "/nonexistent/policy.yaml"}, "wisp: read policy: open /nonexistent/policy.yaml"},
		{"missing kubeconfig", []string{"--kubeconfig", "/nonexistent/kubeconfig"}, "wisp: load kubeconfig: "},
		{"unknown context", []string{"--context", "nope"}, `wisp: load kubeconfig: context "nope" does not exist`},
		// The context's namespace is scanned when -n is not given.
		{"unreachable, the context's namespace", nil, `wisp: cannot get v1 namespaces "team-a": cannot reach the API server: `},
		{"unreachable, -n", []string{"-n", "team-b"}, `wisp: cannot get v1 namespaces "team-b": cannot reach the API server: `},
		{"unreachable, another context", []string{"--context", "other"}, `wisp: cannot get v1 namespaces "default": cannot reach the API server: `},
		{"unreachable, -A", []string{"-A"}, "wisp: cannot list v1 namespaces: cannot reach the API server: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"scan"}, tt.args...)
			if !strings.Contains(strings.Join(tt.args, " "), "--kubeconfig") {
				args = append(args, "--kubeconfig", kc)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, nil, &stdout, &stderr)
			if code != exitInvalid || !strings.HasPrefix(stderr.String(), tt.want) || stdout.Len() != 0 {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit 2 and stderr starting %q", code, stderr.String(), stdout.String(), tt.want)
			}
			if strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
				t.Errorf("stderr has more than one line: %q", stderr.String())
			}
		})
	}
}

// $KUBECONFIG is read when --kubeconfig is not given (process state: not
// parallel).
func TestScanKubeconfigEnv(t *testing.T) {
	t.Setenv("KUBECONFIG", unreachableKubeconfig(t))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"scan"}, nil, &stdout, &stderr)
	if want := `wisp: cannot get v1 namespaces "team-a": cannot reach the API server: `; code != exitInvalid || !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), want)
	}
}

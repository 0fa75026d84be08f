package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A policy's warnings are printed on stderr by every command that loads it;
// they do not change the exit code.
func TestPolicyWarningsOnStderr(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: wisp.dev/v1alpha1\nkind: Policy\nroles: [{namespaces: [\"*\"], roles: [\"{namespace}-*\", app]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "-f", examples + "pod.yaml", "--policy", policy},
		{"inject", "-f", examples + "pod.yaml", "--policy", policy},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, nil, &stdout, &stderr); code != exitOK {
			t.Fatalf("%s: exit %d, want %d; stderr: %s", args[0], code, exitOK, stderr.String())
		}
		want := "wisp: policy " + policy + `: warning: roles[0].roles[0]: "{namespace}-*": `
		if !strings.Contains(stderr.String(), want) || strings.Count(stderr.String(), "warning:") != 1 {
			t.Errorf("%s: stderr %q, want one line starting %q", args[0], stderr.String(), want)
		}
	}
}

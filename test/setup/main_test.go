package setup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"wisp.dev/wisp/test/stack"
)

// SPIFFE IDs SPIRE issues to the test process (uid 0): one workload of
// each namespace.
const (
	teamAID = "spiffe://example.org/ns/team-a/sa/app"
	teamBID = "spiffe://example.org/ns/team-b/sa/app"
)

var shared struct {
	stack *stack.Stack
	wisp  string // the wisp CLI
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "wisp-setup-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/setup:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	shared.wisp = filepath.Join(dir, "wisp")
	build := exec.CommandContext(ctx, "go", "build", "-o", shared.wisp, "wisp.dev/wisp/cmd/wisp")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "test/setup: go build ./cmd/wisp: %v\n%s", err, out)
		return 1
	}
	s, err := stack.Start(ctx, stack.Options{
		Workloads: []stack.Workload{{SPIFFEID: teamAID, UID: 0}, {SPIFFEID: teamBID, UID: 0}},
		KeepDir:   os.Getenv("WISP_KEEP_STACK") != "",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/setup: start stack:", err)
		return 1
	}
	defer func() {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "test/setup: stop stack:", err)
		}
	}()
	shared.stack = s
	if _, err := s.WaitForSVID(ctx, "vault", 30*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "test/setup:", err)
		return 1
	}
	return m.Run()
}

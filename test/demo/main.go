// Command demo runs wisp's whole mission on one machine, against real
// components (`make demo`, i.e. `go run ./test/demo`):
//
//  1. It ensures the binaries (test/scripts/ensure-{k8s,vault,spire}.sh:
//     built from the Go module proxy on the first run only, then cached) and
//     builds wisp-fetch.
//  2. It starts a real kube-apiserver + etcd (envtest) with wisp's mutating
//     and validating webhook configurations, wisp's webhook in-process on the
//     policy examples/policy.yaml (its Vault address pointed at the local
//     Vault), and PostgreSQL, a SPIRE server + agent + OIDC provider and a
//     Vault dev server (test/stack), Vault configured for the example pod.
//  3. It creates examples/static-secrets.yaml (denied by the policy) and
//     examples/pod.yaml (admitted and injected) in namespace team-a, runs
//     wisp-fetch with the environment of the stored pod's init container
//     against the real SPIRE agent and Vault, logs in to PostgreSQL with the
//     dynamic credential it wrote, revokes that credential's lease and shows
//     the PostgreSQL role gone.
//  4. It stops every process it started and removes its temporary folders,
//     also on Ctrl-C or SIGTERM.
//
// Exit status 0 on success; 1 with one line `demo: FAILED: ...` on failure;
// 130 when interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A closed standard output (`make demo | head`) must not kill the demo
	// before it stops what it started: with SIGPIPE notified, the write
	// fails instead, and run stops early and cleans up.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	err := run(ctx, os.Stdout, options{})
	interrupted := ctx.Err() != nil
	stop()
	if err == nil {
		return
	}
	if interrupted || errors.Is(err, errInterrupted) {
		fmt.Fprintln(os.Stderr, "demo: interrupted (a signal, or its output was closed); everything it started is stopped and its temporary folders are removed")
		os.Exit(130)
	}
	printFailure(os.Stderr, err)
	os.Exit(1)
}

// printFailure writes err as one line, `demo: FAILED: <first line>`. When
// the error carries more lines (a component's log tail), they come first,
// indented, so that the last line of the output is the summary.
func printFailure(w io.Writer, err error) {
	msg := strings.TrimSpace(err.Error())
	first, rest, _ := strings.Cut(msg, "\n")
	if rest = strings.TrimSpace(rest); rest != "" {
		fmt.Fprintln(w, "demo: details:")
		for _, l := range strings.Split(rest, "\n") {
			fmt.Fprintln(w, "  | "+l)
		}
	}
	fmt.Fprintln(w, "demo: FAILED: "+first)
}

// errInterrupted is returned when the context ends (Ctrl-C, SIGTERM).
var errInterrupted = errors.New("interrupted")

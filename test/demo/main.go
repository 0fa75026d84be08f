// Command demo runs wisp's whole mission on one machine, against real
// components (`make demo`, i.e. `go run ./test/demo`):
//
//  1. It starts a real single-node Kubernetes (test/node: kube-apiserver,
//     etcd, controller-manager, scheduler, a kubelet with containerd, the
//     SPIFFE CSI driver), PostgreSQL, SPIRE with the k8s workload attestor
//     and Vault (test/stack), and an OCI registry on 127.0.0.1; it pushes
//     wisp's release there (`make image chart push`) and installs it with
//     `helm install` of the pushed chart on the policy examples/policy.yaml
//     (its Vault address pointed at the local Vault), the kubelet pulling
//     wisp's image from the registry. The first run builds the components from
//     the Go module proxy (test/scripts/ensure-*.sh), then they are cached.
//  2. It creates examples/static-secrets.yaml (denied by the policy) and
//     examples/pod.yaml (admitted and injected; its image replaced by the
//     demo's app, on the host network) in namespace team-a, and follows the
//     pod as the kubelet runs it: wisp-fetch's log, the 0440 files on the
//     node, the app's PostgreSQL login as its own dynamic user; then it
//     revokes that credential's lease and shows the role gone and the app's
//     next login failing.
//  3. It stops every process it started and removes its temporary folders,
//     also on Ctrl-C or SIGTERM, and fails if anything is left behind.
//
// Needs root (a kubelet and containerd). Exit status 0 on success; 1 with
// one line `demo: FAILED: ...` on failure; 130 when interrupted.
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

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

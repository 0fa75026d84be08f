package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes of wisp.
const (
	exitOK      = 0
	exitDenied  = 1 // the webhook would deny an object
	exitInvalid = 2 // bad input, flag or config
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the wisp command line args and returns the exit code. It
// reads and writes only through its arguments (and the files named in args).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitInvalid
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if ee != nil && ee.quiet {
		return code
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(stderr, "wisp: %s\n", line)
	}
	if ee == nil {
		// cobra's own errors: unknown command or flag, missing flag.
		fmt.Fprintln(stderr, "Run 'wisp --help' for usage.")
	}
	return code
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "wisp",
		Short: "wisp delivers Vault secrets to pods that prove their SPIFFE identity",
		Long: `wisp delivers Vault secrets to pods that prove their SPIFFE identity.

This command runs the wisp admission webhook's code offline, on manifests:
"wisp inject" shows the injection, "wisp check" finds static secrets (for CI),
"wisp migrate" rewrites manifests written for the Vault Agent Injector;
and on a live cluster: "wisp scan" finds the static secrets of what already
runs, and can write them as OpenReports Reports. "wisp setup vault" configures
Vault's JWT auth and one role per policy role, bound to its namespaces.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newInjectCommand(), newCheckCommand(), newScanCommand(), newSetupCommand(), newMigrateCommand(), newVersionCommand())
	return root
}

// exitError is an error with the exit code it calls for.
type exitError struct {
	code int
	err  error
	// quiet: the output already says it all; print nothing on stderr.
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// locatedError prefixes every line of err with where it happened, so that
// each line of a joined error names its document and object.
type locatedError struct {
	where string
	err   error
}

func (e *locatedError) Error() string {
	lines := strings.Split(e.err.Error(), "\n")
	for i, l := range lines {
		lines[i] = e.where + ": " + l
	}
	return strings.Join(lines, "\n")
}

func (e *locatedError) Unwrap() error { return e.err }

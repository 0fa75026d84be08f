package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"wisp.dev/wisp/fetch"
	"wisp.dev/wisp/fetch/envshim"
	"wisp.dev/wisp/plan"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// terminationLog is the file the kubelet reads a container's termination
// message from (terminationMessagePath's default); it mounts it in every
// container.
const terminationLog = "/dev/termination-log"

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitInvalid = 2
)

func main() {
	// Installed as wisp-env in an app container, this binary is the exec
	// shim: it sets the variables and becomes the app (it returns only on
	// failure, having run nothing).
	if filepath.Base(os.Args[0]) == envshim.Name {
		err := envshim.Exec(os.Args[1:], os.Getenv, os.Environ())
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(os.Stderr, "%s: %s\n", envshim.Name, line)
		}
		os.Exit(exitFailed)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, terminationLog)
	stop()
	os.Exit(code)
}

// options are the flags; each defaults from its environment variable.
type options struct {
	planFile   string
	sidecar    bool
	deadline   time.Duration
	logLevel   string
	checkReady bool
	version    bool
}

// codeError carries an exit code.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

func invalid(err error) error { return &codeError{code: exitInvalid, err: err} }

// run executes wisp-fetch and returns its exit code. It reads the
// environment through getenv and writes only to stdout, stderr, the plan's
// folder and termLog. Logs are JSON on stderr; a failure ends with one plain
// line, also written to termLog when that file exists (in a pod: the
// kubelet's), so that the pod's status shows that line rather than the
// end of the log (terminationMessagePolicy FallbackToLogsOnError).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, termLog string) int {
	opts, envErr := envDefaults(getenv)
	cmd := &cobra.Command{
		Use:           "wisp-fetch",
		Short:         "Fetch a pod's Vault secrets with its SPIFFE identity",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if envErr != nil {
				return invalid(envErr)
			}
			return execute(cmd.Context(), opts, getenv, stdout, stderr)
		},
	}
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	f := cmd.Flags()
	f.StringVar(&opts.planFile, "plan", "", "read the fetch plan from this file instead of $WISP_PLAN")
	f.BoolVar(&opts.sidecar, "sidecar", opts.sidecar,
		"after the first write, keep renewing and re-fetching until SIGTERM, then revoke ($WISP_SIDECAR)")
	f.DurationVar(&opts.deadline, "deadline", opts.deadline,
		"give up on the first fetch after this long, retries included ($WISP_DEADLINE)")
	f.StringVar(&opts.logLevel, "log-level", opts.logLevel, "debug, info, warn or error ($WISP_LOG_LEVEL)")
	f.BoolVar(&opts.checkReady, "check-ready", false,
		"exit 0 when the sidecar's readiness marker exists in the plan's folder (for a startupProbe), else 1")
	f.BoolVar(&opts.version, "version", false, "print the version and exit")

	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitInvalid // cobra's own errors: unknown flag, bad value
	var ce *codeError
	if errors.As(err, &ce) {
		code = ce.code
	}
	line := "wisp-fetch: " + strings.Join(strings.Fields(err.Error()), " ")
	fmt.Fprintln(stderr, line)
	if err := writeTerminationMessage(termLog, line); err != nil {
		fmt.Fprintf(stderr, "wisp-fetch: write the termination message: %v\n", err)
	}
	return code
}

// maxTerminationMessage is the kubelet's limit for one container's
// termination message.
const maxTerminationMessage = 4096

// writeTerminationMessage writes line to path when that file exists; it
// never creates one (outside a pod there is none).
func writeTerminationMessage(path, line string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(line) > maxTerminationMessage {
		line = line[:maxTerminationMessage]
	}
	_, err = f.WriteString(line)
	return errors.Join(err, f.Close())
}

func execute(ctx context.Context, opts options, getenv func(string) string, stdout, stderr io.Writer) error {
	if opts.version {
		fmt.Fprintln(stdout, "wisp-fetch", version)
		return nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
		return invalid(fmt.Errorf("log level %q: want debug, info, warn or error", opts.logLevel))
	}
	p, err := loadPlan(opts.planFile, getenv)
	if err != nil {
		return invalid(err)
	}
	if opts.checkReady {
		marker := filepath.Join(p.Dir, fetch.ReadyFileName)
		if _, err := os.Stat(marker); err != nil {
			return &codeError{code: exitFailed, err: fmt.Errorf("not ready: %s does not exist yet", marker)}
		}
		return nil
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	if dst := getenv(plan.InstallShimVar); dst != "" {
		// wisp.dev/env-<NAME>: the app containers start through this
		// binary, installed as the exec shim.
		if err := envshim.Install(dst); err != nil {
			return &codeError{code: exitFailed, err: err}
		}
		log.Info("installed the exec shim", "path", dst)
	}
	cfg := fetch.Config{
		Plan:       p,
		SocketAddr: getenv("SPIFFE_ENDPOINT_SOCKET"),
		VaultAddr:  getenv("VAULT_ADDR"),
		CACert:     getenv("VAULT_CACERT"),
		Namespace:  getenv("VAULT_NAMESPACE"),
		AuthPath:   getenv("WISP_AUTH_PATH"),
		Audience:   getenv("WISP_AUDIENCE"),
		Deadline:   opts.deadline,
		Logger:     log,
	}
	f, err := fetch.New(cfg)
	if err != nil {
		return invalid(err)
	}
	if opts.sidecar {
		err = f.RunSidecar(ctx)
	} else {
		_, err = f.Fetch(ctx)
	}
	switch {
	case errors.Is(err, fetch.ErrStopped):
		// SIGTERM before the first fetch completed: the pod is going away
		// and nothing was written or kept; fetch logged it. Not a failure.
		return nil
	case err != nil:
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		return &codeError{code: exitFailed, err: err}
	}
	return nil
}

// loadPlan reads the plan from file, or else from $WISP_PLAN.
func loadPlan(file string, getenv func(string) string) (plan.Plan, error) {
	var doc []byte
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return plan.Plan{}, fmt.Errorf("read plan %s: %w", file, err)
		}
		doc = b
	} else {
		doc = []byte(getenv("WISP_PLAN"))
		if len(doc) == 0 {
			return plan.Plan{}, errors.New("no plan: set WISP_PLAN (the webhook does) or pass --plan FILE")
		}
	}
	p, err := plan.Parse(doc)
	if err != nil {
		return plan.Plan{}, err
	}
	return p, nil
}

// envDefaults reads the optional variables that flags default from.
func envDefaults(getenv func(string) string) (options, error) {
	opts := options{deadline: fetch.DefaultDeadline, logLevel: "info"}
	var errs []error
	if v := getenv("WISP_SIDECAR"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("WISP_SIDECAR %q: want true or false", v))
		}
		opts.sidecar = b
	}
	if v := getenv("WISP_DEADLINE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("WISP_DEADLINE %q: want a positive duration such as 2m", v))
		} else {
			opts.deadline = d
		}
	}
	if v := getenv("WISP_LOG_LEVEL"); v != "" {
		opts.logLevel = v
	}
	return opts, errors.Join(errs...)
}

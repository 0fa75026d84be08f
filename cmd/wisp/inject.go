package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/internal/workload"
	"wisp.dev/wisp/mutate"
)

// injectOptions are the flags of wisp inject.
type injectOptions struct {
	// file to read, "-" for standard input.
	file string
	// policy is a policy file; empty means the built-in defaults.
	policy string
	// output format: "yaml" or "json".
	output string
}

func newInjectCommand() *cobra.Command {
	var opts injectOptions
	cmd := &cobra.Command{
		Use:   "inject -f FILE|- [--policy FILE] [-o yaml|json]",
		Short: "Inject wisp into the pods of manifests, as the webhook would",
		Long: `Inject wisp into the pods of manifests, as the webhook would.

Reads multi-document YAML, JSON or a v1 List, and writes the same documents
in order. Each Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and
CronJob whose pod opts in (wisp.dev/inject: "true") gets the wisp-fetch init
container, its volumes and the secrets mount, through the webhook's own code.
Other objects, and pods that do not opt in or are injected already, are
written unchanged; injecting the output again changes nothing.

Exit status: 0 on success; 1 when the webhook would deny an object (malformed
wisp.dev/* annotations, a fetch plan it could not check, a Vault role the
object's namespace may not name: "default" for an object without one), with
its message on standard error and nothing on standard output; 2 for
unreadable input, a bad flag or a bad policy file.`,
		Example: `  wisp inject -f deployment.yaml | kubectl apply -f -
  kubectl get deploy web -o yaml | wisp inject -f - --policy policy.yaml
  wisp inject -f pod.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInject(cmd.Context(), opts, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.file, "filename", "f", "", `manifests to inject, "-" for standard input (required)`)
	f.StringVar(&opts.policy, "policy", "", "policy file (kind Policy: injection defaults and detection policy; default: built-in defaults)")
	f.StringVarP(&opts.output, "output", "o", "yaml", "output format: yaml or json")
	if err := cmd.MarkFlagRequired("filename"); err != nil {
		panic(err) // the flag is defined just above
	}
	return cmd
}

func runInject(ctx context.Context, opts injectOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	var write func(io.Writer, []*document) error
	switch opts.output {
	case "yaml":
		write = writeYAML
	case "json":
		write = writeJSON
	default:
		return &exitError{code: exitInvalid, err: fmt.Errorf("output format %q: want yaml or json", opts.output)}
	}
	snap, err := loadPolicy(opts.policy, stderr)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	source, data, err := readInput(opts.file, stdin)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	docs := readDocuments(data, false)

	// Report every problem of every document, in order.
	var problems []error
	var leftAlone kindCounts // custom resources with a pod spec: not rewritten
	invalid := false
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return &exitError{code: exitInvalid, err: err}
		}
		if d.err != nil {
			problems = append(problems, &locatedError{where: fmt.Sprintf("document %d of %s", d.index, source), err: d.err})
			invalid = true
			continue
		}
		for i, obj := range d.objects() {
			where := d.where(source, i, obj)
			changed, warnings, err := injectObject(obj, snap)
			for _, w := range warnings {
				fmt.Fprintf(stderr, "wisp: %s: warning: %s\n", where, w)
			}
			if !workload.Supported(obj.GroupVersionKind()) {
				if found, _ := workload.ByShape(obj); len(found) > 0 {
					leftAlone.add(obj)
				}
			}
			if err != nil {
				problems = append(problems, &locatedError{where: where, err: err})
				var de *denialError
				invalid = invalid || !errors.As(err, &de)
			}
			d.changed = d.changed || changed
		}
	}
	if !leftAlone.empty() {
		fmt.Fprintf(stderr, "wisp: not injected, a pod spec in a kind wisp does not rewrite: %s\n", leftAlone)
	}
	if len(problems) > 0 {
		code := exitDenied
		if invalid { // bad input outranks a denial
			code = exitInvalid
		}
		return &exitError{code: code, err: errors.Join(problems...)}
	}
	if err := write(stdout, docs); err != nil {
		return &exitError{code: exitInvalid, err: fmt.Errorf("write output: %w", err)}
	}
	return nil
}

// denialError is an error for which the webhook would deny the object.
type denialError struct{ err error }

func (e *denialError) Error() string { return e.err.Error() }
func (e *denialError) Unwrap() error { return e.err }

// injectObject injects obj in place, through mutate.Inject like the webhook,
// and reports whether obj changed, with the webhook's admission warnings
// (mutate.VaultWarnings). An object of a kind without a pod template is
// left alone. The webhook's denials are *denialError: malformed
// annotations, and what mutate.CheckInjected refuses (a fetch plan it could
// not check, a Vault role the object's namespace, default if it names none,
// may not name), with the webhook's message.
func injectObject(obj *unstructured.Unstructured, snap *config.Snapshot) (bool, []string, error) {
	pod, err := workload.PodOf(obj)
	if errors.Is(err, workload.ErrUnsupportedKind) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	out, result, err := mutate.Inject(pod, snap.Injection)
	if err != nil {
		return false, nil, &denialError{err: err}
	}
	ns := obj.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	if err := mutate.CheckInjected(pod, out, result, snap.Injection, roleCheck(snap, ns)); err != nil {
		return false, nil, &denialError{err: err}
	}
	if result != mutate.Injected {
		return false, nil, nil
	}
	if err := workload.SetPod(obj, out); err != nil {
		return false, nil, fmt.Errorf("write the injected pod back: %w", err)
	}
	return true, mutate.VaultWarnings(pod.Annotations, snap.Injection), nil
}

// loadPolicy reads a policy file; an empty path means the built-in defaults.
// The file's warnings go to stderr, one line each.
func loadPolicy(path string, stderr io.Writer) (*config.Snapshot, error) {
	if path == "" {
		return config.Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	snap, err := config.Parse(data)
	if err != nil {
		return nil, &locatedError{where: "policy " + path, err: err}
	}
	for _, w := range snap.Warnings {
		fmt.Fprintf(stderr, "wisp: policy %s: warning: %s\n", path, w)
	}
	return snap, nil
}

// readInput reads the file named by -f, or stdin for "-". It returns the
// name to use in messages.
func readInput(file string, stdin io.Reader) (string, []byte, error) {
	if file == "-" {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(stdin); err != nil {
			return "", nil, fmt.Errorf("read stdin: %w", err)
		}
		return "stdin", buf.Bytes(), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", nil, fmt.Errorf("read manifests: %w", err)
	}
	return file, data, nil
}

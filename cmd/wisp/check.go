package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"wisp.dev/wisp/internal/workload"
	"wisp.dev/wisp/policy"
)

type checkOptions struct {
	// files to read, "-" for standard input.
	files []string
	// policy is a policy file; empty means the built-in defaults.
	policy string
	// output format: "text" or "json".
	output string
}

func newCheckCommand() *cobra.Command {
	var opts checkOptions
	cmd := &cobra.Command{
		Use:   "check -f FILE... [--policy FILE] [-o text|json]",
		Short: "Report static secrets in the env vars of manifests, as the webhook would",
		Long: `Report static secrets in the env vars of manifests, as the webhook would.

Reads multi-document YAML, JSON or a v1 List and runs the platform policy on
every Pod and on the pod template of every Deployment, StatefulSet,
DaemonSet, ReplicaSet, Job and CronJob: Kubernetes Secrets in env
(secretKeyRef, envFrom), literals in known credential formats, secret-looking
names holding credential-looking literals. Values are never printed.

Every violation is reported whatever the mode of its namespace (namespace
labels are not known offline); exempt namespaces, exempt pods and allow
lists of the policy apply.

Exit status: 0 when clean; 1 when there are violations; 2 for unreadable
input, a bad flag or a bad policy file.`,
		Example: `  wisp check -f deploy/
  wisp check -f app.yaml -f jobs.yaml --policy policy.yaml -o json
  helm template ./chart | wisp check -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd.Context(), opts, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.files, "filename", "f", nil, `manifests to check, "-" for standard input (repeatable)`)
	f.StringVar(&opts.policy, "policy", "", "policy file (kind Policy; default: built-in defaults)")
	f.StringVarP(&opts.output, "output", "o", "text", "output format: text or json")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// finding is one violation as `wisp check -o json` prints it.
type finding struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Container string `json:"container"`
	Env       string `json:"env"`
	Rule      string `json:"rule"`
	Message   string `json:"message"`
}

func runCheck(ctx context.Context, opts checkOptions, stdin io.Reader, stdout io.Writer) error {
	if opts.output != "text" && opts.output != "json" {
		return &exitError{code: exitInvalid, err: fmt.Errorf("output format %q: want text or json", opts.output)}
	}
	snap, err := loadPolicy(opts.policy)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	findings := []finding{}
	var problems []error
	files, err := expandFiles(opts.files)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	for _, file := range files {
		source, data, err := readInput(file, stdin)
		if err != nil {
			return &exitError{code: exitInvalid, err: err}
		}
		for _, d := range readDocuments(data) {
			if err := ctx.Err(); err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
			if d.err != nil {
				problems = append(problems, &locatedError{where: fmt.Sprintf("document %d of %s", d.index, source), err: d.err})
				continue
			}
			objs := []*unstructured.Unstructured{d.obj}
			if d.items != nil {
				objs = d.items
			}
			for _, obj := range objs {
				got, err := checkObject(snap.Policy, obj)
				if err != nil {
					problems = append(problems, &locatedError{where: fmt.Sprintf("document %d of %s: %s", d.index, source, objectName(obj)), err: err})
					continue
				}
				findings = append(findings, got...)
			}
		}
	}
	if len(problems) > 0 {
		return &exitError{code: exitInvalid, err: errors.Join(problems...)}
	}
	if opts.output == "json" {
		out, err := json.MarshalIndent(struct {
			Violations []finding `json:"violations"`
		}{findings}, "", "  ")
		if err != nil {
			return &exitError{code: exitInvalid, err: fmt.Errorf("encode: %w", err)}
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", out); err != nil {
			return &exitError{code: exitInvalid, err: err}
		}
	} else {
		for _, f := range findings {
			if _, err := fmt.Fprintln(stdout, f.Message); err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
		}
	}
	if len(findings) > 0 {
		return &exitError{code: exitDenied, err: fmt.Errorf("%d static secret(s) found", len(findings)), quiet: opts.output == "json"}
	}
	return nil
}

// checkObject runs the policy on obj's pod (template); other kinds have none.
func checkObject(ev *policy.Evaluator, obj *unstructured.Unstructured) ([]finding, error) {
	pod, err := workload.PodOf(obj)
	if errors.Is(err, workload.ErrUnsupportedKind) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ns := obj.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	name := obj.GetName()
	if name == "" && obj.GetGenerateName() != "" {
		name = obj.GetGenerateName() + "*"
	}
	o := policy.Object{
		Kind: obj.GetKind(), Namespace: ns, Name: name,
		Labels: pod.Labels, Annotations: pod.Annotations, Spec: &pod.Spec,
	}
	d := ev.Evaluate(o)
	if d.Exempt {
		return nil, nil
	}
	out := make([]finding, len(d.Violations))
	for i, v := range d.Violations {
		out[i] = finding{Kind: o.Kind, Namespace: ns, Name: name, Container: v.Container, Env: v.Env, Rule: v.RuleID, Message: v.Message(o)}
	}
	return out, nil
}

// expandFiles replaces each folder by the .yaml, .yml and .json files below
// it, in lexical order.
func expandFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if a == "-" || err != nil || !fi.IsDir() {
			out = append(out, a) // readInput reports a missing file
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch filepath.Ext(p) {
			case ".yaml", ".yml", ".json":
				if !d.IsDir() {
					out = append(out, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read folder %s: %w", a, err)
		}
	}
	return out, nil
}

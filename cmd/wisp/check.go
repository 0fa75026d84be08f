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
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/internal/workload"
	"wisp.dev/wisp/mutate"
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
DaemonSet, ReplicaSet, Job, CronJob, ReplicationController and PodTemplate:
Kubernetes Secrets in env (secretKeyRef, envFrom), literals in known
credential formats, secret-looking names holding credential-looking or weak
literals. Any other object whose shape holds a pod spec (a containers list:
Argo Rollouts, Knative Services, OpenKruise, KServe ...) is checked by shape.
Stderr says which kinds were checked by shape and which had no pod template.
Values are never printed.

Every violation is reported whatever the mode of its namespace (namespace
labels are not known offline); exempt namespaces, exempt pods and allow
lists of the policy apply. A violation of a warn-only rule is printed with
"warning: " and does not change the exit status. What the webhook refuses
in any mode (a fetch plan it could not check, a Vault role the namespace,
"default" for an object without one, may not name) is printed after the
violations, with the webhook's message.

A document that a strict decoder refuses (a duplicate key, a field of the
wrong type, a template expression in a quantity) is judged on what can be
read of it: every container's env and envFrom, the pod's annotations and
labels; stderr names the fields left out.

Exit status: 0 when clean (warnings aside); 1 when there are violations or
refusals (documents that could not be read at all are then named on
stderr); 2 for input with nothing readable and nothing found elsewhere, a
bad flag or a bad policy file.`,
		Example: `  wisp check -f deploy/
  wisp check -f app.yaml -f jobs.yaml --policy policy.yaml -o json
  helm template ./chart | wisp check -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd.Context(), opts, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
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
	// Field is the entry's field path, such as
	// spec.template.spec.containers[0].env[2].
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Warning: the rule only warns (it never denies, and does not change
	// the exit status).
	Warning bool `json:"warning,omitempty"`
}

// denial is a pod (template) the webhook refuses whatever the mode: a fetch
// plan it could not check, or a Vault role its namespace may not name
// (mutate.CheckPlans). Message is the webhook's, after "wisp: ".
type denial struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Message   string `json:"message"`
}

func runCheck(ctx context.Context, opts checkOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	if opts.output != "text" && opts.output != "json" {
		return &exitError{code: exitInvalid, err: fmt.Errorf("output format %q: want text or json", opts.output)}
	}
	snap, err := loadPolicy(opts.policy, stderr)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	findings, denials := []finding{}, []denial{}
	var problems []error
	var byShape, skipped kindCounts
	files, err := expandFiles(opts.files)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	for _, file := range files {
		source, data, err := readInput(file, stdin)
		if err != nil {
			return &exitError{code: exitInvalid, err: err}
		}
		for _, d := range readDocuments(data, true) {
			if err := ctx.Err(); err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
			doc := fmt.Sprintf("document %d of %s", d.index, source)
			if d.err != nil {
				problems = append(problems, &locatedError{where: doc, err: d.err})
				continue
			}
			if d.lenient != nil {
				fmt.Fprintf(stderr, "wisp: %s: read leniently, the last of duplicate keys winning: %s\n", doc, oneLine(d.lenient))
			}
			for _, obj := range d.objects() {
				got, refused, how, unread, err := checkObject(snap, obj)
				switch how {
				case checkedByShape:
					byShape.add(obj)
				case notChecked:
					skipped.add(obj)
				}
				if err != nil {
					problems = append(problems, &locatedError{where: doc + ": " + objectName(obj), err: err})
					continue
				}
				if len(unread) > 0 {
					fmt.Fprintf(stderr, "wisp: %s: %s: judged on what could be read; not read: %s\n", doc, objectName(obj), strings.Join(unread, "; "))
				}
				findings = append(findings, got...)
				denials = append(denials, refused...)
			}
		}
	}
	// Never silently: say which kinds were judged by shape alone, and
	// which were not judged at all.
	if !byShape.empty() {
		fmt.Fprintf(stderr, "wisp: checked by the shape of their pod templates: %s\n", byShape)
	}
	if !skipped.empty() {
		fmt.Fprintf(stderr, "wisp: not checked, no pod template: %s\n", skipped)
	}
	blocking := 0
	for _, f := range findings {
		if !f.Warning {
			blocking++
		}
	}
	// A document that could not be read at all is exit 2, unless secrets
	// were found elsewhere: then it is said on stderr and the exit is 1.
	if len(problems) > 0 && blocking == 0 && len(denials) == 0 {
		return &exitError{code: exitInvalid, err: errors.Join(problems...)}
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "wisp: not checked: %s\n", oneLine(p))
	}
	if err := writeCheck(stdout, opts.output, findings, denials); err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	switch {
	case len(denials) > 0:
		return &exitError{code: exitDenied, err: fmt.Errorf("%d static secret(s) found, %d object(s) refused", blocking, len(denials)), quiet: opts.output == "json"}
	case blocking > 0:
		return &exitError{code: exitDenied, err: fmt.Errorf("%d static secret(s) found", blocking), quiet: opts.output == "json"}
	}
	return nil
}

// writeCheck prints the findings and the denials: one line each (a
// warning-only finding starts with "warning: "), or one JSON document.
func writeCheck(w io.Writer, output string, findings []finding, denials []denial) error {
	if output == "json" {
		out, err := json.MarshalIndent(struct {
			Violations []finding `json:"violations"`
			Denials    []denial  `json:"denials"`
		}{findings, denials}, "", "  ")
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", out)
		return err
	}
	for _, f := range findings {
		line := f.Message
		if f.Warning {
			line = "warning: " + line
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	for _, d := range denials {
		if _, err := fmt.Fprintf(w, "%s %s/%s: %s\n", d.Kind, d.Namespace, d.Name, d.Message); err != nil {
			return err
		}
	}
	return nil
}

// How checkObject judged an object.
const (
	checkedByKind  = iota // a Pod or a workload kind wisp knows
	checkedByShape        // another kind, through the pod specs its shape holds
	notChecked            // no pod template
)

// checkObject runs the policy on obj's pod (template): the template of a
// kind wisp knows, or every pod spec found by shape in any other object.
// A pod spec that does not decode whole is judged on what can be read
// (workload.PodsBestEffort); unread names what could not.
func checkObject(snap *config.Snapshot, obj *unstructured.Unstructured) (out []finding, refused []denial, how int, unread []string, err error) {
	found, byShape, err := workload.PodsBestEffort(obj)
	how = checkedByKind
	switch {
	case byShape && err == nil && len(found) == 0:
		how = notChecked
	case byShape:
		how = checkedByShape
	}
	if err != nil {
		return nil, nil, how, nil, err
	}
	for _, f := range found {
		got, d := evaluateObject(snap, obj, f.Pod, f.SpecPath)
		out = append(out, got...)
		if d != nil {
			refused = append(refused, *d)
		}
		unread = append(unread, f.Unread...)
	}
	return out, refused, how, unread, nil
}

// oneLine is err's text on one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// evaluateObject judges one pod (template) of obj, its spec at specPath
// ("" for where obj's kind keeps it): its violations, and what the webhook
// refuses whatever the mode (mutate.CheckPlans), as it would.
func evaluateObject(snap *config.Snapshot, obj *unstructured.Unstructured, pod *corev1.Pod, specPath string) ([]finding, *denial) {
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
		Labels: pod.Labels, Annotations: pod.Annotations, Spec: &pod.Spec, SpecPath: specPath,
	}
	var refused *denial
	if _, err := mutate.CheckPlans(&pod.Spec, snap.Injection, roleCheck(snap, ns)); err != nil {
		refused = &denial{Kind: o.Kind, Namespace: ns, Name: name, Message: err.Error()}
	}
	d := snap.Policy.Evaluate(o)
	if d.Exempt {
		return nil, refused
	}
	out := make([]finding, len(d.Violations))
	for i, v := range d.Violations {
		out[i] = finding{Kind: o.Kind, Namespace: ns, Name: name, Container: v.Container, Env: v.Env, Field: v.Field, Rule: v.RuleID,
			Message: v.Message(o), Warning: v.WarnOnly}
	}
	return out, refused
}

// roleCheck is the role check of namespace under the snapshot's policy, as
// the webhook runs it.
func roleCheck(snap *config.Snapshot, namespace string) mutate.RoleCheck {
	return func(role string) error { return snap.Policy.AllowedRole(namespace, role) }
}

// kindCounts counts objects by kind and API version, for a summary line.
type kindCounts struct {
	order []string
	n     map[string]int
}

func (k *kindCounts) add(obj *unstructured.Unstructured) {
	key := obj.GetKind() + " (" + obj.GetAPIVersion() + ")"
	if k.n == nil {
		k.n = map[string]int{}
	}
	if k.n[key] == 0 {
		k.order = append(k.order, key)
	}
	k.n[key]++
}

func (k *kindCounts) empty() bool { return len(k.order) == 0 }

// String renders "2 Rollout (argoproj.io/v1alpha1), 1 ConfigMap (v1)", in
// the order the kinds were first seen.
func (k kindCounts) String() string {
	parts := make([]string, len(k.order))
	for i, key := range k.order {
		parts[i] = strconv.Itoa(k.n[key]) + " " + key
	}
	return strings.Join(parts, ", ")
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

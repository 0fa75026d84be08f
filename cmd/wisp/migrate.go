package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"wisp.dev/wisp/internal/workload"
	"wisp.dev/wisp/mutate"
)

type migrateOptions struct {
	file, policy string
}

func newMigrateCommand() *cobra.Command {
	var opts migrateOptions
	cmd := &cobra.Command{
		Use:   "migrate -f FILE|- [--policy FILE]",
		Short: "Rewrite manifests written for the Vault Agent Injector into wisp's annotations",
		Long: `Rewrite manifests written for the Vault Agent Injector into wisp's annotations.

Reads multi-document YAML, JSON or a v1 List, and writes YAML documents in
order. In the pod (template) of each Pod, Deployment, StatefulSet,
DaemonSet, ReplicaSet, Job and CronJob, each vault.hashicorp.com/ alias
becomes its wisp.dev/ annotation (Consul Template templates translated, where
the translation is exact), and the annotations wisp does not honour are
dropped. Annotations without an exact translation are left as they are, and
the document gets a comment naming each. A summary per workload goes to
standard error. With the same policy, wisp inject of the output gives what
wisp inject of the input gives with injection.vaultAgentAnnotations on.

Exit status: 0 when everything was translated; 1 when something needs a
person (named on standard error and in the comments); 2 for unreadable input,
a bad flag or a bad policy file.`,
		Example: `  wisp migrate -f deployment.yaml > deployment.wisp.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrate(cmd.Context(), opts, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.file, "filename", "f", "", `manifests to migrate, "-" for standard input (required)`)
	f.StringVar(&opts.policy, "policy", "", "policy file (its injection.mountPath is the default mount path; default: built-in defaults)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func runMigrate(ctx context.Context, opts migrateOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	snap, err := loadPolicy(opts.policy, stderr)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	source, data, err := readInput(opts.file, stdin)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	mountPath := snap.Injection.WithDefaults().MountPath
	docs := readDocuments(data, false)
	var problems []error
	manual := 0
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return &exitError{code: exitInvalid, err: err}
		}
		if d.err != nil {
			problems = append(problems, &locatedError{where: fmt.Sprintf("document %d of %s", d.index, source), err: d.err})
			continue
		}
		for j, obj := range d.objects() {
			where := d.where(source, j, obj)
			m, changed, err := migrateObject(obj, mountPath)
			if err != nil {
				problems = append(problems, &locatedError{where: where, err: err})
				continue
			}
			d.changed = d.changed || changed
			if m == nil {
				continue
			}
			fmt.Fprintf(stderr, "wisp: migrate: %s: %d rewritten, %d dropped, %d need a person\n", where, len(m.Rewritten), len(m.Dropped), len(m.Manual))
			for _, s := range m.Dropped {
				fmt.Fprintf(stderr, "wisp: migrate: %s: dropped %s\n", where, s)
			}
			for _, s := range m.Manual {
				fmt.Fprintf(stderr, "wisp: migrate: %s: needs a person: %s\n", where, s)
				for _, line := range strings.Split(objectName(obj)+": needs a person: "+s, "\n") {
					d.comments = append(d.comments, "wisp migrate: "+line)
				}
			}
			manual += len(m.Manual)
		}
	}
	if len(problems) > 0 {
		return &exitError{code: exitInvalid, err: errors.Join(problems...)}
	}
	if err := writeYAML(stdout, docs); err != nil {
		return &exitError{code: exitInvalid, err: fmt.Errorf("write output: %w", err)}
	}
	if manual > 0 {
		return &exitError{code: exitDenied, err: fmt.Errorf("migrate: %d annotation(s) need a person; see the comments in the output", manual)}
	}
	return nil
}

// migrateObject migrates the annotations of obj's pod (template) in place.
// It returns nil when obj has no pod or no Vault annotation.
func migrateObject(obj *unstructured.Unstructured, mountPath string) (*mutate.Migration, bool, error) {
	pod, err := workload.PodOf(obj)
	if errors.Is(err, workload.ErrUnsupportedKind) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	has := false
	for k := range pod.Annotations {
		has = has || strings.HasPrefix(k, mutate.VaultPrefix)
	}
	if !has {
		return nil, false, nil
	}
	out, m := mutate.MigrateVaultAnnotations(pod.Annotations, mountPath)
	if len(m.Rewritten)+len(m.Dropped) == 0 {
		return &m, false, nil
	}
	pod.Annotations = out
	if err := workload.SetPod(obj, pod); err != nil {
		return nil, false, fmt.Errorf("write the migrated pod back: %w", err)
	}
	return &m, true, nil
}

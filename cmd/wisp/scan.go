package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	reportsclient "github.com/openreports/reports-api/pkg/client/clientset/versioned"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/policy"
	"wisp.dev/wisp/scan"
)

// scanOptions are the flags of wisp scan.
type scanOptions struct {
	kubeconfig    string
	context       string
	namespace     string
	allNamespaces bool
	policy        string
	output        string
	applyReports  bool
	pageSize      int64
	exitCode      int
}

func newScanCommand() *cobra.Command {
	var opts scanOptions
	cmd := &cobra.Command{
		Use:   "scan [-n NS | -A] [--policy FILE] [-o text|json|report] [--apply-reports]",
		Short: "Report the static secrets of the workloads that run in a cluster",
		Long: `Report the static secrets of the workloads that run in a cluster: what
switching a namespace to enforce would break.

Lists Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
CronJobs through the API, page by page, and judges them with the policy, in
each namespace's mode (its labels are read from the cluster), exemptions
included. A pod or workload owned by a scanned workload (Pod -> ReplicaSet ->
Deployment, Pod -> Job -> CronJob) is reported once, under its top-level
workload; a pod whose owner is missing or of another kind is reported as
itself. Values are never printed.

Output: text (a table per namespace, then one line per violation), json
(wisp check's JSON plus each violation's mode, owner chain and pod count) or
report (the OpenReports Reports that --apply-reports would write, as YAML).

--apply-reports writes one openreports.io/v1alpha1 Report named "wisp" per
namespace with server-side apply (field manager wisp-scan): a re-run that
finds the same changes nothing, a fixed workload drops out, a namespace
with no finding keeps an empty Report, an exempt namespace loses its Report.

Without -n or -A, the kubeconfig context's namespace is scanned. The
kubeconfig is --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else the
pod's service account (in a cluster).

Exit status: 0 when clean; --exit-code (default 1) when there are
violations; 2 when the cluster cannot be reached or read (the message names
the API call and the permission it needs), or for a bad flag or policy.`,
		Example: `  wisp scan -A
  wisp scan -n team-a --policy policy.yaml -o json
  wisp scan -A --apply-reports --exit-code=0   # as the chart's CronJob runs it`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runScan(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	f.StringVar(&opts.context, "context", "", "kubeconfig context (default: the current context)")
	f.StringVarP(&opts.namespace, "namespace", "n", "", "scan this namespace (default: the context's namespace)")
	f.BoolVarP(&opts.allNamespaces, "all-namespaces", "A", false, "scan every namespace")
	f.StringVar(&opts.policy, "policy", "", "policy file (kind Policy; default: built-in defaults)")
	f.StringVarP(&opts.output, "output", "o", "text", "output format: text, json or report")
	f.BoolVar(&opts.applyReports, "apply-reports", false, "write an OpenReports Report per namespace (server-side apply)")
	f.Int64Var(&opts.pageSize, "page-size", scan.DefaultPageSize, "objects per list call")
	f.IntVar(&opts.exitCode, "exit-code", exitDenied, "exit status when violations are found")
	return cmd
}

func runScan(ctx context.Context, opts scanOptions, stdout, stderr io.Writer) error {
	invalid := func(err error) error { return &exitError{code: exitInvalid, err: err} }
	switch opts.output {
	case "text", "json", "report":
	default:
		return invalid(fmt.Errorf("output format %q: want text, json or report", opts.output))
	}
	if opts.allNamespaces && opts.namespace != "" {
		return invalid(errors.New("--namespace and --all-namespaces exclude each other"))
	}
	if opts.pageSize <= 0 {
		return invalid(fmt.Errorf("--page-size %d: want a positive number", opts.pageSize))
	}
	snap, err := loadPolicy(opts.policy, stderr)
	if err != nil {
		return invalid(err)
	}
	cfg, namespace, err := clientConfig(opts)
	if err != nil {
		return invalid(err)
	}
	if opts.allNamespaces {
		namespace = ""
	}
	// Core kinds in protobuf: about 3x cheaper to decode than JSON.
	proto := rest.CopyConfig(cfg)
	proto.ContentType = runtime.ContentTypeProtobuf
	proto.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	kube, err := kubernetes.NewForConfig(proto)
	if err != nil {
		return invalid(fmt.Errorf("kubernetes client: %w", err))
	}

	result, err := scan.Scan(ctx, kube, scan.Config{Policy: snap.Policy, Namespace: namespace, PageSize: opts.pageSize})
	if err != nil {
		return invalid(err)
	}

	if opts.applyReports {
		rc, err := reportsclient.NewForConfig(cfg)
		if err != nil {
			return invalid(fmt.Errorf("reports client: %w", err))
		}
		done, err := scan.ApplyReports(ctx, rc.OpenreportsV1alpha1(), result, scan.ApplyOptions{Namespace: namespace, PageSize: opts.pageSize})
		if err != nil {
			return invalid(err)
		}
		fmt.Fprintf(stderr, "wisp: reports: %d changed, %d unchanged, %d deleted\n", len(done.Changed), len(done.Unchanged), len(done.Deleted))
	}

	switch opts.output {
	case "json":
		err = writeScanJSON(stdout, result)
	case "report":
		err = writeScanReports(stdout, result)
	default:
		err = writeScanText(stdout, result, namespace)
	}
	if err != nil {
		return invalid(err)
	}
	if n := countBlocking(result); n > 0 && opts.exitCode != exitOK {
		return &exitError{code: opts.exitCode, err: fmt.Errorf("%d static secret(s) found in %d workload(s)", n, countWorkloads(result)), quiet: opts.output != "text"}
	}
	return nil
}

// clientConfig loads the kubeconfig as kubectl does (--kubeconfig,
// $KUBECONFIG, ~/.kube/config, then in-cluster), honouring --context, and
// returns the context's namespace.
func clientConfig(opts scanOptions) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = opts.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.context}
	if opts.namespace != "" {
		overrides.Context.Namespace = opts.namespace
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "wisp-scan/" + version
	// A scan is a few dozen list calls in a burst; client-go's default of
	// 5 per second would make it wait for nothing.
	cfg.QPS, cfg.Burst = 50, 100
	cfg.Timeout = time.Minute
	cfg.WarningHandler = rest.NoWarnings{}
	return cfg, ns, nil
}

// countWorkloads counts the workloads with a violation that is not only a
// warning.
func countWorkloads(r *scan.Result) int {
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if !f.Violation.WarnOnly {
			seen[string(f.Object.UID)+f.Object.String()] = true
		}
	}
	return len(seen)
}

// countBlocking counts the violations that are not only warnings (a
// warn-only rule's never denies, so it does not set the exit status).
func countBlocking(r *scan.Result) int {
	n := 0
	for _, f := range r.Findings {
		if !f.Violation.WarnOnly {
			n++
		}
	}
	return n
}

// writeScanText prints the summary table, then one line per violation.
func writeScanText(w io.Writer, r *scan.Result, namespace string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tMODE\tWORKLOADS\tVIOLATIONS")
	for _, ns := range r.Namespaces {
		if ns.Workloads == 0 && ns.Name != namespace {
			continue
		}
		mode := string(ns.Mode)
		if ns.Exempt {
			mode = "exempt"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", ns.Name, mode, ns.Workloads, byRule(ns.Violations))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w)
	}
	for _, f := range r.Findings {
		if _, err := fmt.Fprintln(w, f.Message); err != nil {
			return err
		}
	}
	// Not violations: what the policy's allow.secrets let through.
	if len(r.Allowed) > 0 {
		fmt.Fprintln(w)
	}
	for _, f := range r.Allowed {
		if _, err := fmt.Fprintln(w, f.Message); err != nil {
			return err
		}
	}
	return nil
}

// byRule renders violation counts: "3 (env-secret-key-ref 2, known-credential-format 1)".
func byRule(counts map[string]int) string {
	total := 0
	var parts []string
	for _, rule := range slices.Sorted(maps.Keys(counts)) {
		total += counts[rule]
		parts = append(parts, fmt.Sprintf("%s %d", rule, counts[rule]))
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// scanFinding is one violation as `wisp scan -o json` prints it: wisp
// check's fields, plus the namespace's mode, the owner chain and the pods.
type scanFinding struct {
	finding
	Mode   policy.Mode `json:"mode"`
	Owners []scan.Ref  `json:"owners"`
	Pods   int         `json:"pods"`
}

// scanAllowed is one Secret reference allowed by the policy, as `wisp scan
// -o json` prints it.
type scanAllowed struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Container string `json:"container,omitempty"`
	Env       string `json:"env"`
	Field     string `json:"field"`
	Secret    string `json:"secret"`
	Message   string `json:"message"`
}

// scanNamespace is one namespace's line of `wisp scan -o json`.
type scanNamespace struct {
	Name       string         `json:"name"`
	Mode       policy.Mode    `json:"mode"`
	Exempt     bool           `json:"exempt"`
	Workloads  int            `json:"workloads"`
	Violations map[string]int `json:"violations"`
}

func writeScanJSON(w io.Writer, r *scan.Result) error {
	out := struct {
		Namespaces []scanNamespace `json:"namespaces"`
		Violations []scanFinding   `json:"violations"`
		// AllowedByPolicy: Secret references allow.secrets allowed.
		AllowedByPolicy []scanAllowed `json:"allowedByPolicy,omitempty"`
	}{Namespaces: []scanNamespace{}, Violations: []scanFinding{}}
	for _, f := range r.Allowed {
		a := f.Allowed
		out.AllowedByPolicy = append(out.AllowedByPolicy, scanAllowed{Kind: f.Object.Kind, Namespace: f.Object.Namespace, Name: f.Object.Name,
			Container: a.Container, Env: a.Env, Field: a.Field, Secret: a.Secret, Message: f.Message})
	}
	for _, ns := range r.Namespaces {
		out.Namespaces = append(out.Namespaces, scanNamespace{ns.Name, ns.Mode, ns.Exempt, ns.Workloads, ns.Violations})
	}
	for _, f := range r.Findings {
		owners := f.Owners
		if owners == nil {
			owners = []scan.Ref{}
		}
		out.Violations = append(out.Violations, scanFinding{
			finding: finding{Kind: f.Object.Kind, Namespace: f.Object.Namespace, Name: f.Object.Name,
				Container: f.Violation.Container, Env: f.Violation.Env, Field: f.Violation.Field, Rule: f.Violation.RuleID, Message: f.Message},
			Mode: f.Mode, Owners: owners, Pods: f.Pods,
		})
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// writeScanReports prints the Reports --apply-reports would write (as new
// Reports: their results are timestamped now).
func writeScanReports(w io.Writer, r *scan.Result) error {
	for i, rep := range r.Reports(nil, scan.ReportOptions{}) {
		data, err := yaml.Marshal(rep)
		if err != nil {
			return fmt.Errorf("encode report %s: %w", rep.Namespace, err)
		}
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

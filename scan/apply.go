package scan

import (
	"context"
	"encoding/json"
	"fmt"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	reportsclient "github.com/openreports/reports-api/pkg/client/clientset/versioned/typed/openreports.io/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Applied says what ApplyReports did, by namespace (sorted).
type Applied struct {
	// Changed are the namespaces whose Report was created or changed.
	Changed []string
	// Unchanged are the namespaces whose Report was already up to date.
	Unchanged []string
	// Deleted are the namespaces whose Report was deleted: they became
	// exempt.
	Deleted []string
}

// ApplyOptions say where ApplyReports writes.
type ApplyOptions struct {
	ReportOptions
	// Namespace limits reading and writing Reports to one namespace (the
	// one the Result covers). Default: every namespace.
	Namespace string
	// PageSize is the limit of each list call. Default DefaultPageSize.
	PageSize int64
}

// ApplyReports writes r's Reports (see Result.Reports) with server-side
// apply, field manager FieldManager, and deletes wisp's Report in exempt
// namespaces. It first reads wisp's existing Reports (list, by label and
// name) so that results keep their first timestamp: a run that finds what
// the previous one found sends identical Reports, and the API server keeps
// their resourceVersion. A failed API call returns an *APIError.
func ApplyReports(ctx context.Context, rc reportsclient.ReportsGetter, r *Result, opts ApplyOptions) (Applied, error) {
	var done Applied
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	existing, err := existingReports(ctx, rc, opts.Namespace, opts.PageSize)
	if err != nil {
		return done, err
	}
	force := true
	for _, rep := range r.Reports(existing, opts.ReportOptions) {
		data, err := json.Marshal(rep)
		if err != nil {
			return done, fmt.Errorf("encode report %s/%s: %w", rep.Namespace, rep.Name, err)
		}
		got, err := rc.Reports(rep.Namespace).Patch(ctx, rep.Name, types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
		if err != nil {
			return done, &APIError{Verb: "apply", Resource: reportsResource, Namespace: rep.Namespace, Name: rep.Name, Err: err}
		}
		if old := existing[rep.Namespace]; old != nil && old.ResourceVersion == got.ResourceVersion {
			done.Unchanged = append(done.Unchanged, rep.Namespace)
		} else {
			done.Changed = append(done.Changed, rep.Namespace)
		}
	}
	for _, ns := range r.Namespaces {
		if !ns.Exempt || ns.Terminating || existing[ns.Name] == nil {
			continue
		}
		err := rc.Reports(ns.Name).Delete(ctx, ReportName, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return done, &APIError{Verb: "delete", Resource: reportsResource, Namespace: ns.Name, Name: ReportName, Err: err}
		}
		done.Deleted = append(done.Deleted, ns.Name)
	}
	return done, nil
}

// existingReports lists wisp's Reports, by namespace.
func existingReports(ctx context.Context, rc reportsclient.ReportsGetter, namespace string, pageSize int64) (map[string]*reportsv1alpha1.Report, error) {
	out := map[string]*reportsv1alpha1.Report{}
	opts := metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue}).String(),
		FieldSelector: fields.OneTermEqualSelector("metadata.name", ReportName).String(),
		Limit:         pageSize,
	}
	for {
		list, err := rc.Reports(namespace).List(ctx, opts)
		if err != nil {
			return nil, &APIError{Verb: "list", Resource: reportsResource, Namespace: namespace, Err: err}
		}
		for i := range list.Items {
			out[list.Items[i].Namespace] = &list.Items[i]
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

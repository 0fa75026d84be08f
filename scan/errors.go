package scan

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// APIError is a call to the API server that failed, phrased for the user:
//
//	cannot list apps/v1 deployments in namespace "x": forbidden (needs list on deployments.apps)
type APIError struct {
	// Verb is the call: get, list, apply or delete.
	Verb string
	// Resource is what was called.
	Resource schema.GroupVersionResource
	// Namespace is the namespace of the call; empty for all namespaces or a
	// cluster-scoped resource.
	Namespace string
	// Name is the object's name for get, apply and delete.
	Name string
	// Err is client-go's error.
	Err error
}

func (e *APIError) Error() string {
	gv := e.Resource.GroupVersion().String()
	var b strings.Builder
	fmt.Fprintf(&b, "cannot %s %s %s", e.Verb, gv, e.Resource.Resource)
	if e.Name != "" {
		fmt.Fprintf(&b, " %q", e.Name)
	}
	switch {
	case e.Namespace != "":
		fmt.Fprintf(&b, " in namespace %q", e.Namespace)
	case e.Resource.Resource != "namespaces":
		b.WriteString(" in all namespaces")
	}
	b.WriteString(": ")
	b.WriteString(e.reason())
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// reason says why the call failed and, where it can, what would fix it.
func (e *APIError) reason() string {
	res := e.Resource.GroupResource().String() // deployments.apps, pods
	switch {
	case apierrors.IsForbidden(e.Err):
		verbs := e.Verb
		if e.Verb == "apply" {
			// Server-side apply is a patch, and a create for a new object.
			verbs = "create and patch"
		}
		scope := ""
		if e.Namespace == "" && e.Resource.Resource != "namespaces" {
			scope = " at cluster scope"
		}
		return fmt.Sprintf("forbidden (needs %s on %s%s)", verbs, res, scope)
	case apierrors.IsUnauthorized(e.Err):
		return "unauthorized: the API server does not accept the credentials of the kubeconfig"
	case apierrors.IsNotFound(e.Err) && isMissingResource(e.Err):
		if e.Resource.Group == ReportGroupVersion.Group {
			return "the API server does not serve it: install the OpenReports CRD (reports.openreports.io; chart: reports.installCRDs=true)"
		}
		return "the API server does not serve it"
	case apierrors.IsNotFound(e.Err):
		return "not found"
	}
	var status apierrors.APIStatus
	if errors.As(e.Err, &status) {
		return e.Err.Error()
	}
	return "cannot reach the API server: " + e.Err.Error()
}

// isMissingResource tells a 404 for an unknown resource (no CRD) from a 404
// for a missing object: the API server names no object in the former.
func isMissingResource(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d == nil || d.Name == ""
}

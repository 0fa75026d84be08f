package workload

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Found is a pod spec of an object.
type Found struct {
	// SpecPath is the field path of the pod spec in the object, such as
	// spec.template.spec (an Argo Rollout, an OpenKruise CloneSet, a Knative
	// Service) or spec.predictor (a KServe InferenceService); empty for a
	// kind wisp knows, whose kind implies it.
	SpecPath string
	// Pod holds the spec and, when the spec sits in a template with
	// metadata, that template's labels and annotations. Its namespace is
	// the object's.
	Pod *corev1.Pod
	// Unread names the fields left out of a pod read best-effort
	// (PodsBestEffort), each with why; empty otherwise.
	Unread []string
}

// Pods returns the pod specs obj holds: the pod (template) of a kind wisp
// knows (see PodOf, whose errors it returns), or else those its shape holds
// (see ByShape), byShape then true. An object without any yields none.
func Pods(obj *unstructured.Unstructured) (found []Found, byShape bool, err error) {
	pod, err := PodOf(obj)
	if errors.Is(err, ErrUnsupportedKind) {
		found, err := ByShape(obj)
		return found, true, err
	}
	if err != nil {
		return nil, false, err
	}
	return []Found{{Pod: pod}}, false, nil
}

// maxShapeDepth bounds how deep ByShape looks for pod specs.
const maxShapeDepth = 12

// ByShape finds the pod specs of an object of a kind wisp does not know
// (a custom resource): every mapping whose containers field is a list of
// mappings with a name or an image is read as a pod spec, and its parent's
// metadata, when the parent is a template (metadata + spec), as the pod's
// labels and annotations. The object's own metadata and status are not
// searched, nor a pod spec's inside. Pod specs are returned in field order.
//
// A found mapping that does not decode as a pod spec (a containers entry of
// the wrong type) is an error naming its path.
func ByShape(obj *unstructured.Unstructured) ([]Found, error) {
	var out []Found
	var errs []string
	keys := sortedMapKeys(obj.Object)
	for _, k := range keys {
		if k == "metadata" || k == "status" || k == "apiVersion" || k == "kind" {
			continue
		}
		walkShape(obj.Object, obj.Object[k], k, 1, &out, &errs)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	for i := range out {
		if out[i].Pod.Namespace == "" {
			out[i].Pod.Namespace = obj.GetNamespace()
		}
	}
	return out, nil
}

func walkShape(parent map[string]any, v any, path string, depth int, out *[]Found, errs *[]string) {
	walkShapeWith(parent, v, path, depth, out, errs, false)
}

// walkShapeWith is walkShape; salvage: a pod spec that does not decode
// whole is read best-effort (salvageSpec) instead of being an error.
func walkShapeWith(parent map[string]any, v any, path string, depth int, out *[]Found, errs *[]string, salvage bool) {
	if depth > maxShapeDepth {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if podSpecShape(v) {
			pod := &corev1.Pod{}
			var unread []string
			if err := fromUnstructured(v, &pod.Spec); err != nil && !salvage {
				*errs = append(*errs, fmt.Sprintf("decode %s: %v", path, err))
				return
			} else if err != nil {
				if pod.Spec, unread = salvageSpec(v, path); !hasContainers(&pod.Spec) {
					*errs = append(*errs, fmt.Sprintf("decode %s: %v", path, err))
					return
				}
			}
			if meta, ok := parent["metadata"].(map[string]any); ok && strings.HasSuffix(path, ".spec") {
				m := &corev1.Pod{}
				if err := fromUnstructured(map[string]any{"metadata": meta}, m); err == nil {
					pod.Labels, pod.Annotations, pod.Namespace = m.Labels, m.Annotations, m.Namespace
				}
			}
			*out = append(*out, Found{SpecPath: path, Pod: pod, Unread: unread})
			return
		}
		for _, k := range sortedMapKeys(v) {
			walkShapeWith(v, v[k], path+"."+k, depth+1, out, errs, salvage)
		}
	case []any:
		for i, item := range v {
			walkShapeWith(nil, item, path+"["+strconv.Itoa(i)+"]", depth+1, out, errs, salvage)
		}
	}
}

// podSpecShape reports whether m looks like a pod spec: a non-empty
// containers list whose entries are mappings, one with a name or an image.
func podSpecShape(m map[string]any) bool {
	cs, ok := m["containers"].([]any)
	if !ok || len(cs) == 0 {
		return false
	}
	for _, c := range cs {
		cm, ok := c.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := cm["image"].(string); ok {
			return true
		}
		if _, ok := cm["name"].(string); ok {
			return true
		}
	}
	return false
}

func sortedMapKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

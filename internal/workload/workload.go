package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// ErrUnsupportedKind is returned (wrapped) for an object that has no pod
// template wisp knows of, such as a ConfigMap or a Service.
var ErrUnsupportedKind = errors.New("unsupported kind")

// ErrNoPodTemplate is returned (wrapped) for a workload of a supported kind
// whose pod template is missing.
var ErrNoPodTemplate = errors.New("no pod template")

// templatePaths maps each supported kind to the fields that lead to its pod
// template. A Pod's path is empty: the pod is its own template.
var templatePaths = map[schema.GroupVersionKind][]string{
	{Group: "", Version: "v1", Kind: "Pod"}:                   nil,
	{Group: "apps", Version: "v1", Kind: "Deployment"}:        {"spec", "template"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:       {"spec", "template"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:         {"spec", "template"},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"}:        {"spec", "template"},
	{Group: "batch", Version: "v1", Kind: "Job"}:              {"spec", "template"},
	{Group: "batch", Version: "v1", Kind: "CronJob"}:          {"spec", "jobTemplate", "spec", "template"},
	{Group: "", Version: "v1", Kind: "ReplicationController"}: {"spec", "template"},
	{Group: "", Version: "v1", Kind: "PodTemplate"}:           {"template"},
}

// TemplatePath returns the fields that lead from an object of kind gvk to its
// pod template (empty for a Pod), and whether the kind is supported.
func TemplatePath(gvk schema.GroupVersionKind) ([]string, bool) {
	p, ok := templatePaths[gvk]
	return append([]string(nil), p...), ok
}

// Supported reports whether PodOf and SetPod accept objects of kind gvk.
func Supported(gvk schema.GroupVersionKind) bool {
	_, ok := templatePaths[gvk]
	return ok
}

// PodOf returns the pod that obj runs. For a Pod it is the pod itself; for a
// workload it is a Pod holding the template's metadata and spec, in the
// object's namespace unless the template names one. The Pod is a new value:
// changing it does not change obj.
//
// Errors wrap ErrUnsupportedKind for a kind without a pod template,
// ErrNoPodTemplate for a workload without one, and describe fields of the
// wrong type.
func PodOf(obj *unstructured.Unstructured) (*corev1.Pod, error) {
	path, err := pathOf(obj)
	if err != nil {
		return nil, err
	}
	if len(path) == 0 {
		pod := &corev1.Pod{}
		if err := fromUnstructured(obj.Object, pod); err != nil {
			return nil, fmt.Errorf("decode pod: %w", err)
		}
		return pod, nil
	}
	tmpl, err := templateOf(obj, path)
	if err != nil {
		return nil, err
	}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: tmpl.ObjectMeta,
		Spec:       tmpl.Spec,
	}
	if pod.Namespace == "" {
		pod.Namespace = obj.GetNamespace()
	}
	return pod, nil
}

// SetPod writes pod's labels, annotations and spec into obj: into the pod
// template of a workload, into the object itself for a Pod. Everything else
// of obj (its other metadata, its status, the template's other metadata, and
// fields that k8s.io/api does not know) is kept, and so is the form of every
// part that pod did not change.
//
// SetPod changes obj only on success.
func SetPod(obj *unstructured.Unstructured, pod *corev1.Pod) error {
	path, err := pathOf(obj)
	if err != nil {
		return err
	}
	if len(path) == 0 {
		old := &corev1.Pod{}
		if err := fromUnstructured(obj.Object, old); err != nil {
			return fmt.Errorf("decode pod: %w", err)
		}
		want := old.DeepCopy()
		want.Labels, want.Annotations, want.Spec = pod.Labels, pod.Annotations, pod.Spec
		out, err := apply(obj.Object, old, want, func() any { return &corev1.Pod{} })
		if err != nil {
			return err
		}
		obj.Object = out
		return nil
	}

	old, err := templateOf(obj, path)
	if err != nil {
		return err
	}
	want := old.DeepCopy()
	want.Labels, want.Annotations, want.Spec = pod.Labels, pod.Annotations, pod.Spec
	raw, _, _ := unstructured.NestedMap(obj.Object, path...) // checked by templateOf
	out, err := apply(raw, old, want, func() any { return &corev1.PodTemplateSpec{} })
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedMap(obj.Object, out, path...); err != nil {
		return fmt.Errorf("set %s: %w", strings.Join(path, "."), err)
	}
	return nil
}

// apply returns a copy of raw changed as old -> want changes, where old is
// the typed form of raw, want a changed copy of old, and fresh returns a new
// zero value of their (pointer) type. Only the difference is applied, as a
// strategic merge patch keyed like kubectl's (containers and volumes by name,
// mounts by path ...), so untouched parts of raw keep their exact form and
// their unknown fields. Should the patched result not decode to want (lists
// with duplicate merge keys can defeat a strategic merge), apply writes the
// changed labels, annotations or spec from want in full instead.
func apply(raw map[string]any, old, want any, fresh func() any) (map[string]any, error) {
	oldMap, err := toUnstructured(old)
	if err != nil {
		return nil, err
	}
	wantMap, err := toUnstructured(want)
	if err != nil {
		return nil, err
	}
	if out, ok := mergePatch(raw, oldMap, wantMap, want, fresh); ok {
		return out, nil
	}
	// Fallback: replace each changed top-level field of metadata and the
	// spec as a whole. Correct, at the cost of unknown fields inside them.
	out := runtime.DeepCopyJSON(raw)
	for _, field := range [][]string{{"metadata", "labels"}, {"metadata", "annotations"}, {"spec"}} {
		o, _, _ := unstructured.NestedFieldNoCopy(oldMap, field...)
		w, found, _ := unstructured.NestedFieldNoCopy(wantMap, field...)
		if equality.Semantic.DeepEqual(o, w) {
			continue
		}
		if !found {
			unstructured.RemoveNestedField(out, field...)
			continue
		}
		if err := unstructured.SetNestedField(out, runtime.DeepCopyJSONValue(w), field...); err != nil {
			return nil, fmt.Errorf("set %s: %w", strings.Join(field, "."), err)
		}
	}
	return out, nil
}

// mergePatch applies the strategic merge patch from oldMap to wantMap onto a
// copy of raw, and reports whether the result decodes to want.
func mergePatch(raw, oldMap, wantMap map[string]any, want any, fresh func() any) (map[string]any, bool) {
	patch, err := strategicpatch.CreateTwoWayMergeMapPatch(oldMap, wantMap, fresh())
	if err != nil {
		return nil, false
	}
	out, err := strategicpatch.StrategicMergeMapPatch(runtime.DeepCopyJSON(raw), patch, fresh())
	if err != nil {
		return nil, false
	}
	got := fresh()
	if err := fromUnstructured(out, got); err != nil || !equality.Semantic.DeepEqual(got, want) {
		return nil, false
	}
	return out, true
}

// pathOf returns the template path of obj's kind.
func pathOf(obj *unstructured.Unstructured) ([]string, error) {
	gvk := obj.GroupVersionKind()
	path, ok := templatePaths[gvk]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", gvk.GroupVersion(), gvk.Kind, ErrUnsupportedKind)
	}
	return path, nil
}

// templateOf decodes the pod template at path.
func templateOf(obj *unstructured.Unstructured, path []string) (*corev1.PodTemplateSpec, error) {
	field := strings.Join(path, ".")
	raw, found, err := unstructured.NestedFieldNoCopy(obj.Object, path...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", field, err)
	}
	if !found || raw == nil {
		return nil, fmt.Errorf("%s: %w", field, ErrNoPodTemplate)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("read %s: want a mapping", field)
	}
	tmpl := &corev1.PodTemplateSpec{}
	if err := fromUnstructured(m, tmpl); err != nil {
		return nil, fmt.Errorf("decode %s: %w", field, err)
	}
	return tmpl, nil
}

// fromUnstructured decodes m into the typed value into points to.
func fromUnstructured(m map[string]any, into any) error {
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, into)
	if err == nil {
		return nil
	}
	if problem := typeProblem(m, into); problem != "" {
		return errors.New(problem)
	}
	return err
}

// typeProblem names the fields of m that do not have the type into wants,
// with that type ("nodeSelector.zone: want a string"), joined by "; ", or
// is "". The converter's errors name no field ("unrecognized type:
// string"); encoding/json's do, and a value's own decoder (a quantity, a
// time) is found by decoding one field at a time. It never echoes a value,
// which may be a secret.
func typeProblem(m map[string]any, into any) string {
	fresh := func() any { return reflect.New(reflect.TypeOf(into).Elem()).Interface() }
	var problems []string
	for _, k := range sortedMapKeys(m) {
		one := map[string]any{k: m[k]}
		if runtime.DefaultUnstructuredConverter.FromUnstructured(one, fresh()) == nil {
			continue
		}
		b, err := json.Marshal(one)
		var ute *json.UnmarshalTypeError
		if err == nil && errors.As(json.Unmarshal(b, fresh()), &ute) && ute.Field != "" {
			problems = append(problems, fmt.Sprintf("%s: want %s", ute.Field, describe(ute.Type)))
			continue
		}
		problems = append(problems, k+": does not decode (a quantity, a time or an enumeration of the wrong form)")
	}
	return strings.Join(problems, "; ")
}

// describe names the JSON form of a Go type.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "a mapping"
	}
}

func toUnstructured(obj any) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	return m, nil
}

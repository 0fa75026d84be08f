package workload

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// PodsBestEffort is Pods for a reader that only judges, such as a linter
// over manifests nobody validated: where a pod (template) does not decode
// whole (a number where a string is expected, a template expression in a
// quantity, a mapping where a list is expected), it returns what does
// decode, each part on its own: the metadata's labels and annotations, and
// of every container its name, image, command, args, each env and envFrom
// entry; and each volume. The fields left out are named in Found.Unread.
// An env var written as a number or a boolean is read as its text, and an
// env written as a mapping of names to values as the list it stands for,
// both named in Unread too.
//
// The error is Pods' when nothing of a pod could be read (no container).
// Never use the result to write an object back: it is not the object.
func PodsBestEffort(obj *unstructured.Unstructured) (found []Found, byShape bool, err error) {
	found, byShape, err = Pods(obj)
	if err == nil || errors.Is(err, ErrNoPodTemplate) {
		return found, byShape, err
	}
	if byShape {
		return byShapeBestEffort(obj, err)
	}
	path, perr := pathOf(obj)
	if perr != nil {
		return nil, false, err
	}
	tmpl := obj.Object
	if len(path) > 0 {
		m, ok, _ := unstructured.NestedMap(obj.Object, path...)
		if !ok {
			return nil, false, err
		}
		tmpl = m
	}
	prefix := strings.Join(path, ".")
	pod, unread := salvagePod(tmpl, prefix)
	if !hasContainers(&pod.Spec) {
		return nil, false, err
	}
	if pod.Namespace == "" {
		pod.Namespace = obj.GetNamespace()
	}
	return []Found{{Pod: pod, Unread: unread}}, false, nil
}

// byShapeBestEffort is ByShape salvaging the pod specs that do not decode.
func byShapeBestEffort(obj *unstructured.Unstructured, strictErr error) ([]Found, bool, error) {
	var out []Found
	var errs []string
	for _, k := range sortedMapKeys(obj.Object) {
		if k == "metadata" || k == "status" || k == "apiVersion" || k == "kind" {
			continue
		}
		walkShapeWith(obj.Object, obj.Object[k], k, 1, &out, &errs, true)
	}
	if len(out) == 0 {
		return nil, true, strictErr
	}
	for i := range out {
		if out[i].Pod.Namespace == "" {
			out[i].Pod.Namespace = obj.GetNamespace()
		}
	}
	return out, true, nil
}

func hasContainers(s *corev1.PodSpec) bool {
	return len(s.Containers)+len(s.InitContainers)+len(s.EphemeralContainers) > 0
}

// salvagePod reads a pod (or pod template): metadata and spec, whole where
// they decode, part by part where they do not. prefix is the template's
// field path ("" for a pod), for the names in unread.
func salvagePod(tmpl map[string]any, prefix string) (*corev1.Pod, []string) {
	pod := &corev1.Pod{}
	var unread []string
	if meta, ok := tmpl["metadata"].(map[string]any); ok {
		pod.ObjectMeta, unread = salvageMeta(meta, at(prefix, "metadata"))
	}
	if spec, ok := tmpl["spec"].(map[string]any); ok {
		var u []string
		pod.Spec, u = salvageSpec(spec, at(prefix, "spec"))
		unread = append(unread, u...)
	} else if _, present := tmpl["spec"]; present {
		unread = append(unread, at(prefix, "spec")+": want a mapping")
	}
	return pod, unread
}

// at joins a field path and a field name.
func at(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// salvageMeta reads the metadata's name, namespace, labels and annotations,
// leaving out entries that are not strings.
func salvageMeta(m map[string]any, path string) (metav1.ObjectMeta, []string) {
	p := &corev1.Pod{}
	if fromUnstructured(map[string]any{"metadata": m}, p) == nil {
		return p.ObjectMeta, nil
	}
	var meta metav1.ObjectMeta
	var unread []string
	meta.Name, _ = m["name"].(string)
	meta.GenerateName, _ = m["generateName"].(string)
	meta.Namespace, _ = m["namespace"].(string)
	meta.Labels, unread = stringMap(m["labels"], at(path, "labels"), unread)
	meta.Annotations, unread = stringMap(m["annotations"], at(path, "annotations"), unread)
	return meta, unread
}

// stringMap reads a mapping of strings, naming what it leaves out.
func stringMap(v any, path string, unread []string) (map[string]string, []string) {
	if v == nil {
		return nil, unread
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, append(unread, path+": want a mapping")
	}
	out := make(map[string]string, len(m))
	for _, k := range sortedMapKeys(m) {
		s, ok := m[k].(string)
		if !ok {
			unread = append(unread, path+"["+k+"]: want a string")
			continue
		}
		out[k] = s
	}
	return out, unread
}

// salvageSpec reads a pod spec: whole when it decodes, otherwise each
// container list and each volume on its own.
func salvageSpec(m map[string]any, path string) (corev1.PodSpec, []string) {
	var spec corev1.PodSpec
	if fromUnstructured(m, &spec) == nil {
		return spec, nil
	}
	var unread []string
	for _, p := range problemsAt(path, typeProblem(m, &spec)) {
		// The containers are read one by one below, and named there.
		if !strings.HasPrefix(p, at(path, "containers")) && !strings.HasPrefix(p, at(path, "initContainers")) && !strings.HasPrefix(p, at(path, "ephemeralContainers")) {
			unread = append(unread, p)
		}
	}
	spec.Containers, unread = salvageContainers(m["containers"], at(path, "containers"), unread)
	spec.InitContainers, unread = salvageContainers(m["initContainers"], at(path, "initContainers"), unread)
	var eph []corev1.Container
	eph, unread = salvageContainers(m["ephemeralContainers"], at(path, "ephemeralContainers"), unread)
	for _, c := range eph {
		spec.EphemeralContainers = append(spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c)})
	}
	spec.ServiceAccountName, _ = m["serviceAccountName"].(string)
	if vols, ok := m["volumes"].([]any); ok {
		spec.Volumes, unread = decodeEach[corev1.Volume](vols, at(path, "volumes"), unread)
	}
	return spec, unread
}

// salvageContainers reads a list of containers, each whole when it decodes
// and salvaged otherwise.
func salvageContainers(v any, path string, unread []string) ([]corev1.Container, []string) {
	if v == nil {
		return nil, unread
	}
	list, ok := v.([]any)
	if !ok {
		return nil, append(unread, path+": want a list")
	}
	var out []corev1.Container
	for i, item := range list {
		p := path + "[" + strconv.Itoa(i) + "]"
		var c corev1.Container
		if decodeItem(item, &c) {
			out = append(out, c)
			continue
		}
		m, ok := item.(map[string]any)
		if !ok {
			unread = append(unread, p+": want a mapping")
			continue
		}
		c, unread = salvageContainer(m, p, unread)
		out = append(out, c)
	}
	return out, unread
}

// salvageContainer reads what the policy judges of a container that does
// not decode whole: name, image, command, args, env and envFrom.
func salvageContainer(m map[string]any, path string, unread []string) (corev1.Container, []string) {
	var c corev1.Container
	c.Name = scalarText(m["name"])
	c.Image, _ = m["image"].(string)
	for _, f := range []struct {
		name string
		into *[]string
	}{{"command", &c.Command}, {"args", &c.Args}} {
		if v, ok := m[f.name]; ok && !stringList(v, f.into) {
			unread = append(unread, at(path, f.name))
		}
	}
	c.Env, unread = salvageEnv(m["env"], at(path, "env"), unread)
	if list, ok := m["envFrom"].([]any); ok {
		c.EnvFrom, unread = decodeEach[corev1.EnvFromSource](list, at(path, "envFrom"), unread)
	} else if _, present := m["envFrom"]; present {
		unread = append(unread, at(path, "envFrom")+": want a list")
	}
	for _, p := range problemsAt(path, typeProblem(m, &corev1.Container{})) {
		if !strings.HasPrefix(p, at(path, "env")) {
			unread = append(unread, p+" (the container is judged on its name, image, command, args, env and envFrom)")
		}
	}
	return c, unread
}

// problemsAt places typeProblem's fields under path; a problem typeProblem
// could not name is said in general.
func problemsAt(path, problems string) []string {
	if problems == "" {
		return []string{path + ": a field does not decode"}
	}
	out := strings.Split(problems, "; ")
	for i, p := range out {
		out[i] = path + "." + p
	}
	return out
}

// salvageEnv reads an env list entry by entry, or an env written as a
// mapping of names to values (or to entries without their name).
func salvageEnv(v any, path string, unread []string) ([]corev1.EnvVar, []string) {
	switch v := v.(type) {
	case nil:
		return nil, unread
	case []any:
		var out []corev1.EnvVar
		for i, item := range v {
			p := path + "[" + strconv.Itoa(i) + "]"
			e, ok := envEntry(item)
			if !ok {
				unread = append(unread, p)
				continue
			}
			if raw, _ := item.(map[string]any); raw != nil && !isString(raw["value"]) && raw["value"] != nil {
				unread = append(unread, p+".value: not a string, read as its text")
			}
			out = append(out, e)
		}
		return out, unread
	case map[string]any:
		unread = append(unread, path+": a mapping, read as a list of its entries")
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		sort.Strings(names)
		var out []corev1.EnvVar
		for _, name := range names {
			item := v[name]
			if m, ok := item.(map[string]any); ok {
				item = withName(m, name)
			} else {
				item = map[string]any{"name": name, "value": item}
			}
			if e, ok := envEntry(item); ok {
				out = append(out, e)
			} else {
				unread = append(unread, path+"["+name+"]")
			}
		}
		return out, unread
	}
	return nil, append(unread, path+": want a list")
}

func withName(m map[string]any, name string) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out["name"] = name
	return out
}

// envEntry reads one env entry, a value that is a number or a boolean
// read as its text.
func envEntry(item any) (corev1.EnvVar, bool) {
	var e corev1.EnvVar
	if decodeItem(item, &e) {
		return e, true
	}
	m, ok := item.(map[string]any)
	if !ok {
		return e, false
	}
	fixed := withName(m, scalarText(m["name"]))
	if v, ok := m["value"]; ok && v != nil {
		fixed["value"] = scalarText(v)
	}
	if !decodeItem(fixed, &e) || e.Name == "" {
		return corev1.EnvVar{}, false
	}
	return e, true
}

func isString(v any) bool { _, ok := v.(string); return ok }

// scalarText is a scalar's text: strings as they are, numbers and booleans
// as YAML wrote them; "" for anything else.
func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// decodeItem decodes a mapping into the typed value into points to.
// decodeEach decodes the items of list that decode whole; the others are
// named in unread (path[i]).
func decodeEach[T any](list []any, path string, unread []string) ([]T, []string) {
	var out []T
	for i, item := range list {
		var v T
		if !decodeItem(item, &v) {
			unread = append(unread, path+"["+strconv.Itoa(i)+"]")
			continue
		}
		out = append(out, v)
	}
	return out, unread
}

func decodeItem(v any, into any) bool {
	m, ok := v.(map[string]any)
	return ok && fromUnstructured(m, into) == nil
}

// stringList reads a list of strings into *into.
func stringList(v any, into *[]string) bool {
	list, ok := v.([]any)
	if !ok {
		return false
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return false
		}
		out = append(out, s)
	}
	*into = out
	return true
}

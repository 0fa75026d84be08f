package webhook

import (
	"reflect"
	"slices"
	"strconv"
	"strings"

	jsonpatch "gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// injectionPatch returns the JSONPatch that turns in, the pod the API server
// sent, into out, what mutate.Inject made of it, built from the parts an
// injection touches: the annotations, the pod security context, the
// volumes, the init containers and each app container's volume mounts and
// env. It reports false when out differs from in anywhere else, or when in
// lacks a part a path needs; the caller then diffs the two documents
// generically (admission.PatchResponseFromRaw), which is several times
// slower.
//
// Each operation's path exists in the document in was decoded from: a
// non-nil field of in was present there as an object or array, and an "add"
// on an existing member replaces it (RFC 6902, 4.1). Values are typed and
// encoded once, with the answer. Unlike the generic diff, fields of the
// document that corev1.Pod does not know are left alone.
func injectionPatch(in, out *corev1.Pod) ([]jsonpatch.JsonPatchOperation, bool) {
	if in == out {
		return nil, true // not a copy: nothing was injected
	}
	if !sameExceptInjected(in, out) || len(in.Spec.Containers) == 0 || len(in.Spec.Containers) != len(out.Spec.Containers) {
		return nil, false
	}
	// An injection's patch has about 8 operations.
	ops := make([]jsonpatch.JsonPatchOperation, 0, 16)
	if !maps(&ops, "/metadata/annotations", in.Annotations, out.Annotations) {
		return nil, false
	}
	securityContext(&ops, in.Spec.SecurityContext, out.Spec.SecurityContext)
	appended(&ops, "/spec/volumes", in.Spec.Volumes, out.Spec.Volumes, reflectEqual[corev1.Volume])
	prepended(&ops, "/spec/initContainers", in.Spec.InitContainers, out.Spec.InitContainers)
	for i := range in.Spec.Containers {
		container(&ops, "/spec/containers/"+strconv.Itoa(i), &in.Spec.Containers[i], &out.Spec.Containers[i])
	}
	return ops, true
}

// sameExceptInjected reports whether in and out are equal but for the
// parts injectionPatch writes. Those are set aside in place for the
// comparison, and put back: both pods belong to the request being answered
// (in was decoded for it, out is mutate's deep copy), and copies of whole
// pods would cost more than the comparison.
func sameExceptInjected(in, out *corev1.Pod) bool {
	type parts struct {
		annotations     map[string]string
		securityContext *corev1.PodSecurityContext
		volumes         []corev1.Volume
		initContainers  []corev1.Container
		containers      []corev1.Container
	}
	take := func(p *corev1.Pod) parts {
		saved := parts{p.Annotations, p.Spec.SecurityContext, p.Spec.Volumes, p.Spec.InitContainers, p.Spec.Containers}
		p.Annotations, p.Spec.SecurityContext, p.Spec.Volumes, p.Spec.InitContainers, p.Spec.Containers = nil, nil, nil, nil, nil
		return saved
	}
	put := func(p *corev1.Pod, s parts) {
		p.Annotations, p.Spec.SecurityContext, p.Spec.Volumes, p.Spec.InitContainers, p.Spec.Containers =
			s.annotations, s.securityContext, s.volumes, s.initContainers, s.containers
	}
	a, b := take(in), take(out)
	same := reflect.DeepEqual(in, out)
	put(in, a)
	put(out, b)
	return same
}

func add(ops *[]jsonpatch.JsonPatchOperation, path string, value any) {
	*ops = append(*ops, jsonpatch.JsonPatchOperation{Operation: "add", Path: path, Value: value})
}

// maps patches the string map at path (annotations). It reports false when
// in is nil but out is not: whether path's parent exists is unknown then.
func maps(ops *[]jsonpatch.JsonPatchOperation, path string, in, out map[string]string) bool {
	if in == nil && out != nil {
		return false
	}
	var changed []string
	for k, v := range out {
		if old, ok := in[k]; !ok || old != v {
			changed = append(changed, k)
		}
	}
	var removed []string
	for k := range in {
		if _, ok := out[k]; !ok {
			removed = append(removed, k)
		}
	}
	slices.Sort(changed)
	slices.Sort(removed)
	for _, k := range removed {
		*ops = append(*ops, jsonpatch.JsonPatchOperation{Operation: "remove", Path: path + "/" + escape(k)})
	}
	for _, k := range changed {
		add(ops, path+"/"+escape(k), out[k])
	}
	return true
}

// securityContext patches the pod security context: the supplemental
// groups appended, or the whole context when anything else changed.
func securityContext(ops *[]jsonpatch.JsonPatchOperation, in, out *corev1.PodSecurityContext) {
	const path = "/spec/securityContext"
	switch {
	case reflect.DeepEqual(in, out):
		return
	case in == nil || out == nil:
		add(ops, path, out)
		return
	}
	a, b := *in, *out
	a.SupplementalGroups, b.SupplementalGroups = nil, nil
	if !reflect.DeepEqual(a, b) {
		add(ops, path, out)
		return
	}
	appended(ops, path+"/supplementalGroups", in.SupplementalGroups, out.SupplementalGroups, func(x, y *int64) bool { return *x == *y })
}

// container patches app container i: volume mounts and env appended, or
// the whole container when anything else changed.
func container(ops *[]jsonpatch.JsonPatchOperation, path string, in, out *corev1.Container) {
	// As in sameExceptInjected: set the patched parts aside in place.
	inMounts, inEnv, outMounts, outEnv := in.VolumeMounts, in.Env, out.VolumeMounts, out.Env
	in.VolumeMounts, in.Env, out.VolumeMounts, out.Env = nil, nil, nil, nil
	same := reflect.DeepEqual(in, out)
	in.VolumeMounts, in.Env, out.VolumeMounts, out.Env = inMounts, inEnv, outMounts, outEnv
	// A container without a name may have been null in the document: a
	// path into it would not exist.
	if !same || in.Name == "" {
		// "add" at an array index would insert: replace the element.
		*ops = append(*ops, jsonpatch.JsonPatchOperation{Operation: "replace", Path: path, Value: out})
		return
	}
	appended(ops, path+"/volumeMounts", in.VolumeMounts, out.VolumeMounts, reflectEqual[corev1.VolumeMount])
	appended(ops, path+"/env", in.Env, out.Env, envEqual)
}

// appended patches the array at path from in to out: out's extra elements
// added at the end when out starts with in, the whole array otherwise (an
// array that was empty or absent included).
func appended[T any](ops *[]jsonpatch.JsonPatchOperation, path string, in, out []T, eq func(a, b *T) bool) {
	if len(in) == len(out) && prefix(in, out, eq) {
		return
	}
	if len(in) == 0 || len(out) < len(in) || !prefix(in, out, eq) {
		add(ops, path, out)
		return
	}
	for i := len(in); i < len(out); i++ {
		add(ops, path+"/"+strconv.Itoa(i), out[i])
	}
}

// prepended patches the init containers: out's extra elements inserted at
// the front when out ends with in, the whole array otherwise.
func prepended(ops *[]jsonpatch.JsonPatchOperation, path string, in, out []corev1.Container) {
	extra := len(out) - len(in)
	if extra == 0 && prefix(in, out, reflectEqual[corev1.Container]) {
		return
	}
	if len(in) == 0 || extra < 0 || !prefix(in, out[extra:], reflectEqual[corev1.Container]) {
		add(ops, path, out)
		return
	}
	for i := range extra {
		add(ops, path+"/"+strconv.Itoa(i), out[i])
	}
}

// prefix reports whether out starts with in.
func prefix[T any](in, out []T, eq func(a, b *T) bool) bool {
	if len(out) < len(in) {
		return false
	}
	for i := range in {
		if !eq(&in[i], &out[i]) {
			return false
		}
	}
	return true
}

func reflectEqual[T any](a, b *T) bool { return reflect.DeepEqual(a, b) }

// envEqual compares env vars, cheaply for the common literal ones.
func envEqual(a, b *corev1.EnvVar) bool {
	if a.Name != b.Name || a.Value != b.Value {
		return false
	}
	if a.ValueFrom == nil || b.ValueFrom == nil {
		return a.ValueFrom == b.ValueFrom
	}
	return reflect.DeepEqual(a.ValueFrom, b.ValueFrom)
}

// escape makes a map key a JSON Pointer reference token (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escape(key string) string {
	if !strings.ContainsAny(key, "~/") {
		return key
	}
	return pointerEscaper.Replace(key)
}

// appendPatch appends a handler's JSONPatch for the answer: ops as a JSON
// array, each value encoded once (appendValue), byte for byte as
// jsonpatch's MarshalJSON writes them (the value left out of an operation
// other than add or replace that has none).
func appendPatch(b []byte, ops []jsonpatch.JsonPatchOperation) ([]byte, error) {
	b = append(b, '[')
	for i := range ops {
		op := &ops[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":`...)
		b = appendString(b, op.Operation)
		b = append(b, `,"path":`...)
		b = appendString(b, op.Path)
		if op.Value != nil || op.Operation == "add" || op.Operation == "replace" {
			b = append(b, `,"value":`...)
			var err error
			if b, err = appendValue(b, op.Value); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

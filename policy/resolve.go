package policy

import (
	pathpkg "path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/internal/expansion"
)

// What the kubelet gives a container is judged, not only what is written:
//
//   - a literal env value after $(VAR) expansion, which the kubelet applies
//     to every literal value with the variables defined before it in the
//     container's env (POSTGRES_PASSWORD=$(DEFAULT_DB) is DEFAULT_DB's
//     value under a password name); a variable read at run time (a Secret,
//     a ConfigMap, envFrom) stays "$(NAME)", a reference, as the kubelet
//     leaves an unknown one;
//   - an env var whose valueFrom.fieldRef reads metadata.annotations['k']
//     or metadata.labels['k']: that annotation's or label's value, a
//     literal of the manifest like any other, under the env var's name;
//   - a file of a downward API volume (or of a projected volume's
//     downwardAPI source) that holds an annotation's or a label's value:
//     under the file's base name (db-password), or, for a file of all the
//     annotations or labels (fieldPath metadata.annotations), each value
//     under its key, except wisp's and the Vault Agent Injector's own
//     annotations (judged as templates, or plain paths) and kubectl's
//     last-applied-configuration (a copy of the manifest, judged where its
//     parts are).
//
// A violation then says how the value came ("after $(VAR) expansion: ...",
// "annotation "aws-key" through fieldRef: ..."), never the value.

// viaExpansion starts the reason of a literal that $(VAR) expansion changed.
const viaExpansion = "after the kubelet's $(VAR) expansion"

// expansionBudget bounds the bytes that $(VAR) expansion may write for one
// object: values that refer to each other can double at each step. Each
// value is also bounded by expansion.MaxValue, past which the container
// cannot start. Past either, the rest of the container's env is judged as
// written.
const expansionBudget = 8 << 20

// startEnv prepares the expansion of a container's env: it reports whether
// any value holds a "$" (the only values expansion can change) and, if so,
// forgets the previous container's variables.
func (s *scanner) startEnv(env []corev1.EnvVar) bool {
	need := false
	for i := range env {
		if strings.IndexByte(env[i].Value, '$') >= 0 {
			need = true
			break
		}
	}
	if !need {
		return false
	}
	if s.vars == nil {
		s.vars = make(map[string]string, len(env))
		s.lookup = expansion.Map(s.vars)
	} else {
		clear(s.vars)
	}
	return true
}

// define records what the kubelet would hold for variable name after its
// entry: its value when admission knows it, nothing when it is read at run
// time (a later $(name) then stays a reference).
func (s *scanner) define(name, value string, known bool) {
	if known {
		s.vars[name] = value
	} else {
		delete(s.vars, name)
	}
}

// envValue is the value the kubelet gives env entry ev, as far as admission
// knows it: a literal after $(VAR) expansion (when expand says the
// container's env needs it), or an annotation's or a label's value through
// fieldRef. known is false for what is read at run time (Secrets,
// ConfigMaps, resources, other fields). via says how the value came when it
// is not the one written ("" otherwise).
func (s *scanner) envValue(ev *corev1.EnvVar, expand bool) (value, via string, known bool) {
	switch {
	case ev.Value != "":
		if !expand {
			return ev.Value, "", true
		}
		v, ok := expansion.ExpandMax(ev.Value, s.lookup, min(expansion.MaxValue, max(s.budget, 0)))
		if !ok {
			// Longer than a container can start with, or past the
			// object's budget: judged as written (see container).
			s.overflow = true
			return ev.Value, "", true
		}
		s.budget -= len(v)
		if v == ev.Value {
			return v, "", true
		}
		return v, viaExpansion, true
	case ev.ValueFrom == nil:
		return "", "", true
	case ev.ValueFrom.FieldRef != nil:
		kind, key, m := s.metadataField(ev.ValueFrom.FieldRef.FieldPath)
		if m == nil || key == "" {
			return "", "", false
		}
		return m[key], kind + " " + strconv.Quote(key) + " through fieldRef", true
	}
	return "", "", false
}

// metadataField reads a fieldRef's path the way the kubelet does
// (metadata.annotations['k'], metadata.labels['k'], or the whole map): which
// map, "annotation" or "label", and the key ("" for the whole map). m is nil
// for any other field.
func (s *scanner) metadataField(fieldPath string) (kind, key string, m map[string]string) {
	path, key, _ := splitSubscript(fieldPath)
	switch path {
	case "metadata.annotations":
		return "annotation", key, nonNil(s.annotations)
	case "metadata.labels":
		return "label", key, nonNil(s.labels)
	}
	return "", "", nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// splitSubscript splits "metadata.annotations['k']" into the path and the
// key, as the kubelet does (everything between the first "['" and a final
// "']" is the key); ok is false for a path without a subscript.
func splitSubscript(fieldPath string) (path, key string, ok bool) {
	s, found := strings.CutSuffix(fieldPath, "']")
	if !found {
		return fieldPath, "", false
	}
	path, key, found = strings.Cut(s, "['")
	if !found || path == "" {
		return fieldPath, "", false
	}
	return path, key, true
}

// downwardVolumes judges the files of the pod's downward API volumes.
func (s *scanner) downwardVolumes(vols []corev1.Volume) {
	for i := range vols {
		v := &vols[i]
		if v.DownwardAPI != nil {
			for j := range v.DownwardAPI.Items {
				s.downwardFile(v.Name, &v.DownwardAPI.Items[j], func() string {
					return s.prefix + ".volumes[" + strconv.Itoa(i) + "].downwardAPI.items[" + strconv.Itoa(j) + "]"
				})
			}
		}
		if v.Projected == nil {
			continue
		}
		for k := range v.Projected.Sources {
			src := v.Projected.Sources[k].DownwardAPI
			if src == nil {
				continue
			}
			for j := range src.Items {
				s.downwardFile(v.Name, &src.Items[j], func() string {
					return s.prefix + ".volumes[" + strconv.Itoa(i) + "].projected.sources[" + strconv.Itoa(k) +
						"].downwardAPI.items[" + strconv.Itoa(j) + "]"
				})
			}
		}
	}
}

// downwardFile judges one file of a downward API volume: at most one
// violation per file.
func (s *scanner) downwardFile(volume string, f *corev1.DownwardAPIVolumeFile, field func() string) {
	if f.FieldRef == nil {
		return
	}
	kind, key, m := s.metadataField(f.FieldRef.FieldPath)
	if len(m) == 0 {
		return
	}
	name := pathpkg.Base(f.Path)
	keys := []string{key}
	if key == "" {
		// Every annotation or label, one key="value" line each.
		keys = make([]string, 0, len(m))
		for k := range m {
			if !ownAnnotation(k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
	}
	for _, k := range keys {
		if key == "" {
			name = k
		}
		id, reason, remedy := s.judge(name, m[k])
		if id == "" {
			continue
		}
		s.out = append(s.out, Violation{
			RuleID:    id,
			Container: volume,
			Env:       f.Path,
			Field:     field(),
			Reason:    kind + " " + strconv.Quote(k) + " through the downward API: " + reason,
			Remedy:    strings.ReplaceAll(remedy, envPlaceholder, "<NAME>"),
			WarnOnly:  s.e.warnOnly(id),
		})
		return
	}
}

// ownAnnotation reports whether a whole-map downward API file's key is
// left out: wisp's and the Vault Agent Injector's annotations, and
// kubectl's copy of the manifest.
func ownAnnotation(k string) bool {
	return strings.HasPrefix(k, "wisp.dev/") || strings.HasPrefix(k, "vault.hashicorp.com/") ||
		k == "kubectl.kubernetes.io/last-applied-configuration"
}

// judge runs the rules over a literal value under a name.
func (s *scanner) judge(name, value string) (id, reason, remedy string) {
	if strings.TrimSpace(value) == "" || s.e.allowedValue(value) {
		return "", "", ""
	}
	s.resolved = corev1.EnvVar{Name: name, Value: value}
	s.it = item{env: &s.resolved, lit: newLiteral(value),
		nameAllowed: len(s.e.allowNames) > 0 && anyGlob(s.e.allowNames, name)}
	if isReference(s.it.lit.v) {
		return "", "", ""
	}
	return s.e.check(&s.it)
}

// warnOnly reports whether rule id only warns (Rule.WarnOnly).
func (e *Evaluator) warnOnly(id string) bool {
	for i := range e.rules {
		if e.rules[i].ID == id {
			return e.rules[i].WarnOnly
		}
	}
	return false
}

// The JSONPatch values are written by hand, not by a library, because the
// library costs more than the 5 % of injected-pod throughput at c=64 that
// would buy the simpler code. Measured on the 2-core machine, interleaved
// (docs/benchmarks.md, "The JSONPatch values"): json.Marshal for every value
// (the writer's reference, byte for byte the same patch) gave, in six
// test/load runs of the injected pod at c=64 beside this writer, 0.83 of its
// req/s (median of the six pairs; 0.71-1.07), 121 against 108 µs of server
// CPU per request (medians); BenchmarkEncodePatch/injected 9,850 against
// 2,650 ns (2,352 against 88 B, 23 against 6 allocations);
// BenchmarkMutateHandler/injected 62,300 against 49,100 ns (medians of 3).
// json-iterator configured like the pod decoder writes map keys unsorted
// and does not escape HTML, so its patch is not the bytes the tests hold
// the answer to; configured like encoding/json it writes \b and \f as
// \u0008 and \u000c (the same JSON, other bytes) and took 8,100-8,300
// against 2,600-3,000 ns on BenchmarkEncodePatch/injected (39 against 6
// allocations), 56,000-62,000 against 48,000-53,000 ns on
// BenchmarkMutateHandler/injected.

package webhook

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// appendValue appends the JSON of v, a patch operation's value, byte for
// byte as json.Marshal writes it (tests hold it to that): by appendKnown,
// or else with encoding/json.
func appendValue(b []byte, v any) ([]byte, error) {
	if out, ok := appendKnown(b, v); ok {
		return out, nil
	}
	q, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, q...), nil
}

// appendKnown appends v without reflection when it is one of the values
// injectionPatch builds (strings, supplemental groups, the pod security
// context, volumes, containers, volume mounts, env vars) and has only
// fields an injection writes. It reports false for any other value, or
// one with a field the writer does not cover (a container's ports, a
// volume of another source, ...); b's contents past its length are then
// undefined.
func appendKnown(b []byte, v any) ([]byte, bool) {
	var w valueWriter
	switch v := v.(type) {
	case string:
		return appendString(b, v), true
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case []int64:
		b = appendInt64s(b, v)
	case *corev1.PodSecurityContext:
		b = orNull(b, v, w.podSecurityContext)
	case corev1.Volume:
		b = w.volume(b, &v)
	case []corev1.Volume:
		b = list(b, v, w.volume)
	case corev1.Container:
		b = w.container(b, &v)
	case *corev1.Container:
		b = orNull(b, v, w.container)
	case []corev1.Container:
		b = list(b, v, w.container)
	case corev1.VolumeMount:
		b = appendVolumeMount(b, &v)
	case []corev1.VolumeMount:
		b = list(b, v, appendVolumeMount)
	case corev1.EnvVar:
		b = w.envVar(b, &v)
	case []corev1.EnvVar:
		b = list(b, v, w.envVar)
	default:
		return b, false
	}
	return b, !w.fallback
}

// valueWriter's methods append the JSON of the types whose fields an
// injection covers only in part: the fields of the type in the type's
// order, with encoding/json's omitempty semantics. One that meets a field
// it does not write sets fallback, and appendValue then encodes the whole
// value with encoding/json. (The JSON is threaded through as b, not kept
// in the writer: appending to a local slice needs no write barrier.)
type valueWriter struct {
	fallback bool
}

// orNull appends a pointer's value, or null.
func orNull[T any](b []byte, p *T, value func([]byte, *T) []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return value(b, p)
}

// list appends a slice as an array, nil as null as a value of its own.
func list[T any](b []byte, s []T, elem func([]byte, *T) []byte) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, &s[i])
	}
	return append(b, ']')
}

// key appends an object member's name (a plain field name: nothing to
// escape), after a comma unless the member is the object's first.
func key(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// The members below are omitempty fields: appended only when set.

func optString[S ~string](b []byte, name string, s S) []byte {
	if s == "" {
		return b
	}
	return appendString(key(b, name), string(s))
}

func optStringPtr[S ~string](b []byte, name string, p *S) []byte {
	if p == nil {
		return b
	}
	return appendString(key(b, name), string(*p))
}

func optStrings[S ~string](b []byte, name string, list []S) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(key(b, name), '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, string(s))
	}
	return append(b, ']')
}

func optBool(b []byte, name string, v bool) []byte {
	if !v {
		return b
	}
	return append(key(b, name), "true"...)
}

func optBoolPtr(b []byte, name string, p *bool) []byte {
	if p == nil {
		return b
	}
	return strconv.AppendBool(key(b, name), *p)
}

func optInt32(b []byte, name string, v int32) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(key(b, name), int64(v), 10)
}

func optInt32Ptr(b []byte, name string, p *int32) []byte {
	if p == nil {
		return b
	}
	return strconv.AppendInt(key(b, name), int64(*p), 10)
}

func optInt64Ptr(b []byte, name string, p *int64) []byte {
	if p == nil {
		return b
	}
	return strconv.AppendInt(key(b, name), *p, 10)
}

// appendInt64s appends supplemental groups.
func appendInt64s(b []byte, s []int64) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return append(b, ']')
}

// podSecurityContext appends the run-as fields, the groups and the seccomp
// profile.
func (w *valueWriter) podSecurityContext(b []byte, sc *corev1.PodSecurityContext) []byte {
	if sc.SELinuxOptions != nil || sc.WindowsOptions != nil || sc.SupplementalGroupsPolicy != nil || len(sc.Sysctls) > 0 ||
		sc.FSGroupChangePolicy != nil || sc.AppArmorProfile != nil || sc.SELinuxChangePolicy != nil {
		w.fallback = true
		return b
	}
	b = append(b, '{')
	b = optInt64Ptr(b, "runAsUser", sc.RunAsUser)
	b = optInt64Ptr(b, "runAsGroup", sc.RunAsGroup)
	b = optBoolPtr(b, "runAsNonRoot", sc.RunAsNonRoot)
	if len(sc.SupplementalGroups) > 0 {
		b = appendInt64s(key(b, "supplementalGroups"), sc.SupplementalGroups)
	}
	b = optInt64Ptr(b, "fsGroup", sc.FSGroup)
	b = optSeccompProfile(b, sc.SeccompProfile)
	return append(b, '}')
}

func optSeccompProfile(b []byte, p *corev1.SeccompProfile) []byte {
	if p == nil {
		return b
	}
	b = append(key(b, "seccompProfile"), `{"type":`...)
	b = appendString(b, string(p.Type))
	b = optStringPtr(b, "localhostProfile", p.LocalhostProfile)
	return append(b, '}')
}

// volume appends an emptyDir or CSI volume, the sources wisp adds.
func (w *valueWriter) volume(b []byte, v *corev1.Volume) []byte {
	rest := v.VolumeSource
	rest.EmptyDir, rest.CSI = nil, nil
	if rest != (corev1.VolumeSource{}) || v.CSI != nil && (len(v.CSI.VolumeAttributes) > 0 || v.CSI.NodePublishSecretRef != nil) {
		w.fallback = true
		return b
	}
	b = append(b, `{"name":`...)
	b = appendString(b, v.Name)
	// The sources are inline members, in VolumeSource's order.
	if d := v.EmptyDir; d != nil {
		b = append(key(b, "emptyDir"), '{')
		b = optString(b, "medium", d.Medium)
		if d.SizeLimit != nil {
			b = appendQuantity(key(b, "sizeLimit"), *d.SizeLimit)
		}
		b = optInt32Ptr(b, "mode", d.Mode)
		b = append(b, '}')
	}
	if c := v.CSI; c != nil {
		b = append(key(b, "csi"), `{"driver":`...)
		b = appendString(b, c.Driver)
		b = optBoolPtr(b, "readOnly", c.ReadOnly)
		b = optStringPtr(b, "fsType", c.FSType)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendQuantity appends q as Quantity.MarshalJSON writes it: its cached
// string, or else its canonical form (q is a copy: the cache is not kept).
func appendQuantity(b []byte, q resource.Quantity) []byte {
	return appendString(b, q.String())
}

// container appends the fields of the wisp-fetch container and of an app
// container wisp changed: all but ports, envFrom, resize policy, restart
// rules, devices and lifecycle, and probes other than exec ones.
func (w *valueWriter) container(b []byte, c *corev1.Container) []byte {
	if len(c.Ports) > 0 || len(c.EnvFrom) > 0 || len(c.ResizePolicy) > 0 || len(c.RestartPolicyRules) > 0 ||
		len(c.VolumeDevices) > 0 || c.Lifecycle != nil || len(c.Resources.Claims) > 0 {
		w.fallback = true
		return b
	}
	b = append(b, `{"name":`...)
	b = appendString(b, c.Name)
	b = optString(b, "image", c.Image)
	b = optStrings(b, "command", c.Command)
	b = optStrings(b, "args", c.Args)
	b = optString(b, "workingDir", c.WorkingDir)
	if len(c.Env) > 0 {
		b = list(key(b, "env"), c.Env, w.envVar)
	}
	// A struct: present when empty.
	b = append(key(b, "resources"), '{')
	b = optResourceList(b, "limits", c.Resources.Limits)
	b = optResourceList(b, "requests", c.Resources.Requests)
	b = append(b, '}')
	b = optStringPtr(b, "restartPolicy", c.RestartPolicy)
	if len(c.VolumeMounts) > 0 {
		b = list(key(b, "volumeMounts"), c.VolumeMounts, appendVolumeMount)
	}
	b = w.optProbe(b, "livenessProbe", c.LivenessProbe)
	b = w.optProbe(b, "readinessProbe", c.ReadinessProbe)
	b = w.optProbe(b, "startupProbe", c.StartupProbe)
	b = optString(b, "terminationMessagePath", c.TerminationMessagePath)
	b = optString(b, "terminationMessagePolicy", c.TerminationMessagePolicy)
	b = optString(b, "imagePullPolicy", c.ImagePullPolicy)
	b = w.optSecurityContext(b, c.SecurityContext)
	b = optBool(b, "stdin", c.Stdin)
	b = optBool(b, "stdinOnce", c.StdinOnce)
	b = optBool(b, "tty", c.TTY)
	return append(b, '}')
}

// optResourceList appends the quantities in key order, as encoding/json
// orders a map.
func optResourceList(b []byte, name string, list corev1.ResourceList) []byte {
	if len(list) == 0 {
		return b
	}
	var buf [4]corev1.ResourceName
	keys := buf[:0]
	for k := range list {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(key(b, name), '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, string(k)), ':')
		b = appendQuantity(b, list[k])
	}
	return append(b, '}')
}

// optProbe appends an exec probe, such as the startup probe of wisp's
// sidecar.
func (w *valueWriter) optProbe(b []byte, name string, p *corev1.Probe) []byte {
	if p == nil {
		return b
	}
	if p.HTTPGet != nil || p.TCPSocket != nil || p.GRPC != nil {
		w.fallback = true
		return b
	}
	b = append(key(b, name), '{')
	if p.Exec != nil {
		b = append(key(b, "exec"), '{')
		b = optStrings(b, "command", p.Exec.Command)
		b = append(b, '}')
	}
	b = optInt32(b, "initialDelaySeconds", p.InitialDelaySeconds)
	b = optInt32(b, "timeoutSeconds", p.TimeoutSeconds)
	b = optInt32(b, "periodSeconds", p.PeriodSeconds)
	b = optInt32(b, "successThreshold", p.SuccessThreshold)
	b = optInt32(b, "failureThreshold", p.FailureThreshold)
	b = optInt64Ptr(b, "terminationGracePeriodSeconds", p.TerminationGracePeriodSeconds)
	return append(b, '}')
}

// optSecurityContext appends the restricted context of the wisp-fetch
// container: capabilities, privilege, run-as, read-only root, seccomp.
func (w *valueWriter) optSecurityContext(b []byte, sc *corev1.SecurityContext) []byte {
	if sc == nil {
		return b
	}
	rest := *sc
	rest.Capabilities, rest.Privileged, rest.RunAsUser, rest.RunAsGroup, rest.RunAsNonRoot = nil, nil, nil, nil, nil
	rest.ReadOnlyRootFilesystem, rest.AllowPrivilegeEscalation, rest.SeccompProfile = nil, nil, nil
	if rest != (corev1.SecurityContext{}) {
		w.fallback = true
		return b
	}
	b = append(key(b, "securityContext"), '{')
	if c := sc.Capabilities; c != nil {
		b = append(key(b, "capabilities"), '{')
		b = optStrings(b, "add", c.Add)
		b = optStrings(b, "drop", c.Drop)
		b = append(b, '}')
	}
	b = optBoolPtr(b, "privileged", sc.Privileged)
	b = optInt64Ptr(b, "runAsUser", sc.RunAsUser)
	b = optInt64Ptr(b, "runAsGroup", sc.RunAsGroup)
	b = optBoolPtr(b, "runAsNonRoot", sc.RunAsNonRoot)
	b = optBoolPtr(b, "readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem)
	b = optBoolPtr(b, "allowPrivilegeEscalation", sc.AllowPrivilegeEscalation)
	b = optSeccompProfile(b, sc.SeccompProfile)
	return append(b, '}')
}

// appendVolumeMount appends every field of a volume mount.
func appendVolumeMount(b []byte, m *corev1.VolumeMount) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, m.Name)
	b = optBool(b, "readOnly", m.ReadOnly)
	b = optStringPtr(b, "recursiveReadOnly", m.RecursiveReadOnly)
	b = appendString(key(b, "mountPath"), m.MountPath)
	b = optString(b, "subPath", m.SubPath)
	b = optStringPtr(b, "mountPropagation", m.MountPropagation)
	b = optString(b, "subPathExpr", m.SubPathExpr)
	b = optStrings(b, "bindMountOptions", m.BindMountOptions)
	return append(b, '}')
}

// envVar appends a literal env var (valueFrom is not covered).
func (w *valueWriter) envVar(b []byte, e *corev1.EnvVar) []byte {
	if e.ValueFrom != nil {
		w.fallback = true
		return b
	}
	b = append(b, `{"name":`...)
	b = appendString(b, e.Name)
	b = optString(b, "value", e.Value)
	return append(b, '}')
}

// appendString appends s as a JSON string escaped as encoding/json escapes
// it by default: quote, backslash and control characters (\b, \f, \n, \r,
// \t short, the others as \u00XX), <, > and & as \u003c, \u003e and \u0026,
// U+2028 and U+2029 as \u2028 and \u2029, each byte of invalid UTF-8 as
// \ufffd.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start, i := 0, 0 // s[start:i] needs no escape
	for {
		for i < len(s) && htmlSafe(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// htmlSafe reports whether c is an ASCII byte written as is in a JSON
// string (encoding/json's htmlSafeSet): not a control character, '"', '\\',
// '<', '>' or '&'. Each bit of lo and hi is one of the 128 ASCII bytes.
func htmlSafe(c byte) bool {
	const (
		control = 1<<0x20 - 1
		lo      = ^uint64(0) &^ control &^ (1<<'"' | 1<<'&' | 1<<'<' | 1<<'>') // bytes 0-63
		hi      = ^uint64(0) &^ (1 << ('\\' - 64))                             // bytes 64-127
	)
	m := lo
	if c >= 64 {
		m = hi
	}
	return c < utf8.RuneSelf && m>>(c&63)&1 != 0
}

package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	jsonpatch "gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"wisp.dev/wisp/mutate"
)

// checkValue fails t unless appendValue writes v exactly as json.Marshal
// does (after what b held), and reports whether appendKnown wrote it
// itself, without encoding/json.
func checkValue(t *testing.T, name string, v any) (known bool) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	const before = `[1,`
	got, err := appendValue([]byte(before), v)
	if wantErr != nil {
		if err == nil {
			t.Errorf("%s: json.Marshal fails (%v), appendValue does not", name, wantErr)
		}
		return false
	}
	if err != nil {
		t.Errorf("%s: appendValue: %v", name, err)
		return false
	}
	if !bytes.Equal(got, append([]byte(before), want...)) {
		t.Errorf("%s: appendValue differs from json.Marshal:\n got %s\nwant %s%s", name, got, before, want)
	}
	_, known = appendKnown(nil, v)
	return known
}

// injectionOps returns the JSONPatch of every injection of mutate's golden
// inputs and of moreCases, by case name.
func injectionOps(t testing.TB) map[string][]jsonpatch.JsonPatchOperation {
	t.Helper()
	all := make(map[string][]jsonpatch.JsonPatchOperation)
	for _, tc := range append(goldenPatchCases(t), moreCases(t)...) {
		var pod corev1.Pod
		if err := decodePod(tc.raw, &pod); err != nil {
			t.Fatal(err)
		}
		out, res, err := mutate.Inject(&pod, tc.cfg)
		if err != nil || (res != mutate.Injected && res != mutate.Completed) {
			continue
		}
		ops, ok := injectionPatch(&pod, out)
		if !ok {
			t.Fatalf("%s: injectionPatch gave up", tc.name)
		}
		all[tc.name] = ops
	}
	return all
}

// Every value of every injection's patch is written without encoding/json,
// exactly as encoding/json writes it, and so is the whole patch.
func TestAppendValueInjections(t *testing.T) {
	t.Parallel()
	cases := injectionOps(t)
	if len(cases) < 10 {
		t.Fatalf("only %d injections", len(cases))
	}
	for name, ops := range cases {
		for _, op := range ops {
			if !checkValue(t, name+" "+op.Path, op.Value) {
				t.Errorf("%s %s: %T not written by appendKnown", name, op.Path, op.Value)
			}
		}
		got, err := appendPatch(nil, ops)
		want, _ := json.Marshal(ops)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: appendPatch differs from json.Marshal (%v):\n got %s\nwant %s", name, err, got, want)
		}
	}
}

// escapeStrings hold every class of byte and rune encoding/json escapes or
// replaces.
var escapeStrings = []string{
	"",
	"plain ASCII: /wisp/secrets, unix:///spiffe.sock, ~!@#$%^*()_+-=[]{}|;':,./?`",
	`"quoted" and \back\slashed\`,
	"\x00\x01\x02\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x20\x7f",
	"<script>alert('x')</script> & &amp; <>",
	"ünïcode é, 日本語, emoji 🙂, U+FFFD \ufffd",
	"line\u2028separator\u2029paragraph",
	"\xff\xfe invalid \xc3 truncated \xe2\x80 surrogate \xed\xa0\x80 overlong \xc0\xaf end\xe2",
	"{{ range $k, $v := . }}{{ $k }}={{ $v }}\n{{ end }}",
}

func allBytes() string {
	var b strings.Builder
	for c := range 256 {
		b.WriteByte(byte(c))
	}
	return b.String()
}

// Hand-built values: each field the writer covers, each that sends the
// value to encoding/json, and strings of every escaping class.
func TestAppendValueTable(t *testing.T) {
	t.Parallel()
	mi := func(s string) *resource.Quantity { q := resource.MustParse(s); return &q }
	always := corev1.ContainerRestartPolicyAlways
	rro := corev1.RecursiveReadOnlyEnabled
	bidirectional := corev1.MountPropagationBidirectional
	full := corev1.Container{
		Name: "wisp-fetch", Image: "ghcr.io/wisp-dev/wisp-fetch:v1", Command: []string{"/wisp-fetch"}, Args: []string{"--sidecar", "<&>"},
		WorkingDir: "/work",
		Env:        []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "EMPTY"}, {Name: "PLAN", Value: `{"a":"b\n"}`}},
		Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{"memory": resource.MustParse("64Mi"), "cpu": resource.MustParse("200m"),
				"ephemeral-storage": resource.MustParse("1Gi"), "nvidia.com/gpu": resource.MustParse("1")},
			Requests: corev1.ResourceList{"cpu": resource.MustParse("+1"), "memory": resource.MustParse("1.5Gi"), "x": {}},
		},
		RestartPolicy: &always,
		VolumeMounts: []corev1.VolumeMount{{Name: "s", MountPath: "/s"}, {Name: "r", ReadOnly: true, RecursiveReadOnly: &rro, MountPath: "/r",
			SubPath: "sub", MountPropagation: &bidirectional, SubPathExpr: "$(X)", BindMountOptions: []string{"o"}}},
		LivenessProbe:            &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}}},
		ReadinessProbe:           &corev1.Probe{InitialDelaySeconds: 1, TimeoutSeconds: 2, SuccessThreshold: 3, TerminationGracePeriodSeconds: ptr(int64(0))},
		StartupProbe:             &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/wisp-fetch", "--check-ready"}}}, PeriodSeconds: 1, FailureThreshold: 150},
		TerminationMessagePath:   "/dev/termination-log",
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		SecurityContext: &corev1.SecurityContext{
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}, Drop: []corev1.Capability{"ALL"}},
			Privileged:   ptr(false), RunAsUser: ptr(int64(65532)), RunAsGroup: ptr(int64(-1)), RunAsNonRoot: ptr(true),
			ReadOnlyRootFilesystem: ptr(true), AllowPrivilegeEscalation: ptr(false),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("p.json")},
		},
		Stdin: true, StdinOnce: true, TTY: true,
	}
	with := func(change func(c *corev1.Container)) corev1.Container {
		c := *full.DeepCopy()
		change(&c)
		return c
	}
	podContext := &corev1.PodSecurityContext{RunAsUser: ptr(int64(1)), RunAsGroup: ptr(int64(2)), RunAsNonRoot: ptr(false),
		SupplementalGroups: []int64{65532, 0, -5}, FSGroup: ptr(int64(3)), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	csi := corev1.Volume{Name: "wisp-spiffe", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "csi.spiffe.io", ReadOnly: ptr(true), FSType: ptr("ext4")}}}
	emptyDir := corev1.Volume{Name: "wisp-secrets", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
		Medium: corev1.StorageMediumMemory, SizeLimit: mi("4Mi"), Mode: ptr(int32(0o440))}}}

	tests := []struct {
		name  string
		value any
		known bool // written by appendKnown, not encoding/json
	}{
		{"nil", nil, false},
		{"int64", int64(-9223372036854775808), true},
		{"int64 zero", int64(0), true},
		{"groups nil", []int64(nil), true},
		{"groups empty", []int64{}, true},
		{"groups", []int64{65532, 1, -1}, true},
		{"pod context nil", (*corev1.PodSecurityContext)(nil), true},
		{"pod context empty", &corev1.PodSecurityContext{}, true},
		{"pod context groups", &corev1.PodSecurityContext{SupplementalGroups: []int64{65532}}, true},
		{"pod context empty groups", &corev1.PodSecurityContext{SupplementalGroups: []int64{}}, true},
		{"pod context covered", podContext, true},
		{"pod context selinux", &corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0"}}, false},
		{"pod context sysctls", &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "a", Value: "b"}}}, false},
		{"pod context empty sysctls", &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{}}, true},
		{"pod context fsGroupChangePolicy", &corev1.PodSecurityContext{FSGroupChangePolicy: ptr(corev1.FSGroupChangeAlways)}, false},
		{"volume csi", csi, true},
		{"volume csi bare", corev1.Volume{Name: "c", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{}}}, true},
		{"volume csi attributes", corev1.Volume{Name: "c", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d", VolumeAttributes: map[string]string{"a": "b"}}}}, false},
		{"volume csi secret ref", corev1.Volume{Name: "c", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d", NodePublishSecretRef: &corev1.LocalObjectReference{}}}}, false},
		{"volume emptyDir", emptyDir, true},
		{"volume emptyDir {}", corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, true},
		{"volume emptyDir size", corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: mi("64Mi")}}}, true},
		{"volume emptyDir zero size", corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &resource.Quantity{}}}}, true},
		{"volume both sources", corev1.Volume{Name: "b", VolumeSource: corev1.VolumeSource{CSI: csi.CSI, EmptyDir: emptyDir.EmptyDir}}, true},
		{"volume no source", corev1.Volume{Name: "none"}, true},
		{"volume configMap", corev1.Volume{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}, false},
		{"volume hostPath and emptyDir", corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}, EmptyDir: emptyDir.EmptyDir}}, false},
		{"volumes nil", []corev1.Volume(nil), true},
		{"volumes empty", []corev1.Volume{}, true},
		{"volumes", []corev1.Volume{csi, emptyDir}, true},
		{"volumes one configMap", []corev1.Volume{csi, {Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}}, false},
		{"container empty", corev1.Container{}, true},
		{"container covered", full, true},
		{"container pointer", &full, true},
		{"container pointer nil", (*corev1.Container)(nil), true},
		{"containers nil", []corev1.Container(nil), true},
		{"containers empty", []corev1.Container{}, true},
		{"containers", []corev1.Container{full, {Name: "app"}}, true},
		{"container empty lists", corev1.Container{Name: "e", Command: []string{}, Env: []corev1.EnvVar{}, VolumeMounts: []corev1.VolumeMount{}, Ports: []corev1.ContainerPort{},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{}, Claims: []corev1.ResourceClaim{}}}, true},
		{"container ports", with(func(c *corev1.Container) { c.Ports = []corev1.ContainerPort{{ContainerPort: 8080}} }), false},
		{"container envFrom", with(func(c *corev1.Container) { c.EnvFrom = []corev1.EnvFromSource{{Prefix: "P"}} }), false},
		{"container env valueFrom", with(func(c *corev1.Container) {
			c.Env = append(c.Env, corev1.EnvVar{Name: "F", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
		}), false},
		{"container resize policy", with(func(c *corev1.Container) { c.ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: "cpu"}} }), false},
		{"container restart rules", with(func(c *corev1.Container) { c.RestartPolicyRules = []corev1.ContainerRestartRule{{Action: "Restart"}} }), false},
		{"container devices", with(func(c *corev1.Container) { c.VolumeDevices = []corev1.VolumeDevice{{Name: "d", DevicePath: "/dev/x"}} }), false},
		{"container lifecycle", with(func(c *corev1.Container) { c.Lifecycle = &corev1.Lifecycle{} }), false},
		{"container claims", with(func(c *corev1.Container) { c.Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}} }), false},
		{"container httpGet probe", with(func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}}
		}), false},
		{"container tcp probe", with(func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}}
		}), false},
		{"container grpc probe", with(func(c *corev1.Container) {
			c.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}}
		}), false},
		{"container selinux", with(func(c *corev1.Container) { c.SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{User: "u"} }), false},
		{"container procMount", with(func(c *corev1.Container) { c.SecurityContext.ProcMount = ptr(corev1.UnmaskedProcMount) }), false},
		{"container apparmor", with(func(c *corev1.Container) {
			c.SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
		}), false},
		{"container empty security context", corev1.Container{Name: "c", SecurityContext: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{}}}, true},
		{"containers one with ports", []corev1.Container{full, with(func(c *corev1.Container) { c.Ports = []corev1.ContainerPort{{}} })}, false},
		{"mount", corev1.VolumeMount{Name: "wisp-secrets", ReadOnly: true, MountPath: "/vault/secrets"}, true},
		{"mount full", full.VolumeMounts[1], true},
		{"mount empty", corev1.VolumeMount{}, true},
		{"mounts nil", []corev1.VolumeMount(nil), true},
		{"mounts", full.VolumeMounts, true},
		{"env", corev1.EnvVar{Name: "SPIFFE_ENDPOINT_SOCKET", Value: "unix:///spiffe-workload-api/spire-agent.sock"}, true},
		{"env empty", corev1.EnvVar{}, true},
		{"env valueFrom", corev1.EnvVar{Name: "S", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}, false},
		{"envs nil", []corev1.EnvVar(nil), true},
		{"envs", full.Env, true},
		{"generic diff value", map[string]any{"b": []any{1.5, "<x>", nil, true}, "a": map[string]any{}}, false},
		{"pod", corev1.Pod{}, false},
		{"string all bytes", allBytes(), true},
	}
	for i, s := range escapeStrings {
		tests = append(tests, struct {
			name  string
			value any
			known bool
		}{fmt.Sprintf("string %d", i), s, true})
		tests = append(tests, struct {
			name  string
			value any
			known bool
		}{fmt.Sprintf("container of string %d", i), corev1.Container{Name: s, Image: s, Command: []string{s}, Env: []corev1.EnvVar{{Name: s, Value: s}},
			VolumeMounts: []corev1.VolumeMount{{Name: s, MountPath: s}}}, true})
	}
	for _, tt := range tests {
		if known := checkValue(t, tt.name, tt.value); known != tt.known {
			t.Errorf("%s: written by appendKnown: %v, want %v", tt.name, known, tt.known)
		}
	}
}

// A value with any one field set, at any depth, of any type appendKnown
// takes is written as encoding/json writes it: a field the writer neither
// writes nor refuses (one a new k8s.io/api adds, say) fails here.
func TestAppendValueEachField(t *testing.T) {
	t.Parallel()
	known, total := 0, 0
	for _, root := range []reflect.Type{
		reflect.TypeFor[corev1.Container](), reflect.TypeFor[corev1.Volume](), reflect.TypeFor[corev1.PodSecurityContext](),
		reflect.TypeFor[corev1.VolumeMount](), reflect.TypeFor[corev1.EnvVar](),
	} {
		for i, v := range oneFieldValues(root, 0) {
			// As a value, a pointer and in a list.
			for _, x := range []reflect.Value{v, pointerTo(v), sliceOf(v)} {
				name := fmt.Sprintf("%s %d %s", root.Name(), i, x.Type())
				if checkValue(t, name, x.Interface()) {
					known++
				}
				total++
			}
		}
	}
	t.Logf("%d values, %d written by appendKnown", total, known)
}

func pointerTo(v reflect.Value) reflect.Value {
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return p
}

func sliceOf(v reflect.Value) reflect.Value {
	return reflect.Append(reflect.MakeSlice(reflect.SliceOf(v.Type()), 0, 1), v)
}

// oneFieldValues returns values of type t: the zero value, and values each
// with one leaf set (a field at any depth, through pointers, lists and
// maps), with a few values per leaf type.
func oneFieldValues(t reflect.Type, depth int) []reflect.Value {
	zero := reflect.Zero(t)
	if depth > 8 {
		return []reflect.Value{zero}
	}
	of := func(xs ...any) []reflect.Value {
		vs := []reflect.Value{zero}
		for _, x := range xs {
			v := reflect.New(t).Elem()
			switch v.Kind() {
			case reflect.String:
				v.SetString(x.(string))
			case reflect.Bool:
				v.SetBool(x.(bool))
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				v.SetInt(int64(x.(int)))
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				v.SetUint(uint64(x.(int)))
			case reflect.Float32, reflect.Float64:
				v.SetFloat(float64(x.(int)))
			}
			vs = append(vs, v)
		}
		return vs
	}
	if t == reflect.TypeFor[resource.Quantity]() {
		vs := []reflect.Value{zero}
		for _, s := range []string{"64Mi", "32Mi", "100m", "+1", "1.5", "1e3", "0"} {
			vs = append(vs, reflect.ValueOf(resource.MustParse(s)))
		}
		return vs
	}
	switch t.Kind() {
	case reflect.String:
		return of("x", "<é\n\"")
	case reflect.Bool:
		return of(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return of(1, -7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return of(3)
	case reflect.Pointer:
		vs := []reflect.Value{zero}
		for _, e := range oneFieldValues(t.Elem(), depth+1) {
			vs = append(vs, pointerTo(e))
		}
		return vs
	case reflect.Slice:
		vs := []reflect.Value{zero, reflect.MakeSlice(t, 0, 0)}
		for _, e := range oneFieldValues(t.Elem(), depth+1) {
			vs = append(vs, reflect.Append(reflect.MakeSlice(t, 0, 1), e))
		}
		return vs
	case reflect.Map:
		vs := []reflect.Value{zero, reflect.MakeMap(t)}
		keys := oneFieldValues(t.Key(), depth+1)
		for _, e := range oneFieldValues(t.Elem(), depth+1) {
			m := reflect.MakeMap(t)
			for _, k := range keys { // several keys, for their order
				m.SetMapIndex(k, e)
			}
			vs = append(vs, m)
		}
		return vs
	case reflect.Struct:
		vs := []reflect.Value{zero}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			for _, fv := range oneFieldValues(f.Type, depth+1)[1:] {
				v := reflect.New(t).Elem()
				v.Field(i).Set(fv)
				vs = append(vs, v)
			}
		}
		return vs
	}
	return []reflect.Value{zero}
}

// fuzzTypes are the value types FuzzAppendValue decodes its input into.
var fuzzTypes = []reflect.Type{
	reflect.TypeFor[string](), // the input itself, not JSON
	reflect.TypeFor[int64](),
	reflect.TypeFor[[]int64](),
	reflect.TypeFor[*corev1.PodSecurityContext](),
	reflect.TypeFor[corev1.Volume](),
	reflect.TypeFor[[]corev1.Volume](),
	reflect.TypeFor[corev1.Container](),
	reflect.TypeFor[*corev1.Container](),
	reflect.TypeFor[[]corev1.Container](),
	reflect.TypeFor[corev1.VolumeMount](),
	reflect.TypeFor[[]corev1.VolumeMount](),
	reflect.TypeFor[corev1.EnvVar](),
	reflect.TypeFor[[]corev1.EnvVar](),
}

// FuzzAppendValue: a value of any type appendKnown takes, decoded from
// JSON (a string: the raw input), is written exactly as json.Marshal
// writes it.
func FuzzAppendValue(f *testing.F) {
	index := make(map[reflect.Type]uint8, len(fuzzTypes))
	for i, t := range fuzzTypes {
		index[t] = uint8(i)
	}
	for _, ops := range injectionOps(f) {
		for _, op := range ops {
			raw, err := json.Marshal(op.Value)
			if err != nil {
				f.Fatal(err)
			}
			i, ok := index[reflect.TypeOf(op.Value)]
			if !ok {
				f.Fatalf("%s: value of type %T not fuzzed", op.Path, op.Value)
			}
			if i == 0 {
				raw = []byte(op.Value.(string))
			}
			f.Add(i, raw)
		}
	}
	for _, s := range escapeStrings {
		f.Add(uint8(0), []byte(s))
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		typ := fuzzTypes[int(kind)%len(fuzzTypes)]
		var v any
		if typ.Kind() == reflect.String {
			v = string(data)
		} else {
			p := reflect.New(typ)
			if json.Unmarshal(data, p.Interface()) != nil {
				return
			}
			v = p.Elem().Interface()
		}
		checkValue(t, "fuzzed "+typ.String(), v)
	})
}

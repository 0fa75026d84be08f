package webhook

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	jsonpatch "gomodules.xyz/jsonpatch/v2"
	applypatch "gopkg.in/evanphx/json-patch.v4" // what the API server applies patches with
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/mutate"
)

const injectGoldenDir = "../mutate/testdata/inject"

// patchCase is a pod as the API server sends it (raw JSON) and the
// injection config to use.
type patchCase struct {
	name string
	raw  []byte
	cfg  mutate.Config
}

// goldenPatchCases reads every input of mutate's golden suite (not the
// .golden.yaml outputs), with the config of its "# config:" line.
func goldenPatchCases(t testing.TB) []patchCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(injectGoldenDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []patchCase
	for _, p := range paths {
		if strings.HasSuffix(p, ".golden.yaml") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := yaml.YAMLToJSON(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var cfg mutate.Config
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(line, "#") {
				break
			}
			if rest, ok := strings.CutPrefix(line, "# config:"); ok {
				if err := yaml.UnmarshalStrict([]byte(rest), &cfg); err != nil {
					t.Fatalf("%s: config line: %v", p, err)
				}
			}
		}
		cases = append(cases, patchCase{name: strings.TrimSuffix(filepath.Base(p), ".yaml"), raw: raw, cfg: cfg})
	}
	if len(cases) == 0 {
		t.Fatalf("no golden input in %s", injectGoldenDir)
	}
	return cases
}

// moreCases are pods the golden suite does not have: security contexts,
// existing init containers, volumes and mounts, many env vars.
func moreCases(t testing.TB) []patchCase {
	t.Helper()
	marshal := func(p *corev1.Pod) []byte {
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	withContext := realisticPod()
	withContext.Spec.SecurityContext = &corev1.PodSecurityContext{SupplementalGroups: []int64{1000, 2000}, RunAsNonRoot: ptr(true)}
	fsGroup := realisticPod()
	fsGroup.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr(int64(3000))}
	busy := realisticPod()
	busy.Annotations["wisp.dev/socket"] = "true"
	busy.Annotations["a~b/c"] = "escaped key"
	busy.Annotations["quote\"<é>"] = "line\nbreak \u2028 ünïcode"
	busy.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "migrate:1"}, {Name: "warm", Image: "warm:1"}}
	busy.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	busy.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}
	busy.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}
	busy.Spec.SecurityContext = &corev1.PodSecurityContext{}
	selected := realisticPod()
	selected.Annotations["wisp.dev/containers"] = "metrics"
	large := realisticPod()
	for i := range 10 {
		c := corev1.Container{Name: "w" + string(rune('a'+i)), Image: "w:1"}
		for j := range 50 {
			c.Env = append(c.Env, corev1.EnvVar{Name: "E" + string(rune('A'+j%26)) + string(rune('A'+j/26)), Value: "v"})
		}
		large.Spec.Containers = append(large.Spec.Containers, c)
	}
	// Reinvocation: injected, then a later webhook added a container.
	reinvoked, _, err := mutate.Inject(realisticPod(), mutate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reinvoked.Spec.Containers = append(reinvoked.Spec.Containers, corev1.Container{Name: "proxy", Image: "proxy:1"})
	return []patchCase{
		{name: "reinvoked", raw: marshal(reinvoked)},
		{name: "realistic", raw: marshal(realisticPod())},
		{name: "security-context", raw: marshal(withContext)},
		{name: "fs-group", raw: marshal(fsGroup)},
		{name: "busy", raw: marshal(busy)},
		{name: "containers-selected", raw: marshal(selected)},
		{name: "large", raw: marshal(large)},
		{name: "null-parts", raw: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"n","annotations":{"wisp.dev/inject":"true","wisp.dev/role":"r","wisp.dev/secret-a":"secret/data/a"}},` +
			`"spec":{"volumes":null,"initContainers":null,"securityContext":null,"containers":[{"name":"app","image":"a","env":null,"volumeMounts":null}]},"unknownTop":{"kept":true}}`)},
	}
}

// applyPatch applies ops to raw as the API server would and decodes the
// result.
// ops are encoded as the answer encodes them (appendPatch), and must be
// byte for byte their encoding by jsonpatch's own MarshalJSON.
func applyPatch(t testing.TB, raw []byte, ops []jsonpatch.JsonPatchOperation) *corev1.Pod {
	t.Helper()
	doc, err := appendPatch(nil, ops)
	if err != nil {
		t.Fatalf("encode patch: %v", err)
	}
	ref, err := json.Marshal(ops)
	if err != nil {
		t.Fatalf("encode patch with jsonpatch: %v", err)
	}
	if !bytes.Equal(doc, ref) {
		t.Fatalf("appendPatch differs from jsonpatch's encoding:\n%s\n%s", doc, ref)
	}
	p, err := applypatch.DecodePatch(doc)
	if err != nil {
		t.Fatalf("decode patch: %v", err)
	}
	patched, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("apply patch: %v\npatch: %s", err, doc)
	}
	var got corev1.Pod
	if err := decodePod(patched, &got); err != nil {
		t.Fatalf("decode patched pod: %v", err)
	}
	return &got
}

// roundTrip is the pod the API server would store: out encoded and decoded.
func roundTrip(t testing.TB, out *corev1.Pod) *corev1.Pod {
	t.Helper()
	raw, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var p corev1.Pod
	if err := decodePod(raw, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// samePod compares as the API server would store the pods: equal values,
// an empty map or list the same as none.
func samePod(t testing.TB, what string, want, got *corev1.Pod) {
	t.Helper()
	if equality.Semantic.DeepEqual(want, got) {
		return
	}
	w, _ := yaml.Marshal(want)
	g, _ := yaml.Marshal(got)
	t.Errorf("%s: the patched pod differs from the injected pod (-want +got):\n%s", what, cmp.Diff(string(w), string(g)))
}

// The patch built from the injection's parts, applied to the pod the API
// server sent, gives exactly the injected pod, and the same pod as the
// generic diff of the two documents.
func TestInjectionPatchIsExact(t *testing.T) {
	t.Parallel()
	injected := 0
	for _, tc := range append(goldenPatchCases(t), moreCases(t)...) {
		t.Run(tc.name, func(t *testing.T) {
			var pod corev1.Pod
			if err := decodePod(tc.raw, &pod); err != nil {
				t.Fatal(err)
			}
			out, res, err := mutate.Inject(&pod, tc.cfg)
			if err != nil || (res != mutate.Injected && res != mutate.Completed) {
				t.Skipf("not injected (%v, %v): nothing to patch", res, err)
			}
			if tc.name == "reinvoked" && res != mutate.Completed {
				t.Fatalf("reinvoked: %v, want completed", res)
			}
			injected++
			ops, ok := injectionPatch(&pod, out)
			if !ok {
				t.Fatal("injectionPatch gave up on an injection: the generic diff would be used")
			}
			want := roundTrip(t, out)
			samePod(t, "injectionPatch", want, applyPatch(t, tc.raw, ops))

			raw, _ := json.Marshal(out)
			generic := admission.PatchResponseFromRaw(tc.raw, raw)
			samePod(t, "PatchResponseFromRaw", want, applyPatch(t, tc.raw, generic.Patches))

			// Fields corev1.Pod does not know are kept (the generic diff
			// removes them).
			if strings.Contains(string(tc.raw), "unknownTop") {
				doc, _ := json.Marshal(ops)
				p, _ := applypatch.DecodePatch(doc)
				patched, _ := p.Apply(tc.raw)
				if !strings.Contains(string(patched), `"unknownTop"`) {
					t.Error("the patch dropped a field unknown to corev1.Pod")
				}
			}
		})
	}
	if injected < 5 {
		t.Fatalf("only %d cases were injected", injected)
	}
}

// A change outside the parts an injection touches makes injectionPatch
// give up, so that the generic diff answers instead.
func TestInjectionPatchGivesUpOnOtherChanges(t *testing.T) {
	t.Parallel()
	in := realisticPod()
	out, _, err := mutate.Inject(in, mutate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(p *corev1.Pod){
		"labels":          func(p *corev1.Pod) { p.Labels = map[string]string{"x": "y"} },
		"service account": func(p *corev1.Pod) { p.Spec.ServiceAccountName = "other" },
		"container count": func(p *corev1.Pod) { p.Spec.Containers = p.Spec.Containers[:1] },
	} {
		o := out.DeepCopy()
		change(o)
		if _, ok := injectionPatch(in, o); ok {
			t.Errorf("%s: injectionPatch did not give up", name)
		}
	}
	// Annotations added, changed and removed, keys that need escaping
	// included.
	o := out.DeepCopy()
	o.Annotations["quote\"<é>/~"] = "x\ny"
	o.Annotations["app.kubernetes.io/name"] = "payments"
	delete(o.Annotations, "wisp.dev/role")
	ops, ok := injectionPatch(in, o)
	if !ok {
		t.Fatal("injectionPatch gave up on changed annotations")
	}
	raw, _ := json.Marshal(in)
	samePod(t, "changed annotations", roundTrip(t, o), applyPatch(t, raw, ops))

	// A container changed beyond mounts and env is replaced whole.
	o = out.DeepCopy()
	o.Spec.Containers[1].Image = "other:1"
	ops, ok = injectionPatch(in, o)
	if !ok {
		t.Fatal("injectionPatch gave up on a changed container")
	}
	samePod(t, "changed container", roundTrip(t, o), applyPatch(t, raw, ops))
}

// FuzzInjectionPatch: for any pod document that decodes the same way as a
// JSON patcher reads it, an injection's patch applies and gives exactly the
// injected pod.
func FuzzInjectionPatch(f *testing.F) {
	for _, tc := range append(goldenPatchCases(f), moreCases(f)...) {
		f.Add(tc.raw, tc.cfg.VaultAgentAnnotations)
	}
	f.Fuzz(func(t *testing.T, raw []byte, vaultAgent bool) {
		var pod corev1.Pod
		if decodePod(raw, &pod) != nil {
			return
		}
		// A document with duplicate keys reads differently to a patcher
		// (the last key wins) than to a streaming decoder; the API server
		// never sends one.
		var generic any
		if json.Unmarshal(raw, &generic) != nil {
			return
		}
		canonical, err := json.Marshal(generic)
		if err != nil {
			return
		}
		var again corev1.Pod
		if decodePod(canonical, &again) != nil || !reflect.DeepEqual(&pod, &again) {
			return
		}
		out, res, err := mutate.Inject(&pod, mutate.Config{VaultAgentAnnotations: vaultAgent})
		if err != nil || res != mutate.Injected {
			return
		}
		ops, ok := injectionPatch(&pod, out)
		if !ok {
			return // the generic diff answers
		}
		samePod(t, "injectionPatch", roundTrip(t, out), applyPatch(t, raw, ops))
	})
}

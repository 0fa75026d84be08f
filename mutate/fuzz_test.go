package mutate_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/plan"
)

// fuzzKey turns a fuzzed key into an annotation key: a key without a "/" is
// taken as relative to wisp.dev/, so the fuzzer reaches wisp's keys quickly.
func fuzzKey(k string) string {
	if strings.Contains(k, "/") {
		return k
	}
	return mutate.Prefix + k
}

// fuzzPod is a small pod with two app containers, an init container and a
// volume mounted at /data, so that name and mount clashes are reachable.
func fuzzPod(annotations map[string]string) *corev1.Pod {
	pod := newPod(annotations, "app", "sidecar")
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1.36.1"}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	pod.Spec.Containers[0].Command = []string{"/app", "--serve"}
	return pod
}

// addGoldenSeeds adds the wisp annotations of every golden input: inject,
// role and the first three others (sorted), keys relative to wisp.dev/.
func addGoldenSeeds(f *testing.F) {
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		f.Fatalf("list golden inputs: %v", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, goldenSuffix) {
			continue
		}
		a := readPod(f, filepath.Join(goldenDir, name)).Annotations
		var keys []string
		for k := range a {
			if strings.HasPrefix(k, mutate.Prefix) && k != mutate.AnnotationInject && k != mutate.AnnotationRole {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		kv := make([]string, 6)
		for i := 0; i < len(keys) && i < 3; i++ {
			kv[2*i] = strings.TrimPrefix(keys[i], mutate.Prefix)
			kv[2*i+1] = a[keys[i]]
		}
		f.Add(a[mutate.AnnotationInject], a[mutate.AnnotationRole], kv[0], kv[1], kv[2], kv[3], kv[4], kv[5])
	}
}

// FuzzParseAnnotations injects a small pod whose annotations are fuzzed:
// wisp.dev/inject, wisp.dev/role and three more key/value pairs (an empty key
// adds nothing). It checks that Inject never panics, never returns a pod with
// an error, names only annotations the pod has, never changes its input, and
// that an injected pod is stable under a second Inject and carries a plan
// wisp-fetch accepts.
func FuzzParseAnnotations(f *testing.F) {
	addGoldenSeeds(f)
	f.Add("true", "app", "secret-db", "database/creds/app", "format-db", "env", "", "")
	f.Add("true", "app", "secret-api", "secret/data/api", "template-api", `{{ .token | quote }}`, "format-api", "json")
	f.Add("true", " ", "secret-../x", "a", "foo", "bar", "sidecar", "true")
	f.Add("true", "app", "secret-db", "kv/db", "socket", "true", "mount-path", "/spiffe-workload-api")
	f.Add("true", "app", "secret-db", "kv/db", "containers", "app,ghost", "mount-path", "/data")
	f.Add("true", "app", "secret-db", "kv/db", "template-wisp.dev/format-db", "{{ .x }}", "", "")
	f.Add("yes", "app", "secret-db", "kv/db", "status", "injected", "", "")
	f.Add("true", "app", "secret-db", "kv/db", "env-DB_PASSWORD", "db#password", "format-db", "env")
	f.Add("true", "app", "secret-db", "kv/db", "env-1X", "db#", "template-db", "{{ .x }}")
	f.Add("true", "app", "secret-db", "kv/db", "env-PGUSER", "ghost#user", "format-db", "raw:password")
	f.Add("true", "app", "secret-db", "kv/db", "template-db", "$(X) $$( {{ $x := .a }}", "env-A", "db#$$(k)")

	f.Fuzz(func(t *testing.T, inject, role, k1, v1, k2, v2, k3, v3 string) {
		annotations := map[string]string{
			mutate.AnnotationInject: inject,
			mutate.AnnotationRole:   role,
		}
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}, {k3, v3}} {
			if kv[0] != "" {
				annotations[fuzzKey(kv[0])] = kv[1]
			}
		}
		pod := fuzzPod(annotations)
		before := pod.DeepCopy()

		out, res, err := mutate.Inject(pod, mutate.Config{})
		if !reflect.DeepEqual(before, pod) {
			t.Fatalf("Inject modified its input pod (-before +after):\n%s", cmp.Diff(before, pod))
		}
		if err != nil {
			if out != nil {
				t.Fatalf("Inject returned a pod with its error %q", err)
			}
			var ae *mutate.AnnotationError
			if !errors.As(err, &ae) {
				t.Fatalf("error %q is not an *AnnotationError", err)
			}
			for _, e := range annotationErrors(t, err) {
				if _, ok := annotations[e.Key]; !ok && e.Key != mutate.AnnotationSecretPrefix+"<name>" {
					t.Errorf("denial names annotation %q, which the pod does not have: %v", e.Key, err)
				}
			}
			return
		}
		if res != mutate.Injected {
			if out != pod {
				t.Fatalf("result %v but Inject returned a copy, not its input", res)
			}
			return
		}

		if out == pod {
			t.Fatal("Inject returned its input as the injected pod")
		}
		if got := out.Annotations[mutate.AnnotationStatus]; got != mutate.StatusInjected {
			t.Errorf("injected pod has %s = %q", mutate.AnnotationStatus, got)
		}
		if got := out.Spec.InitContainers[0].Name; got != mutate.FetchContainerName {
			t.Errorf("first init container is %q, want %s", got, mutate.FetchContainerName)
		}
		// The webhook checks this role against the policy instead of the
		// plan's.
		if got, want := fetchPlan(t, out).Role, mutate.Role(annotations, mutate.Config{}); got != want {
			t.Errorf("the plan's role is %q, mutate.Role says %q", got, want)
		}
		// What wisp writes passes its own plan checks: no "$(" the kubelet
		// would expand, whatever the templates and keys hold.
		if found, err := mutate.CheckPlans(&out.Spec, mutate.Config{}, func(string) error { return nil }); err != nil || !found {
			t.Errorf("the injected pod fails CheckPlans: %v, %v", found, err)
		}
		wantVolumes := len(pod.Spec.Volumes) + 2
		for i, c := range out.Spec.Containers {
			if len(c.Command) == 0 || c.Command[0] != mutate.ShimPath {
				continue
			}
			// The exec shim: the original command after "--", a spec the
			// shim accepts, one var per env annotation.
			if !reflect.DeepEqual(c.Command[2:], pod.Spec.Containers[i].Command) || c.Command[1] != "--" {
				t.Errorf("container %s: command %q does not wrap %q", c.Name, c.Command, pod.Spec.Containers[i].Command)
			}
			var spec string
			for _, e := range c.Env {
				if e.Name == plan.EnvSpecVar {
					spec = e.Value
				}
			}
			ps, err := plan.ParseEnvSpec(spec)
			if err != nil {
				t.Errorf("container %s: the shim would refuse its spec: %v", c.Name, err)
			}
			for _, v := range ps.Vars {
				if _, ok := annotations[mutate.AnnotationEnvPrefix+v.Name]; !ok {
					t.Errorf("shim sets %s, which no annotation asks for", v.Name)
				}
			}
			wantVolumes = len(pod.Spec.Volumes) + 3
		}
		if got := len(out.Spec.Volumes); got != wantVolumes {
			t.Errorf("injected pod has %d volumes, want %d", got, wantVolumes)
		}
		p := fetchPlan(t, out)
		var secrets int
		for k := range annotations {
			if strings.HasPrefix(k, mutate.AnnotationSecretPrefix) {
				secrets++
			}
		}
		if len(p.Secrets) != secrets {
			t.Errorf("plan has %d secrets, the pod asks for %d", len(p.Secrets), secrets)
		}
		if p.Role != strings.TrimSpace(annotations[mutate.AnnotationRole]) {
			t.Errorf("plan role %q, annotation %q", p.Role, annotations[mutate.AnnotationRole])
		}

		outCopy := out.DeepCopy()
		again, res2, err := mutate.Inject(out, mutate.Config{})
		if err != nil {
			t.Fatalf("Inject of an injected pod: %v", err)
		}
		if res2 != mutate.AlreadyInjected {
			t.Errorf("Inject of an injected pod: result %v, want %v", res2, mutate.AlreadyInjected)
		}
		if !reflect.DeepEqual(outCopy, again) {
			t.Errorf("Inject(Inject(pod)) != Inject(pod) (-once +twice):\n%s", cmp.Diff(outCopy, again))
		}
	})
}

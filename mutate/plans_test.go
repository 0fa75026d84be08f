package mutate_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/plan"
)

var errForeign = errors.New("vault role not allowed")

// allowOnly allows one role.
func allowOnly(role string) mutate.RoleCheck {
	return func(r string) error {
		if r == role {
			return nil
		}
		return fmt.Errorf("%w: %q", errForeign, r)
	}
}

func planDoc(role, path string) string {
	return `{"version":"wisp.dev/v1alpha1","role":"` + role + `","dir":"/wisp/secrets","secrets":[{"name":"db","path":"` + path + `"}]}`
}

// TestCheckPlans: every way to give wisp-fetch a plan admission does not
// read as it will run is refused, in every container kind, with one
// message; what wisp itself writes passes.
func TestCheckPlans(t *testing.T) {
	t.Parallel()
	own := planDoc("team-a-db", "database/creds/team-a-db")
	fromCM := &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "p"}, Key: "plan"}}
	cmEnvFrom := []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "p"}}}}
	tests := []struct {
		name  string
		c     corev1.Container
		found bool
		want  string // substring of the error; "" no error
	}{
		{name: "own plan", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.PlanVar, Value: own}}}, found: true},
		{name: "a foreign role", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.PlanVar, Value: planDoc("team-b-db", "x")}}},
			want: `vault role not allowed: "team-b-db"`},
		{name: "$( in the path closes the string", c: corev1.Container{Env: []corev1.EnvVar{
			{Name: "P", Value: `x","role":"team-b-db`}, {Name: plan.PlanVar, Value: planDoc("team-a-db", "$(P)")}}},
			want: `env WISP_PLAN holds "$(": the kubelet expands $(VAR) references in env values`},
		{name: "$( in the role", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.PlanVar, Value: planDoc("$(R)", "x")}}},
			want: `env WISP_PLAN holds "$("`},
		{name: "$( after the object", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.PlanVar, Value: own + "$(X)"}}},
			want: `env WISP_PLAN holds "$("`},
		{name: "$$( escaped is refused too", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.PlanVar, Value: planDoc("team-a-db", "$$(P)")}}},
			want: `env WISP_PLAN holds "$("`},
		{name: "$( in WISP_ENV", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.EnvSpecVar, Value: `{"dir":"/vault/secrets","vars":[{"name":"A","secret":"db","key":"$(K)","format":"json"}]}`}}},
			want: `env WISP_ENV holds "$(": the kubelet expands $(VAR) references in env values, so the exec shim's spec`},
		{name: "WISP_PLAN from a ConfigMap", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.PlanVar, ValueFrom: fromCM}}},
			want: "env WISP_PLAN must be a literal fetch plan, not valueFrom"},
		{name: "WISP_ENV from a field", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.EnvSpecVar, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['spec']"}}}}},
			want: "env WISP_ENV must be a literal exec shim's spec, not valueFrom"},
		{name: "not a plan", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.PlanVar, Value: "nope"}}}, want: "env WISP_PLAN is not a fetch plan"},
		{name: "no role", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.PlanVar, Value: `{"version":"wisp.dev/v1alpha1"}`}}}, want: "the fetch plan names no role"},
		{name: "envFrom on wisp-fetch by image", c: corev1.Container{Image: "ghcr.io/wisp-dev/wisp-fetch@sha256:0123", EnvFrom: cmEnvFrom},
			want: "runs wisp-fetch and has envFrom"},
		{name: "envFrom on wisp-fetch by command", c: corev1.Container{Image: "registry.example.com/tools:1", Command: []string{"/usr/local/bin/wisp-fetch"}, EnvFrom: cmEnvFrom},
			want: "runs wisp-fetch and has envFrom"},
		{name: "envFrom on wisp-fetch through a shell", c: corev1.Container{Image: "busybox:1", Command: []string{"sh", "-c", "exec /wisp-fetch"}, EnvFrom: cmEnvFrom},
			want: "runs wisp-fetch and has envFrom"},
		{name: "envFrom beside a plan", c: corev1.Container{Env: []corev1.EnvVar{{Name: plan.PlanVar, Value: own}}, EnvFrom: cmEnvFrom},
			want: "runs wisp-fetch and has envFrom"},
		{name: "envFrom on the configured image", c: corev1.Container{Image: "registry.internal/mirror/fetcher:2", EnvFrom: cmEnvFrom},
			want: "runs wisp-fetch and has envFrom"},
		{name: "envFrom on an app", c: corev1.Container{Image: "registry.example.com/app:1", Command: []string{"/app"}, EnvFrom: cmEnvFrom}},
		{name: "--plan on wisp-fetch", c: corev1.Container{Command: []string{"/wisp-fetch"}, Args: []string{"--plan", "/cm/plan.json"}},
			want: "args[0] passes wisp-fetch's --plan flag"},
		{name: "--plan= on any image", c: corev1.Container{Image: "evil.example.com/x:1", Args: []string{"--sidecar", "--plan=/cm/plan.json"}},
			want: "args[1] passes wisp-fetch's --plan flag"},
		{name: "-plan in a shell command", c: corev1.Container{Image: "busybox:1", Command: []string{"sh", "-c", "cp /cm/p /tmp/p && /bin/f '-plan' /tmp/p"}},
			want: "command[2] passes wisp-fetch's --plan flag"},
		{name: "--plan spelled by expansion", c: corev1.Container{Image: "evil.example.com/x:1", Env: []corev1.EnvVar{{Name: "A", Value: "--pl"}, {Name: "F", Value: "$(A)an"}},
			Args: []string{"$(F)", "/cm/plan.json"}},
			want: "args[0] passes wisp-fetch's --plan flag"},
		{name: "$( in wisp-fetch's args", c: corev1.Container{Name: "wisp-fetch", Args: []string{"$(F)"}, Env: []corev1.EnvVar{{Name: "F", ValueFrom: fromCM}}},
			want: `runs wisp-fetch and its args[0] holds "$("`},
		{name: "other flags", c: corev1.Container{Image: "registry.example.com/app:1", Args: []string{"--planner", "terraform plan", "--plan-cache=/x", "$(HOME)"}}},
	}
	for _, tt := range tests {
		for _, kind := range []string{"init container", "container", "ephemeral container"} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				c := tt.c
				if c.Name == "" {
					c.Name = "x"
				}
				spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}}
				switch kind {
				case "init container":
					spec.InitContainers = []corev1.Container{c}
				case "container":
					spec.Containers = append(spec.Containers, c)
				default:
					spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
						Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, Env: c.Env, EnvFrom: c.EnvFrom}}}
				}
				cfg := mutate.Config{}
				if tt.name == "envFrom on the configured image" {
					cfg.Image = "registry.internal/mirror/fetcher:1"
				}
				found, err := mutate.CheckPlans(spec, cfg, allowOnly("team-a-db"))
				if tt.want == "" {
					if err != nil || found != tt.found {
						t.Fatalf("CheckPlans = %v, %v; want %v, nil", found, err, tt.found)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), fmt.Sprintf("%s %q", kind, c.Name)) {
					t.Fatalf("CheckPlans error = %v; want %q, about %s %q", err, tt.want, kind, c.Name)
				}
			})
		}
	}
}

// TestInjectedPlansPassCheck: what wisp writes (a plan and an exec shim
// spec whose templates and keys hold "$(" and "$$") passes CheckPlans,
// and a pod built from wisp's own output is the one the kubelet runs.
func TestInjectedPlansPassCheck(t *testing.T) {
	t.Parallel()
	pod := newPod(optedIn(
		mutate.AnnotationTemplatePrefix+"db", `{{ with $u := .username }}export USER={{ $u }} PASS=$(cat /x) $$ {{ end }}`,
		mutate.AnnotationSecretPrefix+"cfg", "secret/data/app",
		mutate.AnnotationEnvPrefix+"DB_USER", "cfg#$(key)",
	), "app")
	pod.Spec.Containers[0].Command = []string{"/app"}
	out, res, err := mutate.Inject(pod, mutate.Config{})
	if err != nil || res != mutate.Injected {
		t.Fatalf("Inject: %v %v", res, err)
	}
	found, err := mutate.CheckPlans(&out.Spec, mutate.Config{}, allowOnly("app"))
	if err != nil || !found {
		t.Fatalf("CheckPlans on wisp's own pod: %v, %v", found, err)
	}
	if err := mutate.CheckInjected(pod, out, res, mutate.Config{}, allowOnly("app")); err != nil {
		t.Fatalf("CheckInjected: %v", err)
	}
	for _, e := range out.Spec.InitContainers[0].Env {
		if e.Name == plan.PlanVar {
			p, err := plan.Parse([]byte(e.Value))
			if err != nil || len(p.Secrets) != 2 || !strings.Contains(p.Secrets[1].Template, "PASS=$(cat /x) $$") {
				t.Errorf("the plan does not decode to the template: %v %+v", err, p)
			}
		}
	}
}

// TestCheckInjected: the role of the plan wisp writes is checked, with the
// message the webhook denies with.
func TestCheckInjected(t *testing.T) {
	t.Parallel()
	pod := newPod(optedIn(mutate.AnnotationRole, "team-b-db"), "app")
	out, res, err := mutate.Inject(pod, mutate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = mutate.CheckInjected(pod, out, res, mutate.Config{}, allowOnly("team-a-db"))
	if want := `cannot inject: init container "wisp-fetch": vault role not allowed: "team-b-db"`; err == nil || err.Error() != want {
		t.Errorf("CheckInjected = %v, want %s", err, want)
	}
	// A pod that says it is injected is judged as it is.
	out.Annotations[mutate.AnnotationInject] = "false"
	if err := mutate.CheckInjected(out, out, mutate.NotRequested, mutate.Config{}, allowOnly("team-a-db")); err == nil ||
		err.Error() != `init container "wisp-fetch": vault role not allowed: "team-b-db"` {
		t.Errorf("CheckInjected on a pre-injected pod = %v", err)
	}
	if err := mutate.CheckInjected(out, out, mutate.AlreadyInjected, mutate.Config{}, allowOnly("team-b-db")); err != nil {
		t.Errorf("CheckInjected with the role allowed = %v", err)
	}
}

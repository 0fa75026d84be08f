package mutate

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/internal/expansion"
	"wisp.dev/wisp/plan"
)

// RoleCheck returns nil when the pod's namespace may name the Vault role,
// and otherwise why not (the policy's role bindings: a closure over
// policy.Evaluator.AllowedRole and the namespace).
type RoleCheck func(role string) error

// CheckPlans refuses a pod spec that could give wisp-fetch a fetch plan (or
// the exec shim its spec) other than the one admission reads, or a plan
// whose Vault role the namespace may not name. The webhook (/mutate and
// /validate), `wisp inject` and `wisp check` call it, so they refuse the
// same pods with the same message. Every container of every kind is read,
// whatever its name and whatever the pod's status annotation says:
//
//   - env WISP_PLAN or WISP_ENV from valueFrom: read at run time, never
//     checked;
//   - a "$(" in WISP_PLAN or WISP_ENV: the kubelet expands $(VAR)
//     references in env values (and turns "$$(" into "$("), so the document
//     that runs would not be the one checked ("path":"$(P)" with P closing
//     the string and adding a second "role"); wisp itself writes "$" as
//     \u0024 (plan.EscapeDollars);
//   - a WISP_PLAN that is not a plan, names no role, or names a role that
//     allowed refuses;
//   - envFrom on a container that runs wisp-fetch (see runsFetch): its keys,
//     WISP_PLAN among them, are read at run time;
//   - wisp-fetch's --plan flag (--plan, -plan, --plan=..., as a word of any
//     command or args element, after the kubelet's $(VAR) expansion with the
//     container's literal env) in any container: wisp-fetch takes its plan
//     from WISP_PLAN only; and, in a container that runs wisp-fetch, any
//     "$(" in command or args, which could spell the flag at run time.
//
// found reports whether some container carries a WISP_PLAN.
func CheckPlans(spec *corev1.PodSpec, cfg Config, allowed RoleCheck) (found bool, err error) {
	if spec == nil {
		return false, nil
	}
	check := func(c planContainer) error {
		f, err := c.check(cfg, allowed)
		found = found || f
		return err
	}
	for i := range spec.InitContainers {
		if err := check(containerOf("init container", &spec.InitContainers[i])); err != nil {
			return false, err
		}
	}
	for i := range spec.Containers {
		if err := check(containerOf("container", &spec.Containers[i])); err != nil {
			return false, err
		}
	}
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i].EphemeralContainerCommon
		if err := check(planContainer{kind: "ephemeral container", name: c.Name, image: c.Image,
			command: c.Command, args: c.Args, env: c.Env, envFrom: c.EnvFrom}); err != nil {
			return false, err
		}
	}
	return found, nil
}

// CheckInjected runs CheckPlans the way admission needs it for what Inject
// (or InjectCached) returned for pod in: a pod wisp just injected is the
// pod it received plus wisp-fetch, whose plan names the role of the pod's
// annotations (Role; TestRoleIsThePlanRole holds the two equal), so the
// plans in carried are checked, then that role, without decoding wisp's own
// plan again; a completed pod (reinvocation) is checked whole and must
// carry a plan; any other pod (not opted in, or "already injected" by its
// author's word) is checked as it is. The error's text is what the webhook
// denies with, after "wisp: ".
func CheckInjected(in, out *corev1.Pod, res Result, cfg Config, allowed RoleCheck) error {
	switch res {
	case Injected:
		if _, err := CheckPlans(&in.Spec, cfg, allowed); err != nil {
			return fmt.Errorf("cannot inject: %w", err)
		}
		if err := allowed(Role(in.Annotations, cfg)); err != nil {
			return fmt.Errorf("cannot inject: init container %q: %w", FetchContainerName, err)
		}
		return nil
	case Completed:
		found, err := CheckPlans(&out.Spec, cfg, allowed)
		if err == nil && !found {
			err = errors.New("the injected pod has no fetch plan")
		}
		if err != nil {
			return fmt.Errorf("cannot inject: %w", err)
		}
		return nil
	}
	_, err := CheckPlans(&in.Spec, cfg, allowed)
	return err
}

// planContainer is what CheckPlans reads of a container of any kind.
type planContainer struct {
	kind, name, image string
	command, args     []string
	env               []corev1.EnvVar
	envFrom           []corev1.EnvFromSource
}

func containerOf(kind string, c *corev1.Container) planContainer {
	return planContainer{kind: kind, name: c.Name, image: c.Image, command: c.Command, args: c.Args, env: c.Env, envFrom: c.EnvFrom}
}

// check runs CheckPlans' checks on one container.
func (c planContainer) check(cfg Config, allowed RoleCheck) (found bool, err error) {
	for i := range c.env {
		e := &c.env[i]
		if e.Name != EnvPlan && e.Name != plan.EnvSpecVar {
			continue
		}
		if err := c.checkWispVar(e); err != nil {
			return false, err
		}
		if e.Name != EnvPlan {
			continue
		}
		if err := c.checkRole(e.Value, allowed); err != nil {
			return false, err
		}
		found = true
	}
	fetch := -1 // whether c runs wisp-fetch, once asked
	runs := func() bool {
		if fetch < 0 {
			fetch = 0
			if c.runsFetch(cfg) {
				fetch = 1
			}
		}
		return fetch == 1
	}
	if len(c.envFrom) > 0 && runs() {
		return false, fmt.Errorf("%s %q runs wisp-fetch and has envFrom: its keys (%s among them) are read at run time and could not be checked; give wisp-fetch its plan as a literal env %s",
			c.kind, c.name, EnvPlan, EnvPlan)
	}
	return found, c.checkFlags(runs)
}

// checkWispVar refuses a WISP_PLAN or WISP_ENV that admission could not
// read as it will run.
func (c planContainer) checkWispVar(e *corev1.EnvVar) error {
	what := "fetch plan"
	if e.Name != EnvPlan {
		what = "exec shim's spec"
	}
	if e.ValueFrom != nil {
		return fmt.Errorf("%s %q: env %s must be a literal %s, not valueFrom: it would be read at run time and never checked",
			c.kind, c.name, e.Name, what)
	}
	if strings.Contains(e.Value, "$(") {
		return fmt.Errorf(`%s %q: env %s holds "$(": the kubelet expands $(VAR) references in env values, so the %s that would run is not the one checked (write "$" as \u0024 in its JSON)`,
			c.kind, c.name, e.Name, what)
	}
	return nil
}

// checkRole refuses a plan without a role, or whose role allowed refuses.
func (c planContainer) checkRole(doc string, allowed RoleCheck) error {
	// Only the role is read: mutate validated the plans it wrote, and
	// plan.Parse would parse every template again.
	var p struct {
		Role string `json:"role"`
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return fmt.Errorf("%s %q: env %s is not a fetch plan: %w", c.kind, c.name, EnvPlan, err)
	}
	if p.Role == "" {
		return fmt.Errorf("%s %q: the fetch plan names no role", c.kind, c.name)
	}
	if err := allowed(p.Role); err != nil {
		return fmt.Errorf("%s %q: %w", c.kind, c.name, err)
	}
	return nil
}

// checkFlags refuses wisp-fetch's --plan flag in c's command or args, and
// any "$(" there when c runs wisp-fetch.
func (c planContainer) checkFlags(runsFetch func() bool) error {
	var vars map[string]string // c's literal env, expanded, once needed
	for _, list := range [...]struct {
		field string
		args  []string
	}{{"command", c.command}, {"args", c.args}} {
		for i, a := range list.args {
			if strings.Contains(a, "$(") {
				if runsFetch() {
					return fmt.Errorf(`%s %q runs wisp-fetch and its %s[%d] holds "$(": the kubelet expands it at run time, so its flags could not be checked`,
						c.kind, c.name, list.field, i)
				}
				if vars == nil {
					vars = literalEnv(c.env)
				}
				if x, ok := expansion.ExpandMax(a, expansion.Map(vars), expansion.MaxValue); ok {
					a = x
				}
			}
			if planFlag(a) {
				return fmt.Errorf("%s %q: %s[%d] passes wisp-fetch's --plan flag: a plan read from a file at run time could not be checked; wisp-fetch takes its plan from env %s only",
					c.kind, c.name, list.field, i, EnvPlan)
			}
		}
	}
	return nil
}

// literalEnv is what the kubelet knows of a container's env before it
// starts, as far as its literal values tell: each expanded with the ones
// before it (values read at run time are left out).
func literalEnv(env []corev1.EnvVar) map[string]string {
	vars := make(map[string]string, len(env))
	budget := 2 * expansion.MaxValue
	lookup := expansion.Map(vars)
	for _, e := range env {
		if e.ValueFrom != nil {
			delete(vars, e.Name)
			continue
		}
		v, ok := expansion.ExpandMax(e.Value, lookup, min(expansion.MaxValue, max(budget, 0)))
		if !ok {
			delete(vars, e.Name)
			continue
		}
		budget -= len(v)
		vars[e.Name] = v
	}
	return vars
}

// planFlag reports whether a command or args element has wisp-fetch's
// --plan flag as one of its words (a shell command line is one element).
func planFlag(a string) bool {
	if !strings.Contains(a, "-plan") {
		return false
	}
	for _, w := range strings.Fields(a) {
		w = strings.Trim(w, `"'`)
		if w == "--plan" || w == "-plan" || strings.HasPrefix(w, "--plan=") || strings.HasPrefix(w, "-plan=") {
			return true
		}
	}
	return false
}

// runsFetch reports whether c runs wisp-fetch, as far as its spec tells:
// it is named wisp-fetch, carries a WISP_PLAN, runs the fetcher's image
// (cfg.Image's repository, or any repository named wisp-fetch), or a word of
// its command or args is a program named wisp-fetch (/wisp-fetch,
// /usr/local/bin/wisp-fetch, in a shell command line too). An image that
// runs a copy of wisp-fetch under another name is not recognised: that is
// why Vault's bound claims, not admission, are what binds a role to a pod.
func (c planContainer) runsFetch(cfg Config) bool {
	if c.name == FetchContainerName || hasEnvVar(c.env, EnvPlan) {
		return true
	}
	image := cfg.Image
	if image == "" {
		image = DefaultImage
	}
	repo := imageRepository(c.image)
	if repo == imageRepository(image) || path.Base(repo) == FetchContainerName {
		return true
	}
	for _, list := range [][]string{c.command, c.args} {
		for _, a := range list {
			if !strings.Contains(a, FetchContainerName) {
				continue
			}
			for _, w := range strings.Fields(a) {
				if path.Base(strings.Trim(w, `"'`)) == FetchContainerName {
					return true
				}
			}
		}
	}
	return false
}

// imageRepository is an image reference without its tag and digest.
func imageRepository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

func hasEnvVar(env []corev1.EnvVar, name string) bool {
	for i := range env {
		if env[i].Name == name {
			return true
		}
	}
	return false
}

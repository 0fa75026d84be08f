package mutate

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/plan"
)

// Result says what Inject did.
type Result int

const (
	// NotRequested: the pod does not opt in; it is returned as is.
	NotRequested Result = iota
	// AlreadyInjected: the pod carries wisp.dev/status: injected and every
	// selected app container has the secrets mount; it is returned as is.
	AlreadyInjected
	// Injected: the returned pod is a mutated copy.
	Injected
	// Completed: the pod was injected, and a container added since (by a
	// later mutating webhook, wisp being reinvoked) got the secrets mount;
	// the returned pod is a mutated copy.
	Completed
)

func (r Result) String() string {
	switch r {
	case NotRequested:
		return "not-requested"
	case AlreadyInjected:
		return "already-injected"
	case Injected:
		return "injected"
	case Completed:
		return "completed"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Inject returns the pod to admit. When the pod opts in and is not injected
// yet, the result is a mutated copy; otherwise it is pod itself. pod is
// never modified. The copy shares with pod every part the injection does
// not change: treat both as read-only, and DeepCopy the result to change
// it. On error (malformed annotations, name clashes) no pod is returned;
// the error names every problem, one *AnnotationError (or clash) each,
// joined with errors.Join.
//
// With cfg.VaultAgentAnnotations, the Vault Agent Injector's annotations are
// read as aliases of wisp's (see VaultAlias) and problems with them are
// reported under their own keys.
//
// cfg is used with its defaults applied; the caller validates it once, at
// start-up, with Config.Validate.
func Inject(pod *corev1.Pod, cfg Config) (*corev1.Pod, Result, error) {
	return InjectCached(pod, cfg, nil)
}

// InjectCached is Inject, with what it derives from the annotations alone
// remembered in cache (nil: none), which the admission path shares between
// requests: the replicas of a workload carry the same annotations. With a
// cache, the result also shares wisp-fetch's resources with cfg: it is
// read, never modified (Inject copies them).
func InjectCached(pod *corev1.Pod, cfg Config, cache *Cache) (*corev1.Pod, Result, error) {
	annotations := pod.Annotations
	var origin map[string]string
	var vaultErrs []error
	if cfg.VaultAgentAnnotations {
		annotations, origin, vaultErrs = resolveVaultAliases(pod.Annotations)
	}
	requested, err := requested(annotations, origin)
	if err != nil {
		return nil, NotRequested, err
	}
	if !requested {
		return pod, NotRequested, nil
	}
	if pod.Annotations[AnnotationStatus] == StatusInjected {
		out, res := complete(pod, annotations, origin, cfg, cache)
		return out, res, nil
	}
	if cfg.VaultAgentAnnotations && strings.TrimSpace(pod.Annotations[VaultAnnotationAgentInjectStatus]) == "injected" {
		vaultErrs = append(vaultErrs, &AnnotationError{Key: VaultAnnotationAgentInjectStatus,
			Reason: "the Vault Agent Injector already injected this pod; one injector per pod: remove its opt-in, or set " + AnnotationInject + ": \"false\""})
	}
	cfg = cfg.WithDefaults()
	req, planDoc, errs := cache.request(annotations, mountRuleOf(cfg), origin)
	if cfg.VaultAgentAnnotations {
		vaultErrs = append(vaultErrs, vaultVolumePathErrors(pod.Annotations, req)...)
	}
	errs = append(errs, vaultErrs...)
	targets, podErrs := checkPod(pod, req, cfg)
	for _, e := range podErrs {
		// A problem with an alias is reported under the alias's own key.
		if ae, ok := e.(*AnnotationError); ok && origin[ae.Key] != "" {
			ae.Key = origin[ae.Key]
		}
	}
	if errs = append(errs, podErrs...); len(errs) > 0 {
		sortErrors(errs)
		return nil, NotRequested, errors.Join(errs...)
	}
	// The files are 0440: the app reads them through its group. With an
	// fsGroup, kubelet gives the volume that group and wisp-fetch writes as
	// it; without one, the pod's containers get wisp-fetch's group as a
	// supplemental group.
	group := *cfg.RunAsGroup
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		group = *sc.FSGroup
	}
	fetch := fetchContainer(req, planDoc, cfg, group, cache != nil)

	out := shallowCopy(pod)
	if group == *cfg.RunAsGroup {
		out.Spec.SecurityContext = withSupplementalGroup(pod.Spec.SecurityContext, group)
	}
	out.Spec.Volumes = append(slices.Clip(out.Spec.Volumes), socketVolume(cfg), secretsVolume(cfg))
	var spec string
	if len(req.Env) > 0 {
		// The exec shim: wisp-fetch places it on the bin volume, the app
		// containers start through it.
		if spec, err = envSpec(req); err != nil {
			return nil, NotRequested, err
		}
		out.Spec.Volumes = append(out.Spec.Volumes, binVolume())
		fetch.VolumeMounts = append(fetch.VolumeMounts, corev1.VolumeMount{Name: BinVolumeName, MountPath: ShimDir})
		fetch.Env = append(fetch.Env, corev1.EnvVar{Name: EnvInstallShim, Value: ShimPath})
	}
	out.Spec.InitContainers = append([]corev1.Container{fetch}, out.Spec.InitContainers...)
	for i := range out.Spec.Containers {
		if c := &out.Spec.Containers[i]; targets[c.Name] {
			mountSecrets(c, req, spec, cfg)
		}
	}
	out.Annotations = maps.Clone(pod.Annotations)
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[AnnotationStatus] = StatusInjected
	return out, Injected, nil
}

// withSupplementalGroup is a copy of sc (nil: an empty one) with group
// among its supplemental groups.
func withSupplementalGroup(sc *corev1.PodSecurityContext, group int64) *corev1.PodSecurityContext {
	out := &corev1.PodSecurityContext{}
	if sc != nil {
		*out = *sc
	}
	if !slices.Contains(out.SupplementalGroups, group) {
		out.SupplementalGroups = append(slices.Clip(out.SupplementalGroups), group)
	}
	return out
}

// mountSecrets gives app container c (a copy of the pod's) the secrets
// volume, and with an env spec the exec shim, and with req.Socket the
// Workload API socket.
func mountSecrets(c *corev1.Container, req *Request, spec string, cfg Config) {
	// Clipped: an append must never write into the pod's arrays.
	c.VolumeMounts, c.Env = slices.Clip(c.VolumeMounts), slices.Clip(c.Env)
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{
		Name: SecretsVolumeName, MountPath: req.MountPath, ReadOnly: true,
	})
	if spec != "" {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: BinVolumeName, MountPath: ShimDir, ReadOnly: true})
		c.Command = append([]string{ShimPath, "--"}, c.Command...)
		c.Env = append(c.Env, corev1.EnvVar{Name: plan.EnvSpecVar, Value: spec})
	}
	if req.Socket {
		c.VolumeMounts = append(c.VolumeMounts, socketMount(cfg))
		if !hasEnv(c, EnvSocket) {
			c.Env = append(c.Env, corev1.EnvVar{Name: EnvSocket, Value: "unix://" + cfg.SocketPath})
		}
	}
}

// shallowCopy copies what an injection changes in place: the pod, and its
// app containers (each one's own lists are clipped or replaced before
// anything is appended to them). Everything else is shared with pod: a
// deep copy of a whole pod costs more than the rest of an injection, and
// the patch that is made of the result compares shared parts by pointer.
func shallowCopy(pod *corev1.Pod) *corev1.Pod {
	out := *pod
	out.Spec.Containers = slices.Clone(pod.Spec.Containers)
	return &out
}

// complete handles a pod that says it is injected. With reinvocationPolicy
// IfNeeded the API server calls wisp again when a later mutating webhook
// changed the pod: an app container it added (a proxy, a log shipper) that
// wisp.dev/containers selects gets the secrets mount (and the socket's)
// like the others. The pod is returned as is (AlreadyInjected) when nothing
// is missing, when it has no secrets volume, or when its annotations do not
// parse (nothing is guessed on a pod wisp did not produce).
func complete(pod *corev1.Pod, annotations, origin map[string]string, cfg Config, cache *Cache) (*corev1.Pod, Result) {
	if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == SecretsVolumeName }) {
		return pod, AlreadyInjected
	}
	cfg = cfg.WithDefaults()
	req, _, errs := cache.request(annotations, mountRuleOf(cfg), origin)
	if len(errs) > 0 {
		return pod, AlreadyInjected
	}
	var out *corev1.Pod
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if len(req.Containers) > 0 && !slices.Contains(req.Containers, c.Name) {
			continue
		}
		if slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
			return m.Name == SecretsVolumeName || overlaps(m.MountPath, req.MountPath)
		}) {
			continue // has it, or uses the path for something else
		}
		if out == nil {
			out = shallowCopy(pod)
		}
		oc := &out.Spec.Containers[i]
		oc.VolumeMounts, oc.Env = slices.Clip(oc.VolumeMounts), slices.Clip(oc.Env)
		oc.VolumeMounts = append(oc.VolumeMounts, corev1.VolumeMount{Name: SecretsVolumeName, MountPath: req.MountPath, ReadOnly: true})
		if req.Socket && !slices.ContainsFunc(oc.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == SocketVolumeName }) {
			oc.VolumeMounts = append(oc.VolumeMounts, socketMount(cfg))
			if !hasEnv(oc, EnvSocket) {
				oc.Env = append(oc.Env, corev1.EnvVar{Name: EnvSocket, Value: "unix://" + cfg.SocketPath})
			}
		}
	}
	if out == nil {
		return pod, AlreadyInjected
	}
	return out, Completed
}

// checkPod refuses what wisp cannot add cleanly: reserved names already in
// use, unknown target containers, mount paths already taken. It returns the
// set of app containers that get the secrets mount, and every problem found.
func checkPod(pod *corev1.Pod, req *Request, cfg Config) (map[string]bool, []error) {
	var errs []error
	for _, v := range pod.Spec.Volumes {
		if v.Name == SecretsVolumeName || v.Name == SocketVolumeName || v.Name == BinVolumeName {
			errs = append(errs, &AnnotationError{Key: AnnotationInject,
				Reason: fmt.Sprintf("the pod already has a volume named %q, which wisp reserves; rename it", v.Name)})
		}
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if c.Name == FetchContainerName {
				errs = append(errs, &AnnotationError{Key: AnnotationInject,
					Reason: fmt.Sprintf("the pod already has a container named %q, which wisp reserves; rename it", c.Name)})
			}
		}
	}

	targets := make(map[string]bool, len(pod.Spec.Containers))
	if req.Containers == nil {
		for _, c := range pod.Spec.Containers {
			targets[c.Name] = true
		}
	} else {
		for _, name := range req.Containers {
			if !slices.ContainsFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == name }) {
				errs = append(errs, &AnnotationError{Key: AnnotationContainers,
					Reason: fmt.Sprintf("names container %q, which the pod does not have", trunc(name))})
				continue
			}
			targets[name] = true
		}
	}

	// The fetch container mounts the socket folder whether or not the app
	// containers get it, so the secrets mount must never overlap it.
	socketDir := path.Dir(cfg.SocketPath)
	if overlaps(req.MountPath, socketDir) {
		errs = append(errs, &AnnotationError{Key: AnnotationMountPath,
			Reason: fmt.Sprintf("%q overlaps the Workload API socket folder %q", req.MountPath, socketDir)})
	}
	for _, c := range pod.Spec.Containers {
		if !targets[c.Name] {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.MountPath == req.MountPath || isBelow(m.MountPath, req.MountPath) {
				errs = append(errs, &AnnotationError{Key: AnnotationMountPath,
					Reason: fmt.Sprintf("container %q already mounts %q at %q; choose another path", c.Name, m.Name, m.MountPath)})
			}
			if req.Socket && (m.MountPath == socketDir || isBelow(m.MountPath, socketDir)) {
				errs = append(errs, &AnnotationError{Key: AnnotationSocket,
					Reason: fmt.Sprintf("container %q already mounts %q at the socket folder %q", c.Name, m.Name, socketDir)})
			}
		}
		errs = append(errs, checkEnvTarget(c, req)...)
	}
	return targets, errs
}

// checkEnvTarget refuses what the exec shim cannot wrap in container c: no
// command in the spec (the image's ENTRYPOINT is unknown at admission
// without a registry call), or a variable c already sets.
func checkEnvTarget(c corev1.Container, req *Request) []error {
	if len(req.Env) == 0 {
		return nil
	}
	var errs []error
	if len(c.Command) == 0 {
		errs = append(errs, &AnnotationError{Key: AnnotationEnvPrefix + req.Env[0].Name,
			Reason: fmt.Sprintf("container %q has no command in its spec: wisp starts it through %s, which must know the program, and the image's ENTRYPOINT cannot be known at admission without a registry call; set command (and args) to what the image runs, e.g. command: [\"/app\"]", c.Name, ShimPath)})
	}
	for _, e := range req.Env {
		if slices.ContainsFunc(c.Env, func(v corev1.EnvVar) bool { return v.Name == e.Name }) {
			errs = append(errs, &AnnotationError{Key: AnnotationEnvPrefix + e.Name,
				Reason: fmt.Sprintf("container %q already sets %s in its env; remove it there (wisp sets it from the secret)", c.Name, e.Name)})
		}
	}
	for _, m := range c.VolumeMounts {
		if overlaps(m.MountPath, ShimDir) {
			errs = append(errs, &AnnotationError{Key: AnnotationEnvPrefix + req.Env[0].Name,
				Reason: fmt.Sprintf("container %q already mounts %q at %q, where wisp puts its shim (%s)", c.Name, m.Name, m.MountPath, ShimDir)})
		}
	}
	return errs
}

// envSpec is the shim's spec for the app containers.
func envSpec(req *Request) (string, error) {
	formats := make(map[string]plan.Format, len(req.Secrets))
	for _, s := range req.Secrets {
		f := s.Format
		if f == "" {
			f = plan.FormatJSON
		}
		formats[s.Name] = f
	}
	spec := plan.EnvSpec{Dir: req.MountPath}
	for _, e := range req.Env {
		spec.Vars = append(spec.Vars, plan.EnvVar{Name: e.Name, Secret: e.Secret, Key: e.Key, Format: formats[e.Secret]})
	}
	b, err := spec.Marshal()
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", plan.EnvSpecVar, err)
	}
	if err := planTooLarge(AnnotationEnvPrefix+"<NAME>", "an exec-shim spec", len(b)); err != nil {
		return "", err
	}
	return string(b), nil
}

// overlaps reports whether mounts at a and b would nest or coincide.
func overlaps(a, b string) bool {
	return a == b || isBelow(a, b) || isBelow(b, a)
}

// isBelow reports whether p is strictly inside dir.
func isBelow(p, dir string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}

func hasEnv(c *corev1.Container, name string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

// Plan builds the fetch plan of a parsed request.
func Plan(req *Request) plan.Plan {
	return plan.Plan{
		Version: plan.Version,
		Role:    req.Role,
		Dir:     FetchSecretsDir,
		Secrets: req.Secrets,
	}
}

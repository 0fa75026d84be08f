package mutate

import (
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// fetchContainer builds the wisp-fetch init container: restricted (non-root,
// read-only root file system, no capabilities, no privilege escalation,
// seccomp RuntimeDefault), with the fetch plan in its environment. The plan
// holds paths and templates, never a secret.
func fetchContainer(req *Request, planDoc string, cfg Config, group int64, shareResources bool) corev1.Container {
	// parseAnnotations has checked every piece of the plan (names, paths,
	// formats, templates parsed with plan.ParseTemplate), so it is not
	// validated again here: that would parse every template twice on the
	// admission path. FuzzParseAnnotations checks that every injected plan
	// passes plan.Parse. planDoc is the plan's JSON (Cache.request).
	no, yes := false, true
	c := corev1.Container{
		Name:            FetchContainerName,
		Image:           cfg.Image,
		Command:         []string{FetchCommand},
		ImagePullPolicy: cfg.ImagePullPolicy,
		Env: []corev1.EnvVar{
			{Name: EnvSocket, Value: "unix://" + cfg.SocketPath},
			{Name: EnvVaultAdr, Value: cfg.VaultAddr},
			{Name: EnvAuthPath, Value: cfg.AuthPath},
			{Name: EnvAudience, Value: cfg.Audience},
			{Name: EnvPlan, Value: planDoc},
		},
		Resources: *cfg.Resources,
		VolumeMounts: []corev1.VolumeMount{
			{Name: SecretsVolumeName, MountPath: FetchSecretsDir},
			socketMount(cfg),
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             &yes,
			RunAsUser:                ptr(*cfg.RunAsUser),
			RunAsGroup:               ptr(group),
			ReadOnlyRootFilesystem:   &yes,
			AllowPrivilegeEscalation: &no,
			Privileged:               &no,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if d := cfg.FetchDeadline; d != nil && d.Duration != DefaultFetchDeadline {
		c.Env = append(c.Env, corev1.EnvVar{Name: EnvDeadline, Value: d.Duration.String()})
	}
	if !shareResources {
		// The pod must not alias the config, which every request shares.
		c.Resources = *cfg.Resources.DeepCopy()
	}
	if req.Sidecar {
		// A native sidecar: it starts before the app containers, the app
		// starts once the startup probe sees the files written, and it
		// keeps running (renewing) until the pod stops.
		always := corev1.ContainerRestartPolicyAlways
		c.RestartPolicy = &always
		c.Args = []string{"--sidecar"}
		c.StartupProbe = &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{FetchCommand, "--check-ready"}}},
			PeriodSeconds:    1,
			FailureThreshold: startupFailureThreshold(cfg),
		}
	}
	return c
}

// startupFailureThreshold gives the sidecar's startup probe (one probe a
// second) 30 s more than wisp-fetch's deadline, and at least 150: the
// probe must never kill a wisp-fetch that is still within its deadline.
func startupFailureThreshold(cfg Config) int32 {
	n := int32(150)
	if d := cfg.FetchDeadline; d != nil {
		n = max(n, int32(d.Duration/time.Second)+30)
	}
	return n
}

func socketMount(cfg Config) corev1.VolumeMount {
	return corev1.VolumeMount{Name: SocketVolumeName, MountPath: path.Dir(cfg.SocketPath), ReadOnly: true}
}

func ptr[T any](v T) *T { return &v }

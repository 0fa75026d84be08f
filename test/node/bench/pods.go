package main

import (
	"context"
	"fmt"
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"wisp.dev/wisp/test/node"
)

// kind is one of the three pods compared.
type kind string

const (
	plain kind = "plain"
	wisp  kind = "wisp"
	agent kind = "agent"
	// Variants (-variants), to tell causes apart: wisp's injected pod
	// without the init container's CPU limit, and the agent's pod with the
	// SPIFFE CSI volume wisp's pods have.
	wispNoCPULimit kind = "wisp-nocpulimit"
	agentCSI       kind = "agent-csi"
)

// wispAnnotations ask wisp for the KV secret through a template and the
// dynamic database credential in env format (those of test/node).
func wispAnnotations(role, dbRole string) map[string]string {
	return map[string]string{
		"wisp.dev/inject":          "true",
		"wisp.dev/role":            role,
		"wisp.dev/secret-config":   "secret/data/bench/config",
		"wisp.dev/template-config": "greeting={{ .greeting }}\napi_key={{ .api_key }}\n",
		"wisp.dev/secret-db":       "database/creds/" + dbRole,
		"wisp.dev/format-db":       "env",
	}
}

// appSpec is the app, the same in every pod: test/node's app image waiting
// for SIGTERM (it listens on no port: the pods share the host's network),
// restricted, as uid 10001.
func (b *bench) appSpec(sa string) corev1.PodSpec {
	yes, no := true, false
	uid, gid, grace := int64(10001), int64(10001), int64(5)
	return corev1.PodSpec{
		HostNetwork:        true,
		ServiceAccountName: sa,
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &gid,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationGracePeriodSeconds: &grace,
		Containers: []corev1.Container{{
			Name:            "app",
			Image:           b.env.AppImage,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{"/app"},
			Args:            []string{"pause"},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: &no,
				ReadOnlyRootFilesystem:   &yes,
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

// podOf returns the pod of kind k named name.
func (b *bench) podOf(k kind, name string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"bench": string(k)}}}
	switch k {
	case plain:
		p.Spec = b.appSpec(wispSA)
	case wisp:
		p.Spec = b.appSpec(wispSA)
		p.Annotations = wispAnnotations(wispRole, "bench")
	case agent:
		p.Spec = b.agentSpec()
	case agentCSI:
		p.Spec = b.agentSpec()
		yes := true
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "spiffe", VolumeSource: corev1.VolumeSource{
			CSI: &corev1.CSIVolumeSource{Driver: "csi.spiffe.io", ReadOnly: &yes},
		}})
		c := &p.Spec.InitContainers[0]
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "spiffe", MountPath: "/spiffe-workload-api", ReadOnly: true})
	}
	return p
}

// injected returns the wisp pod as the webhook injects it (a dry run),
// without the init container's CPU limit; created, it is left as it is
// (injection is idempotent).
func (b *bench) injected(ctx context.Context, name string) (*corev1.Pod, error) {
	p := b.podOf(wisp, name)
	out, err := b.env.Node.Client().CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return nil, fmt.Errorf("dry-run create %s: %w", name, err)
	}
	out.ObjectMeta = metav1.ObjectMeta{Name: name, Namespace: ns, Labels: out.Labels, Annotations: out.Annotations}
	out.Status = corev1.PodStatus{}
	for i := range out.Spec.InitContainers {
		delete(out.Spec.InitContainers[i].Resources.Limits, corev1.ResourceCPU)
	}
	return out, nil
}

// agentSpec is the app with the init container the Vault Agent Injector
// adds for vault.hashicorp.com/agent-inject, agent-pre-populate-only and
// two agent-inject-secret-* annotations with templates: vault agent with
// exit_after_auth, its token sink on a memory emptyDir at its home folder (agentHome), the
// secrets on a memory emptyDir at /vault/secrets, the injector's default
// resources and security context, the configuration from a ConfigMap (the
// injector's agent-configmap annotation; by default it passes the same
// file base64-encoded in an environment variable and decodes it with a
// shell, which this image, like wisp's, does not have).
func (b *bench) agentSpec() corev1.PodSpec {
	spec := b.appSpec(agentSA)
	yes, no := true, false
	uid, gid := int64(100), int64(1000)
	mem := func(name string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}
	}
	spec.Volumes = []corev1.Volume{mem("home-init"), mem("vault-secrets"), {
		Name: "vault-config",
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "vault-agent-config"},
		}},
	}}
	spec.InitContainers = []corev1.Container{{
		Name:            "vault-agent-init",
		Image:           b.agentImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"/bin/vault"},
		Args:            []string{"agent", "-config=/vault/configs/config-init.hcl"},
		Env: []corev1.EnvVar{
			{Name: "VAULT_LOG_LEVEL", Value: "info"},
			{Name: "VAULT_LOG_FORMAT", Value: "standard"},
		},
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "home-init", MountPath: agentHome()},
			{Name: "vault-secrets", MountPath: "/vault/secrets"},
			{Name: "vault-config", MountPath: "/vault/configs", ReadOnly: true},
		},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser: &uid, RunAsGroup: &gid, RunAsNonRoot: &yes,
			ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}}
	spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "vault-secrets", MountPath: "/vault/secrets"}}
	return spec
}

// startTimes are a pod's moments, on this machine's clock.
type startTimes struct {
	create, created, ready time.Time
	// initSeen and appSeen are when the watch first showed the init
	// container ended and the app container running.
	initSeen, appSeen time.Time
	uid               string
}

// startPod creates p and waits until a watch shows it Ready; created is
// called with the pod's UID as soon as it is created.
func (b *bench) startPod(ctx context.Context, p *corev1.Pod, created func(uid string)) (startTimes, error) {
	c := b.env.Node.Client().CoreV1().Pods(ns)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	w, err := c.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", p.Name).String()})
	if err != nil {
		return startTimes{}, fmt.Errorf("watch pod %s: %w", p.Name, err)
	}
	defer w.Stop()
	var st startTimes
	st.create = time.Now()
	obj, err := c.Create(ctx, p, metav1.CreateOptions{})
	st.created = time.Now()
	if err != nil {
		return st, fmt.Errorf("create pod %s: %w", p.Name, err)
	}
	st.uid = string(obj.UID)
	created(st.uid)
	var last *corev1.Pod
	for {
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("pod %s not Ready: %w; last: %s", p.Name, ctx.Err(), node.DescribePod(last))
		case ev, ok := <-w.ResultChan():
			if !ok {
				return st, fmt.Errorf("pod %s: the watch ended; last: %s", p.Name, node.DescribePod(last))
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted {
				continue
			}
			last = pod
			now := time.Now()
			for _, cs := range pod.Status.InitContainerStatuses {
				if st.initSeen.IsZero() && cs.State.Terminated != nil {
					st.initSeen = now
				}
			}
			for _, cs := range pod.Status.ContainerStatuses {
				if st.appSeen.IsZero() && cs.State.Running != nil {
					st.appSeen = now
				}
			}
			if pod.Status.Phase == corev1.PodFailed {
				return st, fmt.Errorf("pod %s failed: %s", p.Name, node.DescribePod(pod))
			}
			if isReady(pod) {
				st.ready = now
				return st, nil
			}
		}
	}
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// agentHome is the Vault Agent's home folder in its container, where the
// Vault Agent Injector puts it: home, vault.
func agentHome() string { return path.Join("/", "home", "vault") }

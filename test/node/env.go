package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/test/stack"
)

// WispNamespace is where Env installs wisp's chart.
const WispNamespace = "wisp-system"

// EnvOptions configure StartEnv.
type EnvOptions struct {
	// Workloads are SPIRE entries registered before the agent starts; use
	// k8s selectors (k8s:ns:<ns>, k8s:sa:<sa>) for pods.
	Workloads []stack.Workload
	// Policy is the platform policy given to the chart (its `policy`
	// value); Env fills injection.image, imagePullPolicy (IfNotPresent) and
	// vaultAddr.
	Policy map[string]any
	// PersistentVault runs Vault with file storage (stack.Options), so
	// that tests can stop, restart and seal it.
	PersistentVault bool
	// VaultAliases installs the chart with migration.vaultAgentAnnotations:
	// pods written for the Vault Agent Injector are read too.
	VaultAliases bool
	// VaultNamespaces are the namespaces whose roles Env writes into Vault
	// with `wisp setup vault --apply` from Policy (the command
	// docs/setup-vault.md shows), before wisp is installed: Vault's JWT
	// auth method at the policy's authPath and one role per role name the
	// policy gives these namespaces, bound to them. Empty: the stack's own
	// auth/jwt, its roles written with stack.Stack.WriteJWTRole.
	VaultNamespaces []string
	// NoJWTAuth leaves Vault's JWT auth method unconfigured (a test that
	// runs wisp setup vault itself, as docs/getting-started.md does).
	NoJWTAuth bool
	// NoWisp starts everything but wisp: the caller installs the chart.
	NoWisp bool
	// SPIREPodSelectorsOnly: see stack.Kubelet.PodSelectorsOnly.
	SPIREPodSelectorsOnly bool
	// Logf reports progress, from more than one goroutine; nil means quiet.
	Logf func(format string, args ...any)
}

// Env is the whole of wisp on a real node: the node, PostgreSQL, SPIRE
// (k8s workload attestor against the node's kubelet), Vault, the SPIFFE CSI
// driver exposing the agent's socket, an OCI registry on 127.0.0.1, and
// wisp as a release ships it: `make image chart push` to that registry,
// then `helm install` of the pushed chart, the kubelet pulling the image.
type Env struct {
	Node  *Node
	Stack *stack.Stack
	// WebhookPort is wisp-webhook's port on 127.0.0.1 (hostNetwork).
	WebhookPort int
	// WispCLI is the wisp command (cmd/wisp) built for the env.
	WispCLI string
	// Registry is the OCI registry's host:port (127.0.0.1:<port>, plain
	// HTTP); containerd pulls every image of the node from it.
	Registry string
	// ChartRef and ChartVersion name the chart pushed to Registry:
	// `helm install wisp <ChartRef> --version <ChartVersion> --plain-http`.
	ChartRef, ChartVersion string
	// WispImage is wisp's image index in Registry, by tag (the chart's
	// image and the injected wisp-fetch's).
	WispImage string
	// AppImage is the test app's image in Registry, by tag.
	AppImage string
	dir      string
	helm     string
	registry *registry
	logf     func(string, ...any)
}

// StartEnv starts everything and installs wisp; on error it stops what it
// started.
func StartEnv(ctx context.Context, opts EnvOptions) (e *Env, err error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	t0 := time.Now()
	env := &Env{logf: opts.Logf}
	defer func() {
		if err != nil {
			err = errors.Join(err, env.Stop())
		}
	}()
	if env.dir, err = os.MkdirTemp("", "wisp-node-env"); err != nil {
		return nil, fmt.Errorf("create the env's folder: %w", err)
	}
	helm, err := ensure(ctx, "ensure-helm.sh")
	if err != nil {
		return nil, err
	}
	env.helm = filepath.Join(helm, "helm")
	if env.registry, err = startRegistry(filepath.Join(env.dir, "registry")); err != nil {
		return nil, err
	}
	env.Registry = env.registry.host
	// The release is built and pushed while the node starts: containerd
	// needs only the registry's address; the first pull is helm's.
	published := make(chan error, 1)
	go func() { published <- env.publish(ctx) }()
	waited := false
	defer func() {
		if !waited {
			<-published // before Stop removes its folder
		}
	}()
	sandbox := env.Registry + "/" + sandboxRepo + ":" + testTag
	if env.Node, err = Start(ctx, Options{Registry: env.Registry, SandboxImage: sandbox, Logf: opts.Logf}); err != nil {
		return nil, err
	}
	env.Stack, err = stack.Start(ctx, stack.Options{
		Workloads:       opts.Workloads,
		Kubelet:         &stack.Kubelet{SecurePort: env.Node.KubeletPort(), PodSelectorsOnly: opts.SPIREPodSelectorsOnly},
		PersistentVault: opts.PersistentVault,
		NoJWTAuth:       opts.NoJWTAuth || len(opts.VaultNamespaces) > 0,
		Logf:            opts.Logf,
	})
	if err != nil {
		return nil, err
	}
	if err := env.Node.StartCSI(ctx, env.Stack.SocketDir()); err != nil {
		return nil, err
	}
	opts.Logf("env: node, SPIRE, Vault, PostgreSQL and the CSI driver up in %s", time.Since(t0).Round(time.Millisecond))
	if env.WispCLI, err = buildWispCLI(ctx, env.dir); err != nil {
		return nil, err
	}
	if len(opts.VaultNamespaces) > 0 {
		if err := env.setupVault(ctx, opts.Policy, opts.VaultNamespaces); err != nil {
			return nil, err
		}
	}
	waited = true
	if err := <-published; err != nil {
		return nil, err
	}
	opts.Logf("env: images and chart pushed to %s after %s", env.Registry, time.Since(t0).Round(time.Millisecond))
	if opts.NoWisp {
		return env, nil
	}
	if err := env.installWisp(ctx, opts.Policy, opts.VaultAliases); err != nil {
		return nil, err
	}
	opts.Logf("env: wisp installed and serving in %s", time.Since(t0).Round(time.Millisecond))
	return env, nil
}

// publish pushes to the registry the test images and the release (`make
// image chart push`).
func (e *Env) publish(ctx context.Context) error {
	t0 := time.Now()
	imgs, err := pushTestImages(ctx, e.dir, e.Registry)
	if err != nil {
		return err
	}
	e.AppImage = imgs.app
	e.logf("env: test app built and pushed in %s", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	rel, err := publishRelease(ctx, e.dir, e.Registry, e.helm)
	if err != nil {
		return err
	}
	e.WispImage, e.ChartRef, e.ChartVersion = rel.image, rel.chartRef, rel.chartVersion
	for _, l := range strings.Split(strings.TrimSpace(rel.output), "\n") {
		if strings.HasPrefix(l, "pushed ") {
			e.logf("env: %s", l)
		}
	}
	e.logf("env: make image chart push in %s", time.Since(t0).Round(time.Millisecond))
	return nil
}

// RegistryRequests are the requests the registry answered so far, oldest
// first.
func (e *Env) RegistryRequests() []RegistryRequest { return e.registry.requests() }

// Helm runs helm against the node (its kubeconfig; helm's own state in the
// env's folder) and returns its combined output.
func (e *Env) Helm(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.helm, append(args, "--kubeconfig", e.Node.Kubeconfig())...)
	cmd.Env = helmEnv(e.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, lastLines(string(out), 20))
	}
	return string(out), nil
}

// Stop stops the stack, the node and the registry, and removes the env's
// folder.
func (e *Env) Stop() error {
	var errs []error
	if e.Node != nil {
		errs = append(errs, e.Node.Stop())
	}
	if e.Stack != nil {
		errs = append(errs, e.Stack.Stop())
	}
	if e.registry != nil {
		errs = append(errs, e.registry.stop())
	}
	if e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// Close stops the env and checks that it left nothing behind
// (Leftovers): how every user of an env ends it.
func (e *Env) Close() error {
	err := e.Stop()
	if left := e.Leftovers(); len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("left behind:\n  %s", strings.Join(left, "\n  ")))
	}
	return err
}

// Leftovers is what Stop left behind: the node's (Node.Leftovers), a
// registry still listening, the env's folder.
func (e *Env) Leftovers() []string {
	var left []string
	if e.Node != nil {
		left = append(left, e.Node.Leftovers()...)
	}
	if e.Registry != "" {
		if conn, err := net.DialTimeout("tcp", e.Registry, time.Second); err == nil {
			conn.Close()
			left = append(left, "the registry still listening on "+e.Registry)
		}
	}
	if e.dir != "" {
		if _, err := os.Stat(e.dir); err == nil {
			left = append(left, "folder "+e.dir)
		}
	}
	return left
}

// installWisp runs `helm install` of the chart in the registry:
// NodeChartValues, the policy given (vaultAddr the stack's Vault) and the
// migration aliases.
func (e *Env) installWisp(ctx context.Context, policy map[string]any, vaultAliases bool) error {
	values, err := e.NodeChartValues()
	if err != nil {
		return err
	}
	if policy == nil {
		policy = map[string]any{}
	}
	injection, _ := policy["injection"].(map[string]any)
	if injection == nil {
		injection = map[string]any{}
	}
	maps.Copy(injection, e.nodeInjection())
	injection["vaultAddr"] = e.Stack.VaultAddr()
	policy["injection"] = injection
	values["policy"] = policy
	values["migration"] = map[string]any{"vaultAgentAnnotations": vaultAliases}
	b, err := yaml.Marshal(values)
	if err != nil {
		return fmt.Errorf("encode chart values: %w", err)
	}
	vf := filepath.Join(e.dir, "values.yaml")
	if err := os.WriteFile(vf, b, 0o600); err != nil {
		return fmt.Errorf("write chart values: %w", err)
	}
	if _, err := e.Helm(ctx, "install", "wisp", e.ChartRef, "--version", e.ChartVersion, "--plain-http",
		"--namespace", WispNamespace, "--create-namespace", "-f", vf, "--wait", "--timeout", "120s"); err != nil {
		return fmt.Errorf("%w\nwebhook log:\n%s", err, e.Node.PodLogs(ctx, WispNamespace, 30))
	}
	return nil
}

// NodeChartValues are the chart values this node needs, whatever the
// policy: one replica on the host network (the API server reaches it at
// https://127.0.0.1:<WebhookPort>, there is no kube-proxy), certificates in
// auto mode, wisp's image from the registry (for the webhook and the
// injected wisp-fetch). It picks WebhookPort on first use.
func (e *Env) NodeChartValues() (map[string]any, error) {
	if e.WebhookPort == 0 {
		port, err := stack.FreePort()
		if err != nil {
			return nil, err
		}
		e.WebhookPort = port
	}
	ref, err := name.NewTag(e.WispImage)
	if err != nil {
		return nil, fmt.Errorf("wisp image %q: %w", e.WispImage, err)
	}
	return map[string]any{
		"replicaCount": 1,
		"hostNetwork":  true,
		"port":         e.WebhookPort,
		"image":        map[string]any{"repository": ref.Context().Name(), "tag": ref.TagStr(), "pullPolicy": "IfNotPresent"},
		"logLevel":     "info",
		"extraArgs":    []string{"--host=127.0.0.1", "--cert-hosts=127.0.0.1"},
		// No kube-proxy: the in-cluster client goes straight to the API
		// server on loopback (its certificate names 127.0.0.1).
		"extraEnv": []map[string]any{
			{"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
			{"name": "KUBERNETES_SERVICE_PORT", "value": fmt.Sprint(e.Node.APIServerPort())},
		},
		"webhook": map[string]any{"url": fmt.Sprintf("https://127.0.0.1:%d", e.WebhookPort), "timeoutSeconds": 10},
		"policy":  map[string]any{"injection": e.nodeInjection()},
	}, nil
}

// nodeInjection is the policy's injection image: wisp's, from the
// registry.
func (e *Env) nodeInjection() map[string]any {
	return map[string]any{"image": e.WispImage, "imagePullPolicy": "IfNotPresent"}
}

// WispDeployment is the chart's Deployment of wisp-webhook in
// WispNamespace.
const WispDeployment = "wisp"

// ScaleWisp sets the replicas of wisp's Deployment and waits until that
// many of its pods are ready and no other is left (0: every pod gone, and
// nothing listens on the webhook's port).
func (e *Env) ScaleWisp(ctx context.Context, replicas int32) error {
	c := e.Node.Client()
	_, err := c.AppsV1().Deployments(WispNamespace).UpdateScale(ctx, WispDeployment, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: WispDeployment, Namespace: WispNamespace},
		Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
	}, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("scale %s/%s to %d: %w", WispNamespace, WispDeployment, replicas, err)
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := c.CoreV1().Pods(WispNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=wisp"})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, p := range pods.Items {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					ready++
				}
			}
		}
		last = fmt.Sprintf("%d pods, %d ready", len(pods.Items), ready)
		if replicas == 0 {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.WebhookPort), time.Second)
			if err == nil {
				conn.Close()
				return false, nil
			}
			return len(pods.Items) == 0, nil
		}
		return ready == int(replicas) && len(pods.Items) == int(replicas), nil
	})
	if err != nil {
		return fmt.Errorf("wait for %d wisp pods: %w (last: %s)", replicas, err, last)
	}
	return nil
}

// ensure runs a test/scripts/ensure-*.sh script of this module and returns
// the folder it prints.
func ensure(ctx context.Context, script string) (string, error) {
	root, err := stack.ModuleRoot()
	if err != nil {
		return "", err
	}
	return stack.Ensure(ctx, filepath.Join(root, "test", "scripts"), script)
}

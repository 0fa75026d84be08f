package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/config"
	wispfetch "wisp.dev/wisp/fetch"
	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/plan"
	"wisp.dev/wisp/test/node"
	"wisp.dev/wisp/test/stack"
	"wisp.dev/wisp/test/testutil"
)

// options configure run. The zero value is what `make demo` runs.
type options struct {
	// root is wisp's module root. Default: found from the working directory.
	root string
}

// output serialises the demo's lines (components start in parallel).
type output struct {
	mu sync.Mutex
	w  io.Writer
	// broken is called once the writer fails (`make demo | head`): nobody
	// reads any more, so the demo stops and cleans up.
	broken func()
}

// say prints a progress line of the demo's machinery.
func (o *output) say(format string, args ...any) { o.print("demo: "+format, args...) }

// print prints a line of the story.
func (o *output) print(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := fmt.Fprintf(o.w, format+"\n", args...); err != nil && o.broken != nil {
		o.broken()
	}
}

// step prints a step's header.
func (o *output) step(n int, title string) { o.print("\n[%d/5] %s", n, title) }

// run is the whole demo. Everything it starts is stopped, and its folders
// removed, before it returns, whatever happens.
func run(ctx context.Context, w io.Writer, opts options) (err error) {
	t0 := time.Now()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	o := &output{w: w, broken: stop}
	defer func() {
		// Whatever failed once the context ended failed because it ended.
		if err != nil && ctx.Err() != nil {
			err = errInterrupted
		}
	}()

	root := opts.root
	if root == "" {
		if root, err = testutil.RepoRoot(); err != nil {
			return err
		}
	}
	examples := filepath.Join(root, "examples")
	pod, deploy, snap, err := readExamples(examples)
	if err != nil {
		return err
	}
	policy, err := chartPolicy(filepath.Join(examples, "policy.yaml"))
	if err != nil {
		return err
	}
	// The SPIFFE ID SPIRE's k8s workload attestor gives the pod: its
	// namespace and service account.
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	spiffeID := fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", stack.DefaultTrustDomain, pod.Namespace, sa)
	vs, err := planVault(pod, spiffeID, snap.Injection.Audience)
	if err != nil {
		return err
	}

	// 0. Everything up: the node, SPIRE, Vault, PostgreSQL, wisp by helm.
	o.say("starting a real single-node Kubernetes on this machine (kube-apiserver, etcd, controller-manager, scheduler, kubelet, containerd), PostgreSQL, SPIRE (k8s workload attestor), Vault and the SPIFFE CSI driver; then wisp as a release ships it: `make image chart push` to an OCI registry on 127.0.0.1, `helm install` of the pushed chart, the kubelet pulling the image")
	o.say("the first run builds the components from the Go module proxy (about 40 min on 2 cores; cached after)")
	var env *node.Env
	defer func() {
		if env == nil {
			return
		}
		t1 := time.Now()
		o.say("stopping everything it started...")
		cerr := env.Close()
		if cerr != nil {
			o.say("cleanup: %v", cerr)
			if err == nil {
				err = fmt.Errorf("clean up: %w", cerr)
			}
			return
		}
		o.say("stopped the node, its pods, the registry, SPIRE, Vault and PostgreSQL; no process, mount, cgroup or folder left (%s)", since(t1))
		if err == nil {
			o.say("OK in %s", since(t0))
		}
	}()
	env, err = node.StartEnv(context.WithoutCancel(ctx), node.EnvOptions{
		Workloads: []stack.Workload{{SPIFFEID: spiffeID, Selectors: []string{"k8s:ns:" + pod.Namespace, "k8s:sa:" + sa}}},
		Policy:    policy,
		Logf:      func(format string, args ...any) { o.say("  "+format, args...) },
	})
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	st, n := env.Stack, env.Node
	if err := vs.apply(ctx, st); err != nil {
		return fmt.Errorf("configure Vault: %w", err)
	}
	if err := n.CreateNamespace(ctx, pod.Namespace, nil); err != nil {
		return err
	}
	if _, err := n.Client().CoreV1().ServiceAccounts(pod.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service account %s/%s: %w", pod.Namespace, sa, err)
	}
	o.say("all up in %s: node %s Ready; wisp-webhook a pod of the node (helm release wisp in %s, hostNetwork, https://127.0.0.1:%d), policy examples/policy.yaml with injection.vaultAddr: %s",
		since(t0), node.Name, node.WispNamespace, env.WebhookPort, st.VaultAddr())
	k := n.Client()

	// 1. The platform's policy denies static secrets.
	o.step(1, "The platform's policy: no static secrets in env vars")
	o.print("  $ kubectl apply -f examples/static-secrets.yaml    # Deployment %s/%s: a literal AWS key and a secretKeyRef password in env", deploy.Namespace, deploy.Name)
	_, err = k.AppsV1().Deployments(deploy.Namespace).Create(ctx, deploy, metav1.CreateOptions{})
	if err == nil {
		return fmt.Errorf("examples/static-secrets.yaml was admitted: wisp's policy should deny it")
	}
	if !apierrors.IsForbidden(err) {
		return fmt.Errorf("create examples/static-secrets.yaml: %w (want a denial by wisp)", err)
	}
	lines := denialLines(err)
	o.print("  DENIED (403 Forbidden): %s", lines[0])
	for _, l := range lines[1:] {
		o.print("    %s", l)
	}
	webhookLog := n.PodLogs(ctx, node.WispNamespace, 1000)
	if leak := leakedValue(deploy, err.Error()+webhookLog); leak != "" {
		return fmt.Errorf("the value of env %s appears in wisp's denial or logs", leak)
	}
	o.print("  (the values appear nowhere: not in the denial, not in the webhook pod's log)")

	// 2. The app team's annotated pod is injected, and runs.
	o.step(2, "The app team's pod: admitted, injected, run by the kubelet")
	app := demoPod(pod, env.AppImage, st.PGPort())
	var secretAnns []string
	for k := range pod.Annotations {
		if strings.HasPrefix(k, mutate.AnnotationSecretPrefix) {
			secretAnns = append(secretAnns, strings.TrimPrefix(k, mutate.AnnotationSecretPrefix))
		}
	}
	sort.Strings(secretAnns)
	o.print("  $ kubectl apply -f examples/pod.yaml    # pod %s/%s: %s %q, role %s, secrets %s",
		pod.Namespace, pod.Name, mutate.AnnotationInject, pod.Annotations[mutate.AnnotationInject],
		pod.Annotations[mutate.AnnotationRole], strings.Join(secretAnns, ", "))
	o.print("    (its image %s replaced by the demo's app, %s, on the host network: it reads the files and logs in to PostgreSQL)", pod.Spec.Containers[0].Image, env.AppImage)
	stored, err := k.CoreV1().Pods(app.Namespace).Create(ctx, app, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create examples/pod.yaml: %w", err)
	}
	if got := stored.Annotations[mutate.AnnotationStatus]; got != mutate.StatusInjected {
		return fmt.Errorf("pod %s/%s was admitted but not injected (%s %q)", stored.Namespace, stored.Name, mutate.AnnotationStatus, got)
	}
	fc := findInit(stored, mutate.FetchContainerName)
	if fc == nil {
		return fmt.Errorf("pod %s/%s is marked injected but has no %s init container", stored.Namespace, stored.Name, mutate.FetchContainerName)
	}
	p, err := plan.Parse([]byte(envOf(fc, mutate.EnvPlan)))
	if err != nil {
		return fmt.Errorf("the stored %s: %w", mutate.EnvPlan, err)
	}
	o.print("  ADMITTED and INJECTED (%s: %s); the API server stored:", mutate.AnnotationStatus, mutate.StatusInjected)
	o.print("    init container %s, image %s, %s", fc.Name, fc.Image, describeSecurity(fc))
	o.print("    its fetch plan (%s): log in to Vault %s at auth/%s/login (JWT-SVID audience %s) as role %s, then write into %s:",
		mutate.EnvPlan, envOf(fc, mutate.EnvVaultAdr), envOf(fc, mutate.EnvAuthPath), envOf(fc, mutate.EnvAudience), p.Role, p.Dir)
	for _, s := range p.Secrets {
		how := "format " + string(s.Format)
		if s.Template != "" {
			how = "Go template"
		}
		if s.Format == "" && s.Template == "" {
			how = "format json"
		}
		o.print("      %-8s <- %-24s (%s)", s.Name, s.Path, how)
	}
	o.print("    volumes: %s", describeVolumes(stored.Spec.Volumes))
	o.print("  $ kubectl get pod %s -n %s -w", app.Name, app.Namespace)
	o.print("    %-8s %-6s %-16s %-9s %s", "NAME", "READY", "STATUS", "RESTARTS", "AGE")
	var last string
	created := time.Now()
	running, err := n.WaitPod(ctx, app.Namespace, app.Name, 3*time.Minute, func(p *corev1.Pod) (bool, error) {
		ready, status, restarts := kubectlStatus(p)
		if line := fmt.Sprintf("%-8s %-6s %-16s %-9d", p.Name, ready, status, restarts); line != last {
			last = line
			o.print("    %s %s", line, since(created))
		}
		if p.Status.Phase == corev1.PodFailed {
			return false, errors.New("the pod failed")
		}
		return status == "Running", nil
	})
	if err != nil {
		return err
	}

	// 3. wisp-fetch ran on the kubelet.
	o.step(3, "wisp-fetch (the init container): its SVID through the CSI driver, then Vault")
	for i, l := range vs.describe() {
		if i == 0 {
			o.print("  Vault: %s", l)
		} else {
			o.print("         %s", l)
		}
	}
	o.print("  SPIRE: entry %s for the pods of k8s:ns:%s, k8s:sa:%s (the agent asks the kubelet who called)", spiffeID, pod.Namespace, sa)
	fetchLog, err := n.Logs(ctx, app.Namespace, app.Name, mutate.FetchContainerName, false)
	if err != nil {
		return err
	}
	o.print("  $ kubectl logs %s -c %s", app.Name, mutate.FetchContainerName)
	for _, l := range logSummary(fetchLog) {
		o.print("    %s", l)
	}
	dir := filepath.Join(n.KubeletRoot(), "pods", string(running.UID), "volumes", "kubernetes.io~empty-dir", mutate.SecretsVolumeName)
	files, others, err := readSecrets(dir, p)
	if err != nil {
		return err
	}
	var kvValues []string
	for _, data := range vs.kvData {
		for _, v := range data {
			kvValues = append(kvValues, fmt.Sprint(v))
		}
	}
	var dbUser, dbFile string
	o.print("  the files on the node, in the pod's %s volume (tmpfs):", mutate.SecretsVolumeName)
	for _, f := range files {
		show := masked(f.data, kvValues)
		if dbf := parseEnvFile(f.data); dbf["USERNAME"] != "" && dbf["PASSWORD"] != "" {
			dbUser, dbFile = dbf["USERNAME"], f.name
			show = fmt.Sprintf("USERNAME=%s PASSWORD=****", dbUser)
		}
		o.print("    %s  %d:%d  %4d B  %-8s %s", f.mode, f.uid, f.gid, f.size, f.name, show)
	}
	if len(others) > 0 {
		o.print("    and %s: wisp's metadata (fetch time, lease, expiry; no secret)", strings.Join(others, ", "))
	}
	for _, f := range files {
		if f.mode != 0o440 {
			return fmt.Errorf("%s has mode %s, want -r--r-----", f.name, f.mode)
		}
	}
	for _, v := range kvValues {
		if !bytes.Contains(bytesOf(files), []byte(v)) {
			return errors.New("the rendered files do not hold the KV values written to Vault")
		}
	}
	if dbUser == "" {
		return fmt.Errorf("no file with USERNAME and PASSWORD (the plan's database credential)")
	}

	// 4. The app logs in with its dynamic credential.
	o.step(4, "The app (uid 10001) reads its files and logs in to PostgreSQL as its own dynamic user")
	appLog, err := waitLog(ctx, n, app, "current_user=", time.Minute)
	if err != nil {
		return err
	}
	o.print("  $ kubectl logs %s -c app", app.Name)
	for _, l := range strings.Split(strings.TrimSpace(appLog), "\n") {
		o.print("    %s", l)
	}
	if !strings.Contains(appLog, "current_user="+dbUser+"\n") {
		return fmt.Errorf("the app did not log in as %s, the user of %s", dbUser, dbFile)
	}
	o.print("  (a PostgreSQL role Vault created for this pod alone)")

	// 5. Revocation.
	o.step(5, "Revocation: the credential ends with its Vault lease")
	meta, err := readMeta(dir, dbFile)
	if err != nil {
		return err
	}
	if meta.LeaseID == "" {
		return fmt.Errorf("the metadata of %s has no lease", dbFile)
	}
	o.print("  $ vault lease revoke %s    # the lease in %s", meta.LeaseID, wispfetch.MetaFileName(dbFile))
	vc, err := st.VaultClient()
	if err != nil {
		return err
	}
	if err := vc.Sys().RevokeWithContext(ctx, meta.LeaseID); err != nil {
		return fmt.Errorf("revoke lease %s: %w", meta.LeaseID, err)
	}
	tr := time.Now()
	for {
		exists, err := st.PGRoleExists(ctx, dbUser)
		if err != nil {
			return err
		}
		if !exists {
			break
		}
		if time.Since(tr) > 15*time.Second {
			return fmt.Errorf("PostgreSQL role %s still exists %s after its lease was revoked", dbUser, since(tr))
		}
		select {
		case <-ctx.Done():
			return errInterrupted
		case <-time.After(100 * time.Millisecond):
		}
	}
	o.print("  PostgreSQL role %s: gone from pg_roles (after %s)", dbUser, since(tr))
	failed, err := waitLog(ctx, n, app, "failed", 30*time.Second)
	if err != nil {
		return err
	}
	o.print("  the app's next login (every 2 s): %s", lastLine(failed))
	o.print("")
	return nil
}

// chartPolicy reads the policy file as the chart's `policy` value (the
// file without apiVersion and kind).
func chartPolicy(file string) (map[string]any, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	delete(m, "apiVersion")
	delete(m, "kind")
	return m, nil
}

// demoPod is examples/pod.yaml with the demo's app (image) in place of its
// image:
// same metadata, annotations, service account and security context; on
// the host network (the demo's traffic stays on loopback), no probes.
func demoPod(example *corev1.Pod, image string, pgPort int) *corev1.Pod {
	p := example.DeepCopy()
	p.Spec.HostNetwork = true
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	c := &p.Spec.Containers[0]
	c.Image = image
	c.ImagePullPolicy = corev1.PullIfNotPresent
	c.Command = []string{"/app"}
	c.Args = []string{"-files", "config,db", "-db", "db", "-pg", fmt.Sprintf("127.0.0.1:%d", pgPort), "-every", "2s"}
	c.Ports, c.ReadinessProbe, c.LivenessProbe = nil, nil, nil
	p.Spec.Containers = p.Spec.Containers[:1]
	return p
}

// kubectlStatus is what `kubectl get pod` shows: READY, STATUS, RESTARTS.
func kubectlStatus(p *corev1.Pod) (ready, status string, restarts int32) {
	n, total := 0, len(p.Spec.Containers)
	for _, s := range p.Status.ContainerStatuses {
		if s.Ready {
			n++
		}
		restarts += s.RestartCount
	}
	status = string(p.Status.Phase)
	for i, s := range p.Status.InitContainerStatuses {
		switch {
		case s.State.Terminated != nil && s.State.Terminated.ExitCode != 0:
			status = "Init:Error"
		case s.State.Waiting != nil && s.State.Waiting.Reason != "" && s.State.Waiting.Reason != "PodInitializing":
			status = "Init:" + s.State.Waiting.Reason
		case s.State.Terminated == nil:
			status = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		default:
			continue
		}
		return fmt.Sprintf("%d/%d", n, total), status, restarts
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Waiting != nil && s.State.Waiting.Reason != "" {
			status = s.State.Waiting.Reason
		}
	}
	if p.DeletionTimestamp != nil {
		status = "Terminating"
	}
	return fmt.Sprintf("%d/%d", n, total), status, restarts
}

// waitLog polls the app container's log until it holds want.
func waitLog(ctx context.Context, n *node.Node, p *corev1.Pod, want string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := n.Logs(ctx, p.Namespace, p.Name, "app", false)
		if err == nil && strings.Contains(l, want) {
			return l, nil
		}
		if time.Now().After(deadline) {
			return l, fmt.Errorf("the app's log has no %q after %s: %s", want, timeout, strings.TrimSpace(l))
		}
		select {
		case <-ctx.Done():
			return "", errInterrupted
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// readExamples reads examples/pod.yaml, examples/static-secrets.yaml and
// the policy examples/policy.yaml.
func readExamples(dir string) (*corev1.Pod, *appsv1.Deployment, *config.Snapshot, error) {
	var pod corev1.Pod
	var deploy appsv1.Deployment
	for name, obj := range map[string]any{"pod.yaml": &pod, "static-secrets.yaml": &deploy} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, nil, err
		}
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			return nil, nil, nil, fmt.Errorf("examples/%s: %w", name, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "policy.yaml"))
	if err != nil {
		return nil, nil, nil, err
	}
	snap, err := config.Parse(b)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("examples/policy.yaml: %w", err)
	}
	if pod.Namespace == "" || deploy.Namespace == "" {
		return nil, nil, nil, errors.New("examples/pod.yaml and examples/static-secrets.yaml must name their namespace")
	}
	return &pod, &deploy, snap, nil
}

func findInit(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

func envOf(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func describeSecurity(c *corev1.Container) string {
	sc := c.SecurityContext
	if sc == nil {
		return "no security context"
	}
	var parts []string
	if sc.RunAsUser != nil {
		g := "?"
		if sc.RunAsGroup != nil {
			g = fmt.Sprint(*sc.RunAsGroup)
		}
		parts = append(parts, fmt.Sprintf("user %d group %s", *sc.RunAsUser, g))
	}
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		parts = append(parts, "read-only root FS")
	}
	if sc.Capabilities != nil && len(sc.Capabilities.Drop) > 0 {
		drop := make([]string, len(sc.Capabilities.Drop))
		for i, c := range sc.Capabilities.Drop {
			drop[i] = string(c)
		}
		parts = append(parts, "capabilities dropped: "+strings.Join(drop, ","))
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		parts = append(parts, "no privilege escalation")
	}
	return strings.Join(parts, ", ")
}

func describeVolumes(vols []corev1.Volume) string {
	var parts []string
	for _, v := range vols {
		switch {
		case v.CSI != nil:
			ro := ""
			if v.CSI.ReadOnly != nil && *v.CSI.ReadOnly {
				ro = ", read-only"
			}
			parts = append(parts, fmt.Sprintf("%s (CSI %s%s)", v.Name, v.CSI.Driver, ro))
		case v.EmptyDir != nil:
			d := fmt.Sprintf("%s (emptyDir, medium %s", v.Name, v.EmptyDir.Medium)
			if v.EmptyDir.SizeLimit != nil {
				d += ", sizeLimit " + v.EmptyDir.SizeLimit.String()
			}
			parts = append(parts, d+")")
		default:
			parts = append(parts, v.Name)
		}
	}
	return strings.Join(parts, ", ")
}

// leakedValue returns the name of a literal env var of deploy whose value
// appears in text.
func leakedValue(deploy *appsv1.Deployment, text string) string {
	for _, c := range deploy.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if len(e.Value) >= 8 && strings.Contains(text, e.Value) && looksSecret(e.Name) {
				return e.Name
			}
		}
	}
	return ""
}

// looksSecret: the env vars whose values must never be echoed. (A commit
// hash or a log level may appear in a message; a key may not.)
func looksSecret(name string) bool {
	for _, s := range []string{"KEY", "SECRET", "PASSWORD", "TOKEN"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

func bytesOf(files []secretFile) []byte {
	var b []byte
	for _, f := range files {
		b = append(b, f.data...)
	}
	return b
}

package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/test/node"
)

// annotations asks wisp for a KV secret rendered by a template and a
// dynamic database credential in env format.
func annotations(dbRole string) map[string]string {
	return map[string]string{
		"wisp.dev/inject":          "true",
		"wisp.dev/role":            "app",
		"wisp.dev/secret-config":   "secret/data/app/config",
		"wisp.dev/template-config": "greeting={{ .greeting }}\napi_key={{ .api_key }}\n",
		"wisp.dev/secret-db":       "database/creds/" + dbRole,
		"wisp.dev/format-db":       "env",
	}
}

func withSocket(a map[string]string) map[string]string {
	a["wisp.dev/socket"] = "true"
	return a
}

// podSpec is a restricted-compliant app on the host network, as uid 10001
// (not wisp-fetch's 65532).
func podSpec(sa string, restart corev1.RestartPolicy, args ...string) corev1.PodSpec {
	return corev1.PodSpec{
		HostNetwork:        true,
		ServiceAccountName: sa,
		RestartPolicy:      restart,
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   new(true),
			RunAsUser:      new(int64(10001)),
			RunAsGroup:     new(int64(10001)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationGracePeriodSeconds: new(int64(10)),
		Containers: []corev1.Container{{
			Name:            "app",
			Image:           shared.env.AppImage,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{"/app"},
			Args:            args,
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: new(false),
				ReadOnlyRootFilesystem:   new(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

func appArgs(extra ...string) []string {
	pg := fmt.Sprintf("127.0.0.1:%d", shared.env.Stack.PGPort())
	return append([]string{"-files", "config,db", "-db", "db", "-pg", pg}, extra...)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitLog polls a container's log until it holds want.
func waitLog(ctx context.Context, t *testing.T, pod, container, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		l, err := shared.env.Node.Logs(ctx, appNS, pod, container, false)
		if err == nil {
			last = l
			if strings.Contains(l, want) {
				return l
			}
		}
		if time.Now().After(deadline) {
			p, _ := shared.env.Node.Client().CoreV1().Pods(appNS).Get(ctx, pod, metav1.GetOptions{})
			t.Fatalf("log of %s[%s] has no %q after %s; log:\n%s\npod: %s", pod, container, want, timeout, last, node.DescribePod(p))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func running(c string) func(*corev1.Pod) (bool, error) {
	return func(p *corev1.Pod) (bool, error) {
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("pod ended: %s", p.Status.Phase)
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == c && s.State.Running != nil {
				return true, nil
			}
		}
		return false, nil
	}
}

func initStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range p.Status.InitContainerStatuses {
		if p.Status.InitContainerStatuses[i].Name == name {
			return &p.Status.InitContainerStatuses[i]
		}
	}
	return nil
}

// secretsDir is the pod's wisp-secrets emptyDir on the node.
func secretsDir(uid types.UID) string {
	return filepath.Join(shared.env.Node.KubeletRoot(), "pods", string(uid), "volumes", "kubernetes.io~empty-dir", mutate.SecretsVolumeName)
}

// mountOf returns the filesystem type and options of the mount at dir.
func mountOf(t *testing.T, dir string) (fstype, opts string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[4] != dir {
			continue
		}
		for i := 6; i < len(f); i++ {
			if f[i] == "-" && i+1 < len(f) {
				return f[i+1], f[5]
			}
		}
	}
	t.Fatalf("no mount at %s", dir)
	return "", ""
}

// TestInjectedDeploymentRuns: an annotated Deployment, admitted and injected
// by the helm-installed webhook, runs on the kubelet: wisp-fetch runs from
// wisp's image as 65532 with a read-only root, gets an SVID through the CSI
// volume, writes 0440 files on a tmpfs, and the app (uid 10001) reads them
// and logs in to PostgreSQL as its own dynamic user; with and without an
// fsGroup.
func TestInjectedDeploymentRuns(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fsGroup   *int64
		wantGroup uint32
	}{
		{name: "no-fsgroup", wantGroup: uint32(mutate.DefaultRunAsGroup)},
		{name: "fsgroup", fsGroup: new(int64(3000)), wantGroup: 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t, 3*time.Minute)
			c := shared.env.Node.Client()
			name := "deploy-" + tc.name
			// wisp.dev/socket gives the app the CSI volume too: it checks
			// that the volume is read-only from inside.
			spec := podSpec(appSA, corev1.RestartPolicyAlways, appArgs("-hold", "-ro", "/spiffe-workload-api")...)
			spec.SecurityContext.FSGroup = tc.fsGroup
			labels := map[string]string{"app": name}
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: appNS},
				Spec: appsv1.DeploymentSpec{
					Replicas: new(int32(1)),
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: withSocket(annotations("app"))},
						Spec:       spec,
					},
				},
			}
			if _, err := c.AppsV1().Deployments(appNS).Create(ctx, d, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create Deployment: %v", err)
			}
			t.Cleanup(func() {
				_ = c.AppsV1().Deployments(appNS).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationForeground)})
			})
			podName, err := shared.env.Node.PodOf(ctx, appNS, "app="+name, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			pod, err := shared.env.Node.WaitPod(ctx, appNS, podName, 2*time.Minute, running("app"))
			if err != nil {
				t.Fatal(err)
			}
			logs := waitLog(ctx, t, podName, "app", "current_user=", time.Minute)
			for _, want := range []string{"uid=10001 ", "file config: 2 lines", "file db: 2 lines", "current_user=v-", "read-only /spiffe-workload-api: yes"} {
				if !strings.Contains(logs, want) {
					t.Errorf("app log lacks %q:\n%s", want, logs)
				}
			}
			if strings.Contains(logs, shared.canary) {
				t.Errorf("app log holds the secret's value")
			}

			// What ran is what wisp injected: its image, as 65532, read-only root.
			st := initStatus(pod, mutate.FetchContainerName)
			if st == nil || st.State.Terminated == nil || st.State.Terminated.ExitCode != 0 {
				t.Fatalf("wisp-fetch status: %+v", st)
			}
			if st.Image != shared.env.WispImage {
				t.Errorf("wisp-fetch ran image %q, want %q", st.Image, shared.env.WispImage)
			}
			fc := pod.Spec.InitContainers[0]
			if fc.Name != mutate.FetchContainerName || *fc.SecurityContext.RunAsUser != mutate.DefaultRunAsUser ||
				!*fc.SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("injected init container: %s as %v, read-only root %v", fc.Name, *fc.SecurityContext.RunAsUser, *fc.SecurityContext.ReadOnlyRootFilesystem)
			}

			// The files, seen from the node: 0440, owned by wisp-fetch's user
			// and the group the app has, on a tmpfs.
			dir := secretsDir(pod.UID)
			if fstype, _ := mountOf(t, dir); fstype != "tmpfs" {
				t.Errorf("secrets volume is %s, want tmpfs", fstype)
			}
			for _, f := range []string{"config", "db"} {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Fatalf("secret file: %v", err)
				}
				sys := fi.Sys().(*syscall.Stat_t)
				if fi.Mode().Perm() != 0o440 || sys.Uid != uint32(mutate.DefaultRunAsUser) || sys.Gid != tc.wantGroup {
					t.Errorf("%s: mode %o uid %d gid %d, want 440 %d %d", f, fi.Mode().Perm(), sys.Uid, sys.Gid, mutate.DefaultRunAsUser, tc.wantGroup)
				}
			}
			cfg, err := os.ReadFile(filepath.Join(dir, "config"))
			if err != nil || !strings.Contains(string(cfg), "api_key="+shared.canary) {
				t.Errorf("config file does not hold the KV secret rendered by the template (err %v)", err)
			}
		})
	}
}

// TestSidecarRenewsAndRevokes: with wisp.dev/sidecar, wisp-fetch runs as a
// native sidecar whose startup probe gates the app; it keeps a 5 s lease
// alive well past its TTL, and deleting the pod revokes it: the PostgreSQL
// user is gone.
func TestSidecarRenewsAndRevokes(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 3*time.Minute)
	c := shared.env.Node.Client()
	ann := annotations("app-short")
	ann["wisp.dev/sidecar"] = "true"
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sidecar", Namespace: appNS, Annotations: ann},
		Spec:       podSpec(appSA, corev1.RestartPolicyNever, appArgs("-every", "2s")...),
	}
	created, err := c.CoreV1().Pods(appNS).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Pods(appNS).Delete(context.Background(), pod.Name, metav1.DeleteOptions{}) })
	if fc := created.Spec.InitContainers[0]; fc.RestartPolicy == nil || *fc.RestartPolicy != corev1.ContainerRestartPolicyAlways || fc.StartupProbe == nil {
		t.Fatalf("not injected as a native sidecar with a startup probe: %+v", fc)
	}
	p, err := shared.env.Node.WaitPod(ctx, appNS, pod.Name, 2*time.Minute, running("app"))
	if err != nil {
		t.Fatal(err)
	}
	st := initStatus(p, mutate.FetchContainerName)
	if st == nil || st.State.Running == nil || st.Started == nil || !*st.Started {
		t.Fatalf("sidecar not running and started: %+v", st)
	}
	// The app found its files at its first start: the startup probe held it
	// back until they were written (it would exit 1 and the pod fail).
	logs := waitLog(ctx, t, pod.Name, "app", "current_user=v-", time.Minute)
	user := strings.TrimSpace(strings.SplitN(strings.SplitN(logs, "current_user=", 2)[1], "\n", 2)[0])

	// Past 3 TTLs, the same user still logs in and still exists.
	time.Sleep(16 * time.Second)
	p, err = c.CoreV1().Pods(appNS).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Status.ContainerStatuses[0]; s.State.Running == nil || s.RestartCount != 0 {
		t.Fatalf("app stopped while the sidecar should keep its lease: %s", node.DescribePod(p))
	}
	logs, err = shared.env.Node.Logs(ctx, appNS, pod.Name, "app", false)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs, "current_user="+user+"\n"); n < 8 {
		t.Errorf("want >= 8 logins as %s over 16 s, got %d:\n%s", user, n, logs)
	}
	if ok, err := shared.env.Stack.PGRoleExists(ctx, user); err != nil || !ok {
		t.Fatalf("%s gone before the pod (err %v): the lease was not renewed", user, err)
	}
	sidecarLog, _ := shared.env.Node.Logs(ctx, appNS, pod.Name, mutate.FetchContainerName, false)
	if strings.Contains(sidecarLog, shared.canary) {
		t.Errorf("sidecar log holds the secret's value")
	}

	// Delete: the sidecar's SIGTERM revokes the lease.
	if err := c.CoreV1().Pods(appNS).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		ok, err := shared.env.Stack.PGRoleExists(ctx, user)
		if err == nil && !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still in pg_roles 40 s after the pod's deletion (err %v)", user, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestUnboundIdentityFails: a pod whose service account has an SVID but is
// not bound to the Vault role never starts its app; the init container's
// one line is in the pod's status, and no file is written.
func TestUnboundIdentityFails(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 3*time.Minute)
	c := shared.env.Node.Client()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "unbound", Namespace: appNS, Annotations: annotations("app")},
		Spec:       podSpec(otherSA, corev1.RestartPolicyAlways, appArgs("-hold")...),
	}
	if _, err := c.CoreV1().Pods(appNS).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Pods(appNS).Delete(context.Background(), pod.Name, metav1.DeleteOptions{}) })
	var msg string
	p, err := shared.env.Node.WaitPod(ctx, appNS, pod.Name, 2*time.Minute, func(p *corev1.Pod) (bool, error) {
		st := initStatus(p, mutate.FetchContainerName)
		if st == nil {
			return false, nil
		}
		for _, term := range []*corev1.ContainerStateTerminated{st.State.Terminated, st.LastTerminationState.Terminated} {
			if term != nil && term.ExitCode != 0 {
				msg = term.Message
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`vault login with role "app"`, "bound claim"} {
		if !strings.Contains(msg, want) {
			t.Errorf("termination message %q lacks %q", msg, want)
		}
	}
	if strings.Count(strings.TrimSpace(msg), "\n") != 0 {
		t.Errorf("termination message is not one line: %q", msg)
	}
	if s := p.Status.ContainerStatuses[0]; s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil {
		t.Errorf("the app started: %s", node.DescribePod(p))
	}
	entries, err := os.ReadDir(secretsDir(p.UID))
	if err != nil {
		t.Fatalf("secrets volume of the waiting pod: %v", err)
	}
	if len(entries) != 0 {
		t.Errorf("files written although the login failed: %v", entries)
	}
}

// TestAgentRestartWhilePodStarts: the SPIRE agent is down when the pod's
// wisp-fetch starts and comes back a few seconds later; wisp-fetch retries
// within its deadline and the app gets its secrets. Not parallel: the other
// pods need the agent.
func TestAgentRestartWhilePodStarts(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	c := shared.env.Node.Client()
	s := shared.env.Stack
	if err := s.StopAgent(); err != nil {
		t.Fatal(err)
	}
	agentUp := false
	t.Cleanup(func() {
		if !agentUp {
			_ = s.StartAgent(context.Background())
		}
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-restart", Namespace: appNS, Annotations: annotations("app")},
		Spec:       podSpec(appSA, corev1.RestartPolicyNever, appArgs()...),
	}
	if _, err := c.CoreV1().Pods(appNS).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Pods(appNS).Delete(context.Background(), pod.Name, metav1.DeleteOptions{}) })
	_, err := shared.env.Node.WaitPod(ctx, appNS, pod.Name, time.Minute, func(p *corev1.Pod) (bool, error) {
		st := initStatus(p, mutate.FetchContainerName)
		return st != nil && st.State.Running != nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // wisp-fetch is retrying against a missing agent
	if err := s.StartAgent(ctx); err != nil {
		t.Fatal(err)
	}
	agentUp = true
	p, err := shared.env.Node.WaitPod(ctx, appNS, pod.Name, 2*time.Minute, running("app"))
	if err != nil {
		t.Fatal(err)
	}
	logs := waitLog(ctx, t, pod.Name, "app", "current_user=v-", time.Minute)
	fetchLog, _ := shared.env.Node.Logs(ctx, appNS, pod.Name, mutate.FetchContainerName, false)
	if !strings.Contains(fetchLog, "retry") && !strings.Contains(fetchLog, "attempt") {
		t.Errorf("wisp-fetch's log shows no retry while the agent was down:\n%s", fetchLog)
	}
	t.Logf("pod %s; app: %s", node.DescribePod(p), strings.TrimSpace(logs))
}

// TestRestrictedNamespaceAdmitsInjectedSpec: the injected spec passes Pod
// Security Admission's restricted profile (a server-side dry run; the
// injected pod without hostNetwork, which restricted forbids).
func TestRestrictedNamespaceAdmitsInjectedSpec(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, time.Minute)
	ann := annotations("app")
	ann["wisp.dev/role"] = restricted
	ann["wisp.dev/sidecar"] = "true"
	spec := podSpec("default", corev1.RestartPolicyAlways, "-hold")
	spec.HostNetwork = false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "restricted", Namespace: restricted, Annotations: ann}, Spec: spec}
	got, err := shared.env.Node.Client().CoreV1().Pods(restricted).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("restricted namespace refused the injected pod: %v", err)
	}
	if len(got.Spec.InitContainers) == 0 || got.Spec.InitContainers[0].Name != mutate.FetchContainerName {
		t.Fatalf("pod not injected: %+v", got.Spec.InitContainers)
	}
	// The same pod with a privileged app is refused: the check can fail.
	spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = new(true)
	pod.Spec = spec
	if _, err := shared.env.Node.Client().CoreV1().Pods(restricted).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil ||
		!strings.Contains(err.Error(), "restricted") {
		t.Fatalf("want a PodSecurity denial of allowPrivilegeEscalation, got %v", err)
	}
}

// TestStaticSecretDeniedOnTheNode: the helm-installed webhook enforces the
// policy: a pod with a static secret never reaches the kubelet.
func TestStaticSecretDeniedOnTheNode(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, time.Minute)
	spec := podSpec(appSA, corev1.RestartPolicyNever, "-hold")
	spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"},
	}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "static", Namespace: appNS}, Spec: spec}
	_, err := shared.env.Node.Client().CoreV1().Pods(appNS).Create(ctx, pod, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "DB_PASSWORD") {
		t.Fatalf("want a denial naming DB_PASSWORD, got %v", err)
	}
}

// TestEnvShimApp: an app that reads PGUSER and PGPASSWORD from its
// environment, in an image without a shell, starts through the exec shim
// (wisp.dev/env-<NAME>) and logs in to PostgreSQL as its dynamic user; the
// stored pod spec holds no secret value.
func TestEnvShimApp(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 3*time.Minute)
	c := shared.env.Node.Client()
	ann := map[string]string{
		"wisp.dev/inject":           "true",
		"wisp.dev/role":             "app",
		"wisp.dev/secret-db":        "database/creds/app",
		"wisp.dev/format-db":        "env",
		"wisp.dev/env-PGUSER":       "db#username",
		"wisp.dev/env-PGPASSWORD":   "db#password",
		"wisp.dev/secret-config":    "secret/data/app/config",
		"wisp.dev/env-APP_GREETING": "config#greeting",
	}
	pg := fmt.Sprintf("127.0.0.1:%d", shared.env.Stack.PGPort())
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "env-shim", Namespace: appNS, Annotations: ann},
		// -hold keeps the pod running, so its volume can be read on the node.
		Spec: podSpec(appSA, corev1.RestartPolicyNever, "-pg", pg, "-show-env", "APP_GREETING", "-hold"),
	}
	stored, err := c.CoreV1().Pods(appNS).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Pods(appNS).Delete(context.Background(), pod.Name, metav1.DeleteOptions{}) })
	if got := stored.Spec.Containers[0].Command; len(got) < 3 || got[0] != mutate.ShimPath || got[2] != "/app" {
		t.Fatalf("command %q, want the shim wrapping /app", got)
	}
	p, err := shared.env.Node.WaitPod(ctx, appNS, pod.Name, 2*time.Minute, running("app"))
	if err != nil {
		t.Fatal(err)
	}
	logs := waitLog(ctx, t, pod.Name, "app", "current_user=v-", time.Minute)
	if strings.Contains(logs, shared.canary) {
		t.Errorf("app log holds a secret value")
	}
	if !strings.Contains(logs, "APP_GREETING=hello\n") {
		t.Errorf("APP_GREETING (json format) not set from the config secret:\n%s", logs)
	}
	// The password is in the pod's file (and so in the app's environment),
	// never in the stored spec.
	db, err := os.ReadFile(filepath.Join(secretsDir(p.UID), "db"))
	if err != nil {
		t.Fatal(err)
	}
	var password string
	for _, l := range strings.Split(string(db), "\n") {
		if v, ok := strings.CutPrefix(l, "PASSWORD="); ok {
			password = strings.Trim(v, "'")
		}
	}
	if password == "" {
		t.Fatal("no PASSWORD in the db file")
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), password) || strings.Contains(string(raw), shared.canary) {
		t.Error("the stored pod holds a secret value")
	}
}

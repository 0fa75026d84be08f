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
	"syscall"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	wispfetch "wisp.dev/wisp/fetch"
	"wisp.dev/wisp/internal/config"
	"wisp.dev/wisp/internal/testutil"
	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/test/stack"
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
	// controller-runtime (envtest, the webhook server) logs through logr;
	// the demo shows its own lines only.
	ctrllog.SetLogger(logr.Discard())

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
	// The SPIFFE ID SPIRE's Kubernetes workload attestor gives the pod
	// (its namespace and service account), and the user wisp-fetch runs as.
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	spiffeID := fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", stack.DefaultTrustDomain, pod.Namespace, sa)
	asRoot := os.Geteuid() == 0
	uid, gid := os.Getuid(), os.Getgid()
	if asRoot {
		uid, gid = int(*snap.Injection.RunAsUser), int(*snap.Injection.RunAsGroup)
		if pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.FSGroup != nil {
			gid = int(*pod.Spec.SecurityContext.FSGroup)
		}
	}
	vs, err := planVault(pod, spiffeID, snap.Injection.Audience)
	if err != nil {
		return err
	}

	bins, err := ensureBinaries(ctx, o, root)
	if err != nil {
		return err
	}

	// Everything started from here is stopped by the cleanups, newest first.
	type cleanup struct {
		what string // what it stops, for the closing line; "" for folders
		fn   func() error
	}
	var cleanups []cleanup
	work, err := os.MkdirTemp("", "wisp-demo-")
	if err != nil {
		return err
	}
	defer func() {
		t1 := time.Now()
		o.say("stopping everything it started...")
		var errs []error
		var stopped []string
		for i := len(cleanups) - 1; i >= 0; i-- {
			errs = append(errs, cleanups[i].fn())
			if cleanups[i].what != "" {
				stopped = append(stopped, cleanups[i].what)
			}
		}
		errs = append(errs, os.RemoveAll(work))
		cerr := errors.Join(errs...)
		if cerr != nil {
			o.say("cleanup: %v", cerr)
		} else {
			if len(stopped) == 0 {
				stopped = []string{"nothing was running"}
			}
			o.say("stopped %s; removed the temporary folders (%s)", strings.Join(stopped, ", "), since(t1))
		}
		if err == nil && cerr != nil {
			err = fmt.Errorf("clean up: %w", cerr)
		}
		if err == nil {
			o.say("OK in %s", since(t0))
		}
	}()
	// The workload (uid 65532) must reach its binary and its folder.
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	binDir, secretsDir := filepath.Join(work, "bin"), filepath.Join(work, "secrets")
	for _, d := range []string{binDir, secretsDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}

	// Start the API server, the stack and the wisp-fetch build in parallel.
	t1 := time.Now()
	o.say("starting in parallel: kube-apiserver + etcd (envtest); PostgreSQL, SPIRE server + agent + OIDC provider, Vault dev server (test/stack); go build ./cmd/wisp-fetch")
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	var (
		wg            sync.WaitGroup
		api           *apiServer
		st            *stack.Stack
		bin           string
		apiErr, stErr error
		binErr        error
	)
	fail := func(e *error, err error) {
		*e = err
		if err != nil {
			pcancel()
		}
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		t := time.Now()
		a, err := startAPIServer(bins.k8s)
		fail(&apiErr, err)
		if err == nil {
			api = a
			o.say("  kube-apiserver + etcd up in %s (%s)", since(t), a.host)
		}
	}()
	// The stack's folder is ours: a stack.Start that fails cannot clean up
	// after itself (its deferred Stop runs on a nil *Stack and panics), so
	// the demo removes the folder, and the processes end with it (they have
	// a parent-death signal). For the same reason Start is not cancelled
	// midway: Ctrl-C waits until it is up (seconds), then stops it.
	stackDir, err := os.MkdirTemp("/tmp", "ws")
	if err != nil {
		return err
	}
	cleanups = append(cleanups, cleanup{"", func() error { return os.RemoveAll(stackDir) }})
	go func() {
		defer wg.Done()
		t := time.Now()
		defer func() {
			if r := recover(); r != nil {
				fail(&stErr, fmt.Errorf("start PostgreSQL, SPIRE and Vault: test/stack.Start failed and panicked while cleaning up: %v", r))
			}
		}()
		s, err := stack.Start(context.WithoutCancel(pctx), stack.Options{
			Dir: stackDir, VaultDir: bins.vault, SpireDir: bins.spire,
			Workloads: []stack.Workload{{SPIFFEID: spiffeID, UID: uid}},
		})
		if err != nil {
			fail(&stErr, fmt.Errorf("start PostgreSQL, SPIRE and Vault: %w", err))
			return
		}
		st = s
		if err := vs.apply(pctx, s); err != nil {
			fail(&stErr, fmt.Errorf("configure Vault: %w", err))
			return
		}
		o.say("  PostgreSQL, SPIRE and Vault up and configured in %s (Vault %s, PostgreSQL 127.0.0.1:%d)", since(t), s.VaultAddr(), s.PGPort())
	}()
	go func() {
		defer wg.Done()
		t := time.Now()
		b, err := buildFetch(pctx, root, binDir)
		fail(&binErr, err)
		if err == nil {
			bin = b
			o.say("  wisp-fetch built in %s", since(t))
		}
	}()
	wg.Wait()
	if api != nil {
		cleanups = append(cleanups, cleanup{"kube-apiserver + etcd", api.stop})
	}
	if st != nil {
		cleanups = append(cleanups, cleanup{"PostgreSQL, SPIRE and Vault", st.Stop})
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	if err := errors.Join(apiErr, stErr, binErr); err != nil {
		return err
	}

	// wisp's webhook, in-process, on the example policy pointed at the local Vault.
	policyPath, err := policyFile(filepath.Join(examples, "policy.yaml"), work, st.VaultAddr())
	if err != nil {
		return fmt.Errorf("write the policy file: %w", err)
	}
	logs := &testutil.SyncBuffer{}
	hook, err := startWebhook(ctx, api, policyPath, logs)
	if err != nil {
		return fmt.Errorf("start wisp's webhook: %w", err)
	}
	cleanups = append(cleanups, cleanup{"wisp's webhook", hook.stop})
	o.say("  wisp's webhook serving /mutate and /validate at https://%s, policy examples/policy.yaml with injection.vaultAddr: %s", hook.addr, st.VaultAddr())
	o.say("all up in %s", since(t1))

	k := api.client
	if _, err := k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pod.Namespace}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", pod.Namespace, err)
	}
	if err := hook.waitNamespace(ctx, pod.Namespace); err != nil {
		return err
	}

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
	if leak := leakedValue(deploy, err.Error()+logs.String()); leak != "" {
		return fmt.Errorf("the value of env %s appears in wisp's denial or logs", leak)
	}
	o.print("  (the values appear nowhere: not in the denial, not in wisp's log lines)")

	// 2. The app team's annotated pod is injected.
	o.step(2, "The app team's pod: admitted and injected")
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
	stored, err := k.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
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
	env, p, err := fetchEnv(fc, st.SocketAddr(), secretsDir)
	if err != nil {
		return err
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
	for _, c := range stored.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if m.Name == mutate.SecretsVolumeName {
				o.print("    container %s: %s mounted at %s%s", c.Name, m.Name, m.MountPath, map[bool]string{true: ", read-only"}[m.ReadOnly])
			}
		}
	}

	// 3. wisp-fetch, as the init container would run.
	o.step(3, "wisp-fetch (the init container) against the real SPIRE agent and Vault")
	o.print("  SPIRE: %s is issued to uid %d (in a cluster: to the pods of service account %s/%s)", spiffeID, uid, pod.Namespace, sa)
	for i, l := range vs.describe() {
		if i == 0 {
			o.print("  Vault: %s", l)
		} else {
			o.print("         %s", l)
		}
	}
	var cred *syscall.Credential
	if asRoot {
		if sc := fc.SecurityContext; sc != nil && sc.RunAsUser != nil && int(*sc.RunAsUser) != uid {
			return fmt.Errorf("the stored %s runs as uid %d, the demo registered uid %d in SPIRE", fc.Name, *sc.RunAsUser, uid)
		}
		if sc := fc.SecurityContext; sc != nil && sc.RunAsGroup != nil {
			gid = int(*sc.RunAsGroup)
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(secretsDir, uid, gid); err != nil {
			return err
		}
		o.print("  $ wisp-fetch    # as uid %d gid %d (the container's user and the pod's fsGroup)", uid, gid)
	} else {
		o.print("  $ wisp-fetch    # as you (uid %d): not root, so not as the container's uid %d", uid, *snap.Injection.RunAsUser)
	}
	o.print("    env: as stored in the pod, except two values the kubelet provides in a cluster:")
	o.print("      %s=%s    (in a pod: %s, the CSI volume)", mutate.EnvSocket, st.SocketAddr(), envOf(fc, mutate.EnvSocket))
	o.print("      plan dir %s -> %s    (in a pod: the %s emptyDir)", p.Dir, secretsDir, mutate.SecretsVolumeName)
	res, err := runFetch(ctx, bin, env, cred)
	if err != nil {
		return err
	}
	o.print("  exit 0 after %s; its log:", res.elapsed.Round(time.Millisecond))
	for _, l := range logSummary(res.stderr) {
		o.print("    %s", l)
	}
	files, others, err := readSecrets(secretsDir, p)
	if err != nil {
		return err
	}
	var kvValues []string
	for _, data := range vs.kvData {
		for _, v := range data {
			kvValues = append(kvValues, fmt.Sprint(v))
		}
	}
	var dbUser, dbPassword, dbFile string
	o.print("  files in %s:", secretsDir)
	for _, f := range files {
		show := masked(f.data, kvValues)
		if dbf := parseEnvFile(f.data); dbf["USERNAME"] != "" && dbf["PASSWORD"] != "" {
			dbUser, dbPassword, dbFile = dbf["USERNAME"], dbf["PASSWORD"], f.name
			show = fmt.Sprintf("USERNAME=%s PASSWORD=****", dbUser)
			if len(dbf) > 2 {
				show += fmt.Sprintf(" (+%d more keys)", len(dbf)-2)
			}
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
	o.step(4, "The app logs in to PostgreSQL with its own dynamic user")
	o.print("  $ psql \"postgresql://%s:****@127.0.0.1:%d/postgres\" -c 'SELECT current_user'", dbUser, st.PGPort())
	got, err := st.PGLogin(ctx, dbUser, dbPassword)
	if err != nil {
		return fmt.Errorf("log in to PostgreSQL with the credential from %s: %w", dbFile, err)
	}
	if got != dbUser {
		return fmt.Errorf("SELECT current_user = %q, want %q", got, dbUser)
	}
	o.print("  current_user = %s    (a PostgreSQL role Vault created for this pod alone)", got)

	// 5. Revocation.
	o.step(5, "Revocation: the credential ends with its Vault lease")
	meta, err := readMeta(secretsDir, dbFile)
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
	if _, err := st.PGLogin(ctx, dbUser, dbPassword); err == nil {
		return fmt.Errorf("PostgreSQL still accepts %s after the revocation", dbUser)
	} else {
		o.print("  a new login as it fails: %s", fatalOf(err))
	}
	o.print("")
	return nil
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

// fatalOf shortens psql's error to PostgreSQL's message.
func fatalOf(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "FATAL:"); i >= 0 {
		return strings.Join(strings.Fields(msg[i:]), " ")
	}
	return msg
}

package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"wisp.dev/wisp/test/stack"
)

// Name is the node's name, also its only address (type Hostname).
const Name = "localhost"

// lockPath serialises nodes on one machine.
const lockPath = "/tmp/wisp-node.lock"

// Options configure Start. The zero value is usable.
type Options struct {
	// Dir holds all of the node's state. Default: a new /tmp/wn<random>,
	// removed by Stop. Keep it short (unix socket paths).
	Dir string
	// Registry is the host:port, on 127.0.0.1, of a plain-HTTP OCI
	// registry: containerd pulls from it over HTTP (its hosts.toml).
	// Required.
	Registry string
	// SandboxImage is the pod sandbox ("pause") image containerd pulls and
	// runs for every pod. Required.
	SandboxImage string
	// Logf reports progress; nil means quiet.
	Logf func(format string, args ...any)
}

// Node is a running single-node cluster. Create it with Start.
type Node struct {
	opts    Options
	dir     string
	bins    binaries
	ports   ports
	cgroup  string // the kubelet's cgroupRoot, e.g. /wisp-ab12cd
	bridge  string // the CNI bridge's name
	host    hostState
	lock    *os.File
	token   string
	caPEM   []byte
	cfg     *rest.Config
	client  kubernetes.Interface
	kubecfg string

	mu    sync.Mutex
	procs map[string]*stack.Proc
	order []string
}

type binaries struct{ k8s, node, csi string }

type ports struct {
	etcd, etcdPeer, api, kubelet, kubeletHealthz, kcm, scheduler int
}

// Start brings up the control plane, containerd (pulling from
// opts.Registry) and the kubelet, and waits until the node is Ready and the default
// ServiceAccount exists. On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options) (n *Node, err error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Registry == "" || opts.SandboxImage == "" {
		return nil, errors.New("node: Options.Registry and Options.SandboxImage are required")
	}
	t0 := time.Now()
	nd := &Node{opts: opts, dir: opts.Dir, procs: map[string]*stack.Proc{}}
	if err := nd.findBinaries(ctx); err != nil {
		return nil, err
	}
	if err := nd.takeLock(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if serr := nd.Stop(); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}()
	nd.host = snapshotHost()
	if nd.dir == "" {
		if nd.dir, err = os.MkdirTemp("/tmp", "wn"); err != nil {
			return nil, fmt.Errorf("create node folder: %w", err)
		}
	}
	if err := os.Chmod(nd.dir, 0o755); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", nd.dir, err)
	}
	suffix := randomHex(3)
	nd.cgroup = "/wisp-" + suffix
	nd.bridge = "wisp" + suffix
	nd.token = randomHex(16)
	p, err := stack.FreePorts(7)
	if err != nil {
		return nil, err
	}
	nd.ports = ports{etcd: p[0], etcdPeer: p[1], api: p[2], kubelet: p[3], kubeletHealthz: p[4], kcm: p[5], scheduler: p[6]}
	if err := nd.writePKI(); err != nil {
		return nil, err
	}
	if err := nd.startControlPlane(ctx); err != nil {
		return nil, err
	}
	opts.Logf("node: control plane ready in %s", time.Since(t0).Round(time.Millisecond))
	if err := nd.startContainerd(ctx); err != nil {
		return nil, err
	}
	if err := nd.startKubelet(ctx); err != nil {
		return nil, err
	}
	if err := nd.waitDefaultServiceAccount(ctx, "default"); err != nil {
		return nil, err
	}
	opts.Logf("node: %s Ready in %s (folder %s, API server https://127.0.0.1:%d)", Name,
		time.Since(t0).Round(time.Millisecond), nd.dir, nd.ports.api)
	return nd, nil
}

// Client is a clientset with cluster-admin rights.
func (n *Node) Client() kubernetes.Interface { return n.client }

// RESTConfig is the admin's rest.Config.
func (n *Node) RESTConfig() *rest.Config { return rest.CopyConfig(n.cfg) }

// Kubeconfig is the path of an admin kubeconfig file (for helm).
func (n *Node) Kubeconfig() string { return n.kubecfg }

// APIServerPort is kube-apiserver's port on 127.0.0.1.
func (n *Node) APIServerPort() int { return n.ports.api }

// KubeletPort is the kubelet's HTTPS port on 127.0.0.1 (anonymous
// authentication, AlwaysAllow authorisation: a test kubelet).
func (n *Node) KubeletPort() int { return n.ports.kubelet }

// Dir is the node's state folder.
func (n *Node) Dir() string { return n.dir }

// KubeletRoot is the kubelet's --root-dir (pods' volumes live under it).
func (n *Node) KubeletRoot() string { return filepath.Join(n.dir, "kubelet") }

// CAPEM is the PEM of the CA that signed the API server's certificate.
func (n *Node) CAPEM() []byte { return n.caPEM }

func (n *Node) findBinaries(ctx context.Context) error {
	for _, e := range []struct {
		script string
		dst    *string
	}{{"ensure-k8s.sh", &n.bins.k8s}, {"ensure-node.sh", &n.bins.node}, {"ensure-csi.sh", &n.bins.csi}} {
		t0 := time.Now()
		n.opts.Logf("node: %s (builds once: about 10 min cold)", e.script)
		dir, err := ensure(ctx, e.script)
		if err != nil {
			return err
		}
		*e.dst = dir
		n.opts.Logf("node: %s ready in %s", e.script, time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// takeLock waits for any other node on this machine to stop.
func (n *Node) takeLock(ctx context.Context) error {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", lockPath, err)
	}
	for waiting := false; ; waiting = true {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			n.lock = f
			return nil
		}
		if !waiting {
			n.opts.Logf("node: waiting for another node on this machine to stop (%s)", lockPath)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return fmt.Errorf("wait for another node on this machine to stop (%s): %w", lockPath, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// spawn starts a component and records it for Stop.
func (n *Node) spawn(name string, env []string, bin string, args ...string) (*stack.Proc, error) {
	if env == nil {
		env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + n.dir}
	}
	p, err := stack.Spawn(name, filepath.Join(n.dir, "logs"), nil, env, syscall.SIGTERM, bin, args...)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.procs[name] = p
	n.order = append(n.order, name)
	n.mu.Unlock()
	return p, nil
}

// stopProc stops one component, if it runs.
func (n *Node) stopProc(name string, grace time.Duration) {
	n.mu.Lock()
	p := n.procs[name]
	delete(n.procs, name)
	n.mu.Unlock()
	if p != nil {
		_ = p.Stop(grace)
	}
}

func (n *Node) writeKubeconfig() error {
	n.kubecfg = filepath.Join(n.dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: wisp, cluster: {server: "https://127.0.0.1:%d", certificate-authority: %q}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: wisp, context: {cluster: wisp, user: admin}}]
current-context: wisp
`, n.ports.api, filepath.Join(n.dir, "pki", "ca.crt"), n.token)
	if err := os.WriteFile(n.kubecfg, []byte(kc), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", n.kubecfg)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	n.cfg, n.client = cfg, client
	return nil
}

// waitDefaultServiceAccount waits until the controller manager has created
// the namespace's default ServiceAccount (pods are refused before).
func (n *Node) waitDefaultServiceAccount(ctx context.Context, ns string) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := n.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("wait for the default ServiceAccount of %s: %w", ns, err)
	}
	return nil
}

// CreateNamespace creates a namespace with labels and waits for its default
// ServiceAccount.
func (n *Node) CreateNamespace(ctx context.Context, name string, labels map[string]string) error {
	_, err := n.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return n.waitDefaultServiceAccount(ctx, name)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"wisp.dev/wisp/test/stack"
)

// containerdConfig: Debian's containerd 1.6 (config version 2), all state
// under the node's folder. restrict_oom_score_adj: runc cannot lower
// oom_score_adj without CAP_SYS_RESOURCE, which this machine lacks. The
// CRI plugin reads each registry's hosts.toml under config_path
// (hostsConfig).
const containerdConfig = `version = 2
root = "{{dir}}/containerd/root"
state = "{{dir}}/containerd/state"
[grpc]
  address = "{{dir}}/run/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{{dir}}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{sandbox}}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{{dir}}/run/runc"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{{dir}}/containerd/certs.d"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{{dir}}/cni/net.d"
`

// hostsConfig is containerd's hosts.toml for the registry at {{registry}}
// (certs.d/<host:port>/hosts.toml): plain HTTP, pull and resolve.
const hostsConfig = `server = "http://{{registry}}"

[host."http://{{registry}}"]
  capabilities = ["pull", "resolve"]
`

// cniConfig: a bridge the kubelet needs to call the pod network ready;
// every test pod is hostNetwork, so no pod ever gets an address on it.
const cniConfig = `{
  "cniVersion": "0.4.0",
  "name": "wisp",
  "plugins": [
    {"type": "bridge", "bridge": "{{bridge}}", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.77.0/24"}]], "dataDir": "{{dir}}/cni/ipam"}},
    {"type": "loopback"}
  ]
}
`

// kubeletConfig: a test kubelet on 127.0.0.1; anonymous requests allowed
// (the API server's logs/exec and SPIRE's k8s workload attestor use them).
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: {{cgroup}}
containerRuntimeEndpoint: unix://{{dir}}/run/containerd.sock
address: 127.0.0.1
port: {{port}}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {{healthz}}
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
failSwapOn: false
resolvConf: ""
registerNode: true
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
syncFrequency: 5s
fileCheckFrequency: 5s
nodeStatusUpdateFrequency: 4s
podLogsDir: {{dir}}/pod-logs
volumePluginDir: {{dir}}/kubelet/volume-plugins
`

func (n *Node) render(tmpl string) string {
	return strings.NewReplacer("{{dir}}", n.dir, "{{bridge}}", n.bridge, "{{cgroup}}", n.cgroup,
		"{{registry}}", n.opts.Registry, "{{sandbox}}", n.opts.SandboxImage,
		"{{port}}", fmt.Sprint(n.ports.kubelet), "{{healthz}}", fmt.Sprint(n.ports.kubeletHealthz)).Replace(tmpl)
}

func (n *Node) sock() string { return filepath.Join(n.dir, "run", "containerd.sock") }

func (n *Node) startContainerd(ctx context.Context) error {
	hosts := filepath.Join("containerd", "certs.d", n.opts.Registry)
	for _, d := range []string{"run", "cni/net.d", hosts} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	files := map[string]string{"run/containerd.toml": containerdConfig, "cni/net.d/10-wisp.conflist": cniConfig,
		filepath.Join(hosts, "hosts.toml"): hostsConfig}
	for name, tmpl := range files {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(n.render(tmpl)), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	p, err := n.spawn("containerd", nil, "containerd", "--config", filepath.Join(n.dir, "run/containerd.toml"))
	if err != nil {
		return err
	}
	return stack.WaitFor(ctx, p, "containerd", 30*time.Second, func(ctx context.Context) error {
		_, err := n.ctr(ctx, "version")
		return err
	})
}

// ctr runs Debian's ctr against this node's containerd, namespace k8s.io.
func (n *Node) ctr(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", n.sock(), "-n", "k8s.io"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// cgroupHierarchies are the mounted cgroup v1 hierarchies (or the v2 root).
func cgroupHierarchies() []string {
	var out []string
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		p := filepath.Join("/sys/fs/cgroup", e.Name())
		if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err == nil && e.Name() != "unified" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.procs"); err == nil {
			out = append(out, "/sys/fs/cgroup")
		}
	}
	return out
}

func (n *Node) startKubelet(ctx context.Context) error {
	// cgroup v1: the kubelet's cgroupRoot must exist in every hierarchy.
	for _, h := range cgroupHierarchies() {
		if err := os.MkdirAll(filepath.Join(h, n.cgroup), 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", filepath.Join(h, n.cgroup), err)
		}
	}
	root := n.KubeletRoot()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", root, err)
	}
	conf := filepath.Join(n.dir, "run", "kubelet.yaml")
	if err := os.WriteFile(conf, []byte(n.render(kubeletConfig)), 0o644); err != nil {
		return fmt.Errorf("write kubelet config: %w", err)
	}
	p, err := n.spawnKubelet()
	if err != nil {
		return err
	}
	return stack.WaitFor(ctx, p, "node Ready", 120*time.Second, func(ctx context.Context) error {
		node, err := n.client.CoreV1().Nodes().Get(ctx, Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errors.New("node not Ready yet")
	})
}

func (n *Node) spawnKubelet() (*stack.Proc, error) {
	root := n.KubeletRoot()
	return n.spawn("kubelet", nil, filepath.Join(n.bins.node, "kubelet"),
		"--config", filepath.Join(n.dir, "run", "kubelet.yaml"), "--kubeconfig", n.kubecfg, "--root-dir", root,
		"--cert-dir", filepath.Join(root, "pki"), "--hostname-override", Name, "-v=1")
}

// RestartKubelet stops the kubelet (SIGTERM: its pods keep running under
// containerd), starts it again on the same configuration and waits until it
// is healthy and has posted its node status anew.
func (n *Node) RestartKubelet(ctx context.Context) error {
	n.stopProc("kubelet", 30*time.Second)
	t0 := time.Now()
	p, err := n.spawnKubelet()
	if err != nil {
		return err
	}
	return stack.WaitFor(ctx, p, "kubelet healthy after a restart", 120*time.Second, func(ctx context.Context) error {
		if err := n.kubeletHealthy(ctx); err != nil {
			return err
		}
		node, err := n.client.CoreV1().Nodes().Get(ctx, Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && c.LastHeartbeatTime.After(t0) {
				return nil
			}
		}
		return errors.New("no Ready heartbeat since the restart yet")
	})
}

// RestartContainerd stops containerd (SIGTERM: the containers keep running
// under their shims), starts it again on the same configuration and waits
// until it answers.
func (n *Node) RestartContainerd(ctx context.Context) error {
	n.stopProc("containerd", 30*time.Second)
	p, err := n.spawn("containerd", nil, "containerd", "--config", filepath.Join(n.dir, "run/containerd.toml"))
	if err != nil {
		return err
	}
	return stack.WaitFor(ctx, p, "containerd after a restart", 60*time.Second, func(ctx context.Context) error {
		_, err := n.ctr(ctx, "version")
		return err
	})
}

// kubeletHealthy asks the kubelet's /healthz.
func (n *Node) kubeletHealthy(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/healthz", n.ports.kubeletHealthz), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("kubelet /healthz: %s", resp.Status)
	}
	return nil
}

// CSIDriver is the SPIFFE CSI driver's name.
const CSIDriver = "csi.spiffe.io"

// StartCSI starts the SPIFFE CSI driver, which exposes socketDir (the SPIRE
// agent's Workload API folder) to pods as a read-only ephemeral volume,
// registers it with the kubelet, creates its CSIDriver object and waits
// until the node's CSINode lists it.
func (n *Node) StartCSI(ctx context.Context, socketDir string) error {
	sockDir := filepath.Join(n.KubeletRoot(), "plugins", CSIDriver)
	regDir := filepath.Join(n.KubeletRoot(), "plugins_registry")
	for _, d := range []string{sockDir, regDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	csiSock := filepath.Join(sockDir, "csi.sock")
	driver, err := n.spawn("spiffe-csi-driver", nil, filepath.Join(n.bins.csi, "spiffe-csi-driver"),
		"-node-id", Name, "-csi-socket-path", csiSock, "-workload-api-socket-dir", socketDir)
	if err != nil {
		return err
	}
	err = stack.WaitFor(ctx, driver, "spiffe-csi-driver socket", 30*time.Second, func(context.Context) error {
		_, err := os.Stat(csiSock)
		return err
	})
	if err != nil {
		return err
	}
	reg, err := n.spawn("registrar", nil, filepath.Join(n.bins.csi, "registrar"),
		CSIDriver, csiSock, filepath.Join(regDir, CSIDriver+"-reg.sock"))
	if err != nil {
		return err
	}
	_, err = n.client.StorageV1().CSIDrivers().Create(ctx, &storagev1.CSIDriver{
		ObjectMeta: metav1.ObjectMeta{Name: CSIDriver},
		Spec: storagev1.CSIDriverSpec{
			AttachRequired: new(false),
			PodInfoOnMount: new(true),
			// The socket is world-connectable; never chown the mount.
			FSGroupPolicy:        new(storagev1.NoneFSGroupPolicy),
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral},
		},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create CSIDriver %s: %w", CSIDriver, err)
	}
	return stack.WaitFor(ctx, reg, "CSINode lists "+CSIDriver, 60*time.Second, func(ctx context.Context) error {
		cn, err := n.client.StorageV1().CSINodes().Get(ctx, Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, d := range cn.Spec.Drivers {
			if d.Name == CSIDriver {
				return nil
			}
		}
		return errors.New("not registered yet")
	})
}

// waitPods polls until no pod is left in the cluster, or timeout.
func (n *Node) waitNoPods(ctx context.Context, timeout time.Duration) error {
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := n.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		return len(pods.Items) == 0, nil
	})
}

package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hostPaths are folders the kubelet, containerd and libcni write whatever
// their flags say. Stop removes those that did not exist before Start.
var hostPaths = []string{
	"/var/log/containers", "/var/log/pods", "/var/lib/kubelet", "/var/lib/cni",
	"/run/containerd", "/var/run/netns", "/run/netns",
}

// hostState is what existed before Start.
type hostState struct {
	paths map[string]bool
	netns []string
}

func snapshotHost() hostState {
	h := hostState{paths: map[string]bool{}, netns: netnsNames()}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); err == nil {
			h.paths[p] = true
		}
	}
	return h
}

func netnsNames() []string {
	entries, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// Stop deletes every pod (so that the kubelet unmounts their volumes and
// sidecars get their SIGTERM), stops every process it started, unmounts
// what is left under the node's folder, and removes the cgroups, network
// namespaces, host paths and folders the node created. Safe to call twice.
func (n *Node) Stop() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n.mu.Lock()
	_, kubeletUp := n.procs["kubelet"]
	n.mu.Unlock()
	if n.client != nil && kubeletUp {
		// No controller may recreate what is deleted.
		n.stopProc("kube-controller-manager", 10*time.Second)
		n.stopProc("kube-scheduler", 10*time.Second)
		grace := int64(2)
		_ = n.client.CoreV1().Pods("").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &grace}, metav1.ListOptions{})
		nss, _ := n.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if nss != nil {
			for _, ns := range nss.Items {
				_ = n.client.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &grace}, metav1.ListOptions{})
			}
		}
		if err := n.waitNoPods(ctx, 45*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("wait for the pods to go: %w", err))
		}
		// The kubelet unmounts a deleted pod's volumes shortly after.
		_ = waitUntil(ctx, 20*time.Second, func() bool { return len(n.mountsUnder(filepath.Join(n.KubeletRoot(), "pods"))) == 0 })
	}
	for _, name := range []string{"registrar", "spiffe-csi-driver", "kubelet", "kube-controller-manager", "kube-scheduler"} {
		n.stopProc(name, 10*time.Second)
	}
	n.killContainers()
	n.stopProc("containerd", 10*time.Second)
	n.killShims()
	n.mu.Lock()
	rest := slices.Clone(n.order)
	n.mu.Unlock()
	for i := len(rest) - 1; i >= 0; i-- {
		n.stopProc(rest[i], 10*time.Second)
	}
	if n.dir != "" {
		mounts := n.mountsUnder(n.dir)
		for _, m := range mounts {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
			}
		}
	}
	if n.cgroup != "" {
		for _, h := range cgroupHierarchies() {
			if err := removeCgroupTree(filepath.Join(h, n.cgroup)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, ns := range netnsNames() {
		if !slices.Contains(n.host.netns, ns) {
			p := filepath.Join("/run/netns", ns)
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
			if err := os.Remove(p); err != nil {
				errs = append(errs, fmt.Errorf("remove network namespace %s: %w", ns, err))
			}
		}
	}
	if n.bridge != "" {
		_ = exec.Command("ip", "link", "del", n.bridge).Run() // only exists if a pod used the pod network
	}
	if n.host.paths != nil {
		for _, p := range hostPaths {
			if !n.host.paths[p] {
				if len(n.mountsUnder(p)) > 0 {
					errs = append(errs, fmt.Errorf("%s still has mounts; left in place", p))
					continue
				}
				if err := os.RemoveAll(p); err != nil {
					errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
				}
			}
		}
	}
	if n.dir != "" && n.opts.Dir == "" {
		if len(n.mountsUnder(n.dir)) > 0 {
			errs = append(errs, fmt.Errorf("%s still has mounts; left in place", n.dir))
		} else if err := os.RemoveAll(n.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", n.dir, err))
		}
	}
	if n.lock != nil {
		_ = syscall.Flock(int(n.lock.Fd()), syscall.LOCK_UN)
		n.lock.Close()
		n.lock = nil
	}
	return errors.Join(errs...)
}

// killContainers kills every process in the kubelet's cgroups (the
// containers' processes), in case a pod outlived the kubelet.
func (n *Node) killContainers() {
	if n.cgroup == "" {
		return
	}
	for _, h := range cgroupHierarchies() {
		_ = filepath.WalkDir(filepath.Join(h, n.cgroup), func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			for _, pid := range readPids(filepath.Join(p, "cgroup.procs")) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return nil
		})
	}
}

// killShims kills the containerd shims of this node (they outlive
// containerd by design).
func (n *Node) killShims() {
	if n.dir == "" {
		return
	}
	for _, pid := range n.pidsReferring() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// pidsReferring lists processes whose command line names the node's folder.
func (n *Node) pidsReferring() []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), n.dir+"/") || strings.Contains(string(b), n.dir+"\x00") {
			out = append(out, pid)
		}
	}
	return out
}

func readPids(path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// removeCgroupTree removes a cgroup folder and its children, deepest first.
func removeCgroupTree(root string) error {
	if _, err := os.Stat(root); err != nil {
		return nil
	}
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var last error
	for range 20 {
		last = nil
		for _, d := range dirs {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				last = fmt.Errorf("remove cgroup %s: %w", d, err)
			}
		}
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// mountsUnder lists mount points at or below dir, deepest first.
func (n *Node) mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return slices.Compact(out)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Leftovers lists what a stopped node left on the machine: processes that
// name its folder, mounts, cgroups, network namespaces, host paths and the
// folder itself. Empty after a clean Stop.
func (n *Node) Leftovers() []string {
	var out []string
	for _, pid := range n.pidsReferring() {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
		out = append(out, fmt.Sprintf("process %d (%s)", pid, strings.TrimSpace(string(b))))
	}
	if n.dir != "" {
		for _, m := range n.mountsUnder(n.dir) {
			out = append(out, "mount "+m)
		}
		if _, err := os.Stat(n.dir); err == nil && n.opts.Dir == "" {
			out = append(out, "folder "+n.dir)
		}
	}
	for _, p := range hostPaths {
		if !n.host.paths[p] {
			if _, err := os.Lstat(p); err == nil {
				out = append(out, "host path "+p)
			}
		}
		for _, m := range n.mountsUnder(p) {
			out = append(out, "mount "+m)
		}
	}
	if n.cgroup != "" {
		for _, h := range cgroupHierarchies() {
			if _, err := os.Stat(filepath.Join(h, n.cgroup)); err == nil {
				out = append(out, "cgroup "+filepath.Join(h, n.cgroup))
			}
		}
	}
	for _, ns := range netnsNames() {
		if !slices.Contains(n.host.netns, ns) {
			out = append(out, "network namespace "+ns)
		}
	}
	if n.bridge != "" {
		if _, err := os.Stat(filepath.Join("/sys/class/net", n.bridge)); err == nil {
			out = append(out, "network link "+n.bridge)
		}
	}
	return out
}

func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

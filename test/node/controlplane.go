package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"wisp.dev/wisp/test/stack"
)

// startControlPlane starts etcd and kube-apiserver, then the controller
// manager (ServiceAccounts, kube-root-ca.crt, ReplicaSets, Deployments,
// garbage collection) and the scheduler.
func (n *Node) startControlPlane(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(n.dir, "logs"), 0o755); err != nil {
		return fmt.Errorf("create logs folder: %w", err)
	}
	pki := func(f string) string { return filepath.Join(n.dir, "pki", f) }
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(n.ports.etcd)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(n.ports.etcdPeer)
	if _, err := n.spawn("etcd", nil, filepath.Join(n.bins.k8s, "etcd"),
		"--data-dir", filepath.Join(n.dir, "etcd"), "--name", "wisp",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "wisp="+peerURL, "--quota-backend-bytes", "1073741824",
		"--unsafe-no-fsync"); err != nil {
		return err
	}
	api, err := n.spawn("kube-apiserver", nil, filepath.Join(n.bins.k8s, "kube-apiserver"),
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(n.ports.api),
		"--tls-cert-file", pki("apiserver.crt"), "--tls-private-key-file", pki("apiserver.key"),
		"--token-auth-file", pki("tokens.csv"),
		"--authorization-mode", "Node,RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", pki("sa.pub"),
		"--service-account-signing-key-file", pki("sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/24",
		"--allow-privileged=true",
		// 127.0.0.1 is not a valid endpoint for the kubernetes Service.
		"--endpoint-reconciler-type", "none",
		// The node's only address is its name, "localhost".
		"--kubelet-preferred-address-types", "Hostname",
		"--profiling=false")
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(n.caPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	readyz := fmt.Sprintf("https://127.0.0.1:%d/readyz", n.ports.api)
	err = stack.WaitFor(ctx, api, "kube-apiserver /readyz", 90*time.Second, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, readyz, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+n.token)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s: %s", resp.Status, b)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := n.writeKubeconfig(); err != nil {
		return err
	}
	if _, err := n.spawn("kube-controller-manager", nil, filepath.Join(n.bins.node, "kube-controller-manager"),
		"--kubeconfig", n.kubecfg,
		"--authentication-kubeconfig", n.kubecfg, "--authorization-kubeconfig", n.kubecfg,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(n.ports.kcm),
		"--leader-elect=false",
		"--service-account-private-key-file", pki("sa.key"),
		"--root-ca-file", pki("ca.crt"),
		"--use-service-account-credentials=false",
		"--concurrent-gc-syncs", "5",
		"--profiling=false"); err != nil {
		return err
	}
	if _, err := n.spawn("kube-scheduler", nil, filepath.Join(n.bins.node, "kube-scheduler"),
		"--kubeconfig", n.kubecfg,
		"--authentication-kubeconfig", n.kubecfg, "--authorization-kubeconfig", n.kubecfg,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(n.ports.scheduler),
		"--leader-elect=false", "--profiling=false"); err != nil {
		return err
	}
	return nil
}

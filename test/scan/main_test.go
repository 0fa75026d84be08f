package scan

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	reportsclient "github.com/openreports/reports-api/pkg/client/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"wisp.dev/wisp/test/testutil"
)

var (
	update = flag.Bool("update", false, "rewrite the golden files from wisp scan's output")
	scale  = flag.Bool("scale", false, "run TestScanScale: 10,000 workloads and 30,000 pods (minutes)")
)

// cluster is the package's API server and the wisp binary under test.
type cluster struct {
	env     *envtest.Environment
	cfg     *rest.Config
	client  kubernetes.Interface
	reports reportsclient.Interface
	// kubeconfig of a cluster admin, for wisp.
	kubeconfig string
	// wisp is the built binary.
	wisp string
	dir  string
}

var shared *cluster

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	c, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scan:", err)
		return 1
	}
	shared = c
	code := m.Run()
	if err := c.env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "scan: stop envtest:", err)
	}
	_ = os.RemoveAll(c.dir)
	return code
}

func start() (_ *cluster, err error) {
	if err := testutil.EnsureKubeAssets(); err != nil {
		return nil, err
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wisp-scan-test-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, wisp: filepath.Join(dir, "wisp")}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()

	build := exec.Command("go", "build", "-o", c.wisp, "./cmd/wisp")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/wisp: %w\n%s", err, out)
	}

	// The chart's copy of the OpenReports CRD.
	c.env = &envtest.Environment{CRDInstallOptions: envtest.CRDInstallOptions{
		Paths:              []string{filepath.Join(root, "charts", "wisp", "files", "openreports.io_reports.yaml")},
		ErrorIfPathMissing: true,
	}}
	begin := time.Now()
	c.cfg, err = c.env.Start()
	if err != nil {
		return nil, fmt.Errorf("envtest: %w", err)
	}
	fmt.Fprintf(os.Stderr, "scan: kube-apiserver and etcd up in %s\n", time.Since(begin).Round(time.Millisecond))
	defer func() {
		if err != nil {
			_ = c.env.Stop()
		}
	}()
	cfg := rest.CopyConfig(c.cfg)
	cfg.QPS, cfg.Burst = 1000, 2000
	if c.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.reports, err = reportsclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	c.kubeconfig, err = c.userKubeconfig("admin", []string{"system:masters"})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// userKubeconfig writes a kubeconfig for a user of the API server.
func (c *cluster) userKubeconfig(name string, groups []string) (string, error) {
	u, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", fmt.Errorf("add user %s: %w", name, err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.dir, name+".kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// run is one run of the wisp binary.
type run struct {
	stdout, stderr string
	code           int
	wall           time.Duration
	// maxRSS is the child's peak resident set size in bytes.
	maxRSS int64
	// cpu is the child's user and system CPU time.
	cpu time.Duration
}

// wisp runs the built binary with args and no inherited kubeconfig.
func (c *cluster) run(t testing.TB, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.wisp, args...)
	cmd.Env = []string{"HOME=" + c.dir, "PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	begin := time.Now()
	err := cmd.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String(), wall: time.Since(begin)}
	if cmd.ProcessState == nil {
		t.Fatalf("wisp %v: %v", args, err)
	}
	r.code = cmd.ProcessState.ExitCode()
	r.maxRSS = maxRSS(cmd.ProcessState)
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r
}

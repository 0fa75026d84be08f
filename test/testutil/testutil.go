package testutil

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// RepoRoot returns the root of wisp's module, found by walking up from the
// working directory to the folder whose go.mod is wisp's.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module wisp.dev/wisp\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the repository: no wisp go.mod above the working directory")
		}
		dir = parent
	}
}

// Tool runs test/scripts/ensure-<name>.sh, which prints the folder of a
// cached build of that component, building it the first time (minutes),
// and returns the folder. The script's progress goes to stderr.
func Tool(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "test", "scripts", "ensure-"+name+".sh")
	cmd := exec.Command(script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build %s (%s): %w", name, script, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// EnsureKubeAssets points KUBEBUILDER_ASSETS at kube-apiserver and etcd for
// envtest: the folder it names if set, else the cached build of
// test/scripts/ensure-k8s.sh (built on first use).
func EnsureKubeAssets() error {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
			return fmt.Errorf("KUBEBUILDER_ASSETS=%s: %w", dir, err)
		}
		return nil
	}
	dir, err := Tool("k8s")
	if err != nil {
		return err
	}
	return os.Setenv("KUBEBUILDER_ASSETS", dir)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitTLS waits until a TLS handshake with addr succeeds (any certificate).
func WaitTLS(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a readiness probe; trust is checked elsewhere
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing serving TLS at %s after %s: %w", addr, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SyncBuffer collects writes from several goroutines (a server's log).
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server names.
const (
	srvWisp     = "wisp"      // wisp-webhook, --log-level warn: no line per request
	srvWispInfo = "wisp-info" // wisp-webhook, --log-level info: one line per request
	srvFloor    = "floor"     // the no-op webhook
	// srvBaseline is another build of wisp-webhook (-baseline-bin), at
	// --log-level warn: the previous version, measured in the same run.
	srvBaseline = "baseline"
)

// binaries are the programs under test, built once.
type binaries struct {
	dir      string
	wisp     string
	floor    string
	baseline string // another wisp-webhook, or ""
}

// goCmd is the go command: $GO or go on the PATH.
func goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// moduleDir is the root of wisp's module.
func moduleDir() (string, error) {
	out, err := exec.Command(goCmd(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside wisp's module: run from the repository")
	}
	return filepath.Dir(mod), nil
}

// build compiles wisp-webhook and the floor into dir, static and trimmed
// like the release build, with the same go command. With pprof,
// wisp-webhook also gets net/http/pprof on $WISP_LOAD_PPROF (an overlay
// file: the sources and the release binary are unchanged).
func build(dir string, pprof bool) (*binaries, error) {
	root, err := moduleDir()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "bin")
	b := &binaries{dir: bin, wisp: filepath.Join(bin, "wisp-webhook"), floor: filepath.Join(bin, "floor")}
	args := []string{"build", "-trimpath", "-o", b.wisp}
	if pprof {
		overlay := map[string]map[string]string{"Replace": {
			filepath.Join(root, "cmd", "wisp-webhook", "zz_load_pprof.go"): filepath.Join(root, "test", "load", "testdata", "pprof_overlay.go"),
		}}
		data, _ := json.Marshal(overlay)
		path := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
		args = append(args, "-overlay", path)
	}
	for _, cmd := range [][]string{
		append(args, "./cmd/wisp-webhook"),
		{"build", "-trimpath", "-o", b.floor, "./test/load/floor"},
	} {
		c := exec.Command(goCmd(), cmd...)
		c.Dir = root
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(cmd, " "), err, out)
		}
	}
	return b, nil
}

// server is one running server process.
type server struct {
	name    string
	cmd     *exec.Cmd
	url     string // https://127.0.0.1:port
	client  *http.Client
	roots   *x509.CertPool
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs server name from bins in a folder of its own under dir and
// waits until it answers. extra are KEY=value entries added to its
// environment and, for wisp, --flags added to its command line.
func start(ctx context.Context, bins *binaries, name, dir string, extra ...string) (*server, error) {
	sdir := filepath.Join(dir, name)
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{name: name, url: "https://127.0.0.1:" + strconv.Itoa(port), logPath: filepath.Join(sdir, "stderr.log"), done: make(chan struct{})}
	var args []string
	ready := "/readyz"
	switch name {
	case srvWisp, srvWispInfo, srvBaseline:
		level, bin := "warn", bins.wisp
		switch name {
		case srvWispInfo:
			level = "info"
		case srvBaseline:
			bin = bins.baseline
		}
		args = []string{bin, "--dev-certs", "--cert-dir", sdir, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--log-level", level}
	case srvFloor:
		certPEM, keyPEM, err := selfSigned()
		if err != nil {
			return nil, err
		}
		for f, data := range map[string][]byte{"ca.crt": certPEM, "tls.crt": certPEM, "tls.key": keyPEM} {
			if err := os.WriteFile(filepath.Join(sdir, f), data, 0o600); err != nil {
				return nil, err
			}
		}
		args = []string{bins.floor, "-addr", "127.0.0.1:" + strconv.Itoa(port), "-cert", filepath.Join(sdir, "tls.crt"), "-key", filepath.Join(sdir, "tls.key")}
		ready = "/"
	default:
		return nil, fmt.Errorf("unknown server %q", name)
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	env := os.Environ()
	for _, e := range extra {
		if strings.HasPrefix(e, "--") {
			args = append(args, e)
		} else {
			env = append(env, e)
		}
	}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.Env = env
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := s.waitReady(ctx, filepath.Join(sdir, "ca.crt"), ready); err != nil {
		s.kill()
		return nil, fmt.Errorf("%s: %w; log:\n%s", name, err, s.log())
	}
	return s, nil
}

func (s *server) waitReady(ctx context.Context, caPath, path string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s.client == nil {
			// wisp writes its CA atomically, but wait until it parses.
			if ca, err := os.ReadFile(caPath); err == nil {
				if pool := x509.NewCertPool(); pool.AppendCertsFromPEM(ca) {
					s.roots = pool
					s.client = newClient(pool, 1)
				}
			}
		}
		if s.client != nil {
			if resp, err := s.client.Get(s.url + path); err == nil {
				resp.Body.Close()
				if resp.StatusCode < 500 {
					s.client.CloseIdleConnections()
					return nil
				}
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("exited at start-up: %v", s.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("not ready within 30 s")
		}
	}
}

// newClient is a keep-alive HTTPS client for up to conns connections, HTTP/1.1
// only, like the API server's webhook client.
func newClient(roots *x509.CertPool, conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
			TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		},
	}
}

// log is the server's output so far.
func (s *server) log() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 8<<10 {
		b = append([]byte("...\n"), b[len(b)-8<<10:]...)
	}
	return string(b)
}

// alive reports whether the process still runs.
func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to timeout for the exit; it returns the
// process's exit error (nil for exit 0).
func (s *server) stop(timeout time.Duration) error {
	if !s.alive() {
		return s.waitErr
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.done:
		return s.waitErr
	case <-time.After(timeout):
		s.kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM", s.name, timeout)
	}
}

func (s *server) kill() {
	if s.alive() {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// procStats is what /proc says about a process.
type procStats struct {
	cpu   time.Duration // user + system
	rss   int64         // bytes resident now
	hwm   int64         // peak resident bytes
	valid bool
}

// clockTick is USER_HZ, 100 on every Linux Go supports.
const clockTick = 100

// stats reads /proc/<pid>/stat and /proc/<pid>/status.
func (s *server) stats() procStats { return statsOf(s.cmd.Process.Pid) }

// statsOf reads /proc/<pid>/stat and /proc/<pid>/status.
func statsOf(pid int) procStats {
	var st procStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st
	}
	// The command name (field 2) may hold spaces: fields are counted after
	// its closing parenthesis. utime and stime are fields 14 and 15.
	rest := stat[bytes.LastIndexByte(stat, ')')+2:]
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return st
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	st.cpu = time.Duration(utime+stime) * time.Second / clockTick
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			st.rss = kb << 10
		case "VmHWM":
			st.hwm = kb << 10
		}
	}
	st.valid = true
	return st
}

// selfSigned makes the floor's certificate for 127.0.0.1: ECDSA P-256, like
// wisp's dev certificates.
func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "floor"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

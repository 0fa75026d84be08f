package envshim_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"wisp.dev/wisp/fetch/envshim"
	"wisp.dev/wisp/plan"
)

// The test binary plays the shim (ENVSHIM_TEST_SHIM=1) and the program it
// runs (first argument "target").
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "target" {
		target(os.Args[2:])
		return
	}
	if os.Getenv("ENVSHIM_TEST_SHIM") == "1" {
		err := envshim.Exec(os.Args[1:], os.Getenv, os.Environ())
		fmt.Fprintf(os.Stderr, "wisp-env: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// target: "pid" prints its pid and a digest of DB_PASSWORD; "exit N"
// exits N; "wait" exits 7 on SIGTERM; "touch F" creates F.
func target(args []string) {
	switch args[0] {
	case "pid":
		sum := sha256.Sum256([]byte(os.Getenv("DB_PASSWORD")))
		_, spec := os.LookupEnv(plan.EnvSpecVar)
		fmt.Printf("pid=%d sha=%s user=%s spec=%v\n", os.Getpid(), hex.EncodeToString(sum[:8]), os.Getenv("DB_USER"), spec)
	case "exit":
		n, _ := strconv.Atoi(args[1])
		os.Exit(n)
	case "wait":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready")
		<-c
		os.Exit(7)
	case "touch":
		_ = os.WriteFile(args[1], nil, 0o600)
	}
}

const password = "s3cr3t-Pa55w0rd-value"

// files writes a db file (format env) and a config file (format json).
func files(t *testing.T) plan.EnvSpec {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "db"), []byte("PASSWORD="+password+"\nUSERNAME='v-app-1'\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(`{"api_key":"k-123","port":8443}`), 0o440); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert"), []byte("-----BEGIN CERT-----\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	return plan.EnvSpec{Dir: dir, Vars: []plan.EnvVar{
		{Name: "DB_PASSWORD", Secret: "db", Key: "password", Format: "env"},
		{Name: "DB_USER", Secret: "db", Key: "username", Format: "env"},
	}}
}

func specJSON(t *testing.T, s plan.EnvSpec) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValues(t *testing.T) {
	base := files(t)
	tests := []struct {
		name    string
		vars    []plan.EnvVar
		want    map[string]string
		wantErr string
	}{
		{"env format", base.Vars, map[string]string{"DB_PASSWORD": password, "DB_USER": "v-app-1"}, ""},
		{"json string and number", []plan.EnvVar{{Name: "API_KEY", Secret: "config", Key: "api_key", Format: "json"}, {Name: "PORT", Secret: "config", Key: "port", Format: "json"}},
			map[string]string{"API_KEY": "k-123", "PORT": "8443"}, ""},
		{"raw", []plan.EnvVar{{Name: "CERT", Secret: "cert", Key: "certificate", Format: "raw:certificate"}},
			map[string]string{"CERT": "-----BEGIN CERT-----\n"}, ""},
		{"missing key", []plan.EnvVar{{Name: "X", Secret: "db", Key: "token", Format: "env"}}, nil, "X: secret db: no key token"},
		{"missing file", []plan.EnvVar{{Name: "X", Secret: "nope", Key: "k", Format: "json"}}, nil, "X: read secret nope: no such file"},
		{"raw other key", []plan.EnvVar{{Name: "X", Secret: "cert", Key: "key", Format: "raw:certificate"}}, nil, "provides key certificate only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := envshim.Values(plan.EnvSpec{Dir: base.Dir, Vars: tt.vars})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), password) {
					t.Errorf("error holds a value")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseSpecRefuses(t *testing.T) {
	for _, s := range []string{``, `{}`, `{"dir":"rel","vars":[{"name":"A","secret":"db","key":"k","format":"env"}]}`,
		`{"dir":"/d","vars":[{"name":"1A","secret":"db","key":"k","format":"env"}]}`,
		`{"dir":"/d","vars":[{"name":"A","secret":"../x","key":"k","format":"env"}]}`,
		`{"dir":"/d","vars":[{"name":"A","secret":"db","key":"k","format":"yaml"}]}`,
		`{"dir":"/d","vars":[{"name":"A","secret":"db","key":"k","format":"env"}],"extra":1}`} {
		if _, err := plan.ParseEnvSpec(s); err == nil {
			t.Errorf("ParseSpec(%s) accepted", s)
		}
	}
}

// shim starts the test binary as the shim in front of the target.
func shim(t *testing.T, spec string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append([]string{"--", self, "target"}, args...)...)
	cmd.Env = append(os.Environ(), "ENVSHIM_TEST_SHIM=1", plan.EnvSpecVar+"="+spec, "DB_USER=overridden")
	return cmd
}

// The program runs in the shim's process: same PID, the variables set,
// WISP_ENV gone, nothing printed by the shim.
func TestExecKeepsPIDAndSetsValues(t *testing.T) {
	cmd := shim(t, specJSON(t, files(t)), "pid")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if err := cmd.Wait(); err != nil {
		t.Fatalf("shim: %v: %s", err, stderr.String())
	}
	sum := sha256.Sum256([]byte(password))
	want := fmt.Sprintf("pid=%d sha=%s user=v-app-1 spec=false\n", cmd.Process.Pid, hex.EncodeToString(sum[:8]))
	if line != want {
		t.Errorf("target printed %q, want %q", line, want)
	}
	if stderr.Len() != 0 {
		t.Errorf("the shim printed %q", stderr.String())
	}
}

func TestExitCodeIsTheProgram(t *testing.T) {
	err := shim(t, specJSON(t, files(t)), "exit", "3").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit: %v, want status 3", err)
	}
}

// A signal to the pod's process reaches the program: there is no shim
// process in between.
func TestSignalsReachTheProgram(t *testing.T) {
	cmd := shim(t, specJSON(t, files(t)), "wait")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if l, _ := bufio.NewReader(out).ReadString('\n'); l != "ready\n" {
		t.Fatalf("target said %q", l)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Fatalf("exit after SIGTERM: %v, want the program's 7", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("SIGTERM did not reach the program")
	}
}

// A missing key: exit 1, one line naming the variable, the program never
// runs, no value printed.
func TestFailsClosed(t *testing.T) {
	spec := files(t)
	spec.Vars = append(spec.Vars, plan.EnvVar{Name: "API_TOKEN", Secret: "db", Key: "token", Format: "env"})
	marker := filepath.Join(t.TempDir(), "ran")
	cmd := shim(t, specJSON(t, spec), "touch", marker)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want 1", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the program ran although a value was missing")
	}
	if !strings.Contains(string(out), "API_TOKEN: secret db: no key token") || strings.Contains(string(out), password) {
		t.Errorf("output %q: want the variable named, no value", out)
	}
}

// Install places a runnable copy of the binary, and nothing else.
func TestInstall(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, envshim.Name)
	if err := envshim.Install(dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o555 {
		t.Fatalf("installed shim: %v, mode %v", err, fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want the shim alone", len(entries))
	}
	// The copy is this test binary: it runs as the target.
	if out, err := exec.Command(dst, "target", "exit", "0").CombinedOutput(); err != nil {
		t.Errorf("run the installed copy: %v: %s", err, out)
	}
}

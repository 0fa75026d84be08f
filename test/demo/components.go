package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// binaries are the folders printed by the ensure scripts.
type binaries struct {
	k8s, vault, spire string
}

// component is one ensure script.
type component struct {
	script string
	what   string
	cold   string // the script's own estimate of a cold build
	dir    *string
}

// ensureBinaries runs test/scripts/ensure-{k8s,vault,spire}.sh one after
// the other (a cold build takes GBs of memory: never in parallel). A warm
// script answers at once; a cold one builds for minutes, and says so in a
// line that is passed on, followed by a heartbeat every minute.
func ensureBinaries(ctx context.Context, o *output, root string) (binaries, error) {
	var b binaries
	comps := []component{
		{"ensure-k8s.sh", "kube-apiserver + etcd", "~10 min", &b.k8s},
		{"ensure-vault.sh", "Vault", "~8 min", &b.vault},
		{"ensure-spire.sh", "SPIRE", "~5 min", &b.spire},
	}
	for _, c := range comps {
		t0 := time.Now()
		o.say("ensuring %s (test/scripts/%s: built on the first run only, %s on 2 cores; cached after)", c.what, c.script, c.cold)
		dir, err := runEnsure(ctx, o, filepath.Join(root, "test", "scripts", c.script), c.what)
		if err != nil {
			return b, err
		}
		*c.dir = dir
		o.say("  %s ready in %s: %s", c.what, since(t0), dir)
	}
	return b, nil
}

// runEnsure runs one ensure script and returns the folder it prints. Its
// standard error is kept for a failure; its "ensure-...: building" line is
// shown at once.
func runEnsure(ctx context.Context, o *output, script, what string) (string, error) {
	cmd := exec.CommandContext(ctx, script)
	groupKill(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("run %s: %w", script, err)
	}
	var (
		mu   sync.Mutex
		tail []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "ensure-") {
				o.say("  %s", line)
			}
			mu.Lock()
			tail = append(tail, line)
			if len(tail) > 15 {
				tail = tail[1:]
			}
			mu.Unlock()
		}
	}()
	waitErr := make(chan error, 1)
	go func() {
		<-done // read all of stderr before Wait closes the pipe
		waitErr <- cmd.Wait()
	}()
	t0 := time.Now()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case err := <-waitErr:
			if ctx.Err() != nil {
				return "", errInterrupted
			}
			if err != nil {
				mu.Lock()
				defer mu.Unlock()
				return "", fmt.Errorf("%s (%s): %w\n%s", filepath.Base(script), what, err, strings.Join(tail, "\n"))
			}
			dir := strings.TrimSpace(stdout.String())
			if dir == "" {
				return "", fmt.Errorf("%s printed no folder", filepath.Base(script))
			}
			return dir, nil
		case <-tick.C:
			o.say("  still building %s (%s so far)...", what, since(t0))
		}
	}
}

// buildFetch builds wisp-fetch (static, as the image has it) into dir.
func buildFetch(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "wisp-fetch")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/wisp-fetch")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	groupKill(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return "", errInterrupted
		}
		return "", fmt.Errorf("go build ./cmd/wisp-fetch: %w\n%s", err, out)
	}
	return bin, nil
}

// groupKill runs cmd in its own process group and, when its context ends,
// ends the whole group (a script's go build included), not only cmd.
func groupKill(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}

// since is the time since t0, rounded for humans.
func since(t0 time.Time) string {
	d := time.Since(t0)
	switch {
	case d < 10*time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

package config

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func policyWithImage(image string) string {
	return "apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection:\n  image: " + image + "\n"
}

// configMapDir lays out a folder the way kubelet projects a ConfigMap: the
// file is a symlink through ..data, which is swapped atomically on update.
type configMapDir struct {
	t   *testing.T
	dir string
	n   int
}

func newConfigMapDir(t *testing.T, content string) *configMapDir {
	c := &configMapDir{t: t, dir: t.TempDir()}
	c.update(content)
	if err := os.Symlink(filepath.Join("..data", "policy.yaml"), filepath.Join(c.dir, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *configMapDir) path() string { return filepath.Join(c.dir, "policy.yaml") }

func (c *configMapDir) update(content string) {
	c.t.Helper()
	c.n++
	ts := filepath.Join(c.dir, "..2026_11_27_"+strings.Repeat("0", c.n))
	if err := os.Mkdir(ts, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "policy.yaml"), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatcherFollowsAConfigMapUpdate(t *testing.T) {
	cm := newConfigMapDir(t, policyWithImage("example.com/fetch:v1"))
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	w, err := NewWatcher(cm.path(), WatcherOptions{PollInterval: time.Hour, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Load().Injection.Image; got != "example.com/fetch:v1" {
		t.Fatalf("image %q at start", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Start(ctx) }()
	time.Sleep(50 * time.Millisecond) // let the watch start

	cm.update(policyWithImage("example.com/fetch:v2"))
	waitFor(t, "the new policy", func() bool { return w.Load().Injection.Image == "example.com/fetch:v2" })

	// A bad update keeps v2 serving and is reported: log, metric, LastError.
	cm.update("apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection:\n  imagePullPolicy: Sometimes\n")
	waitFor(t, "the reload error", func() bool { _, err := w.LastError(); return err != nil })
	if got := w.Load().Injection.Image; got != "example.com/fetch:v2" {
		t.Errorf("after a bad update the image is %q, want the last good v2", got)
	}
	if _, err := w.LastError(); !strings.Contains(err.Error(), "imagePullPolicy") {
		t.Errorf("LastError %v does not name the bad field", err)
	}
	if got := testutil.ToFloat64(w.failing); got != 1 {
		t.Errorf("wisp_policy_reload_failing = %v, want 1", got)
	}
	if got := testutil.ToFloat64(w.reloads.WithLabelValues("error")); got != 1 {
		t.Errorf("reloads{error} = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "serving the last good policy") {
		t.Errorf("no log line about the failed reload:\n%s", logs.String())
	}

	// Fixing the file clears the error.
	cm.update(policyWithImage("example.com/fetch:v3"))
	waitFor(t, "the fixed policy", func() bool { return w.Load().Injection.Image == "example.com/fetch:v3" })
	if _, err := w.LastError(); err != nil {
		t.Errorf("LastError = %v after a good reload", err)
	}
	if got := testutil.ToFloat64(w.reloads.WithLabelValues("success")); got != 2 {
		t.Errorf("reloads{success} = %v, want 2", got)
	}
}

func TestWatcherPollsWithoutEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(policyWithImage("a:1")), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(path, WatcherOptions{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(policyWithImage("a:2")), 0o644); err != nil {
		t.Fatal(err)
	}
	w.Reload() // what the poll timer does
	if got := w.Load().Injection.Image; got != "a:2" {
		t.Errorf("image %q after reload, want a:2", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	w.Reload()
	if _, err := w.LastError(); err == nil || w.Load().Injection.Image != "a:2" {
		t.Errorf("a removed file must keep a:2 serving and report an error (err %v)", err)
	}
}

func TestWatcherRefusesABadFileAtStartUp(t *testing.T) {
	for name, content := range map[string]string{
		"unknown field": "apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjektion: {}\n",
		"wrong kind":    "apiVersion: wisp.dev/v1alpha1\nkind: Config\n",
		"not yaml":      "{{{",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.yaml")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := NewWatcher(path, WatcherOptions{}); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want an error naming %s", err, path)
			}
		})
	}
	if _, err := NewWatcher(filepath.Join(t.TempDir(), "missing.yaml"), WatcherOptions{}); err == nil {
		t.Error("a missing file must refuse to start")
	}
}

// A valid policy with questionable parts loads, and each warning is logged,
// at start and at every reload that brings it.
func TestWatcherLogsPolicyWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	neighbours := "apiVersion: wisp.dev/v1alpha1\nkind: Policy\nroles: [{namespaces: [\"team-*\"], roles: [\"{namespace}-*\"]}]\n"
	if err := os.WriteFile(path, []byte(neighbours), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	w, err := NewWatcher(path, WatcherOptions{PollInterval: time.Hour, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Load().Warnings; len(got) != 1 || !strings.HasPrefix(got[0], `roles[0].roles[0]: "{namespace}-*": `) {
		t.Fatalf("Snapshot.Warnings = %q, want one naming roles[0].roles[0]", got)
	}
	if n := strings.Count(logs.String(), `"msg":"policy warning"`); n != 1 || !strings.Contains(logs.String(), `roles[0].roles[0]`) {
		t.Errorf("%d warning lines at start, want 1 naming the field:\n%s", n, logs.String())
	}

	logs.Reset()
	if err := os.WriteFile(path, []byte(strings.Replace(neighbours, "{namespace}-*", "{namespace}.*", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	w.Reload()
	if got := w.Load().Warnings; len(got) != 0 || strings.Contains(logs.String(), "policy warning") {
		t.Errorf("a delimited pattern: warnings %q, logs:\n%s", got, logs.String())
	}
	if err := os.WriteFile(path, []byte(neighbours+"# again\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.Reload()
	if !strings.Contains(logs.String(), `"msg":"policy warning"`) {
		t.Errorf("no warning logged at reload:\n%s", logs.String())
	}
}

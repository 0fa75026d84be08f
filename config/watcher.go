package config

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"wisp.dev/wisp/internal/metrics"
)

// DefaultPollInterval is how often Watcher re-reads the file even without a
// file-system event (events can be missed, e.g. on some volume types).
const DefaultPollInterval = 10 * time.Second

// Watcher serves the current Snapshot of one policy file and reloads it on
// change. The zero value is not usable; use NewWatcher.
type Watcher struct {
	path      string
	poll      time.Duration
	log       *slog.Logger
	reloads   *prometheus.CounterVec
	failing   prometheus.Gauge
	current   atomic.Pointer[Snapshot]
	mu        sync.Mutex // guards raw, lastErr, lastErrAt
	raw       []byte
	lastErr   error
	lastErrAt time.Time
}

// WatcherOptions configure a Watcher. Zero values mean the defaults.
type WatcherOptions struct {
	// PollInterval: see DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives reload events. Default: discard.
	Logger *slog.Logger
	// Registerer receives wisp_policy_reloads_total{result} and
	// wisp_policy_reload_failing (1 while the last good policy serves in
	// place of a bad file). Default: none.
	Registerer prometheus.Registerer
}

// NewWatcher loads path once. A file that is missing or bad at start-up is an
// error: the webhook must not start without a policy it can name.
func NewWatcher(path string, opts WatcherOptions) (*Watcher, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		path: path,
		poll: opts.PollInterval,
		log:  opts.Logger,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wisp_policy_reloads_total",
			Help: "Policy file reloads by result (success, error).",
		}, []string{"result"}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wisp_policy_reload_failing",
			Help: "1 while the policy file on disk is bad and the last good policy is serving, else 0.",
		}),
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	snap, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	if opts.Registerer != nil {
		if w.reloads, err = metrics.Register(opts.Registerer, w.reloads); err != nil {
			return nil, err
		}
		if w.failing, err = metrics.Register(opts.Registerer, w.failing); err != nil {
			return nil, err
		}
	}
	w.raw = data
	w.current.Store(snap)
	w.warn(snap)
	return w, nil
}

// Load returns the current snapshot. It never returns nil.
func (w *Watcher) Load() *Snapshot { return w.current.Load() }

// LastError returns the error of the last reload if it failed (the last good
// policy is still serving), and when it happened; nil if the last reload
// succeeded.
func (w *Watcher) LastError() (time.Time, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErrAt, w.lastErr
}

// warn logs each warning of a snapshot just loaded.
func (w *Watcher) warn(snap *Snapshot) {
	for _, msg := range snap.Warnings {
		w.log.Warn("policy warning", "path", w.path, "warning", msg)
	}
}

// Start watches the file until ctx is done. It watches the file's folder, so
// that a ConfigMap update (an atomic swap of the ..data symlink) and an editor's
// rename are both seen, and re-reads on a timer as a safety net.
func (w *Watcher) Start(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch policy: %w", err)
	}
	defer fw.Close()
	if err := fw.Add(filepath.Dir(w.path)); err != nil {
		return fmt.Errorf("watch policy folder: %w", err)
	}
	tick := time.NewTicker(w.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			w.Reload()
		case _, ok := <-fw.Events:
			if !ok {
				return nil
			}
			w.Reload()
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			w.log.Warn("policy watch error; polling continues", "path", w.path, "err", err)
		}
	}
}

// Reload re-reads the file now. Unchanged content is a no-op; a bad file
// keeps the last good snapshot serving and is reported.
func (w *Watcher) Reload() {
	data, err := os.ReadFile(w.path)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil && bytes.Equal(data, w.raw) {
		return
	}
	if err == nil {
		var snap *Snapshot
		if snap, err = Parse(data); err == nil {
			w.raw = data
			w.lastErr = nil
			w.current.Store(snap)
			w.reloads.WithLabelValues("success").Inc()
			w.failing.Set(0)
			w.log.Info("policy reloaded", "path", w.path)
			w.warn(snap)
			return
		}
	}
	if w.lastErr != nil && w.lastErr.Error() == err.Error() {
		return // already reported
	}
	w.lastErr, w.lastErrAt = err, time.Now()
	w.reloads.WithLabelValues("error").Inc()
	w.failing.Set(1)
	w.log.Error("policy reload failed; serving the last good policy", "path", w.path, "err", err)
}

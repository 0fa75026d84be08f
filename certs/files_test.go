package certs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// writePair writes a fresh dev certificate for hosts, valid from now for
// validity, into dir and returns its fingerprint.
func writePair(t *testing.T, dir string, now time.Time, validity time.Duration) string {
	t.Helper()
	b, err := NewDev([]string{"localhost"}, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	pair, err := parseKeyPair(b.CertPEM, b.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return Fingerprint(pair.cert.Raw)
}

func servedFingerprint(t *testing.T, s Source) string {
	t.Helper()
	c, err := s.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return Fingerprint(c.Certificate[0])
}

func TestFilesReloadKeepsTheLastGoodCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := t0
	clock := func() time.Time { return now }
	first := writePair(t, dir, now, time.Hour)
	reg := prometheus.NewRegistry()
	f, err := NewFiles(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), FilesOptions{Clock: clock, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if got := servedFingerprint(t, f); got != first {
		t.Fatal("serves another certificate than the files'")
	}

	// A new pair is served after Reload.
	second := writePair(t, dir, now, 2*time.Hour)
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := servedFingerprint(t, f); got != second {
		t.Fatal("new pair not served after Reload")
	}
	if got := testutil.ToFloat64(f.h.metrics.expiry.WithLabelValues("serving")); got != float64(now.Add(2*time.Hour).Unix()) {
		t.Errorf("expiry gauge %v, want %v", got, now.Add(2*time.Hour).Unix())
	}

	// Each broken state keeps the second pair serving and says why.
	otherDir := t.TempDir()
	writePair(t, otherDir, now, time.Hour)
	otherKey, err := os.ReadFile(filepath.Join(otherDir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	goodKey, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		break_ func()
		want   string
	}{
		{"garbage certificate", func() { mustWrite(t, filepath.Join(dir, CertFile), []byte("garbage")) }, "failed to find any PEM data"},
		{"key of another certificate", func() { mustWrite(t, filepath.Join(dir, KeyFile), otherKey) }, "does not match"},
		{"missing certificate", func() {
			if err := os.Remove(filepath.Join(dir, CertFile)); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
		{"expired certificate", func() {
			writePair(t, dir, now.Add(-2*time.Hour), time.Hour)
		}, "expired"},
	}
	for _, tt := range tests {
		tt.break_()
		err := f.Reload()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Reload = %v, want an error containing %q", tt.name, err, tt.want)
		}
		if st := f.Status(); !errors.Is(st.Err, err) && st.Err != err {
			t.Errorf("%s: Status().Err = %v, want %v", tt.name, st.Err, err)
		}
		if got := servedFingerprint(t, f); got != second {
			t.Errorf("%s: the previous certificate stopped serving", tt.name)
		}
		if err := f.Ready(); err != nil {
			t.Errorf("%s: Ready = %v while a valid certificate serves", tt.name, err)
		}
		if got := testutil.ToFloat64(f.h.metrics.failing); got != 1 {
			t.Errorf("%s: %s = %v, want 1", tt.name, MetricReloadFailing, got)
		}
		mustWrite(t, filepath.Join(dir, CertFile), good)
		mustWrite(t, filepath.Join(dir, KeyFile), goodKey)
		if err := f.Reload(); err != nil {
			t.Fatalf("%s: restoring the good pair: %v", tt.name, err)
		}
		if st := f.Status(); st.Err != nil {
			t.Errorf("%s: Status().Err = %v after a good reload", tt.name, st.Err)
		}
	}

	// Once the served certificate expires, Ready says so.
	now = now.Add(3 * time.Hour)
	if err := f.Ready(); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Ready after expiry = %v", err)
	}
}

func TestNewFilesFailsOnABadPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := NewFiles(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), FilesOptions{}); err == nil {
		t.Error("missing files: want an error")
	}
	if _, err := NewFiles("", "", FilesOptions{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("empty paths: %v, want ErrInvalidOptions", err)
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"wisp.dev/wisp/internal/image"
)

func TestSourceDateEpoch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "", want: time.Unix(0, 0)},
		{in: "1700000000", want: time.Unix(1700000000, 0)},
		{in: "-1", err: true},
		{in: "yesterday", err: true},
	}
	for _, tt := range tests {
		got, err := sourceDateEpoch(tt.in)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("%q: %s, %v", tt.in, got, err)
		}
	}
}

// TestPush: `wisp-release push` puts the layout's index under REGISTRY/wisp
// and the chart under REGISTRY/charts.
func TestPush(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://") + "/platform"
	dir := t.TempDir()
	// A small random index stands in for the build: push does not look
	// inside the images.
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	res := image.Result{Index: idx}
	if err := image.WriteLayout(filepath.Join(dir, "image"), res, "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(dir, "wisp-1.0.0.tgz")
	if err := os.WriteFile(chart, chartArchive(t, "apiVersion: v2\nname: wisp\nversion: 1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := newCommand(func(string) string { return "1700000000" })
	cmd.SetArgs([]string{"push", "--registry", reg, "--layout", filepath.Join(dir, "image"), "--chart", chart})
	cmd.SetOut(&out)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{reg + "/wisp:v1.0.0", reg + "/charts/wisp:1.0.0"} {
		if !strings.Contains(out.String(), ref) {
			t.Errorf("output lacks %s:\n%s", ref, out.String())
		}
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(r); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
}

func chartArchive(t *testing.T, chartYAML string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "wisp/Chart.yaml", Mode: 0o644, Size: int64(len(chartYAML))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(chartYAML))
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

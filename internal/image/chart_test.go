package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func chartArchive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestChartArtifact(t *testing.T) {
	t.Parallel()
	chartYAML := "apiVersion: v2\nname: wisp\nversion: 0.1.0+build.1\nappVersion: \"0.1.0\"\ndescription: d\nhome: https://wisp.dev\n"
	tgz := chartArchive(t, map[string]string{
		"wisp/values.yaml": "a: 1\n", "wisp/charts/sub/Chart.yaml": "name: sub\nversion: 9.9.9\n", "wisp/Chart.yaml": chartYAML,
	})
	c, err := ChartArtifact(tgz, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "wisp" || c.Version != "0.1.0+build.1" || c.Tag() != "0.1.0_build.1" {
		t.Errorf("chart %s %s tag %s", c.Name, c.Version, c.Tag())
	}
	m, err := c.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != ChartConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != ChartContentMediaType {
		t.Fatalf("manifest: %+v", m)
	}
	raw, err := c.Image.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"apiVersion": "v2", "name": "wisp", "version": "0.1.0+build.1", "appVersion": "0.1.0", "description": "d", "home": "https://wisp.dev"}
	if diff := cmp.Diff(want, meta); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	l, err := c.Image.LayerByDigest(m.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := l.Digest(); m.Layers[0].Size != int64(len(tgz)) || d != m.Layers[0].Digest {
		t.Error("the layer is not the archive as given")
	}
	if m.Annotations["org.opencontainers.image.version"] != "0.1.0+build.1" || m.Annotations[LabelCreated] != "1970-01-01T00:00:00Z" {
		t.Errorf("annotations %v", m.Annotations)
	}
}

func TestChartArtifactErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tgz  []byte
		err  string
	}{
		{name: "not gzip", tgz: []byte("x"), err: "chart archive"},
		{name: "no Chart.yaml", tgz: chartArchive(t, map[string]string{"wisp/values.yaml": ""}), err: "no <chart>/Chart.yaml"},
		{name: "no version", tgz: chartArchive(t, map[string]string{"wisp/Chart.yaml": "name: wisp\n"}), err: "name or version missing"},
	}
	for _, tt := range tests {
		if _, err := ChartArtifact(tt.tgz, time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
		}
	}
}

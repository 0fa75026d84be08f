package image

import (
	"archive/tar"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// entry is a tar header's fields the tests check.
type entry struct {
	Name     string
	Mode     int64
	UID, GID int
	Size     int64
	ModTime  time.Time
}

func layerEntries(t *testing.T, l v1.Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []entry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{h.Name, h.Mode, h.Uid, h.Gid, h.Size, h.ModTime.UTC()})
	}
}

func TestLayer(t *testing.T) {
	t.Parallel()
	epoch := time.Unix(1700000000, 0).UTC()
	files := []File{
		{Path: "/usr/local/bin/wisp", Data: []byte("cli"), Mode: 0o755},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/home/nonroot", Dir: true, Mode: 0o700, UID: 65532, GID: 65532},
		{Path: "/wisp-webhook", Data: []byte("webhook"), Mode: 0o755},
	}
	l, err := Layer(files, epoch)
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{"home/", 0o755, 0, 0, 0, epoch},
		{"home/nonroot/", 0o700, 65532, 65532, 0, epoch},
		{"tmp/", 0o1777, 0, 0, 0, epoch},
		{"usr/", 0o755, 0, 0, 0, epoch},
		{"usr/local/", 0o755, 0, 0, 0, epoch},
		{"usr/local/bin/", 0o755, 0, 0, 0, epoch},
		{"usr/local/bin/wisp", 0o755, 0, 0, 3, epoch},
		{"wisp-webhook", 0o755, 0, 0, 7, epoch},
	}
	if diff := cmp.Diff(want, layerEntries(t, l)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// The order files are given in does not change the layer.
	rev := []File{files[3], files[2], files[1], files[0]}
	l2, err := Layer(rev, epoch)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := l.Digest()
	d2, _ := l2.Digest()
	if d1 != d2 {
		t.Errorf("same files in another order: digest %s, then %s", d1, d2)
	}
	l3, err := Layer(files, epoch.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if d3, _ := l3.Digest(); d3 == d1 {
		t.Error("another epoch gave the same layer digest; file times are not the epoch")
	}
}

func TestLayerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []File
		err   string
	}{
		{name: "twice", files: []File{{Path: "/a"}, {Path: "a/"}}, err: "listed twice"},
		{name: "root", files: []File{{Path: "/"}}, err: "bad path"},
		{name: "outside", files: []File{{Path: "../etc/passwd"}}, err: "bad path"},
	}
	for _, tt := range tests {
		if _, err := Layer(tt.files, time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
		}
	}
}

package fetch

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// listDir returns name -> content of the files in dir.
func listDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			got[e.Name()+"/"] = ""
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got[e.Name()] = string(b)
	}
	return got
}

func TestWriteFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	paths, err := writeFiles(dir, []file{
		{name: "a", data: secretBytes("new a"), mode: 0o440},
		{name: "b", data: secretBytes("b"), mode: 0o400},
		{name: ".b.meta.json", data: secretBytes("{}"), mode: 0o444},
	})
	if err != nil {
		t.Fatalf("writeFiles: %v", err)
	}
	sort.Strings(paths)
	wantPaths := []string{filepath.Join(dir, ".b.meta.json"), filepath.Join(dir, "a"), filepath.Join(dir, "b")}
	if diff := cmp.Diff(wantPaths, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	want := map[string]string{"a": "new a", "b": "b", ".b.meta.json": "{}"}
	if diff := cmp.Diff(want, listDir(t, dir)); diff != "" {
		t.Errorf("folder (-want +got):\n%s", diff)
	}
	for name, mode := range map[string]fs.FileMode{"a": 0o440, "b": 0o400, ".b.meta.json": 0o444} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %#o, want %#o", name, fi.Mode().Perm(), mode)
		}
	}
}

// TestWriteFilesStageFailure: a file that cannot be staged leaves the
// folder exactly as it was: old content kept, no temporary file left.
func TestWriteFilesStageFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := writeFiles(dir, []file{
		{name: "a", data: secretBytes("new"), mode: 0o440},
		{name: strings.Repeat("x", 300), data: secretBytes(canary), mode: 0o440}, // name too long
	})
	if err == nil {
		t.Fatal("writeFiles: no error")
	}
	if strings.Contains(err.Error(), canary) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"a": "old"}, listDir(t, dir)); diff != "" {
		t.Errorf("folder (-want +got):\n%s", diff)
	}
}

// TestWriteFilesRenameFailure: when a rename fails (a folder is in the
// way), the files this call already renamed into place are removed.
func TestWriteFilesRenameFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "b", "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := writeFiles(dir, []file{
		{name: "a", data: secretBytes("a"), mode: 0o440},
		{name: "b", data: secretBytes("b"), mode: 0o440},
		{name: "c", data: secretBytes("c"), mode: 0o440},
	})
	if err == nil {
		t.Fatal("writeFiles: no error")
	}
	if !strings.Contains(err.Error(), "rename "+filepath.Join(dir, "b")) {
		t.Errorf("error %q does not name the file", err)
	}
	if diff := cmp.Diff(map[string]string{"b/": ""}, listDir(t, dir)); diff != "" {
		t.Errorf("folder (-want +got):\n%s", diff)
	}
}

func TestWriteFilesMissingDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := writeFiles(dir, []file{{name: "a", data: secretBytes("a"), mode: 0o440}})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("writeFiles: error %v, want one naming %s", err, dir)
	}
	if err := checkDir(dir); err == nil {
		t.Error("checkDir: no error for a missing folder")
	}
}

package certs

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewDevServesTheHostsItNames(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := NewDev([]string{"localhost", "127.0.0.1", "wisp.wisp-system.svc"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(b.CertPEM, b.KeyPEM)
	if err != nil {
		t.Fatalf("certificate and key do not match: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b.CAPEM) {
		t.Fatal("CA PEM does not parse")
	}
	for _, host := range []string{"localhost", "127.0.0.1", "wisp.wisp-system.svc"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, CurrentTime: now}); err != nil {
			t.Errorf("leaf does not verify for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: pool, CurrentTime: now}); err == nil {
		t.Error("leaf verifies for a host it does not name")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: pool, CurrentTime: now.Add(2 * time.Hour)}); err == nil {
		t.Error("leaf verifies after its validity")
	}
	if strings.Contains(b.String(), "PRIVATE") {
		t.Error("String() shows the key")
	}
}

func TestNewDevRejectsBadInput(t *testing.T) {
	if _, err := NewDev(nil, time.Now(), time.Hour); err == nil {
		t.Error("no hosts: want an error")
	}
	if _, err := NewDev([]string{"localhost"}, time.Now(), 0); err == nil {
		t.Error("zero validity: want an error")
	}
}

func TestWriteDirKeepsTheKeyPrivate(t *testing.T) {
	b, err := NewDev([]string{"localhost"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "certs")
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)); err != nil {
		t.Fatalf("written pair does not load: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
}

// certFiles are the files WriteDir writes, with their modes.
var certFiles = []struct {
	name string
	mode os.FileMode
}{{CAFile, 0o644}, {CertFile, 0o644}, {KeyFile, 0o600}}

// checkWritten fails t unless dir holds b's three files as regular files
// (not symlinks) with b's content and their modes.
func checkWritten(t *testing.T, dir string, b *Bundle) {
	t.Helper()
	want := map[string][]byte{CAFile: b.CAPEM, CertFile: b.CertPEM, KeyFile: b.KeyPEM}
	for _, f := range certFiles {
		path := filepath.Join(dir, f.name)
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			t.Errorf("%s is %v, want a regular file", f.name, fi.Mode())
		}
		if fi.Mode().Perm() != f.mode {
			t.Errorf("%s mode %v, want %v", f.name, fi.Mode().Perm(), f.mode)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want[f.name]) {
			t.Errorf("%s does not hold the bundle's content", f.name)
		}
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)); err != nil {
		t.Errorf("written pair does not load: %v", err)
	}
}

// dirEntries lists the names in dir, sorted.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func newTestBundle(t *testing.T) *Bundle {
	t.Helper()
	b, err := NewDev([]string{"localhost"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWriteDirIgnoresFilesPlantedAtTempNames plants, at the fixed temporary
// names an earlier WriteDir used, a world-readable file and a symlink to a
// file outside the folder: neither may leak the key, keep its mode, or be
// written through.
func TestWriteDirIgnoresFilesPlantedAtTempNames(t *testing.T) {
	b := newTestBundle(t)
	dir := filepath.Join(t.TempDir(), "certs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("victim"), 0o644); err != nil {
		t.Fatal(err)
	}
	plantedKey := filepath.Join(dir, "."+KeyFile+".tmp")
	if err := os.WriteFile(plantedKey, []byte("planted"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(plantedKey, 0o666); err != nil { // whatever the umask
		t.Fatal(err)
	}
	for _, name := range []string{CAFile, CertFile} {
		if err := os.Symlink(victim, filepath.Join(dir, "."+name+".tmp")); err != nil {
			t.Fatal(err)
		}
	}
	// A key file from an earlier run, world-readable, is replaced too.
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	checkWritten(t, dir, b)
	if got, err := os.ReadFile(victim); err != nil || string(got) != "victim" {
		t.Errorf("WriteDir wrote through a planted symlink: victim holds %d bytes (%v)", len(got), err)
	}
	if got, err := os.ReadFile(plantedKey); err != nil || string(got) != "planted" {
		t.Errorf("WriteDir wrote the key into a planted file: it holds %d bytes (%v)", len(got), err)
	}
	// The planted files are someone else's: left alone. Nothing else is left.
	want := []string{"." + CAFile + ".tmp", "." + CertFile + ".tmp", "." + KeyFile + ".tmp", CAFile, CertFile, KeyFile}
	if got := dirEntries(t, dir); !slices.Equal(got, want) {
		t.Errorf("folder holds %q, want %q", got, want)
	}
}

// TestWriteDirLeavesNoTempFiles checks a rewrite and a failed write: neither
// leaves a temporary file in the folder.
func TestWriteDirLeavesNoTempFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if err := newTestBundle(t).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	b := newTestBundle(t)
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	checkWritten(t, dir, b)
	if got, want := dirEntries(t, dir), []string{CAFile, CertFile, KeyFile}; !slices.Equal(got, want) {
		t.Errorf("after a rewrite the folder holds %q, want %q", got, want)
	}

	// A folder in place of tls.key: the rename fails, and its temporary
	// file must go.
	bad := filepath.Join(t.TempDir(), "certs")
	if err := os.MkdirAll(filepath.Join(bad, KeyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteDir(bad); err == nil || !strings.Contains(err.Error(), KeyFile) {
		t.Errorf("WriteDir over a folder named %s: err = %v, want an error naming it", KeyFile, err)
	}
	if got, want := dirEntries(t, bad), []string{CAFile, CertFile, KeyFile}; !slices.Equal(got, want) {
		t.Errorf("after a failed write the folder holds %q, want %q", got, want)
	}
}

// TestWriteDirConcurrentWriters runs writers into one folder at once: each
// succeeds, each file is whole (one writer's), and no temporary file is left.
func TestWriteDirConcurrentWriters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	bundles := []*Bundle{newTestBundle(t), newTestBundle(t)}
	var wg sync.WaitGroup
	errs := make(chan error, 2*50)
	for _, b := range bundles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := b.WriteDir(dir); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent WriteDir: %v", err)
	}
	key, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != string(bundles[0].KeyPEM) && string(key) != string(bundles[1].KeyPEM) {
		t.Error("tls.key holds neither writer's key")
	}
	if got, want := dirEntries(t, dir), []string{CAFile, CertFile, KeyFile}; !slices.Equal(got, want) {
		t.Errorf("folder holds %q, want %q", got, want)
	}
}

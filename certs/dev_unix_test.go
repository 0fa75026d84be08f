//go:build unix

package certs

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteDirModesIgnoreTheUmask: the key is 0600 and the certificates
// 0644 whatever the process umask, including over a world-readable key file.
// Not parallel: the umask is process-wide.
func TestWriteDirModesIgnoreTheUmask(t *testing.T) {
	for _, umask := range []int{0, 0o022, 0o077} {
		t.Run(fmt.Sprintf("umask %#o", umask), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "certs")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			old := filepath.Join(dir, KeyFile)
			if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(old, 0o644); err != nil {
				t.Fatal(err)
			}
			b := newTestBundle(t)
			prev := syscall.Umask(umask)
			err := b.WriteDir(dir)
			syscall.Umask(prev)
			if err != nil {
				t.Fatal(err)
			}
			checkWritten(t, dir, b)
		})
	}
}

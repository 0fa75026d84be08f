package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// file is one file to write into the plan's folder.
type file struct {
	name string // a base name: a plan.Secret name, or a dot-file of wisp's
	data secretBytes
	mode fs.FileMode
}

// writeFiles writes every file into dir, all or nothing as far as the file
// system allows: each file is first written in full to a temporary file in
// dir and fsynced; only when all are staged are they renamed into place,
// then dir is fsynced. A failure while staging removes the temporary files
// and leaves dir as it was; a failure while renaming also removes the files
// this call had already renamed into place. It returns the paths written.
func writeFiles(dir string, files []file) ([]string, error) {
	temps := make([]string, 0, len(files))
	removeAll := func(paths []string) {
		for _, p := range paths {
			_ = os.Remove(p) // best effort: the error being reported matters more
		}
	}
	for _, f := range files {
		tmp, err := stage(dir, f)
		if err != nil {
			removeAll(temps)
			return nil, err
		}
		temps = append(temps, tmp)
	}
	done := make([]string, 0, len(files))
	for i, f := range files {
		dst := filepath.Join(dir, f.name)
		if err := os.Rename(temps[i], dst); err != nil {
			removeAll(temps[i:])
			removeAll(done)
			return nil, fmt.Errorf("rename %s: %w", dst, unwrapPath(err))
		}
		done = append(done, dst)
	}
	if err := syncDir(dir); err != nil {
		return done, err
	}
	return done, nil
}

// stage writes f to a new temporary file in dir, with f's mode, fsynced and
// closed, and returns its path.
func stage(dir string, f file) (string, error) {
	tmp, err := os.CreateTemp(dir, "."+f.name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create temporary file for %s in %s: %w", f.name, dir, unwrapPath(err))
	}
	name := tmp.Name()
	fail := func(what string, err error) (string, error) {
		_ = tmp.Close()
		_ = os.Remove(name)
		return "", fmt.Errorf("%s %s: %w", what, name, unwrapPath(err))
	}
	// Chmod on the descriptor is not subject to the umask.
	if err := tmp.Chmod(f.mode); err != nil {
		return fail("chmod", err)
	}
	if _, err := tmp.Write(f.data); err != nil {
		return fail("write", err)
	}
	if err := tmp.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("close %s: %w", name, unwrapPath(err))
	}
	return name, nil
}

// syncDir fsyncs a folder, so that renames in it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, unwrapPath(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, unwrapPath(err))
	}
	return nil
}

// unwrapPath drops the *PathError or *LinkError layer, whose paths we
// already print.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// checkDir reports whether dir exists and is a folder.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, unwrapPath(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	return nil
}

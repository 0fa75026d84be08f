package node

import (
	"wisp.dev/wisp/internal/image"

	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"wisp.dev/wisp/test/stack"
)

// Image refs the tests use. containerd names an imported local/x:1
// docker.io/local/x:1; pods may use either.
const (
	WispImage = "docker.io/local/wisp:test"
	AppImage  = "docker.io/local/wisp-test-app:1"
)

// ImageSpec is a single-layer image: files at absolute paths, plus config.
type ImageSpec struct {
	Ref        string
	Files      map[string]string // image path -> host file
	Entrypoint []string
	User       string
	Env        []string
}

// WriteImage writes spec as a docker-archive tarball at out (what `ctr
// images import` and `docker load` read). Every file is 0755, owned by
// root; /tmp is 1777.
func WriteImage(out string, spec ImageSpec) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	addDir := func(d string, mode int64) error {
		if dirs[d] {
			return nil
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: mode})
	}
	paths := make([]string, 0, len(spec.Files))
	for p := range spec.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := os.ReadFile(spec.Files[p])
		if err != nil {
			return fmt.Errorf("image %s: %w", spec.Ref, err)
		}
		rel := strings.TrimPrefix(path.Clean(p), "/")
		parts := strings.Split(rel, "/")
		for i := 1; i < len(parts); i++ {
			if err := addDir(strings.Join(parts[:i], "/"), 0o755); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	for _, d := range []string{"tmp", "etc", "proc", "sys", "dev"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := addDir(d, mode); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return fmt.Errorf("image %s: layer: %w", spec.Ref, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	env := spec.Env
	if env == nil {
		env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	}
	cf.Config = v1.Config{Entrypoint: spec.Entrypoint, User: spec.User, Env: env}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return fmt.Errorf("image %s: config: %w", spec.Ref, err)
	}
	tag, err := name.NewTag(spec.Ref)
	if err != nil {
		return fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return fmt.Errorf("image %s: write %s: %w", spec.Ref, out, err)
	}
	return nil
}

// Images are the tarballs BuildImages wrote.
type Images struct {
	Sandbox, Wisp, App string
}

// All lists every tarball, for Options.Images.
func (i Images) All() []string { return []string{i.Sandbox, i.Wisp, i.App} }

// BuildImages builds wisp's image from the project's own binaries, laid out
// as the Dockerfile's final stage says (same files, user, entrypoint and
// build flags), and the test app's image (test/node/testapp, which is also
// the sandbox "pause" image), into dir.
func BuildImages(ctx context.Context, dir string) (Images, error) {
	root, err := stack.ModuleRoot()
	if err != nil {
		return Images{}, err
	}
	df, err := image.ParseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return Images{}, err
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return Images{}, fmt.Errorf("create %s: %w", bin, err)
	}
	flags := make([]string, 0, len(df.BuildFlags))
	for _, f := range df.BuildFlags {
		flags = append(flags, strings.ReplaceAll(f, "${VERSION}", "test"))
	}
	args := append(append([]string{"build"}, flags...), "-o", bin+"/")
	args = append(args, df.Packages...)
	args = append(args, "./test/node/testapp")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), df.BuildEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return Images{}, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, out)
	}
	files := map[string]string{}
	for _, b := range df.Binaries {
		files[b] = filepath.Join(bin, path.Base(b))
	}
	imgs := Images{Sandbox: filepath.Join(dir, "pause.tar"), Wisp: filepath.Join(dir, "wisp.tar"), App: filepath.Join(dir, "app.tar")}
	app := filepath.Join(bin, "testapp")
	specs := map[string]ImageSpec{
		imgs.Wisp:    {Ref: WispImage, Files: files, User: df.User, Entrypoint: df.Entrypoint},
		imgs.App:     {Ref: AppImage, Files: map[string]string{"/app": app}, Entrypoint: []string{"/app"}, User: "10001:10001"},
		imgs.Sandbox: {Ref: SandboxImage, Files: map[string]string{"/pause": app}, Entrypoint: []string{"/pause", "pause"}, User: "65535:65535"},
	}
	for out, spec := range specs {
		if err := WriteImage(out, spec); err != nil {
			return Images{}, err
		}
	}
	return imgs, nil
}

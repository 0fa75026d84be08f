package node

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"wisp.dev/wisp/test/stack"
)

// The release the env builds and pushes: `make image chart push` with
// VERSION releaseVersion gives the chart version chartVersion and the
// image tag v<chartVersion>.
const (
	releaseVersion = "v0.0.0-test"
	chartVersion   = "0.0.0-test"
)

// The test app's and the sandbox's repositories and tag in the registry.
const (
	appRepo     = "wisp-test-app"
	sandboxRepo = "pause"
	testTag     = "1"
)

// ImageSpec is a single-layer image: files at absolute paths, plus config.
type ImageSpec struct {
	Files      map[string]string // image path -> host file
	Entrypoint []string
	User       string
	Env        []string
}

// Image builds spec for the host's platform. Every file is 0755, owned by
// root; /tmp is 1777.
func (spec ImageSpec) Image() (v1.Image, error) {
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
			return nil, fmt.Errorf("image file %s: %w", p, err)
		}
		rel := strings.TrimPrefix(path.Clean(p), "/")
		parts := strings.Split(rel, "/")
		for i := 1; i < len(parts); i++ {
			if err := addDir(strings.Join(parts[:i], "/"), 0o755); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"tmp", "etc", "proc", "sys", "dev"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := addDir(d, mode); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = runtime.GOARCH, "linux"
	env := spec.Env
	if env == nil {
		env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	}
	cf.Config = v1.Config{Entrypoint: spec.Entrypoint, User: spec.User, Env: env}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return img, nil
}

// testImages are the references of the images pushTestImages pushed.
type testImages struct{ app, sandbox string }

// pushTestImages builds the test app (test/node/testapp) into dir and
// pushes its image, which is also the sandbox "pause" image, to the
// registry at host.
func pushTestImages(ctx context.Context, dir, host string) (testImages, error) {
	root, err := stack.ModuleRoot()
	if err != nil {
		return testImages{}, err
	}
	app := filepath.Join(dir, "bin", "testapp")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", app, "./test/node/testapp")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return testImages{}, fmt.Errorf("go build ./test/node/testapp: %w: %s", err, out)
	}
	refs := testImages{app: host + "/" + appRepo + ":" + testTag, sandbox: host + "/" + sandboxRepo + ":" + testTag}
	specs := map[string]ImageSpec{
		refs.app:     {Files: map[string]string{"/app": app}, Entrypoint: []string{"/app"}, User: "10001:10001"},
		refs.sandbox: {Files: map[string]string{"/pause": app}, Entrypoint: []string{"/pause", "pause"}, User: "65535:65535"},
	}
	for ref, spec := range specs {
		img, err := spec.Image()
		if err != nil {
			return testImages{}, fmt.Errorf("image %s: %w", ref, err)
		}
		tag, err := name.NewTag(ref)
		if err != nil {
			return testImages{}, fmt.Errorf("image %s: %w", ref, err)
		}
		if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
			return testImages{}, fmt.Errorf("push %s: %w", ref, err)
		}
	}
	return refs, nil
}

// release is what publishRelease pushed.
type release struct {
	image        string // the image index, by tag
	chartRef     string // oci://<host>/charts/wisp
	chartVersion string
	output       string // what make printed
}

// publishRelease runs, in the module root, what a release does: `make
// image chart push` (the image index for linux/amd64 and linux/arm64 with
// its SBOMs, built by cmd/wisp-release; the chart packaged by helm; both
// pushed by cmd/wisp-release to the registry at host), with the layout and
// the chart archive in dir.
func publishRelease(ctx context.Context, dir, host, helm string) (release, error) {
	root, err := stack.ModuleRoot()
	if err != nil {
		return release{}, err
	}
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "image", "chart", "push",
		"VERSION="+releaseVersion, "CHART_VERSION="+chartVersion, "REGISTRY="+host,
		"IMAGE_DIR="+filepath.Join(dir, "image"), "CHART_DIR="+filepath.Join(dir, "chart"))
	cmd.Dir = root
	cmd.Env = append(helmEnv(dir), "HELM="+helm)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return release{}, fmt.Errorf("make image chart push: %w\n%s", err, lastLines(string(out), 30))
	}
	return release{
		image:        host + "/wisp:v" + chartVersion,
		chartRef:     "oci://" + host + "/charts/wisp",
		chartVersion: chartVersion,
		output:       string(out),
	}, nil
}

// helmEnv is the environment helm runs in: the process's, with helm's
// cache, configuration and data (its registry logins) under dir.
func helmEnv(dir string) []string {
	h := filepath.Join(dir, "helm")
	return append(os.Environ(), "HELM_CACHE_HOME="+h, "HELM_CONFIG_HOME="+h, "HELM_DATA_HOME="+h)
}

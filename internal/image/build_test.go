package image

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testDockerfile is the project's final stage, as ParseDockerfile reads it.
var testDockerfile = Dockerfile{
	Binaries:   []string{"/wisp-webhook", "/wisp-fetch", "/usr/local/bin/wisp"},
	User:       "65532:65532",
	Entrypoint: []string{"/wisp-webhook"},
	Labels:     map[string]string{"org.opencontainers.image.title": "wisp", LabelVersion: "${VERSION}"},
}

var (
	fixtureOnce sync.Once
	fixturePath string
	fixtureErr  error
)

// fixtureBinary is testdata/modules built once: a small binary with Go
// build information listing a few dependencies, as the real ones do (a
// test binary lists none).
func fixtureBinary(t *testing.T) string {
	t.Helper()
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wisp-image-test-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixturePath = filepath.Join(dir, "modules")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", fixturePath, "./testdata/modules")
		if out, err := cmd.CombinedOutput(); err != nil {
			fixtureErr = fmt.Errorf("go build ./testdata/modules: %w\n%s", err, out)
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixturePath
}

// testBinaries stands fixtureBinary in for every binary of every platform.
func testBinaries(t *testing.T, platforms int) []map[string]string {
	t.Helper()
	exe := fixtureBinary(t)
	out := make([]map[string]string, platforms)
	for i := range out {
		out[i] = map[string]string{}
		for _, b := range testDockerfile.Binaries {
			out[i][b] = exe
		}
	}
	return out
}

func assemble(t *testing.T, cfg Config) Result {
	t.Helper()
	n := len(cfg.Platforms)
	if n == 0 {
		n = len(DefaultPlatforms)
	}
	res, err := Assemble(cfg, testDockerfile, testBinaries(t, n))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// sharedConfig is the build most tests look at, assembled once
// (compressing the layers is most of a test's time, under -race above all).
var (
	sharedConfig = Config{Version: "v1.2.3", Revision: "abc", Epoch: time.Unix(1700000000, 0)}
	sharedOnce   sync.Once
	sharedRes    Result
	sharedErr    error
)

func shared(t *testing.T) Result {
	t.Helper()
	bins := testBinaries(t, len(DefaultPlatforms))
	sharedOnce.Do(func() { sharedRes, sharedErr = Assemble(sharedConfig, testDockerfile, bins) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedRes
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixturePath != "" {
		os.RemoveAll(filepath.Dir(fixturePath))
	}
	os.Exit(code)
}

func digest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAssemble: one image per platform, laid out as the Dockerfile's final
// stage says, on distroless static's users and CA bundle.
func TestAssemble(t *testing.T) {
	t.Parallel()
	epoch := sharedConfig.Epoch.UTC()
	res := shared(t)
	im, err := res.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests, want an OCI index of 2", im.MediaType, len(im.Manifests))
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title": "wisp", LabelVersion: "v1.2.3",
		LabelCreated: "2023-11-14T22:13:20Z", LabelRevision: "abc",
	}
	if diff := cmp.Diff(wantLabels, im.Annotations); diff != "" {
		t.Errorf("index annotations (-want +got):\n%s", diff)
	}
	for i, m := range im.Manifests {
		want := DefaultPlatforms[i]
		if m.Platform == nil || m.Platform.String() != want.String() || m.MediaType != types.OCIManifestSchema1 {
			t.Errorf("manifest %d: %s %v, want an OCI manifest for %s", i, m.MediaType, m.Platform, want)
		}
		img, err := res.Index.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != want.OS || cf.Architecture != want.Architecture || !cf.Created.Time.Equal(epoch) {
			t.Errorf("config: %s/%s created %s", cf.OS, cf.Architecture, cf.Created)
		}
		wantCfg := v1.Config{User: "65532:65532", Entrypoint: []string{"/wisp-webhook"}, Env: baseEnv, WorkingDir: "/home/nonroot", Labels: wantLabels}
		if diff := cmp.Diff(wantCfg, cf.Config); diff != "" {
			t.Errorf("config (-want +got):\n%s", diff)
		}
		checkFiles(t, img)
	}
}

// checkFiles reads the image's file system.
func checkFiles(t *testing.T, img v1.Image) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]*tar.Header{}
	var ca []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
		if h.Name == "etc/ssl/certs/ca-certificates.crt" {
			ca, _ = io.ReadAll(tr)
		}
	}
	for _, f := range []string{"wisp-webhook", "wisp-fetch", "usr/local/bin/wisp"} {
		if h := files[f]; h == nil || h.Mode != 0o755 || h.Uid != 0 {
			t.Errorf("%s: %+v, want a root-owned 0755 file", f, h)
		}
	}
	if h := files["tmp"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("/tmp: %+v, want 1777", h)
	}
	if h := files["home/nonroot"]; h == nil || h.Uid != NonrootUID {
		t.Errorf("/home/nonroot: %+v, want owned by %d", h, NonrootUID)
	}
	if files["wisp"] != nil {
		t.Error("/wisp is in the image: it is where wisp-fetch mounts its volumes")
	}
	n := 0
	for rest := ca; ; n++ {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("CA bundle: certificate %d: %v", n, err)
		}
	}
	if n < 100 {
		t.Errorf("CA bundle holds %d certificates, want the Mozilla roots (> 100)", n)
	}
}

// TestAssembleReproducible: the same inputs give the same index digest and
// SBOMs; a changed epoch or version gives another image.
func TestAssembleReproducible(t *testing.T) {
	t.Parallel()
	first, again := shared(t), assemble(t, sharedConfig)
	if a, b := digest(t, first.Index), digest(t, again.Index); a != b {
		t.Fatalf("same inputs: index %s, then %s", a, b)
	}
	for i := range first.SBOMs {
		if a, b := digest(t, first.SBOMs[i]), digest(t, again.SBOMs[i]); a != b {
			t.Errorf("same inputs: sbom %s, then %s", a, b)
		}
	}
	im, err := first.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	one := DefaultPlatforms[:1]
	for name, c := range map[string]Config{
		"epoch":   {Version: sharedConfig.Version, Revision: sharedConfig.Revision, Epoch: sharedConfig.Epoch.Add(time.Second), Platforms: one},
		"version": {Version: "v1.2.4", Revision: sharedConfig.Revision, Epoch: sharedConfig.Epoch, Platforms: one},
	} {
		other, err := assemble(t, c).Index.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if other.Manifests[0].Digest == im.Manifests[0].Digest {
			t.Errorf("another %s, same %s image %s", name, one[0], im.Manifests[0].Digest)
		}
	}
}

func TestAssembleErrors(t *testing.T) {
	t.Parallel()
	if _, err := Assemble(Config{Version: "v1"}, testDockerfile, testBinaries(t, 1)); err == nil {
		t.Error("binaries for 1 platform of 2: no error")
	}
	bins := testBinaries(t, 2)
	delete(bins[1], "/wisp-fetch")
	if _, err := Assemble(Config{Version: "v1"}, testDockerfile, bins); err == nil {
		t.Error("a missing binary: no error")
	}
	if err := (Config{}).Validate(); err == nil || !bytes.Contains([]byte(err.Error()), []byte("root: empty")) {
		t.Errorf("Validate of the zero Config: %v", err)
	}
}

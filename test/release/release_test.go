package release

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/buildinfo"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"wisp.dev/wisp/internal/image"
	"wisp.dev/wisp/test/testutil"
)

const (
	repoRoot = "../.."
	// docRegistry is the registry docs/release.md pushes to.
	docRegistry = "registry.example.com/platform"
	// The version the page releases.
	version      = "v0.1.0"
	chartVersion = "0.1.0"
)

// TestReleaseDocs runs docs/release.md: build twice (same digest), push,
// install; then reads back what was pushed.
func TestReleaseDocs(t *testing.T) {
	blocks := docBlocks(t, filepath.Join(repoRoot, "docs", "release.md"))
	if len(blocks) != 3 {
		t.Fatalf("docs/release.md has %d sh blocks, the test runs 3 (build, push, install): %q", len(blocks), blocks)
	}
	build, push, install := blocks[0], blocks[1], blocks[2]
	host, cert, tr := startRegistry(t)
	reg := host + "/platform"
	tmp := t.TempDir()
	env := commandEnv(t, tmp, cert)

	// make image chart, twice: the same index digest.
	var digests []v1.Hash
	for _, out := range []string{"a", "b"} {
		start := time.Now()
		runBlock(t, build, env, "IMAGE_DIR="+filepath.Join(tmp, out), "CHART_DIR="+filepath.Join(tmp, "chart"))
		t.Logf("make image chart (%s): %s", out, time.Since(start).Round(time.Millisecond))
		l, err := image.ReadLayout(filepath.Join(tmp, out))
		if err != nil {
			t.Fatal(err)
		}
		if l.Tag != version {
			t.Errorf("layout tag %q, want %s", l.Tag, version)
		}
		digests = append(digests, digestOf(t, l.Index))
	}
	if digests[0] != digests[1] {
		t.Fatalf("make image twice: index %s, then %s; the build is not reproducible", digests[0], digests[1])
	}

	runBlock(t, strings.ReplaceAll(push, docRegistry, reg), env,
		"IMAGE_DIR="+filepath.Join(tmp, "b"), "CHART_DIR="+filepath.Join(tmp, "chart"))
	repo, err := name.NewRepository(reg + "/wisp")
	if err != nil {
		t.Fatal(err)
	}
	checkPushedImage(t, repo, digests[0], tr)

	// The chart: pullable by helm, and it installs naming the pushed image.
	helm := helmBinary(t)
	pull := exec.Command(helm, "pull", "oci://"+reg+"/charts/wisp", "--version", chartVersion, "--destination", tmp)
	pull.Env = env
	if out, err := pull.CombinedOutput(); err != nil {
		t.Fatalf("helm pull: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(tmp, "wisp-"+chartVersion+".tgz")); err != nil {
		t.Fatalf("helm pull: %v", err)
	}
	cs := startCluster(t, tmp)
	env = append(env, "KUBECONFIG="+filepath.Join(tmp, "kubeconfig"), "PATH="+filepath.Dir(helm)+":"+os.Getenv("PATH"))
	runBlock(t, strings.ReplaceAll(install, docRegistry, reg), env)
	checkDeployment(t, cs, reg+"/wisp:"+version)
}

// docBlocks returns the fenced sh blocks of a markdown file.
func docBlocks(t *testing.T, file string) []string {
	t.Helper()
	blocks, err := testutil.DocBlocksOf(file, "sh")
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

// runBlock runs a block with bash in the repository's root.
func runBlock(t *testing.T, block string, env []string, extra ...string) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", block)
	cmd.Dir = repoRoot
	cmd.Env = append(append([]string(nil), env...), extra...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", block, err, out)
	}
	t.Logf("%s%s", block, out)
}

// startRegistry serves an in-process registry over TLS on 127.0.0.1 and
// returns its host:port, its certificate and the transport that trusts it.
func startRegistry(t *testing.T) (string, *x509.Certificate, remote.Option) {
	t.Helper()
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://"), srv.Certificate(), remote.WithTransport(srv.Client().Transport)
}

// commandEnv is the environment of the page's commands: the test
// registry's certificate trusted (beside the system's roots, which go
// needs for the module proxy), no Docker or helm state of the user.
func commandEnv(t *testing.T, tmp string, cert *x509.Certificate) []string {
	t.Helper()
	roots, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	var pemCert bytes.Buffer
	pemCert.Write(roots)
	if err := pem.Encode(&pemCert, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(tmp, "ca.pem")
	if err := os.WriteFile(certFile, pemCert.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(tmp, "home")
	for _, d := range []string{"docker", "helm"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "SSL_CERT_FILE="+certFile, "DOCKER_CONFIG="+filepath.Join(home, "docker"),
		"HELM_CACHE_HOME="+filepath.Join(home, "helm"), "HELM_CONFIG_HOME="+filepath.Join(home, "helm"),
		"HELM_DATA_HOME="+filepath.Join(home, "helm"))
	if h := os.Getenv("WISP_HELM"); h != "" {
		env = append(env, "HELM="+h) // make chart's helm
	}
	return env
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// checkPushedImage pulls the index: both platforms, and for each, an SBOM
// among its referrers listing the modules of each binary of the image.
func checkPushedImage(t *testing.T, repo name.Repository, want v1.Hash, tr remote.Option) {
	t.Helper()
	idx, err := remote.Index(repo.Tag(version), tr)
	if err != nil {
		t.Fatal(err)
	}
	if got := digestOf(t, idx); got != want {
		t.Errorf("pulled index %s, built %s", got, want)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range im.Manifests {
		platforms = append(platforms, m.Platform.String())
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		bins := binaries(t, img)
		if len(bins) != 3 {
			t.Errorf("%s: binaries %v, want the 3 of the Dockerfile", m.Platform, keys(bins))
		}
		sbom := pushedSBOM(t, repo, m.Digest, tr)
		for path, data := range bins {
			bi, err := buildinfo.Read(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s %s: %v", m.Platform, path, err)
			}
			if goarch := setting(bi, "GOARCH"); goarch != m.Platform.Architecture {
				t.Errorf("%s %s: built for GOARCH %s", m.Platform, path, goarch)
			}
			if diff := cmp.Diff(modules(bi), sbom[path]); diff != "" {
				t.Errorf("%s %s: modules (-binary +sbom):\n%s", m.Platform, path, diff)
			}
		}
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, platforms); diff != "" {
		t.Errorf("index platforms (-want +got):\n%s", diff)
	}
}

// binaries are the files of the image that the Dockerfile copies.
func binaries(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	df, err := image.ParseDockerfile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, b := range df.Binaries {
		want[strings.TrimPrefix(b, "/")] = true
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if want[h.Name] {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out["/"+h.Name] = data
		}
	}
}

// pushedSBOM finds the CycloneDX referrer of the image and returns its
// modules per binary.
func pushedSBOM(t *testing.T, repo name.Repository, img v1.Hash, tr remote.Option) map[string][]string {
	t.Helper()
	refs, err := remote.Referrers(repo.Digest(img.String()), tr)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := refs.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Manifests) != 1 {
		t.Fatalf("image %s: %d referrers, want its SBOM", img, len(rm.Manifests))
	}
	art, err := remote.Image(repo.Digest(rm.Manifests[0].Digest.String()), tr)
	if err != nil {
		t.Fatal(err)
	}
	m, err := art.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != image.SBOMMediaType || m.Subject == nil || m.Subject.Digest != img {
		t.Fatalf("referrer of %s: artifactType %q subject %v", img, m.ArtifactType, m.Subject)
	}
	layers, err := art.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("sbom: %d blobs, %v", len(layers), err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(rc, cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, c := range *bom.Components {
		for _, mod := range *c.Components {
			out[c.Name] = append(out[c.Name], mod.Name+"@"+mod.Version)
		}
		sort.Strings(out[c.Name])
	}
	return out
}

// modules are what a binary's build information lists, as "path@version".
func modules(bi *buildinfo.BuildInfo) []string {
	out := []string{"stdlib@" + strings.TrimPrefix(bi.GoVersion, "go"), bi.Main.Path + "@" + bi.Main.Version}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		out = append(out, d.Path+"@"+d.Version)
	}
	sort.Strings(out)
	return out
}

func setting(bi *buildinfo.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// startCluster starts a kube-apiserver and etcd (envtest) and writes an
// admin kubeconfig to tmp/kubeconfig.
func startCluster(t *testing.T, tmp string) *kubernetes.Clientset {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		out, err := exec.Command(filepath.Join(repoRoot, "test", "scripts", "ensure-k8s.sh")).Output()
		if err != nil {
			t.Fatalf("KUBEBUILDER_ASSETS unset, and test/scripts/ensure-k8s.sh: %v", err)
		}
		t.Setenv("KUBEBUILDER_ASSETS", strings.TrimSpace(string(out)))
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "kubeconfig"), kc, 0o600); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(admin.Config())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// checkDeployment: the webhook's Deployment runs the pushed image.
func checkDeployment(t *testing.T, cs *kubernetes.Clientset, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := cs.AppsV1().Deployments("wisp-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var images []string
	for _, d := range list.Items {
		images = append(images, containerImages(d)...)
	}
	if len(images) == 0 || !allEqual(images, want) {
		t.Errorf("the chart's Deployments run %v, want %s", images, want)
	}
}

func containerImages(d appsv1.Deployment) []string {
	var out []string
	for _, c := range d.Spec.Template.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

func allEqual(s []string, want string) bool {
	for _, v := range s {
		if v != want {
			return false
		}
	}
	return true
}

// helmBinary is $WISP_HELM or the helm test/scripts/ensure-helm.sh built.
func helmBinary(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("WISP_HELM"); h != "" {
		return h
	}
	out, err := exec.Command(filepath.Join(repoRoot, "test", "scripts", "ensure-helm.sh")).Output()
	if err != nil {
		t.Fatalf("build helm with test/scripts/ensure-helm.sh (or set WISP_HELM): %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "helm")
}

package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/internal/image"
	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/test/node"
)

// pushedIndex is what the registry holds under the env's wisp image tag, as
// a user reads it (`crane digest`, `crane manifest`).
type pushedIndex struct {
	repo      name.Repository
	digest    v1.Hash            // the index's
	platforms map[string]v1.Hash // "linux/amd64" -> its image manifest's
}

func readPushedIndex(ctx context.Context, t *testing.T) pushedIndex {
	t.Helper()
	tag, err := name.NewTag(shared.env.WispImage)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(tag, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("read the pushed index: %v", err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	p := pushedIndex{repo: tag.Context(), digest: d, platforms: map[string]v1.Hash{}}
	for _, m := range im.Manifests {
		if m.Platform != nil {
			p.platforms[m.Platform.OS+"/"+m.Platform.Architecture] = m.Digest
		}
	}
	return p
}

// sbomReferrers counts the CycloneDX SBOMs among d's referrers (the
// registry's referrers API; the filter by artifactType is applied here, as
// the registry does not).
func sbomReferrers(ctx context.Context, t *testing.T, d name.Digest) int {
	t.Helper()
	refs, err := remote.Referrers(d, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("referrers of %s: %v", d, err)
	}
	im, err := refs.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range im.Manifests {
		img, err := remote.Image(d.Context().Digest(r.Digest.String()), remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("referrer %s of %s: %v", r.Digest, d, err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatalf("referrer %s of %s: %v", r.Digest, d, err)
		}
		if m.ArtifactType == image.SBOMMediaType && m.Subject != nil && m.Subject.Digest.String() == d.DigestStr() {
			n++
		}
	}
	return n
}

// TestReleaseFromRegistry: wisp is installed as a release ships it. The
// registry holds the index `make image` builds (linux/amd64 and
// linux/arm64, each image with its CycloneDX SBOM as a referrer) and the
// chart `make chart` packages, both pushed by `make push`; helm installed
// the chart from oci://; the kubelet pulled wisp's image for the webhook
// pod (containerd fetching this platform's manifest only) and found it
// present for the injected wisp-fetch; each container's imageID is the
// registry's digest of what it pulled.
func TestReleaseFromRegistry(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	env := shared.env
	idx := readPushedIndex(ctx, t)
	host := "linux/" + runtime.GOARCH
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		d, ok := idx.platforms[p]
		if !ok {
			t.Fatalf("the pushed index has no %s image: %v", p, idx.platforms)
		}
		if n := sbomReferrers(ctx, t, idx.repo.Digest(d.String())); n != 1 {
			t.Errorf("the %s image has %d CycloneDX SBOMs among its referrers, want 1", p, n)
		}
	}
	wantID := idx.repo.Name() + "@" + idx.digest.String()

	// The chart: installed from oci://, the version pushed.
	out, err := env.Helm(ctx, "get", "metadata", "wisp", "--namespace", node.WispNamespace, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Chart, Version string }
	if err := json.Unmarshal([]byte(out), &meta); err != nil {
		t.Fatalf("helm get metadata: %v\n%s", err, out)
	}
	if meta.Chart != "wisp" || meta.Version != env.ChartVersion {
		t.Errorf("helm release wisp: chart %s %s, want wisp %s", meta.Chart, meta.Version, env.ChartVersion)
	}

	// The webhook pod: wisp's image by tag, pulled from the registry.
	c := env.Node.Client()
	pods, err := c.CoreV1().Pods(node.WispNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=wisp"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("the webhook's pods: %v (err %v)", pods, err)
	}
	for _, s := range pods.Items[0].Status.ContainerStatuses {
		if s.Image != env.WispImage || s.ImageID != wantID {
			t.Errorf("webhook container %s: image %s (id %s), want %s (id %s)", s.Name, s.Image, s.ImageID, env.WispImage, wantID)
		}
	}
	if ev := waitEvent(ctx, t, node.WispNamespace, "Pulled", fmt.Sprintf("Successfully pulled image %q", env.WispImage), 10*time.Second); ev == "" {
		t.Errorf("no event of the kubelet pulling %s for the webhook", env.WispImage)
	}

	// An injected pod: wisp-fetch runs the same image, already present.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "from-registry", Namespace: appNS, Annotations: annotations("app")},
		Spec:       podSpec(appSA, corev1.RestartPolicyNever, appArgs()...),
	}
	if _, err := c.CoreV1().Pods(appNS).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Pods(appNS).Delete(context.Background(), pod.Name, metav1.DeleteOptions{}) })
	p, err := env.Node.WaitPod(ctx, appNS, pod.Name, 2*time.Minute, func(p *corev1.Pod) (bool, error) {
		st := initStatus(p, mutate.FetchContainerName)
		return st != nil && st.State.Terminated != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].ImageID != "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := initStatus(p, mutate.FetchContainerName); st.Image != env.WispImage || st.ImageID != wantID || st.State.Terminated.ExitCode != 0 {
		t.Errorf("wisp-fetch: image %s (id %s), exit %d; want %s (id %s), exit 0", st.Image, st.ImageID, st.State.Terminated.ExitCode, env.WispImage, wantID)
	}
	if app := p.Status.ContainerStatuses[0]; app.Image != env.AppImage || !strings.HasPrefix(app.ImageID, env.Registry+"/") {
		t.Errorf("app: image %s (id %s), want %s from %s", app.Image, app.ImageID, env.AppImage, env.Registry)
	}
	evs, err := c.CoreV1().Events(appNS).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod.Name + ",reason=Pulled"})
	if err != nil {
		t.Fatal(err)
	}
	present := false
	for _, e := range evs.Items {
		if strings.Contains(e.InvolvedObject.FieldPath, mutate.FetchContainerName) {
			present = strings.Contains(e.Message, fmt.Sprintf("image %q already present on machine", env.WispImage))
			t.Logf("wisp-fetch: %s", e.Message)
		}
	}
	if !present {
		t.Errorf("no event saying wisp-fetch's image was already present: %+v", evs.Items)
	}

	checkRegistryRequests(t, idx, host)
}

// checkRegistryRequests: containerd fetched the index and this platform's
// manifest, none of another platform's; helm fetched the chart.
func checkRegistryRequests(t *testing.T, idx pushedIndex, host string) {
	t.Helper()
	env := shared.env
	manifests := "/v2/" + strings.TrimPrefix(idx.repo.Name(), env.Registry+"/") + "/manifests/"
	fetched := map[string]bool{}
	chart := false
	for _, r := range env.RegistryRequests() {
		switch {
		case strings.HasPrefix(r.UserAgent, "containerd/") && r.Method == "GET" && r.Status == 200:
			fetched[r.Path] = true
		case strings.HasPrefix(r.UserAgent, "Helm/") && r.Method == "GET" && r.Status == 200 &&
			r.Path == "/v2/charts/wisp/manifests/"+env.ChartVersion:
			chart = true
		}
	}
	if !fetched[manifests+idx.digest.String()] {
		t.Errorf("containerd did not fetch the index %s", idx.digest)
	}
	for p, d := range idx.platforms {
		if got, want := fetched[manifests+d.String()], p == host; got != want {
			t.Errorf("containerd fetched the %s manifest %s: %v, want %v", p, d, got, want)
		}
	}
	if !chart {
		t.Errorf("helm did not fetch the chart %s --version %s from the registry", env.ChartRef, env.ChartVersion)
	}
}

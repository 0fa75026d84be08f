package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is an in-process registry on 127.0.0.1.
func testRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrers)))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestLayoutPush: the layout round-trips, and a push leaves the index
// (both platforms) under its tag and each SBOM among its image's referrers,
// with or without the registry's referrers API.
func TestLayoutPush(t *testing.T) {
	t.Parallel()
	res := shared(t)
	dir := filepath.Join(t.TempDir(), "image")
	if err := WriteLayout(dir, res, "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	// Written twice: the folder is replaced, not appended to.
	if err := WriteLayout(dir, res, "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	l, err := ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Tag != "v1.2.3" || len(l.SBOMs) != 2 || digest(t, l.Index) != digest(t, res.Index) {
		t.Fatalf("layout: tag %q, %d sboms, index %s (want %s)", l.Tag, len(l.SBOMs), digest(t, l.Index), digest(t, res.Index))
	}
	for _, referrersAPI := range []bool{true, false} {
		repo, err := name.NewRepository(testRegistry(t, referrersAPI) + "/team/wisp")
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		ref, err := Push(ctx, l, repo)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Index(repo.Tag("v1.2.3"))
		if err != nil {
			t.Fatal(err)
		}
		if got := digest(t, idx); got.String() != ref.DigestStr() || got != digest(t, res.Index) {
			t.Errorf("referrers API %v: pulled index %s, pushed %s", referrersAPI, got, ref.DigestStr())
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range im.Manifests {
			refs, err := remote.Referrers(repo.Digest(m.Digest.String()))
			if err != nil {
				t.Fatal(err)
			}
			rm, err := refs.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			// go-containerregistry's registry gives the config's media type
			// as a referrer's artifactType (not the manifest's artifactType,
			// as the OCI spec says); its writer's fallback tag gets it right.
			if len(rm.Manifests) != 1 || rm.Manifests[0].Digest != digest(t, res.SBOMs[i]) ||
				(!referrersAPI && rm.Manifests[0].ArtifactType != SBOMMediaType) {
				t.Errorf("referrers API %v: referrers of the %s image: %+v", referrersAPI, m.Platform, rm.Manifests)
			}
		}
	}
}

func TestPushChart(t *testing.T) {
	t.Parallel()
	tgz := chartArchive(t, map[string]string{"wisp/Chart.yaml": "apiVersion: v2\nname: wisp\nversion: 0.1.0+dev\n"})
	c, err := ChartArtifact(tgz, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(testRegistry(t, true) + "/team/charts")
	if err != nil {
		t.Fatal(err)
	}
	tag, err := PushChart(context.Background(), c, repo)
	if err != nil {
		t.Fatal(err)
	}
	if want := repo.String() + "/wisp:0.1.0_dev"; tag.String() != want {
		t.Errorf("pushed to %s, want %s", tag, want)
	}
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, img) != digest(t, c.Image) {
		t.Error("the pulled chart artifact is not the pushed one")
	}
}

func TestReadLayoutErrors(t *testing.T) {
	t.Parallel()
	if _, err := ReadLayout(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("no layout: no error")
	}
	dir := filepath.Join(t.TempDir(), "image")
	if err := WriteLayout(dir, Result{Index: shared(t).Index}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLayout(dir); err == nil || !strings.Contains(err.Error(), "no tagged image index") {
		t.Errorf("untagged index: %v", err)
	}
}

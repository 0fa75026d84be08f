package image

import (
	"bytes"
	"debug/buildinfo"
	"io"
	"sort"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ReadSBOM returns the modules an SBOM artifact lists per binary, as
// "path@version".
func readSBOM(t *testing.T, art v1.Image) (*cdx.BOM, map[string][]string) {
	t.Helper()
	layers, err := art.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("sbom: %d blobs, %v", len(layers), err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, _ := io.ReadAll(rc)
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		t.Fatal(err)
	}
	mods := map[string][]string{}
	for _, c := range *bom.Components {
		for _, m := range *c.Components {
			mods[c.Name] = append(mods[c.Name], m.Name+"@"+m.Version)
		}
		sort.Strings(mods[c.Name])
	}
	return bom, mods
}

// modulesOf lists what the binary's build information says it holds.
func modulesOf(t *testing.T, file string) []string {
	t.Helper()
	bi, err := buildinfo.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
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

// TestSBOM: one CycloneDX artifact per platform image, referring to it,
// listing every module of every binary.
func TestSBOM(t *testing.T) {
	t.Parallel()
	res := shared(t)
	im, err := res.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := modulesOf(t, fixtureBinary(t))
	if len(want) < 5 {
		t.Fatalf("the test binary lists %d modules; the test needs its dependencies", len(want))
	}
	for i, art := range res.SBOMs {
		m, err := art.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.ArtifactType != SBOMMediaType || m.Config.MediaType != EmptyMediaType || m.Subject == nil {
			t.Fatalf("sbom manifest: artifactType %q config %q subject %v", m.ArtifactType, m.Config.MediaType, m.Subject)
		}
		if m.Subject.Digest != im.Manifests[i].Digest || m.Subject.Size != im.Manifests[i].Size {
			t.Errorf("sbom %d: subject %s, want the %s image %s", i, m.Subject.Digest, im.Manifests[i].Platform, im.Manifests[i].Digest)
		}
		bom, mods := readSBOM(t, art)
		if bom.Metadata.Component.Type != cdx.ComponentTypeContainer || bom.Metadata.Timestamp != "2023-11-14T22:13:20Z" ||
			(*bom.Metadata.Component.Hashes)[0].Value != m.Subject.Digest.Hex {
			t.Errorf("sbom %d metadata: %+v", i, bom.Metadata.Component)
		}
		if !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
			t.Errorf("serial number %q", bom.SerialNumber)
		}
		for _, b := range testDockerfile.Binaries {
			if diff := cmp.Diff(want, mods[b]); diff != "" {
				t.Errorf("sbom %d, %s modules (-build info +sbom):\n%s", i, b, diff)
			}
		}
	}
	if s0, s1 := digest(t, res.SBOMs[0]), digest(t, res.SBOMs[1]); s0 == s1 {
		t.Error("the two platforms' SBOMs are the same artifact")
	}
}

func TestUUIDFrom(t *testing.T) {
	t.Parallel()
	h := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	u := uuidFrom(h)
	if u != uuidFrom(h) || len(u) != len("urn:uuid:")+36 || u[len("urn:uuid:")+14] != '5' {
		t.Errorf("uuidFrom: %s", u)
	}
}

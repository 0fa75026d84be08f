package image

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SBOMMediaType is the artifact type of the SBOMs and the media type of
// their one blob.
const SBOMMediaType = "application/vnd.cyclonedx+json"

// SBOM returns a CycloneDX SBOM of img as an OCI artifact whose subject is
// img: bins maps each binary's image path to the host file it was copied
// from; every Go module compiled into each binary is listed, read from the
// binary's own build information.
func SBOM(img v1.Image, bins map[string]string, version string, epoch time.Time) (v1.Image, error) {
	desc, err := descriptorOf(img)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	bom, err := BOM(desc.Digest, cf.Platform(), bins, version, epoch)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).Encode(bom); err != nil {
		return nil, fmt.Errorf("encode sbom: %w", err)
	}
	return Artifact{
		ArtifactType: SBOMMediaType,
		Blobs:        []Blob{{MediaType: SBOMMediaType, Data: buf.Bytes(), Title: "sbom.cdx.json"}},
		Subject:      &desc,
		Annotations:  map[string]string{LabelCreated: epoch.UTC().Format(time.RFC3339)},
	}.Image()
}

// BOM is the CycloneDX document of the image with digest img: the image is
// the metadata's component; each binary is a component holding one
// component per Go module (the main module, every dependency and the
// standard library), with dependencies image -> binaries -> modules.
func BOM(img v1.Hash, platform *v1.Platform, bins map[string]string, version string, epoch time.Time) (*cdx.BOM, error) {
	paths := make([]string, 0, len(bins))
	for p := range bins {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	const imageRef = "image"
	bom := cdx.NewBOM()
	bom.SerialNumber = uuidFrom(img)
	bom.Metadata = &cdx.Metadata{
		Timestamp: epoch.UTC().Format(time.RFC3339),
		Component: &cdx.Component{
			BOMRef: imageRef, Type: cdx.ComponentTypeContainer, Name: "wisp", Version: version,
			Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: img.Hex}},
			Properties: &[]cdx.Property{{Name: "platform", Value: platform.String()}},
		},
	}
	var comps []cdx.Component
	deps := []cdx.Dependency{{Ref: imageRef, Dependencies: &paths}}
	for _, p := range paths {
		c, d, err := binaryComponent(p, bins[p], version)
		if err != nil {
			return nil, err
		}
		comps = append(comps, c)
		deps = append(deps, d)
	}
	bom.Components, bom.Dependencies = &comps, &deps
	return bom, nil
}

// binaryComponent is one binary and its modules.
func binaryComponent(imagePath, file, version string) (cdx.Component, cdx.Dependency, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return cdx.Component{}, cdx.Dependency{}, fmt.Errorf("read binary: %w", err)
	}
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return cdx.Component{}, cdx.Dependency{}, fmt.Errorf("build info of %s: %w", file, err)
	}
	sum := sha256.Sum256(data)
	mods := []cdx.Component{module(imagePath, "stdlib", strings.TrimPrefix(bi.GoVersion, "go"))}
	mods = append(mods, module(imagePath, bi.Main.Path, bi.Main.Version))
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		mods = append(mods, module(imagePath, d.Path, d.Version))
	}
	var props []cdx.Property
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS", "GOARCH", "CGO_ENABLED":
			props = append(props, cdx.Property{Name: "cdx:gomod:build:env:" + s.Key, Value: s.Value})
		}
	}
	refs := make([]string, len(mods))
	for i, m := range mods {
		refs[i] = m.BOMRef
	}
	c := cdx.Component{
		BOMRef: imagePath, Type: cdx.ComponentTypeApplication, Name: imagePath, Version: version,
		Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex.EncodeToString(sum[:])}},
		Properties: &props, Components: &mods,
	}
	return c, cdx.Dependency{Ref: imagePath, Dependencies: &refs}, nil
}

// module is a Go module compiled into the binary at imagePath.
func module(imagePath, path, version string) cdx.Component {
	purl := "pkg:golang/" + path + "@" + strings.ReplaceAll(version, "+", "%2B")
	return cdx.Component{
		BOMRef: imagePath + "#" + path + "@" + version, Type: cdx.ComponentTypeLibrary,
		Name: path, Version: version, PackageURL: purl,
	}
}

// uuidFrom is a name-based UUID (version 5 layout) derived from h, so the
// SBOM of an image has the same serial number every time it is built.
func uuidFrom(h v1.Hash) string {
	s := sha256.Sum256([]byte("wisp sbom " + h.String()))
	s[6] = s[6]&0x0f | 0x50
	s[8] = s[8]&0x3f | 0x80
	x := hex.EncodeToString(s[:16])
	return fmt.Sprintf("urn:uuid:%s-%s-%s-%s-%s", x[:8], x[8:12], x[12:16], x[16:20], x[20:])
}

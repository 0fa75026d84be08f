package image

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// EmptyMediaType is the OCI 1.1 empty descriptor's media type: the config
// of an artifact that has none.
const EmptyMediaType = "application/vnd.oci.empty.v1+json"

// Blob is one blob of an artifact.
type Blob struct {
	MediaType string
	Data      []byte
	// Title is the org.opencontainers.image.title annotation (a file
	// name). Default: none.
	Title string
}

// Artifact is an OCI 1.1 artifact: an image manifest whose config and
// layers are arbitrary blobs (an SBOM, a Helm chart).
type Artifact struct {
	// ArtifactType is the manifest's artifactType. Default: none (the
	// config's media type says what the artifact is).
	ArtifactType string
	// Config is the config blob. Default: the empty descriptor ({}).
	Config *Blob
	Blobs  []Blob
	// Subject is the manifest the artifact refers to (an OCI referrer).
	Subject     *v1.Descriptor
	Annotations map[string]string
}

// Image returns the artifact as a v1.Image, which go-containerregistry
// writes to layouts and registries like any image.
func (a Artifact) Image() (v1.Image, error) {
	cfg := Blob{MediaType: EmptyMediaType, Data: []byte("{}")}
	if a.Config != nil {
		cfg = *a.Config
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  a.ArtifactType,
		Subject:       a.Subject,
		Annotations:   a.Annotations,
	}
	blobs := map[v1.Hash]v1.Layer{}
	for i, b := range append([]Blob{cfg}, a.Blobs...) {
		l := static.NewLayer(b.Data, types.MediaType(b.MediaType))
		d, err := partial.Descriptor(l)
		if err != nil {
			return nil, fmt.Errorf("artifact blob: %w", err)
		}
		if b.Title != "" {
			d.Annotations = map[string]string{"org.opencontainers.image.title": b.Title}
		}
		blobs[d.Digest] = l
		if i == 0 {
			m.Config = *d
		} else {
			m.Layers = append(m.Layers, *d)
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("artifact manifest: %w", err)
	}
	return partial.CompressedToImage(artifact{raw: raw, config: cfg.Data, blobs: blobs})
}

// artifact is the partial.CompressedImageCore of an Artifact.
type artifact struct {
	raw    []byte
	config []byte
	blobs  map[v1.Hash]v1.Layer
}

func (a artifact) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a artifact) RawManifest() ([]byte, error)        { return a.raw, nil }

func (a artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.blobs[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("artifact: no blob %s", h)
}

// descriptorOf is img's descriptor (media type, digest, size).
func descriptorOf(img v1.Image) (v1.Descriptor, error) {
	d, err := partial.Descriptor(img)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("descriptor: %w", err)
	}
	return v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, nil
}

package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// RefNameAnnotation names the image index in the layout's index.json.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes res as an OCI image layout at dir, replacing what was
// there: index.json lists the image index (its ref.name annotation is tag)
// and then the SBOMs; every blob is under blobs/sha256. The folder is built
// beside dir and renamed into place, so a failed write leaves the old one.
func WriteLayout(dir string, res Result, tag string) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("layout %s: %w", tmp, err)
	}
	if err := p.AppendIndex(res.Index, layout.WithAnnotations(map[string]string{RefNameAnnotation: tag})); err != nil {
		return fmt.Errorf("layout: index: %w", err)
	}
	for _, s := range res.SBOMs {
		if err := p.AppendImage(s); err != nil {
			return fmt.Errorf("layout: sbom: %w", err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	return nil
}

// Layout is what ReadLayout found.
type Layout struct {
	Tag   string
	Index v1.ImageIndex
	SBOMs []v1.Image
}

// ReadLayout reads a layout WriteLayout wrote.
func ReadLayout(dir string) (Layout, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return Layout{}, fmt.Errorf("read layout %s: %w", dir, err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return Layout{}, fmt.Errorf("read layout %s: %w", dir, err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return Layout{}, fmt.Errorf("read layout %s: %w", dir, err)
	}
	var l Layout
	for _, d := range im.Manifests {
		switch {
		case d.MediaType.IsIndex():
			if l.Index != nil {
				return Layout{}, fmt.Errorf("layout %s: two image indexes", dir)
			}
			l.Tag = d.Annotations[RefNameAnnotation]
			if l.Index, err = top.ImageIndex(d.Digest); err != nil {
				return Layout{}, fmt.Errorf("layout %s: %w", dir, err)
			}
		case d.MediaType.IsImage():
			img, err := top.Image(d.Digest)
			if err != nil {
				return Layout{}, fmt.Errorf("layout %s: %w", dir, err)
			}
			m, err := img.Manifest()
			if err != nil {
				return Layout{}, fmt.Errorf("layout %s: %w", dir, err)
			}
			if m.Subject != nil {
				l.SBOMs = append(l.SBOMs, img)
			}
		}
	}
	if l.Index == nil || l.Tag == "" {
		return Layout{}, errors.New("layout " + dir + ": no tagged image index (run make image)")
	}
	return l, nil
}

package image

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push writes the layout's image index to repo as its tag (with every
// platform image and blob) and each SBOM to repo by digest, where the
// registry lists it among its image's referrers (or, for a registry
// without the referrers API, under the fallback tag go-containerregistry
// maintains). It returns the index's reference by digest.
func Push(ctx context.Context, l Layout, repo name.Repository, opts ...remote.Option) (name.Digest, error) {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	tag := repo.Tag(l.Tag)
	if err := remote.WriteIndex(tag, l.Index, opts...); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", tag, err)
	}
	for _, s := range l.SBOMs {
		d, err := s.Digest()
		if err != nil {
			return name.Digest{}, fmt.Errorf("push sbom: %w", err)
		}
		if err := remote.Write(repo.Digest(d.String()), s, opts...); err != nil {
			return name.Digest{}, fmt.Errorf("push sbom %s: %w", d, err)
		}
	}
	d, err := l.Index.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", tag, err)
	}
	return repo.Digest(d.String()), nil
}

// PushChart writes the chart to <repo>/<chart name>:<chart tag>, where
// `helm pull oci://<repo>/<chart name> --version <version>` finds it.
func PushChart(ctx context.Context, c Chart, repo name.Repository, opts ...remote.Option) (name.Tag, error) {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	r, err := name.NewRepository(repo.String() + "/" + c.Name)
	if err != nil {
		return name.Tag{}, fmt.Errorf("push chart: %w", err)
	}
	tag := r.Tag(c.Tag())
	if err := remote.Write(tag, c.Image, opts...); err != nil {
		return name.Tag{}, fmt.Errorf("push chart %s: %w", tag, err)
	}
	return tag, nil
}

package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"sigs.k8s.io/yaml"
)

// The media types of a Helm chart in an OCI registry (what `helm push`
// writes and `helm pull` and `helm install oci://` read).
const (
	ChartConfigMediaType  = "application/vnd.cncf.helm.config.v1+json"
	ChartContentMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// Chart is a packaged Helm chart (`helm package`'s .tgz) as an OCI
// artifact.
type Chart struct {
	Name, Version string
	Image         v1.Image
}

// Tag is the chart's tag in a registry: its version, "+" written "_"
// (helm's own convention, since a tag cannot hold "+").
func (c Chart) Tag() string { return strings.ReplaceAll(c.Version, "+", "_") }

// ChartArtifact reads the Chart.yaml of a packaged chart and returns the
// artifact `helm push` would: config is the chart's metadata as JSON, the
// one layer is the archive, annotated with the chart's name, version and
// description and created at epoch.
func ChartArtifact(tgz []byte, epoch time.Time) (Chart, error) {
	raw, err := chartYAML(tgz)
	if err != nil {
		return Chart{}, err
	}
	var meta struct {
		Name        string `json:"name"`
		Version     string `json:"version"`
		Description string `json:"description"`
		Home        string `json:"home"`
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return Chart{}, fmt.Errorf("chart: Chart.yaml: %w", err)
	}
	if meta.Name == "" || meta.Version == "" {
		return Chart{}, errors.New("chart: Chart.yaml: name or version missing")
	}
	config, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return Chart{}, fmt.Errorf("chart: Chart.yaml: %w", err)
	}
	ann := map[string]string{
		"org.opencontainers.image.title":       meta.Name,
		"org.opencontainers.image.version":     meta.Version,
		"org.opencontainers.image.description": meta.Description,
		LabelCreated:                           epoch.UTC().Format(time.RFC3339),
	}
	if meta.Home != "" {
		ann["org.opencontainers.image.url"] = meta.Home
	}
	img, err := Artifact{
		Config:      &Blob{MediaType: ChartConfigMediaType, Data: config},
		Blobs:       []Blob{{MediaType: ChartContentMediaType, Data: tgz}},
		Annotations: ann,
	}.Image()
	if err != nil {
		return Chart{}, err
	}
	return Chart{Name: meta.Name, Version: meta.Version, Image: img}, nil
}

// chartYAML returns <chart>/Chart.yaml of a chart archive.
func chartYAML(tgz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("chart archive: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, errors.New("chart archive: no <chart>/Chart.yaml")
		}
		if err != nil {
			return nil, fmt.Errorf("chart archive: %w", err)
		}
		if dir, file := path.Split(h.Name); file == "Chart.yaml" && strings.Count(dir, "/") == 1 {
			return io.ReadAll(io.LimitReader(tr, 1<<20))
		}
	}
}

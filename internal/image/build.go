package image

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Label keys of the OCI image spec the image carries (as config labels and
// index annotations).
const (
	LabelVersion  = "org.opencontainers.image.version"
	LabelCreated  = "org.opencontainers.image.created"
	LabelRevision = "org.opencontainers.image.revision"
)

// DefaultPlatforms are the platforms of the release image.
var DefaultPlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// Config says what Build builds.
type Config struct {
	// Root is the module root, holding the Dockerfile. Required.
	Root string
	// Version is the Dockerfile's ${VERSION}: the binaries' main.version
	// and the version label. Required.
	Version string
	// Revision is the source's commit (the revision label). Default: none.
	Revision string
	// Epoch dates every file, the image configs and the SBOMs. Default:
	// the Unix epoch (0).
	Epoch time.Time
	// Platforms to build. Default: DefaultPlatforms.
	Platforms []v1.Platform
	// BinDir receives the binaries, one folder per platform
	// (<os>_<arch>). Required.
	BinDir string
	// Env is go build's environment, to which Build adds the Dockerfile's
	// ENV, CGO_ENABLED=0, GOOS and GOARCH. Default (nil): the process's.
	Env []string
	// Go is the go command. Default: "go".
	Go string
}

func (c Config) withDefaults() Config {
	if c.Epoch.IsZero() {
		c.Epoch = time.Unix(0, 0)
	}
	c.Epoch = c.Epoch.UTC()
	if len(c.Platforms) == 0 {
		c.Platforms = DefaultPlatforms
	}
	if c.Env == nil {
		c.Env = os.Environ()
	}
	if c.Go == "" {
		c.Go = "go"
	}
	return c
}

// Validate names each missing field.
func (c Config) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("root: empty"))
	}
	if c.Version == "" {
		errs = append(errs, errors.New("version: empty"))
	}
	if c.BinDir == "" {
		errs = append(errs, errors.New("bin dir: empty"))
	}
	return errors.Join(errs...)
}

// Result is what Build built.
type Result struct {
	// Index holds one image per platform.
	Index v1.ImageIndex
	// SBOMs are CycloneDX artifacts, one per platform image, each naming
	// that image as its subject (an OCI referrer).
	SBOMs []v1.Image
}

// Build cross-compiles the Dockerfile's packages with its flags for each
// platform (CGO_ENABLED=0) and assembles the image index and the SBOMs.
func Build(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, fmt.Errorf("image config: %w", err)
	}
	cfg = cfg.withDefaults()
	df, err := ParseDockerfile(filepath.Join(cfg.Root, "Dockerfile"))
	if err != nil {
		return Result{}, err
	}
	bins := make([]map[string]string, len(cfg.Platforms))
	for i, p := range cfg.Platforms {
		dir := filepath.Join(cfg.BinDir, p.OS+"_"+p.Architecture)
		if err := goBuild(ctx, cfg, df, p, dir); err != nil {
			return Result{}, err
		}
		bins[i] = map[string]string{}
		for _, b := range df.Binaries {
			bins[i][b] = filepath.Join(dir, path.Base(b))
		}
	}
	return Assemble(cfg, df, bins)
}

// Assemble builds the image index and the SBOMs from binaries already
// built: bins[i] maps each of df.Binaries to its file for
// cfg.Platforms[i].
func Assemble(cfg Config, df Dockerfile, bins []map[string]string) (Result, error) {
	cfg = cfg.withDefaults()
	if len(bins) != len(cfg.Platforms) {
		return Result{}, fmt.Errorf("image: %d platforms, binaries for %d", len(cfg.Platforms), len(bins))
	}
	for i, p := range cfg.Platforms {
		for _, b := range df.Binaries {
			if bins[i][b] == "" {
				return Result{}, fmt.Errorf("image %s: no file for %s", p, b)
			}
		}
	}
	labels := cfg.labels(df)
	base, err := Layer(baseFiles(), cfg.Epoch)
	if err != nil {
		return Result{}, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var res Result
	for i, p := range cfg.Platforms {
		img, err := platformImage(cfg, df, labels, p, base, bins[i])
		if err != nil {
			return Result{}, fmt.Errorf("image %s: %w", p, err)
		}
		sbom, err := SBOM(img, bins[i], cfg.Version, cfg.Epoch)
		if err != nil {
			return Result{}, fmt.Errorf("sbom %s: %w", p, err)
		}
		res.SBOMs = append(res.SBOMs, sbom)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	res.Index = mutate.Annotations(idx, labels).(v1.ImageIndex)
	return res, nil
}

// labels are the Dockerfile's labels, expanded, with the creation time and
// the revision.
func (c Config) labels(df Dockerfile) map[string]string {
	l := maps.Clone(df.Labels)
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range l {
		l[k] = expandVersion(v, c.Version)
	}
	l[LabelVersion] = c.Version
	l[LabelCreated] = c.Epoch.Format(time.RFC3339)
	if c.Revision != "" {
		l[LabelRevision] = c.Revision
	}
	return l
}

// goBuild runs the Dockerfile's go build for one platform into dir.
func goBuild(ctx context.Context, cfg Config, df Dockerfile, p v1.Platform, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	args := []string{"build"}
	for _, f := range df.BuildFlags {
		args = append(args, expandVersion(f, cfg.Version))
	}
	args = append(append(args, "-o", dir+string(filepath.Separator)), df.Packages...)
	cmd := exec.CommandContext(ctx, cfg.Go, args...)
	cmd.Dir = cfg.Root
	cmd.Env = append(append(append([]string(nil), cfg.Env...), df.BuildEnv...),
		"CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: go %s: %w\n%s", p, strings.Join(args, " "), err, out)
	}
	return nil
}

// platformImage is one platform's image: the base layer, the binaries
// (0755, root) in another, and the final stage's user, entrypoint and
// labels.
func platformImage(cfg Config, df Dockerfile, labels map[string]string, p v1.Platform, base v1.Layer, bins map[string]string) (v1.Image, error) {
	var files []File
	for _, b := range df.Binaries {
		data, err := os.ReadFile(bins[b])
		if err != nil {
			return nil, fmt.Errorf("read binary: %w", err)
		}
		files = append(files, File{Path: b, Data: data, Mode: 0o755})
	}
	app, err := Layer(files, cfg.Epoch)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: cfg.Epoch}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "distroless static nonroot: users, CA bundle, /tmp", Comment: "base"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: created, CreatedBy: "COPY " + strings.Join(df.Binaries, " ")}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = created
	cf.Config = v1.Config{
		User: df.User, Entrypoint: df.Entrypoint, Env: baseEnv, WorkingDir: homeDir, Labels: labels,
	}
	return mutate.ConfigFile(img, cf)
}

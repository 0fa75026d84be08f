package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"wisp.dev/wisp/internal/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newCommand(os.Getenv).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wisp-release:", err)
		os.Exit(1)
	}
}

func newCommand(getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:           "wisp-release",
		Short:         "Build wisp's image index and SBOMs without Docker, and push them and the chart",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newImageCommand(getenv), newPushCommand(getenv))
	return root
}

func newImageCommand(getenv func(string) string) *cobra.Command {
	var out, binDir, tag string
	cfg := image.Config{Root: "."}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the image index (linux/amd64, linux/arm64) and its SBOMs into an OCI layout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			epoch, err := sourceDateEpoch(getenv("SOURCE_DATE_EPOCH"))
			if err != nil {
				return err
			}
			cfg.Epoch = epoch
			if binDir == "" {
				binDir = filepath.Join(filepath.Dir(out), "release")
			}
			cfg.BinDir = binDir
			if tag == "" {
				tag = cfg.Version
			}
			res, err := image.Build(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := image.WriteLayout(out, res, tag); err != nil {
				return err
			}
			return describe(cmd.OutOrStdout(), out, tag, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "bin/image", "the OCI layout folder to write (replaced)")
	f.StringVar(&binDir, "bin-dir", "", "where the binaries are built, one folder per platform (default: release/ beside --out)")
	f.StringVar(&cfg.Root, "root", cfg.Root, "the module root, holding the Dockerfile")
	f.StringVar(&cfg.Version, "version", "", "the version: the binaries' main.version and the image's version label")
	f.StringVar(&tag, "tag", "", "the index's tag in the layout and in the registry (default: --version)")
	f.StringVar(&cfg.Revision, "revision", "", "the source's commit (org.opencontainers.image.revision)")
	_ = cmd.MarkFlagRequired("version")
	return cmd
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH (seconds since 1970); empty is 0.
func sourceDateEpoch(s string) (time.Time, error) {
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// describe prints the index, its platforms and the SBOMs.
func describe(w io.Writer, out, tag string, res image.Result) error {
	d, err := res.Index.Digest()
	if err != nil {
		return err
	}
	im, err := res.Index.IndexManifest()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: index %s (tag %s)\n", out, d, tag)
	for i, m := range im.Manifests {
		s, err := res.SBOMs[i].Digest()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s: image %s, sbom %s\n", m.Platform, m.Digest, s)
	}
	return nil
}

func newPushCommand(getenv func(string) string) *cobra.Command {
	var registry, layoutDir, chartFile string
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Push the image index, its SBOMs and the chart to a registry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			epoch, err := sourceDateEpoch(getenv("SOURCE_DATE_EPOCH"))
			if err != nil {
				return err
			}
			return push(cmd.Context(), cmd.OutOrStdout(), registry, layoutDir, chartFile, epoch)
		},
	}
	f := cmd.Flags()
	f.StringVar(&registry, "registry", "", "HOST/PATH: the image goes to HOST/PATH/wisp, the chart to HOST/PATH/charts")
	f.StringVar(&layoutDir, "layout", "bin/image", "the OCI layout `wisp-release image` wrote")
	f.StringVar(&chartFile, "chart", "", "the chart archive `helm package` wrote (default: push no chart)")
	_ = cmd.MarkFlagRequired("registry")
	return cmd
}

// push pushes the layout and the chart (dated epoch) under registry.
func push(ctx context.Context, w io.Writer, registry, layoutDir, chartFile string, epoch time.Time) error {
	opts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	repo, err := name.NewRepository(registry + "/wisp")
	if err != nil {
		return fmt.Errorf("--registry %q: %w", registry, err)
	}
	l, err := image.ReadLayout(layoutDir)
	if err != nil {
		return err
	}
	d, err := image.Push(ctx, l, repo, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "pushed %s:%s (%s) and %d SBOMs\n", repo, l.Tag, d.DigestStr(), len(l.SBOMs))
	if chartFile == "" {
		return nil
	}
	tgz, err := os.ReadFile(chartFile)
	if err != nil {
		return fmt.Errorf("read chart: %w", err)
	}
	c, err := image.ChartArtifact(tgz, epoch)
	if err != nil {
		return err
	}
	charts, err := name.NewRepository(registry + "/charts")
	if err != nil {
		return fmt.Errorf("--registry %q: %w", registry, err)
	}
	tag, err := image.PushChart(ctx, c, charts, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "pushed chart %s (helm install ... oci://%s --version %s)\n", tag, tag.Context(), c.Version)
	return nil
}

package chart

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"wisp.dev/wisp/internal/image"
	"wisp.dev/wisp/mutate"
)

const repoRoot = "../.."

// dockerBuild is the `go build` of the Dockerfile's build stage.
type dockerBuild struct {
	env      []string // ENV lines of the build stage, KEY=value
	flags    []string // flags, ${VERSION} unexpanded
	packages []string
}

// parseDockerfile reads the Dockerfile with the parser `make image` builds
// the release image with, so the two cannot drift.
func parseDockerfile(t *testing.T) dockerBuild {
	t.Helper()
	d, err := image.ParseDockerfile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return dockerBuild{env: d.BuildEnv, flags: d.BuildFlags, packages: d.Packages}
}

// TestDockerfileImage: the final stage's files, user and entrypoint, which
// the node tests' image copies; the injected init container's command is
// one of its binaries.
func TestDockerfileImage(t *testing.T) {
	t.Parallel()
	d, err := image.ParseDockerfile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/wisp-webhook", "/wisp-fetch", "/usr/local/bin/wisp"}, d.Binaries); diff != "" {
		t.Errorf("image files (-want +got):\n%s", diff)
	}
	// The folders the injected container mounts volumes at must not be
	// files of the image (a file at /wisp makes runc fail to mount
	// /wisp/secrets: "not a directory").
	for _, b := range d.Binaries {
		for _, dir := range []string{mutate.FetchSecretsDir, mutate.ShimDir} {
			if b == dir || strings.HasPrefix(dir, b+"/") {
				t.Errorf("image file %s is in the way of the mount at %s", b, dir)
			}
		}
	}
	if d.User != "65532:65532" || !cmp.Equal(d.Entrypoint, []string{"/wisp-webhook"}) {
		t.Errorf("user %q entrypoint %v, want 65532:65532 [/wisp-webhook]", d.User, d.Entrypoint)
	}
	if !slices.Contains(d.Binaries, mutate.FetchCommand) {
		t.Errorf("the injected command %s is not in the image %v", mutate.FetchCommand, d.Binaries)
	}
}

// TestDockerfileBuild builds every binary of the image with the Dockerfile's
// own flags and environment, and checks that they are static and carry the
// version.
func TestDockerfileBuild(t *testing.T) {
	b := parseDockerfile(t)
	wantPkgs := []string{"./cmd/wisp-webhook", "./cmd/wisp-fetch", "./cmd/wisp"}
	if diff := cmp.Diff(wantPkgs, b.packages); diff != "" {
		t.Errorf("the Dockerfile builds (-want +got):\n%s", diff)
	}
	if !slices.Contains(b.env, "CGO_ENABLED=0") {
		t.Errorf("the build stage's ENV %v lacks CGO_ENABLED=0", b.env)
	}
	version := fmt.Sprintf("v0.0.0-dockerfile-test-%d", time.Now().UnixNano())
	var flags []string
	for _, f := range b.flags {
		flags = append(flags, strings.NewReplacer("${VERSION}", version, "$VERSION", version).Replace(f))
	}
	if !slices.Contains(flags, "-trimpath") || !slices.ContainsFunc(flags, func(f string) bool { return strings.Contains(f, "-X main.version="+version) }) {
		t.Errorf("flags %q: want -trimpath and -X main.version=${VERSION}", b.flags)
	}

	out := t.TempDir()
	args := append(append([]string{"build"}, flags...), "-o", out+string(filepath.Separator))
	cmd := exec.Command("go", append(args, b.packages...)...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), b.env...)
	start := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, msg)
	}
	t.Logf("built %v with the Dockerfile's flags in %s", b.packages, time.Since(start).Round(time.Millisecond))
	for _, p := range b.packages {
		bin := filepath.Join(out, filepath.Base(p))
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if !bytes.Contains(data, []byte(version)) {
			t.Errorf("%s: the binary does not carry the version set by -X main.version", p)
		}
		f, err := elf.Open(bin)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
				t.Errorf("%s: dynamically linked (%s); the distroless static image needs a static binary", p, prog.Type)
			}
		}
		if f.Section(".symtab") != nil {
			t.Errorf("%s: has a symbol table; -ldflags -s strips it", p)
		}
		f.Close()
	}
}

// TestMakefileBuildFlags keeps `make build` and the Dockerfile in step.
func TestMakefileBuildFlags(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^BUILD_FLAGS\s*:?=\s*(.*)$`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatal("the Makefile has no BUILD_FLAGS")
	}
	words, err := image.ShellWords(strings.ReplaceAll(m[1], "$(VERSION)", "${VERSION}"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(parseDockerfile(t).flags, words); diff != "" {
		t.Errorf("Makefile BUILD_FLAGS differ from the Dockerfile's go build flags (-Dockerfile +Makefile):\n%s", diff)
	}
}

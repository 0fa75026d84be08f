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
)

const repoRoot = "../.."

// dockerBuild is the `go build` of the Dockerfile's build stage.
type dockerBuild struct {
	env      []string // ENV lines of the build stage, KEY=value
	flags    []string // flags, ${VERSION} unexpanded
	packages []string
}

// parseDockerfile finds the RUN go build line of the Dockerfile and the ENV
// lines before it, joining continuation lines.
func parseDockerfile(t *testing.T) dockerBuild {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var b dockerBuild
	found := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "FROM ") && found:
			return b
		case strings.HasPrefix(line, "ENV "):
			b.env = append(b.env, strings.Fields(strings.TrimPrefix(line, "ENV "))...)
		case strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build"):
			if found {
				t.Fatal("the Dockerfile has two go build lines; the test reads one")
			}
			found = true
			words, err := shellWords(strings.SplitN(line, "go build", 2)[1])
			if err != nil {
				t.Fatalf("Dockerfile go build line: %v", err)
			}
			for i := 0; i < len(words); i++ {
				w := words[i]
				switch {
				case w == "-o":
					i++ // the output folder is the test's own
				case strings.HasPrefix(w, "./"):
					b.packages = append(b.packages, w)
				case w == "-ldflags" || w == "-tags" || w == "-gcflags":
					b.flags = append(b.flags, w, words[i+1])
					i++
				default:
					b.flags = append(b.flags, w)
				}
			}
		}
	}
	if !found {
		t.Fatal("the Dockerfile has no RUN go build line")
	}
	return b
}

// shellWords splits s like a POSIX shell does for plain words and double
// quotes (no expansion), which is all the Dockerfile's build line uses.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			inWord = true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case (r == '&' || r == ';' || r == '|') && !quoted:
			return nil, fmt.Errorf("a shell operator follows go build; the test reads a single command")
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestDockerfileBuild builds every binary of the image with the Dockerfile's
// own flags and environment, and checks that they are static and carry the
// version.
func TestDockerfileBuild(t *testing.T) {
	b := parseDockerfile(t)
	wantPkgs := []string{"./cmd/wisp-webhook", "./cmd/wisp-fetch"}
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
	words, err := shellWords(strings.ReplaceAll(m[1], "$(VERSION)", "${VERSION}"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(parseDockerfile(t).flags, words); diff != "" {
		t.Errorf("Makefile BUILD_FLAGS differ from the Dockerfile's go build flags (-Dockerfile +Makefile):\n%s", diff)
	}
}

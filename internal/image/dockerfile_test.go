package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseProjectDockerfile: what the project's Dockerfile says its image
// holds.
func TestParseProjectDockerfile(t *testing.T) {
	t.Parallel()
	d, err := ParseDockerfile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	want := Dockerfile{
		Binaries:   []string{"/wisp-webhook", "/wisp-fetch", "/usr/local/bin/wisp"},
		User:       "65532:65532",
		Entrypoint: []string{"/wisp-webhook"},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "wisp",
			"org.opencontainers.image.description": "wisp: workload identity secrets provisioner for Kubernetes (webhook, fetcher and CLI)",
			"org.opencontainers.image.version":     "${VERSION}",
		},
		BuildFlags: []string{"-trimpath", "-ldflags", "-s -w -X main.version=${VERSION}"},
		Packages:   []string{"./cmd/wisp-webhook", "./cmd/wisp-fetch", "./cmd/wisp"},
		BuildEnv:   []string{"CGO_ENABLED=0"},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseDockerfile(t *testing.T) {
	t.Parallel()
	const ok = "FROM golang AS build\nLABEL stage=build\nENV CGO_ENABLED=0\nRUN go build -o /out/ ./cmd/a\n" +
		"FROM scratch\nLABEL a=\"x y\" \\\n  b=${VERSION}\nCOPY --from=build /out/a /\nUSER 1:1\nENTRYPOINT [\"/a\"]\n"
	tests := []struct {
		name, file string
		labels     map[string]string
		err        string
	}{
		{name: "labels of the final stage only", file: ok, labels: map[string]string{"a": "x y", "b": "${VERSION}"}},
		{name: "two go builds", file: ok + "RUN go build ./cmd/b\n", err: "two go build lines"},
		{name: "shell form entrypoint", file: strings.Replace(ok, `["/a"]`, "/a", 1), err: "ENTRYPOINT: want the exec (JSON) form"},
		{name: "label without value", file: strings.Replace(ok, "b=${VERSION}", "b", 1), err: `LABEL: "b": want key=value`},
		{name: "no user", file: strings.Replace(ok, "USER 1:1\n", "", 1), err: "want a go build, COPY --from, USER and ENTRYPOINT"},
		{name: "shell operator", file: strings.Replace(ok, "./cmd/a", "./cmd/a && rm -rf /", 1), err: "shell operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := filepath.Join(t.TempDir(), "Dockerfile")
			if err := os.WriteFile(f, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := ParseDockerfile(f)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.labels, d.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShellWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: `-trimpath -ldflags "-s -w -X main.version=${VERSION}"`, want: []string{"-trimpath", "-ldflags", "-s -w -X main.version=${VERSION}"}},
		{in: `a="x y"  b`, want: []string{"a=x y", "b"}},
		{in: `""`, want: []string{""}},
		{in: `"open`, err: true},
		{in: `a; b`, err: true},
	}
	for _, tt := range tests {
		got, err := ShellWords(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("%q: err %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.in, diff)
		}
	}
}

package image

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
)

// Dockerfile is what the project's Dockerfile says: how its build stage
// builds the binaries and what its final stage holds.
type Dockerfile struct {
	// Binaries are the image paths of the files copied from the build
	// stage, e.g. /wisp-webhook.
	Binaries   []string
	User       string
	Entrypoint []string
	// Labels are the final stage's LABELs, ${VERSION} unexpanded.
	Labels map[string]string
	// BuildFlags are the `go build` flags of the build stage, ${VERSION}
	// unexpanded.
	BuildFlags []string
	// Packages are the packages the build stage builds, e.g. ./cmd/wisp-fetch.
	Packages []string
	// BuildEnv are the build stage's ENV settings (KEY=value) before its
	// go build.
	BuildEnv []string
}

// ParseDockerfile reads a Dockerfile like the project's: `RUN go build
// <flags> -o /out/ <packages>`, `COPY --from=build /out/<bin>... <dest>`,
// `LABEL`, `USER`, `ENTRYPOINT [...]`.
func ParseDockerfile(file string) (Dockerfile, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Dockerfile{}, fmt.Errorf("read Dockerfile: %w", err)
	}
	var d Dockerfile
	for _, l := range instructions(b) {
		if err := d.apply(l); err != nil {
			return d, fmt.Errorf("Dockerfile %s: %w", file, err)
		}
	}
	if len(d.Binaries) == 0 || d.User == "" || len(d.Entrypoint) == 0 || len(d.Packages) == 0 {
		return d, fmt.Errorf("Dockerfile %s: want a go build, COPY --from, USER and ENTRYPOINT; got %+v", file, d)
	}
	return d, nil
}

// instructions are the Dockerfile's lines without comments, continuation
// lines joined.
func instructions(b []byte) []string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	var cont string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cont += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		lines = append(lines, cont+l)
		cont = ""
	}
	return lines
}

// apply adds what one instruction says to d.
func (d *Dockerfile) apply(l string) error {
	f := strings.Fields(l)
	if len(f) == 0 {
		return nil
	}
	switch strings.ToUpper(f[0]) {
	case "FROM":
		d.Labels = nil // a label of an earlier stage is not the image's
	case "ENV":
		if len(d.Packages) == 0 {
			d.BuildEnv = append(d.BuildEnv, f[1:]...)
		}
	case "RUN":
		if len(f) > 2 && f[1] == "go" && f[2] == "build" {
			return d.goBuild(strings.Join(f[3:], " "))
		}
	case "COPY":
		if len(f) > 3 && strings.HasPrefix(f[1], "--from=") {
			dest := f[len(f)-1]
			for _, src := range f[2 : len(f)-1] {
				d.Binaries = append(d.Binaries, path.Join(dest, path.Base(src)))
			}
		}
	case "LABEL":
		return d.label(strings.TrimSpace(l[len(f[0]):]))
	case "USER":
		if len(f) > 1 {
			d.User = f[1]
		}
	case "ENTRYPOINT":
		if err := json.Unmarshal([]byte(strings.TrimSpace(l[len(f[0]):])), &d.Entrypoint); err != nil {
			return fmt.Errorf("ENTRYPOINT: want the exec (JSON) form: %w", err)
		}
	}
	return nil
}

// goBuild reads the arguments of the build stage's go build.
func (d *Dockerfile) goBuild(line string) error {
	if len(d.Packages) > 0 {
		return errors.New("two go build lines; one is expected")
	}
	args, err := ShellWords(line)
	if err != nil {
		return fmt.Errorf("go build line: %w", err)
	}
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-o" && i+1 < len(args):
			i++ // the output folder is the caller's own
		case strings.HasPrefix(args[i], "./"):
			d.Packages = append(d.Packages, args[i])
		case (args[i] == "-ldflags" || args[i] == "-tags" || args[i] == "-gcflags") && i+1 < len(args):
			d.BuildFlags = append(d.BuildFlags, args[i], args[i+1])
			i++
		default:
			d.BuildFlags = append(d.BuildFlags, args[i])
		}
	}
	return nil
}

// label reads `LABEL key="value" ...`.
func (d *Dockerfile) label(rest string) error {
	words, err := ShellWords(rest)
	if err != nil {
		return fmt.Errorf("LABEL: %w", err)
	}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return fmt.Errorf("LABEL: %q: want key=value", w)
		}
		if d.Labels == nil {
			d.Labels = map[string]string{}
		}
		d.Labels[k] = v
	}
	return nil
}

// ShellWords splits s like a POSIX shell does for plain words and double
// quotes (no expansion), which is all the Dockerfile's build line and the
// Makefile's flags use; a shell operator is an error.
func ShellWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQ, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQ, have = !inQ, true
		case (r == ' ' || r == '\t') && !inQ:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		case (r == '&' || r == ';' || r == '|') && !inQ:
			return nil, errors.New("a shell operator follows go build; a single command is expected")
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQ {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}

// expandVersion replaces ${VERSION} and $VERSION in s.
func expandVersion(s, version string) string {
	return strings.NewReplacer("${VERSION}", version, "$VERSION", version).Replace(s)
}

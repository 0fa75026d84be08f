package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// module is the project's module path.
const module = "wisp.dev/wisp"

// Layers are the project's rooms, top floor first. A package may import a
// package of a lower floor, or one of its own room (a room is a folder and
// everything below it); never one of its own floor's other rooms, never one
// above. internal/ is the ground floor: leaves, which import nothing of the
// project's.
var Layers = [][]string{
	{"cmd", "test"},
	{"webhook", "scan", "setup"},
	{"config"},
	{"policy", "mutate", "certs", "fetch"},
	{"plan"},
	{"internal/expansion", "internal/image", "internal/memo", "internal/metrics", "internal/workload"},
}

// room is the room of a package path relative to the module (e.g.
// "fetch/envshim" is in room "fetch"), and its floor; ok is false for a path
// no room holds.
func room(rel string) (name string, floor int, ok bool) {
	best := ""
	floor = -1
	for f, rooms := range Layers {
		for _, r := range rooms {
			if (rel == r || strings.HasPrefix(rel, r+"/")) && len(r) > len(best) {
				best, floor = r, f
			}
		}
	}
	return best, floor, floor >= 0
}

// imports lists, for each package folder below root (relative, slash
// separated), the project's packages its non-test files import.
func imports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		for _, s := range f.Imports {
			p, _ := strconv.Unquote(s.Path.Value)
			if dep, ok := strings.CutPrefix(p, module+"/"); ok {
				out[rel] = append(out[rel], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the packages: %v", err)
	}
	return out
}

func TestImportsPointDown(t *testing.T) {
	graph := imports(t, "../..")
	pkgs := make([]string, 0, len(graph))
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		from, ff, ok := room(p)
		if !ok {
			t.Errorf("package %s is in no room of Layers: add it to a floor", p)
			continue
		}
		for _, dep := range graph[p] {
			to, tf, ok := room(dep)
			switch {
			case !ok:
				t.Errorf("%s imports %s, which is in no room of Layers", p, dep)
			case to == from:
				// One room may hold several packages.
			case strings.HasPrefix(from, "internal/"):
				t.Errorf("%s imports %s: internal/ holds leaves, which import nothing of the project", p, dep)
			case tf == ff:
				t.Errorf("%s imports %s: rooms of one floor (%s, %s) do not import each other", p, dep, from, to)
			case tf < ff:
				t.Errorf("%s imports %s: an import runs up, from floor %d (%s) to floor %d (%s)", p, dep, ff, from, tf, to)
			}
		}
	}
}

// maxFuncLines is the longest function the admission path's packages may
// hold, from its signature to its closing brace.
const maxFuncLines = 80

func TestFunctionsAreShort(t *testing.T) {
	fset := token.NewFileSet()
	for _, dir := range []string{"mutate", "policy", "webhook", "plan"} {
		files, err := filepath.Glob(filepath.Join("../..", dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
			if err != nil {
				t.Fatalf("parse %s: %v", path, err)
			}
			if ast.IsGenerated(f) {
				continue
			}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok {
					continue
				}
				if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLines {
					t.Errorf("%s/%s: %s is %d lines, more than %d: split it", dir, filepath.Base(path), fd.Name.Name, n, maxFuncLines)
				}
			}
		}
	}
}

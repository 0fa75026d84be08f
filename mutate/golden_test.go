package mutate_test

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/mutate"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/inject")

const (
	goldenDir    = "testdata/inject"
	goldenSuffix = ".golden.yaml"
)

// goldenInputs lists the input pods of testdata/inject (every *.yaml that is
// not a golden file), sorted, and fails the test on any golden file without
// its input.
func goldenInputs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatalf("list golden inputs: %v", err)
	}
	inputs := map[string]bool{}
	var goldens []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
		case strings.HasSuffix(name, goldenSuffix):
			goldens = append(goldens, name)
		case strings.HasSuffix(name, ".yaml"):
			inputs[name] = true
		}
	}
	for _, g := range goldens {
		in := strings.TrimSuffix(g, goldenSuffix) + ".yaml"
		if !inputs[in] {
			t.Errorf("orphan golden file %s: its input %s does not exist; delete the golden file or restore the input",
				filepath.Join(goldenDir, g), in)
		}
	}
	list := make([]string, 0, len(inputs))
	for in := range inputs {
		list = append(list, in)
	}
	sort.Strings(list)
	if len(list) == 0 {
		t.Fatalf("no input in %s: the golden test would check nothing", goldenDir)
	}
	return list
}

// goldenConfigPrefix starts a line of a golden input's leading comment that
// sets the injection config of that case, e.g.
//
//	# config: {vaultAgentAnnotations: true}
//
// The rest of the line is YAML decoded strictly into a mutate.Config. Inputs
// without such a line use mutate.Config{}, the built-in defaults.
const goldenConfigPrefix = "# config:"

// goldenConfig returns the injection config of the golden input at path.
func goldenConfig(t testing.TB, path string) mutate.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden input: %v", err)
	}
	var cfg mutate.Config
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			break // only the leading comment is read
		}
		rest, ok := strings.CutPrefix(line, goldenConfigPrefix)
		if !ok {
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(rest), &cfg); err != nil {
			t.Fatalf("%s: bad %q line: %v", path, goldenConfigPrefix, err)
		}
	}
	return cfg
}

// TestGolden injects every pod of testdata/inject with the built-in defaults
// (or the config of its "# config:" line) and compares the result with
// <case>.golden.yaml. Run
// `go test ./mutate -update` to rewrite the golden files, then review the diff.
func TestGolden(t *testing.T) {
	for _, in := range goldenInputs(t) {
		name := strings.TrimSuffix(in, ".yaml")
		t.Run(name, func(t *testing.T) {
			pod := readPod(t, filepath.Join(goldenDir, in))
			out, _, err := mutate.Inject(pod, goldenConfig(t, filepath.Join(goldenDir, in)))
			if err != nil {
				t.Fatalf("Inject denied a golden input (denials are tested in inject_test.go): %v", err)
			}
			got, err := yaml.Marshal(out)
			if err != nil {
				t.Fatalf("encode injected pod: %v", err)
			}
			golden := filepath.Join(goldenDir, name+goldenSuffix)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatalf("update golden file: %v", err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if os.IsNotExist(err) {
				t.Fatalf("golden file %s is missing; run `go test ./mutate -update` and review it", golden)
			}
			if err != nil {
				t.Fatalf("read golden file: %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("injected pod differs from %s (-want +got):\n%s\nIf the change is intended, run `go test ./mutate -update` and review the diff.", golden, diff)
			}
		})
	}
}

// TestGoldenIdempotent checks, on every golden input, that Inject leaves its
// input alone, is deterministic, and that injecting an injected pod changes
// nothing (webhook reinvocation, kubectl re-apply).
func TestGoldenIdempotent(t *testing.T) {
	for _, in := range goldenInputs(t) {
		t.Run(strings.TrimSuffix(in, ".yaml"), func(t *testing.T) {
			t.Parallel()
			pod := readPod(t, filepath.Join(goldenDir, in))
			cfg := goldenConfig(t, filepath.Join(goldenDir, in))
			before := pod.DeepCopy()

			first, res1, err := mutate.Inject(pod, cfg)
			if err != nil {
				t.Fatalf("first Inject: %v", err)
			}
			if diff := cmp.Diff(before, pod); diff != "" {
				t.Fatalf("Inject modified its input pod (-before +after):\n%s", diff)
			}
			again, _, err := mutate.Inject(pod, cfg)
			if err != nil {
				t.Fatalf("Inject on the same input again: %v", err)
			}
			if diff := cmp.Diff(first, again); diff != "" {
				t.Errorf("Inject is not deterministic: two calls on one input differ (-first +second):\n%s", diff)
			}

			firstCopy := first.DeepCopy()
			second, res2, err := mutate.Inject(first, cfg)
			if err != nil {
				t.Fatalf("Inject of the injected pod: %v", err)
			}
			wantRes := res1
			if res1 == mutate.Injected {
				wantRes = mutate.AlreadyInjected
			}
			if res2 != wantRes {
				t.Errorf("Inject(Inject(pod)) result = %v, want %v (first call said %v)", res2, wantRes, res1)
			}
			if diff := cmp.Diff(first, second); diff != "" {
				t.Errorf("Inject(Inject(pod)) != Inject(pod) (-once +twice):\n%s", diff)
			}
			if diff := cmp.Diff(firstCopy, first); diff != "" {
				t.Errorf("the second Inject modified its input, the injected pod (-before +after):\n%s", diff)
			}
		})
	}
}

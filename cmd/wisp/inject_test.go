package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/mutate"
)

const examples = "../../examples/"

// wisp runs the command line with stdin and returns its exit code and output.
func wisp(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const configMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-a
data:
  # kept as written, comment included
  LOG_LEVEL: debug
`

func TestInject(t *testing.T) {
	t.Parallel()
	pod := readFile(t, examples+"pod.yaml")
	deployment := readFile(t, examples+"deployment.yaml")
	plain := readFile(t, examples+"plain-pod.yaml")
	bad := readFile(t, examples+"bad-pod.yaml")

	injected := []string{"name: wisp-fetch", "wisp.dev/status: injected", "name: wisp-secrets", "driver: csi.spiffe.io"}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout []string // substrings; an exit code other than 0 wants no output
		wantStderr []string // substrings; exit code 0 wants no message
		check      func(t *testing.T, stdout string)
	}{
		{
			name:       "pod example",
			args:       []string{"inject", "-f", examples + "pod.yaml"},
			wantStdout: injected,
			check: func(t *testing.T, stdout string) {
				assertInjectedLikeWebhook(t, stdout, pod)
			},
		},
		{
			name:       "pod example with the example config",
			args:       []string{"inject", "-f", examples + "pod.yaml", "--policy", examples + "policy.yaml"},
			wantStdout: injected,
			check: func(t *testing.T, stdout string) {
				// The example config lists the defaults.
				_, want, _ := wisp(t, "", "inject", "-f", examples+"pod.yaml")
				if diff := cmp.Diff(want, stdout); diff != "" {
					t.Errorf("output with the example config differs from the defaults' (-defaults +config):\n%s", diff)
				}
			},
		},
		{
			name:       "deployment example",
			args:       []string{"inject", "-f", examples + "deployment.yaml"},
			wantStdout: append(injected, "kind: Deployment", "replicas: 2"),
			check: func(t *testing.T, stdout string) {
				assertInjectedLikeWebhook(t, stdout, deployment)
				if strings.Contains(stdout, "creationTimestamp") || strings.Contains(stdout, "status: {}") ||
					strings.Contains(stdout, "strategy: {}") {
					t.Errorf("output has fields the input did not have:\n%s", stdout)
				}
			},
		},
		{
			name:  "plain pod passes through unchanged",
			args:  []string{"inject", "-f", examples + "plain-pod.yaml"},
			check: func(t *testing.T, stdout string) { assertSame(t, plain, stdout) },
		},
		{
			name:     "bad pod is denied",
			args:     []string{"inject", "-f", examples + "bad-pod.yaml"},
			wantCode: exitDenied,
			wantStderr: []string{
				"wisp: document 1 of " + examples + "bad-pod.yaml: Pod/bad: annotation wisp.dev/format-db: ",
				"wisp: document 1 of " + examples + "bad-pod.yaml: Pod/bad: annotation wisp.dev/role: ",
				"wisp: document 1 of " + examples + "bad-pod.yaml: Pod/bad: annotation wisp.dev/secret-../x: ",
			},
		},
		{
			name:       "stdin",
			args:       []string{"inject", "-f", "-"},
			stdin:      pod,
			wantStdout: injected,
			check: func(t *testing.T, stdout string) {
				_, want, _ := wisp(t, "", "inject", "-f", examples+"pod.yaml")
				assertSame(t, want, stdout)
			},
		},
		{
			name:       "multi-document input keeps order and passes a ConfigMap through",
			args:       []string{"inject", "-f", "-"},
			stdin:      pod + "---\n" + configMap + "---\n" + deployment,
			wantStdout: append(injected, "# kept as written, comment included"),
			check: func(t *testing.T, stdout string) {
				docs := strings.Split(stdout, "\n---\n")
				if len(docs) != 3 {
					t.Fatalf("got %d documents, want 3:\n%s", len(docs), stdout)
				}
				assertKind(t, docs[0], "Pod")
				assertSame(t, configMap, docs[1]+"\n")
				assertKind(t, docs[2], "Deployment")
				assertInjectedLikeWebhook(t, docs[0], pod)
				assertInjectedLikeWebhook(t, docs[2], deployment)
			},
		},
		{
			name:       "List items are injected one by one",
			args:       []string{"inject", "-f", "-"},
			stdin:      toList(t, pod, configMap, plain),
			wantStdout: append(injected, "kind: List"),
			check: func(t *testing.T, stdout string) {
				var got struct{ Items []map[string]any }
				if err := yaml.Unmarshal([]byte(stdout), &got); err != nil {
					t.Fatal(err)
				}
				if len(got.Items) != 3 {
					t.Fatalf("got %d items, want 3", len(got.Items))
				}
				assertInjectedLikeWebhook(t, toYAML(t, got.Items[0]), pod)
				assertSameObject(t, configMap, toYAML(t, got.Items[1]))
				assertSameObject(t, plain, toYAML(t, got.Items[2]))
			},
		},
		{
			name:       "JSON output of one document is the object",
			args:       []string{"inject", "-f", examples + "pod.yaml", "-o", "json"},
			wantStdout: []string{`"kind": "Pod"`, `"name": "wisp-fetch"`, `"wisp.dev/status": "injected"`},
			check: func(t *testing.T, stdout string) {
				assertInjectedLikeWebhook(t, stdout, pod)
				if strings.Contains(stdout, `\u003c`) || strings.Contains(stdout, `\u0026`) {
					t.Errorf("JSON output escapes HTML characters:\n%s", stdout)
				}
			},
		},
		{
			name:       "JSON output of several documents is a List",
			args:       []string{"inject", "-f", "-", "-o", "json"},
			stdin:      pod + "---\n" + configMap,
			wantStdout: []string{`"apiVersion": "v1",` + "\n" + `  "kind": "List",`},
			check: func(t *testing.T, stdout string) {
				var got struct{ Items []map[string]any }
				if err := yaml.Unmarshal([]byte(stdout), &got); err != nil {
					t.Fatal(err)
				}
				if len(got.Items) != 2 {
					t.Fatalf("got %d items, want 2", len(got.Items))
				}
				assertInjectedLikeWebhook(t, toYAML(t, got.Items[0]), pod)
				assertSameObject(t, configMap, toYAML(t, got.Items[1]))
			},
		},
		{
			name:       "JSON input",
			args:       []string{"inject", "-f", "-"},
			stdin:      `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}` + "\n" + toJSON(t, pod),
			wantStdout: append(injected, "name: a"),
			check: func(t *testing.T, stdout string) {
				docs := strings.Split(stdout, "\n---\n")
				if len(docs) != 2 {
					t.Fatalf("got %d documents, want 2:\n%s", len(docs), stdout)
				}
				assertInjectedLikeWebhook(t, docs[1], pod)
			},
		},
		{
			name:       "empty documents and comments are skipped",
			args:       []string{"inject", "-f", "-"},
			stdin:      "---\n# only a comment\n---\n---\n" + plain + "---\n",
			wantStdout: []string{"name: web"},
			check:      func(t *testing.T, stdout string) { assertSame(t, plain, stdout) },
		},
		{
			name:       "garbage document",
			args:       []string{"inject", "-f", "-"},
			stdin:      configMap + "---\n" + plain + "---\nkind: Pod\nmetadata: {name: [oops\n---\n" + configMap,
			wantCode:   exitInvalid,
			wantStderr: []string{"wisp: document 3 of stdin: "},
		},
		{
			name:       "garbage JSON",
			args:       []string{"inject", "-f", "-"},
			stdin:      `{"apiVersion": "v1", "kind": "ConfigMap"} {"apiVersion": `,
			wantCode:   exitInvalid,
			wantStderr: []string{"wisp: document 2 of stdin: decode JSON: "},
		},
		{
			name:       "document without a kind",
			args:       []string{"inject", "-f", "-"},
			stdin:      plain + "---\napiVersion: v1\nmetadata: {name: x}\n",
			wantCode:   exitInvalid,
			wantStderr: []string{"wisp: document 2 of stdin: not a Kubernetes object: kind is missing"},
		},
		{
			name:       "document that is not a mapping",
			args:       []string{"inject", "-f", "-"},
			stdin:      "- a\n- b\n",
			wantCode:   exitInvalid,
			wantStderr: []string{"wisp: document 1 of stdin: not a Kubernetes object: a list"},
		},
		{
			name:       "duplicate key",
			args:       []string{"inject", "-f", "-"},
			stdin:      "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    wisp.dev/role: a\n    wisp.dev/role: b\n",
			wantCode:   exitInvalid,
			wantStderr: []string{"wisp: document 1 of stdin: ", `"wisp.dev/role"`},
		},
		{
			name:       "workload without a pod template",
			args:       []string{"inject", "-f", "-"},
			stdin:      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n",
			wantCode:   exitInvalid,
			wantStderr: []string{"wisp: document 1 of stdin: Deployment/web: spec.template: no pod template"},
		},
		{
			name:     "bad pod in a List names the item",
			args:     []string{"inject", "-f", "-"},
			stdin:    toList(t, pod, bad),
			wantCode: exitDenied,
			wantStderr: []string{
				"wisp: document 1 of stdin: List item 2: Pod/bad: annotation wisp.dev/role: ",
				"wisp: document 1 of stdin: List item 2: Pod/bad: annotation wisp.dev/secret-../x: ",
			},
		},
		{
			name:     "every denial of every document is reported",
			args:     []string{"inject", "-f", "-"},
			stdin:    bad + "---\n" + pod + "---\n" + strings.Replace(bad, "name: bad", "name: worse", 1),
			wantCode: exitDenied,
			wantStderr: []string{
				"wisp: document 1 of stdin: Pod/bad: annotation wisp.dev/role: ",
				"wisp: document 3 of stdin: Pod/worse: annotation wisp.dev/role: ",
			},
		},
		{
			name:     "bad input outranks a denial",
			args:     []string{"inject", "-f", "-"},
			stdin:    bad + "---\n: : :\n",
			wantCode: exitInvalid,
			wantStderr: []string{
				"wisp: document 2 of stdin: ",
				"wisp: document 1 of stdin: Pod/bad: annotation wisp.dev/role: ",
			},
		},
		{
			name:       "bad config",
			args:       []string{"inject", "-f", examples + "pod.yaml", "--policy", writeTemp(t, "apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection:\n  vaultAddr: ftp://vault\n  imagePullPolicy: Sometimes\n")},
			wantCode:   exitInvalid,
			wantStderr: []string{"vaultAddr", "imagePullPolicy"},
		},
		{
			name:       "config with an unknown field",
			args:       []string{"inject", "-f", examples + "pod.yaml", "--policy", writeTemp(t, "apiVersion: wisp.dev/v1alpha1\nkind: Policy\ninjection:\n  vaultAdress: https://vault\n")},
			wantCode:   exitInvalid,
			wantStderr: []string{"vaultAdress"},
		},
		{
			name:       "missing config file",
			args:       []string{"inject", "-f", examples + "pod.yaml", "--policy", "testdata/nope.yaml"},
			wantCode:   exitInvalid,
			wantStderr: []string{"wisp: read policy: open testdata/nope.yaml: "},
		},
		{
			name:       "missing input file",
			args:       []string{"inject", "-f", "nope.yaml"},
			wantCode:   exitInvalid,
			wantStderr: []string{"wisp: read manifests: open nope.yaml: "},
		},
		{
			name:       "bad output format",
			args:       []string{"inject", "-f", examples + "pod.yaml", "-o", "xml"},
			wantCode:   exitInvalid,
			wantStderr: []string{`wisp: output format "xml": want yaml or json`},
		},
		{
			name:       "unknown flag",
			args:       []string{"inject", "-f", examples + "pod.yaml", "--nope"},
			wantCode:   exitInvalid,
			wantStderr: []string{"wisp: unknown flag: --nope", "wisp --help"},
		},
		{
			name:       "missing -f",
			args:       []string{"inject"},
			wantCode:   exitInvalid,
			wantStderr: []string{`"filename" not set`},
		},
		{
			name:       "unknown command",
			args:       []string{"injekt"},
			wantCode:   exitInvalid,
			wantStderr: []string{`unknown command "injekt"`},
		},
		{
			name:       "version",
			args:       []string{"version"},
			wantStdout: []string{"wisp dev\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := wisp(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if code != exitOK && stdout != "" {
				t.Errorf("exit code %d with output:\n%s", code, stdout)
			}
			if code == exitOK && stderr != "" {
				t.Errorf("exit code 0 with messages:\n%s", stderr)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("output lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("messages lack %q:\n%s", s, stderr)
				}
			}
			if tt.check != nil {
				tt.check(t, stdout)
			}
		})
	}
}

// Every line of a denial is one problem, named with its document and object.
func TestInjectDenialLines(t *testing.T) {
	t.Parallel()
	code, _, stderr := wisp(t, "", "inject", "-f", examples+"bad-pod.yaml")
	if code != exitDenied {
		t.Fatalf("exit code %d, want %d", code, exitDenied)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 3 {
		t.Errorf("got %d lines, want one per bad annotation (3):\n%s", len(lines), stderr)
	}
	prefix := "wisp: document 1 of " + examples + "bad-pod.yaml: Pod/bad: annotation wisp.dev/"
	for _, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			t.Errorf("line %q does not start with %q", l, prefix)
		}
	}
}

// Injecting wisp's own output again changes nothing, in YAML and in JSON.
func TestInjectIdempotent(t *testing.T) {
	t.Parallel()
	all := readFile(t, examples+"pod.yaml") + "---\n" + configMap + "---\n" +
		readFile(t, examples+"deployment.yaml") + "---\n" + readFile(t, examples+"plain-pod.yaml") + "---\n" +
		toList(t, readFile(t, examples+"pod.yaml"), configMap)
	for _, output := range []string{"yaml", "json"} {
		t.Run(output, func(t *testing.T) {
			t.Parallel()
			code, once, stderr := wisp(t, all, "inject", "-f", "-", "-o", output)
			if code != exitOK {
				t.Fatalf("first run: exit code %d: %s", code, stderr)
			}
			code, twice, stderr := wisp(t, once, "inject", "-f", "-", "-o", output)
			if code != exitOK {
				t.Fatalf("second run: exit code %d: %s", code, stderr)
			}
			if diff := cmp.Diff(once, twice); diff != "" {
				t.Errorf("second run changed the output (-once +twice):\n%s", diff)
			}
		})
	}
}

// assertInjectedLikeWebhook checks that out (one Pod or Deployment, YAML or
// JSON) is exactly input injected by mutate.Inject with the default config.
func assertInjectedLikeWebhook(t *testing.T, out, input string) {
	t.Helper()
	got, in := podOf(t, out), podOf(t, input)
	want, result, err := mutate.Inject(in, mutate.Config{})
	if err != nil || result != mutate.Injected {
		t.Fatalf("mutate.Inject: %v, %v", result, err)
	}
	if !equality.Semantic.DeepEqual(want, got) {
		t.Errorf("output differs from mutate.Inject's pod (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// podOf decodes a Pod, or a Deployment's template as a Pod.
func podOf(t *testing.T, doc string) *corev1.Pod {
	t.Helper()
	var meta struct{ Kind string }
	if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
		t.Fatal(err)
	}
	switch meta.Kind {
	case "Pod":
		pod := &corev1.Pod{}
		if err := yaml.UnmarshalStrict([]byte(doc), pod); err != nil {
			t.Fatal(err)
		}
		return pod
	case "Deployment":
		d := &appsv1.Deployment{}
		if err := yaml.UnmarshalStrict([]byte(doc), d); err != nil {
			t.Fatal(err)
		}
		return &corev1.Pod{ObjectMeta: d.Spec.Template.ObjectMeta, Spec: d.Spec.Template.Spec}
	}
	t.Fatalf("unexpected kind %q", meta.Kind)
	return nil
}

// assertSame checks that got is want, byte for byte (and so as objects).
func assertSame(t *testing.T, want, got string) {
	t.Helper()
	assertSameObject(t, want, got)
	if got != want {
		t.Errorf("text differs:\nwant:\n%s\ngot:\n%s", want, got)
	}
}

// assertSameObject checks that the YAML or JSON documents want and got hold
// the same object.
func assertSameObject(t *testing.T, want, got string) {
	t.Helper()
	var w, g any
	if err := yaml.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(got), &g); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("objects differ (-want +got):\n%s", diff)
	}
}

func assertKind(t *testing.T, doc, kind string) {
	t.Helper()
	if !strings.Contains(doc, "\nkind: "+kind+"\n") {
		t.Errorf("document is not a %s:\n%s", kind, doc)
	}
}

// toList builds a v1 List, in YAML, of the given YAML documents.
func toList(t *testing.T, docs ...string) string {
	t.Helper()
	items := make([]any, len(docs))
	for i, d := range docs {
		if err := yaml.Unmarshal([]byte(d), &items[i]); err != nil {
			t.Fatal(err)
		}
	}
	return toYAML(t, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
}

func toYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func toJSON(t *testing.T, doc string) string {
	t.Helper()
	b, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The example policy lists every injection field of mutate.Config, so that
// it stays the reference of the platform team's options.
func TestExamplePolicyListsEveryInjectionField(t *testing.T) {
	t.Parallel()
	var file struct {
		Injection map[string]any `json:"injection"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, examples+"policy.yaml")), &file); err != nil {
		t.Fatal(err)
	}
	got := file.Injection
	typ := reflect.TypeOf(mutate.Config{})
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if _, ok := got[name]; !ok {
			t.Errorf("examples/policy.yaml lacks injection.%s", name)
		}
	}
	if _, err := config.Parse([]byte(readFile(t, examples+"policy.yaml"))); err != nil {
		t.Errorf("examples/policy.yaml: %v", err)
	}
}

// ReplicationControllers and PodTemplates are injected through their pod
// templates like the other workloads; a custom resource with a pod spec is
// passed through unchanged, and stderr says so.
func TestInjectCoreTemplateKindsAndSaysWhatItLeaves(t *testing.T) {
	t.Parallel()
	const annotations = "      annotations: {wisp.dev/inject: \"true\", wisp.dev/role: web, wisp.dev/secret-db: secret/data/db}\n"
	in := "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: legacy}\nspec:\n  template:\n    metadata:\n" + annotations +
		"    spec: {containers: [{name: app, image: app:1}]}\n" +
		"---\napiVersion: v1\nkind: PodTemplate\nmetadata: {name: tmpl}\ntemplate:\n  metadata:\n  " + strings.TrimPrefix(annotations, "  ") +
		"  spec: {containers: [{name: app, image: app:1}]}\n" +
		"---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n" + annotations +
		"    spec: {containers: [{name: app, image: app:1}]}\n"
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"inject", "-f", "-"}, strings.NewReader(in), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
	docs := strings.Split(stdout.String(), "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("%d documents out, want 3:\n%s", len(docs), stdout.String())
	}
	for i, kind := range []string{"ReplicationController", "PodTemplate"} {
		if !strings.Contains(docs[i], "name: wisp-fetch") || !strings.Contains(docs[i], "wisp.dev/status: injected") {
			t.Errorf("%s not injected:\n%s", kind, docs[i])
		}
	}
	if strings.Contains(docs[2], "wisp-fetch") {
		t.Errorf("the Rollout was rewritten:\n%s", docs[2])
	}
	if want := "not injected, a pod spec in a kind wisp does not rewrite: 1 Rollout (argoproj.io/v1alpha1)"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
}

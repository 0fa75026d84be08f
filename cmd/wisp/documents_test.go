package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadDocuments(t *testing.T) {
	t.Parallel()
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n"
	tests := []struct {
		name      string
		in        string
		wantNames []string // "" for a document that failed
		wantRaw   []string // when set, the raw text of each document
	}{
		{name: "empty", in: ""},
		{name: "only separators and comments", in: "---\n# nothing\n---\n\n---\n"},
		{name: "one", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", wantNames: []string{"a"}},
		{
			name:      "leading and trailing separators, comments after them, CRLF",
			in:        "---\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: a}\r\n--- # b\r\n# about b\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: b}\r\n---\r\n",
			wantNames: []string{"a", "b"},
			wantRaw: []string{
				"apiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: a}\r\n",
				"# about b\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: b}\r\n",
			},
		},
		{
			name:      "dashes that are not separators",
			in:        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: |\n    ----\n    ---x\n",
			wantNames: []string{"a"},
		},
		{
			name:      "a bad document does not hide the next",
			in:        strings.ReplaceAll(cm, "%s", "a") + "---\nkind: [\n---\n" + strings.ReplaceAll(cm, "%s", "c"),
			wantNames: []string{"a", "", "c"},
		},
		{
			name:      "JSON stream",
			in:        `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}` + "\n" + `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}`,
			wantNames: []string{"a", "b"},
		},
		{
			name:      "YAML flow mapping",
			in:        "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n---\n{apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n",
			wantNames: []string{"a", "b"},
		},
		{
			name:      "JSON stream cut short",
			in:        `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}} {"apiVersion": `,
			wantNames: []string{"a", ""},
		},
		{
			name:      "List",
			in:        "apiVersion: v1\nkind: List\nmetadata: {name: l}\nitems:\n- " + strings.ReplaceAll(strings.ReplaceAll(cm, "\n", "\n  "), "%s", "a"),
			wantNames: []string{"l"},
		},
		{name: "List item without a kind", in: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n", wantNames: []string{""}},
		{name: "List items not a list", in: "apiVersion: v1\nkind: List\nitems: {}\n", wantNames: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			docs := readDocuments([]byte(tt.in), false)
			var names, raws []string
			for i, d := range docs {
				if d.index != i+1 {
					t.Errorf("document %d has index %d", i+1, d.index)
				}
				switch {
				case d.err != nil:
					names = append(names, "")
				default:
					names = append(names, d.obj.GetName())
				}
				raws = append(raws, string(d.raw))
			}
			if diff := cmp.Diff(tt.wantNames, names); diff != "" {
				t.Errorf("documents (-want +got):\n%s", diff)
			}
			if tt.wantRaw != nil {
				if diff := cmp.Diff(tt.wantRaw, raws); diff != "" {
					t.Errorf("raw text (-want +got):\n%s", diff)
				}
			}
		})
	}
}

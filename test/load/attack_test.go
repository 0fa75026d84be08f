package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Each of the attack's hostile requests, sent once to wisp-webhook as the
// attack runs it, gets its answer: the limits, the gate and the bounded
// answers through the built binary.
func TestAttackKindsAnswered(t *testing.T) {
	s, err := start(context.Background(), bins, srvWispInfo, t.TempDir(), attackPhases(false)[1].extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	client := newClient(s.roots, 1)
	defer client.CloseIdleConnections()
	for _, k := range attackKinds() {
		t.Run(k.name, func(t *testing.T) {
			if len(k.body) > 4<<20 {
				t.Fatalf("body of %d bytes, over the API server's and wisp's limits", len(k.body))
			}
			code, body, err := post(context.Background(), client, s.url+"/mutate", k, "attack-"+k.name)
			if err == nil {
				err = newChecker(k, false).check("attack-"+k.name, code, body)
			}
			if err != nil {
				t.Errorf("%s: %v", k.name, err)
			}
		})
	}
}

// The attack runs wisp-webhook with the chart's default memory limit.
func TestAttackUsesTheChartsMemoryLimit(t *testing.T) {
	root, err := moduleDir()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "charts", "wisp", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Resources struct {
			Limits struct {
				Memory resource.Quantity `json:"memory"`
			} `json:"limits"`
		} `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	if got := values.Resources.Limits.Memory.Value(); got != chartMemoryLimit {
		t.Errorf("chart's memory limit %d, the attack's %d: keep them equal", got, chartMemoryLimit)
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		code int
		body string
		want string
	}{
		{200, `{"response":{"uid":"u","allowed":true}}`, "200 allowed"},
		{200, `{"response":{"uid":"u","allowed":true,"patch":"W10="}}`, "200 allowed, patched"},
		{200, `{"response":{"uid":"u","allowed":false,"status":{"code":403,"message":"wisp: one\ntwo\nthree"}}}`, "403 wisp: one / two"},
		{400, `bad`, "400 "},
	}
	for _, tt := range tests {
		c, first, n := summarize(tt.code, []byte(tt.body))
		if got := strconv.Itoa(int(c)) + " " + first; got != tt.want || n != len(tt.body) {
			t.Errorf("summarize(%d, %s) = %q %d, want %q", tt.code, tt.body, got, n, tt.want)
		}
	}
	if !strings.Contains(size(2800<<10), "2.7 MiB") {
		t.Errorf("size: %s", size(2800<<10))
	}
}

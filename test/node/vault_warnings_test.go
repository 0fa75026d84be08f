package node_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// warnings collects the API server's Warning headers, as kubectl prints
// them.
type warnings struct {
	mu   sync.Mutex
	text []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text = append(w.text, text)
}

// TestVaultAnnotationWarnings: a pod written for the Vault Agent Injector,
// applied unchanged to the installed chart (aliases on), is injected, and
// the client hears, as `kubectl apply` prints it, of each vault-k8s
// annotation wisp does not honour, with what wisp does instead.
func TestVaultAnnotationWarnings(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, time.Minute)
	var got warnings
	cfg := shared.env.Node.RESTConfig()
	cfg.WarningHandler = &got
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-k8s", Namespace: appNS, Annotations: map[string]string{
			"vault.hashicorp.com/agent-inject":               "true",
			"vault.hashicorp.com/role":                       "app",
			"vault.hashicorp.com/agent-inject-secret-config": "secret/data/app/config",
			"vault.hashicorp.com/agent-pre-populate":         "false",
			"vault.hashicorp.com/agent-limits-cpu":           "250m",
		}},
		Spec: podSpec(appSA, corev1.RestartPolicyNever, "-hold"),
	}
	out, err := client.CoreV1().Pods(appNS).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("create (dry run): %v", err)
	}
	if out.Annotations["wisp.dev/status"] != "injected" {
		t.Errorf("the pod was not injected: annotations %v", out.Annotations)
	}
	all := strings.Join(got.text, "\n")
	for _, want := range []string{"vault.hashicorp.com/agent-pre-populate", "vault.hashicorp.com/agent-limits-cpu"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning names %s; warnings:\n%s", want, all)
		}
	}
	if strings.Contains(all, "250m") {
		t.Errorf("a warning quotes an annotation's value:\n%s", all)
	}
}

var _ rest.WarningHandler = (*warnings)(nil)

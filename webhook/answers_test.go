package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"wisp.dev/wisp/config"
	"wisp.dev/wisp/policy"
)

// snapshotIn is the default policy in mode.
func snapshotIn(t testing.TB, mode policy.Mode) config.Static {
	t.Helper()
	snap, err := config.Parse([]byte("apiVersion: wisp.dev/v1alpha1\nkind: Policy\nmode: " + string(mode) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return config.Static{Snapshot: snap}
}

// passwords is a pod (not opted in) with n literal passwords in env.
func passwords(n int, name func(i int) string) *corev1.Pod {
	p := plainPod()
	p.Spec.Containers[0].Env = nil
	for i := range n {
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: name(i), Value: "hunter2"})
	}
	return p
}

func podAdmission(t testing.TB, pod *corev1.Pod) admission.Request {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "u1", Kind: metaKind("Pod"), Operation: admissionv1.Create, Namespace: "team-a", Object: runtime.RawExtension{Raw: raw},
	}}
}

// Whatever the number of violations and the length of env var names, an
// answer lists at most MaxListed of them and stays small: a denial well
// under 64 KiB, warnings under the API server's 4,096 runes, an audit
// annotation of MaxListed parts. The count of the rest is given.
func TestAnswersAreBounded(t *testing.T) {
	t.Parallel()
	short := func(i int) string { return fmt.Sprintf("P%d_PASSWORD", i) }
	long := func(i int) string { return fmt.Sprintf("P%d_PASSWORD_%s", i, strings.Repeat("X", 100<<10)) }
	tests := []struct {
		name   string
		mode   policy.Mode
		pod    *corev1.Pod
		listed int
		more   string
	}{
		{"enforce, one", policy.ModeEnforce, passwords(1, short), 1, ""},
		{"enforce, at the entries' limit", policy.ModeEnforce, passwords(policy.MaxEnvEntries-1, short), MaxListed, "and 4,075 more"},
		{"enforce, over the entries' limit", policy.ModeEnforce, passwords(25_000, short), 1, ""},
		{"enforce, long names", policy.ModeEnforce, passwords(9, long), 9, ""},
		{"warn, at the entries' limit", policy.ModeWarn, passwords(policy.MaxEnvEntries-1, short), 0, " more"},
		{"warn, long names", policy.ModeWarn, passwords(9, long), 0, " more"},
		{"audit, at the entries' limit", policy.ModeAudit, passwords(policy.MaxEnvEntries-1, short), MaxListed, "+4075 more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := NewValidatingHandler(snapshotIn(t, tt.mode), nil, nil, nil)
			resp := h.Handle(context.Background(), podAdmission(t, tt.pod))
			switch tt.mode {
			case policy.ModeEnforce:
				msg := resp.Result.Message
				lines := strings.Split(msg, "\n")[1:]
				if resp.Allowed || len(msg) > 32<<10 {
					t.Fatalf("allowed %v, denial of %d bytes", resp.Allowed, len(msg))
				}
				checkListed(t, lines, tt.listed, tt.more)
			case policy.ModeWarn:
				runes := 0
				for _, w := range resp.Warnings {
					runes += utf8.RuneCountInString(w)
				}
				if !resp.Allowed || runes > maxWarningRunes+100 || len(resp.Warnings) > MaxListed+1 {
					t.Fatalf("allowed %v, %d warnings of %d runes", resp.Allowed, len(resp.Warnings), runes)
				}
				checkListed(t, resp.Warnings, len(resp.Warnings)-1, tt.more)
			case policy.ModeAudit:
				a := resp.AuditAnnotations[AuditAnnotationKey]
				parts := strings.Split(a, ",")
				if !resp.Allowed || len(a) > 8<<10 {
					t.Fatalf("allowed %v, audit annotation of %d bytes", resp.Allowed, len(a))
				}
				checkListed(t, parts, tt.listed, tt.more)
			}
		})
	}
}

// checkListed: n listed lines, each at most maxLineBytes, then more (if
// set) in a last line.
func checkListed(t *testing.T, lines []string, n int, more string) {
	t.Helper()
	if more != "" {
		if last := lines[len(lines)-1]; !strings.Contains(last, more) {
			t.Errorf("last line %q, want it to say %q", last, more)
		}
		lines = lines[:len(lines)-1]
	}
	if len(lines) != n {
		t.Errorf("%d lines listed, want %d", len(lines), n)
	}
	for _, l := range lines {
		if len(l) > maxLineBytes {
			t.Errorf("a listed line of %d bytes", len(l))
		}
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"0123456789", 10, "0123456789"},
		{"0123456789a", 10, "0123456…"},
		{"ééééé", 8, "éé…"}, // never half a rune
	} {
		if got := clip(tt.s, tt.n); got != tt.want || len(got) > tt.n {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
	for n, want := range map[int]string{7: "7", 4076: "4,076", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAnswerWithin(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Duration]time.Duration{
		5 * time.Second:        4 * time.Second,
		10 * time.Second:       9 * time.Second,
		time.Second:            800 * time.Millisecond,
		100 * time.Millisecond: 80 * time.Millisecond,
	} {
		if got := answerWithin(in); got != want {
			t.Errorf("answerWithin(%s) = %s, want %s", in, got, want)
		}
	}
}

// The handler's deadline is the API server's timeout (?timeout=) when it
// is shorter than the server's own, minus the margin to answer.
func TestTheAPIServersTimeoutSetsTheDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query string
		want  time.Duration
	}{
		{"", 9 * time.Second},
		{"?timeout=5s", 4 * time.Second},
		{"?timeout=30s", 9 * time.Second},
		{"?timeout=bad", 9 * time.Second},
		{"?dryRun=All&timeout=2s", 1600 * time.Millisecond},
	}
	for _, tt := range tests {
		var got time.Duration
		h := limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dl, _ := r.Context().Deadline()
			got = time.Until(dl)
		}), 1024, 10*time.Second)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, EndpointMutate+tt.query, strings.NewReader("{}")))
		if got > tt.want || got < tt.want-time.Second {
			t.Errorf("%q: handler deadline in %s, want about %s", tt.query, got, tt.want)
		}
	}
}

// Past the request's deadline the policy stops judging: a denial in
// enforce mode, a warning in warn mode, counted; never an allowed pod the
// policy did not judge.
func TestDeadlineStopsJudging(t *testing.T) {
	t.Parallel()
	late, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	pod := passwords(1, func(int) string { return "DB_PASSWORD" })
	tests := []struct {
		name     string
		mode     policy.Mode
		validate bool
		allowed  bool
		says     string
	}{
		{"mutate, enforce", policy.ModeEnforce, false, false, "found before the request's deadline, the rest not judged"},
		{"validate, enforce", policy.ModeEnforce, true, false, "found before the request's deadline, the rest not judged"},
		{"validate, warn", policy.ModeWarn, true, true, "not judged in full: the request's deadline came first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, _ := NewMetrics(prometheus.NewRegistry())
			var h admission.Handler = NewMutatingHandler(snapshotIn(t, tt.mode), nil, nil, m)
			endpoint := EndpointMutate
			if tt.validate {
				h, endpoint = NewValidatingHandler(snapshotIn(t, tt.mode), nil, nil, m), EndpointValidate
			}
			resp := h.Handle(late, podAdmission(t, pod))
			text := strings.Join(resp.Warnings, "\n")
			if resp.Result != nil {
				text += resp.Result.Message
			}
			if resp.Allowed != tt.allowed || !strings.Contains(text, tt.says) {
				t.Errorf("allowed %v, text %q; want allowed %v saying %q", resp.Allowed, text, tt.allowed, tt.says)
			}
			if got := testutil.ToFloat64(m.budgetExceeded.WithLabelValues(endpoint, BudgetDeadline)); got != 1 {
				t.Errorf("deadline budget exceeded %v times, want 1", got)
			}
		})
	}
}

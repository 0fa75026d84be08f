package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// holding blocks the requests whose uid starts with "hold" until released,
// counting them; it allows every request.
type holding struct {
	mu      sync.Mutex
	held    int
	release chan struct{}
}

func (h *holding) Handle(_ context.Context, req admission.Request) admission.Response {
	if strings.HasPrefix(string(req.UID), "hold") {
		h.mu.Lock()
		h.held++
		h.mu.Unlock()
		<-h.release
	}
	return admission.Allowed("")
}

func (h *holding) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

// sized is a review of a plain pod with uid, padded with an annotation to
// about n bytes.
func sized(t testing.TB, uid string, n int) []byte {
	t.Helper()
	p := plainPod()
	p.Annotations = map[string]string{"example.com/notes": strings.Repeat("x", max(0, n-1200))}
	body := review(t, "Pod", admissionv1.Create, p)
	return bytes.Replace(body, []byte(`"uid":"3f1c2a9e-1111-4d2b-9a1e-5f8f0e6c7b21"`), []byte(`"uid":"`+uid+`"`), 1)
}

// send serves body through h within timeout (0: none) and returns the
// answer's status code (200 allowed) and message.
func send(t *testing.T, h http.Handler, body []byte, timeout time.Duration) (int32, string) {
	t.Helper()
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, EndpointMutate, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("answer %.300q: %v", rec.Body.Bytes(), err)
	}
	if out.Response.Allowed {
		return http.StatusOK, ""
	}
	return out.Response.Result.Code, out.Response.Result.Message
}

// waitHeld waits until n requests are held.
func waitHeld(t *testing.T, h *holding, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests held, want %d", h.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// While large requests hold what the gate gives them, the next request
// gets in or is turned away within its deadline, as the lanes and budgets
// say.
func TestGate(t *testing.T) {
	t.Parallel()
	const large = 100 << 10
	body := int64(len(sized(t, "hold-0", large)))
	est := decodedSize(sized(t, "hold-0", large))
	base := gateConfig{smallSlots: 2, largeSlots: 1, smallBytes: 64 << 10, maxBody: DefaultMaxRequestBytes, bodies: 32 << 20, decoded: 64 << 20}
	tests := []struct {
		name   string
		cfg    func(gateConfig) gateConfig
		held   int    // large requests held first
		next   []byte // then this request, within 300 ms
		want   int32
		budget string // the budget counted for the next one
	}{
		{"a small request passes large ones in the large lane", func(c gateConfig) gateConfig { return c }, 1, sized(t, "small", 2<<10), 200, ""},
		{"without the small lane it waits behind them", func(c gateConfig) gateConfig { c.smallBytes = -1; return c }, 1, sized(t, "small", 2<<10), 503, BudgetCapacity},
		{"a large request waits for the large lane", func(c gateConfig) gateConfig { return c }, 1, sized(t, "next", large), 503, BudgetCapacity},
		{"two large lanes", func(c gateConfig) gateConfig { c.largeSlots = 2; return c }, 1, sized(t, "next", large), 200, ""},
		{"the bodies' budget holds a large body unread", func(c gateConfig) gateConfig { c.largeSlots, c.bodies, c.maxBody = 2, body+10, body+10; return c },
			1, sized(t, "next", large), 503, BudgetCapacity},
		{"the decoded objects' budget", func(c gateConfig) gateConfig { c.largeSlots, c.decoded = 2, est+10; return c }, 1, sized(t, "next", large), 503, BudgetCapacity},
		{"an object that could never fit", func(c gateConfig) gateConfig { c.decoded = est - 100; return c }, 0, sized(t, "next", large), 413, BudgetMemory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, _ := NewMetrics(prometheus.NewRegistry())
			hd := &holding{release: make(chan struct{})}
			h := newWebhook(hd, nil).admittedBy(newGate(tt.cfg(base)), EndpointMutate, m)
			var wg sync.WaitGroup
			for i := range tt.held {
				wg.Go(func() {
					if code, msg := send(t, h, sized(t, "hold-"+string(rune('a'+i)), large), 0); code != 200 {
						t.Errorf("held request: %d %s", code, msg)
					}
				})
			}
			waitHeld(t, hd, tt.held)
			code, msg := send(t, h, tt.next, 300*time.Millisecond)
			close(hd.release)
			wg.Wait()
			if code != tt.want {
				t.Errorf("answer %d %q, want %d", code, msg, tt.want)
			}
			for _, b := range []string{BudgetCapacity, BudgetMemory} {
				want := 0.0
				if b == tt.budget {
					want = 1
				}
				if got := testutil.ToFloat64(m.budgetExceeded.WithLabelValues(EndpointMutate, b)); got != want {
					t.Errorf("budget %s exceeded %v times, want %v", b, got, want)
				}
			}
		})
	}
}

// A body over the limit by its Content-Length is refused before a byte of
// it is read.
func TestBodyOverTheLimitIsNotRead(t *testing.T) {
	t.Parallel()
	g := newGate(defaultGateConfig(DefaultSmallRequestBytes, 1<<20, DefaultMemoryBudget))
	h := newWebhook(&holding{}, nil).admittedBy(g, EndpointMutate, nil)
	pr, pw := io.Pipe() // nothing is ever written: reading it would block
	defer pw.Close()
	req := httptest.NewRequest(http.MethodPost, EndpointMutate, pr)
	req.ContentLength = 1<<20 + 1
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler read a body over the limit")
	}
	r := decodeAnswer(t, rec.Body)
	if r.Allowed || r.Result.Code != http.StatusRequestEntityTooLarge || !strings.Contains(r.Result.Message, "request body too large: 1048577 bytes, the limit is 1048576") {
		t.Errorf("answer %+v, want 413 naming the size and the limit", r.Result)
	}
}

// decodedSize is at least the live heap of the decoded review for every
// shape measured; here it is held above the cheapest bound (the body) and
// to its formula.
func TestDecodedSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body            string
		commas, objects int64
	}{
		{``, 0, 0},
		{`{"a":1}`, 0, 1},
		{`[{"name":"a"},{"name":"b"}]`, 1, 2},
		{`{"t":"{{ .x }}, {{ .y }}"}`, 0, 1}, // text, not objects
		{`{"t":"a\"{,","u":{}}`, 1, 2},       // an escaped quote
		{`{"t":"a\\","u":{}}`, 1, 2},         // an escaped backslash
		{`{"t":"{{{`, 0, 1},                  // never closed
	} {
		want := int64(len(tt.body)) + 96*tt.commas + 512*tt.objects
		if got := decodedSize([]byte(tt.body)); got != want {
			t.Errorf("decodedSize(%s) = %d, want %d", tt.body, got, want)
		}
	}
}

// An answer to a request turned away after its body was read carries the
// request's uid: the API server shows the message of an answer to its own
// request, and reports any other as a failed call.
func TestTurnedAwayAnswerCarriesTheUID(t *testing.T) {
	t.Parallel()
	body := sized(t, "costly-1", 100<<10)
	g := newGate(gateConfig{smallSlots: 1, largeSlots: 1, smallBytes: 64 << 10, maxBody: DefaultMaxRequestBytes, bodies: 32 << 20, decoded: decodedSize(body) / 2})
	h := newWebhook(&holding{}, nil).admittedBy(g, EndpointMutate, nil)
	req := httptest.NewRequest(http.MethodPost, EndpointMutate, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := decodeAnswer(t, rec.Body)
	if r.UID != "costly-1" || r.Allowed || r.Result.Code != http.StatusRequestEntityTooLarge || !strings.Contains(r.Result.Message, "request too large to judge") {
		t.Errorf("answer uid %q %+v, want uid costly-1 and a 413", r.UID, r.Result)
	}
}

package webhook

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"wisp.dev/wisp/policy"
)

// Results recorded in the requests metric and the request log.
const (
	ResultAllowed  = "allowed"  // admitted unchanged
	ResultInjected = "injected" // admitted with a patch
	ResultDenied   = "denied"   // refused with a message
	ResultErrored  = "error"    // refused because the request could not be processed
)

// Budgets a request can exceed, the budget label of
// wisp_admission_budget_exceeded_total.
const (
	// BudgetDeadline: the policy stopped judging at the request's
	// deadline (denied in enforce mode, allowed with a warning otherwise).
	BudgetDeadline = "deadline"
	// BudgetCapacity: no room to judge it came free before the deadline
	// (answered 503).
	BudgetCapacity = "capacity"
	// BudgetMemory: its object would take more memory decoded than the
	// server decodes at once (answered 413).
	BudgetMemory = "memory"
)

// Metrics are the webhook's Prometheus collectors. Labels carry no user data:
// endpoint and result only.
type Metrics struct {
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	injections prometheus.Counter
	violations *prometheus.CounterVec
	// budgetExceeded counts requests over a budget, by endpoint and budget.
	budgetExceeded *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg. Registering
// twice with the same registry reuses the collectors already there.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wisp_admission_requests_total",
			Help: "Admission requests by endpoint and result (allowed, injected, denied, error).",
		}, []string{"endpoint", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wisp_admission_duration_seconds",
			Help:    "Time to answer an admission request, from decoded review to response, by endpoint.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
		}, []string{"endpoint"}),
		injections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wisp_injections_total",
			Help: "Pods injected (dry-run requests excluded).",
		}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wisp_policy_violations_total",
			Help: "Static secrets found at admission, by rule and by the mode that applied (enforce, warn, audit).",
		}, []string{"rule", "mode"}),
		budgetExceeded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wisp_admission_budget_exceeded_total",
			Help: "Admission requests over a budget, by endpoint and budget: deadline (judging stopped at the request's deadline), capacity (no room before it: 503), memory (too large to decode: 413).",
		}, []string{"endpoint", "budget"}),
	}
	var err error
	m.requests, err = register(reg, m.requests)
	if err != nil {
		return nil, err
	}
	m.latency, err = register(reg, m.latency)
	if err != nil {
		return nil, err
	}
	m.injections, err = register(reg, m.injections)
	if err != nil {
		return nil, err
	}
	m.violations, err = register(reg, m.violations)
	if err != nil {
		return nil, err
	}
	m.budgetExceeded, err = register(reg, m.budgetExceeded)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

func (m *Metrics) countViolations(mode policy.Mode, vs []policy.Violation) {
	for _, v := range vs {
		m.violations.WithLabelValues(v.RuleID, string(mode)).Inc()
	}
}

// countIncomplete counts a decision the policy stopped at the deadline.
func (m *Metrics) countIncomplete(endpoint string, d policy.Decision) {
	if m != nil && d.Incomplete() {
		m.budgetExceeded.WithLabelValues(endpoint, BudgetDeadline).Inc()
	}
}

// observe counts one answered request of endpoint and its latency.
func (m *Metrics) observe(endpoint, result string, elapsed time.Duration) {
	m.requests.WithLabelValues(endpoint, result).Inc()
	m.latency.WithLabelValues(endpoint).Observe(elapsed.Seconds())
}

// requestAttrs are the keys every request's log line carries: the same in
// /mutate's and /validate's lines, never a value from the object. The last
// element is free for the endpoint's own first key.
func requestAttrs(endpoint string, req admission.Request, name, result string, elapsed time.Duration) [9]slog.Attr {
	return [9]slog.Attr{
		slog.String("endpoint", endpoint),
		slog.String("uid", string(req.UID)),
		slog.String("operation", string(req.Operation)),
		slog.String("kind", req.Kind.Kind),
		slog.String("namespace", req.Namespace),
		slog.String("name", name),
		slog.String("result", result),
		slog.Duration("latency", elapsed),
	}
}

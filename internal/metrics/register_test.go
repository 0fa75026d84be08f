package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterSharesTheFirstCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "wisp_test_total", Help: "test"}
	first, err := Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Error("a second registration must return the first collector")
	}
	// Same name, other type: an error, not a silent second collector.
	if _, err := Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "wisp_test_total", Help: "test"})); err == nil {
		t.Error("a clashing registration must fail")
	}
}

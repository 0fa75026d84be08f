package certs

import (
	"crypto/x509"

	"github.com/prometheus/client_golang/prometheus"

	wispmetrics "wisp.dev/wisp/internal/metrics"
)

// Metric names.
const (
	// MetricExpiry is the NotAfter (Unix seconds) of the served certificate
	// (cert="serving") and of the CA that issued it (cert="ca", when known).
	MetricExpiry = "wisp_cert_expiry_timestamp_seconds"
	// MetricReloadFailing is 1 while the last load or renewal failed and the
	// previous certificate keeps serving, else 0.
	MetricReloadFailing = "wisp_cert_reload_failing"
)

// metrics are a source's gauges. The zero value (no registerer) records
// nothing.
type metrics struct {
	expiry  *prometheus.GaugeVec
	failing prometheus.Gauge
}

// newMetrics registers the gauges on reg; nil reg means no metrics. A gauge
// already registered (by another source on the same registry) is shared.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return &metrics{}, nil
	}
	expiry := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricExpiry,
		Help: "NotAfter of the served certificate (cert=serving) and of its CA (cert=ca), in Unix seconds.",
	}, []string{"cert"})
	failing := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricReloadFailing,
		Help: "1 while the last certificate load or renewal failed and the previous certificate keeps serving, else 0.",
	})
	m := &metrics{}
	var err error
	if m.expiry, err = wispmetrics.Register(reg, expiry); err != nil {
		return nil, err
	}
	if m.failing, err = wispmetrics.Register(reg, failing); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) setExpiry(leaf, ca *x509.Certificate) {
	if m == nil || m.expiry == nil {
		return
	}
	m.expiry.WithLabelValues("serving").Set(float64(leaf.NotAfter.Unix()))
	if ca != nil {
		m.expiry.WithLabelValues("ca").Set(float64(ca.NotAfter.Unix()))
	}
}

func (m *metrics) setFailing(failing bool) {
	if m == nil || m.failing == nil {
		return
	}
	v := 0.0
	if failing {
		v = 1
	}
	m.failing.Set(v)
}

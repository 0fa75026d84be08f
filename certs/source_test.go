package certs

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/kubernetes/fake"
)

func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, m := range []Mode{ModeAuto, ModeFiles, ModeDev} {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseMode("cert-manager"); err == nil {
		t.Error("unknown mode: want an error")
	}
}

func TestTLSConfigFloor(t *testing.T) {
	t.Parallel()
	c := TLSConfig(nil)
	if c.MinVersion != tls.VersionTLS12 || len(c.NextProtos) != 1 || c.NextProtos[0] != "http/1.1" {
		t.Errorf("TLSConfig: min %x, protos %v", c.MinVersion, c.NextProtos)
	}
}

func TestStaticServesUntilExpiry(t *testing.T) {
	t.Parallel()
	b, err := NewDev([]string{"localhost"}, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	s, err := NewStatic(b.CertPEM, b.KeyPEM, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
	if c, err := s.GetCertificate(nil); err != nil || c.Leaf == nil {
		t.Errorf("GetCertificate: %v", err)
	}
	now = t0.Add(2 * time.Hour)
	if err := s.Ready(); !errors.Is(err, ErrNotReady) {
		t.Errorf("Ready after expiry = %v, want ErrNotReady", err)
	}
	if _, err := NewStatic(b.CertPEM, []byte("garbage"), nil); err == nil {
		t.Error("bad key: want an error")
	}
}

func TestHolderBeforeLoad(t *testing.T) {
	t.Parallel()
	h := &holder{clock: time.Now}
	if _, err := h.getCertificate(nil); !errors.Is(err, ErrNotReady) {
		t.Errorf("GetCertificate = %v, want ErrNotReady", err)
	}
	h.setError(errors.New("secret is forbidden"))
	if err := h.ready(); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("Ready = %v, want ErrNotReady naming the cause", err)
	}
}

func TestMetricsAreSharedOnOneRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m1, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := newMetrics(reg)
	if err != nil {
		t.Fatalf("second source on the same registry: %v", err)
	}
	ca := testCA(t, "ca", t0, t0.Add(2*time.Hour))
	leaf, err := newLeaf(ca, []string{"x"}, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	m2.setExpiry(leaf.cert, ca.cert)
	if got := testutil.ToFloat64(m1.expiry.WithLabelValues("ca")); got != float64(t0.Add(2*time.Hour).Unix()) {
		t.Errorf("ca expiry = %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, MetricExpiry); err != nil || n != 2 {
		t.Errorf("%s series = %d, %v; want 2", MetricExpiry, n, err)
	}
	var none *metrics
	none.setExpiry(leaf.cert, nil) // no registerer: no panic
	none.setFailing(true)
}

func TestAutoOptionsValidate(t *testing.T) {
	t.Parallel()
	ok := AutoOptions{Namespace: "ops", ServiceName: "wisp", MutatingWebhookName: "wisp"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	tests := []struct {
		name  string
		edit  func(*AutoOptions)
		wants []string
	}{
		{"nothing set", func(o *AutoOptions) { *o = AutoOptions{} }, []string{"Namespace", "ServiceName", "MutatingWebhookName"}},
		{"hosts instead of a service", func(o *AutoOptions) { o.ServiceName, o.Hosts = "", []string{"127.0.0.1"} }, nil},
		{"fraction too big", func(o *AutoOptions) { o.RenewFraction = 1.5 }, []string{"RenewFraction"}},
		{"overlap longer than the CA", func(o *AutoOptions) { o.CAValidity, o.CAOverlap = time.Hour, 2*time.Hour }, []string{"CAOverlap"}},
		{"delay longer than the overlap", func(o *AutoOptions) { o.CAOverlap, o.PropagationDelay = time.Hour, 2*time.Hour }, []string{"PropagationDelay"}},
		{"bad selector", func(o *AutoOptions) { o.WebhookSelector = "a in (" }, []string{"WebhookSelector"}},
		{"negative validity", func(o *AutoOptions) { o.CertValidity = -time.Hour }, []string{"CertValidity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := ok
			tt.edit(&o)
			err := o.Validate()
			if len(tt.wants) == 0 {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("Validate = %v, want ErrInvalidOptions", err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
	if _, err := NewAuto(fake.NewClientset(), AutoOptions{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("NewAuto with no options: %v", err)
	}
	if _, err := NewAuto(nil, ok); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("NewAuto with no client: %v", err)
	}
}

func TestAutoOptionsDefaults(t *testing.T) {
	t.Parallel()
	o := AutoOptions{Namespace: "ops", ServiceName: "wisp", Hosts: []string{"wisp.ops.svc", "127.0.0.1"}}.withDefaults()
	if o.SecretName != DefaultSecretName || o.CAValidity != DefaultCAValidity || o.CertValidity != DefaultCertValidity ||
		o.RenewFraction != DefaultRenewFraction || o.CAOverlap != DefaultCAValidity/3 || o.PropagationDelay != DefaultPropagationDelay {
		t.Errorf("defaults not applied: %+v", o)
	}
	want := append(ServiceHosts("wisp", "ops"), "127.0.0.1")
	if got := o.hosts(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("hosts = %v, want %v (deduplicated)", got, want)
	}
}

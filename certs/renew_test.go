package certs

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestRenewAt(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	tests := []struct {
		name      string
		notBefore time.Time
		notAfter  time.Time
		fraction  float64
		want      time.Time
	}{
		{"two thirds of 90 days", t0, t0.Add(90 * day), 2.0 / 3, t0.Add(60 * day)},
		{"half of 6 s", t0, t0.Add(6 * time.Second), 0.5, t0.Add(3 * time.Second)},
		{"backdated start counts", t0.Add(-600 * time.Millisecond), t0.Add(6 * time.Second), 2.0 / 3, t0.Add(3800 * time.Millisecond)},
		{"fraction 0: at once", t0, t0.Add(day), 0, t0},
		{"fraction 1: at once", t0, t0.Add(day), 1, t0},
		{"empty life: at once", t0, t0, 0.5, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := renewAt(tt.notBefore, tt.notAfter, tt.fraction); !got.Equal(tt.want) {
				t.Errorf("renewAt = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCARenewAt(t *testing.T) {
	t.Parallel()
	ca := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(365 * 24 * time.Hour)}
	tests := []struct {
		name    string
		overlap time.Duration
		want    time.Time
	}{
		{"a third of a year before expiry", 365 * 24 * time.Hour / 3, t0.Add(365 * 24 * time.Hour * 2 / 3)},
		{"30 days before expiry", 30 * 24 * time.Hour, t0.Add(335 * 24 * time.Hour)},
		{"overlap longer than the life: at NotBefore", 400 * 24 * time.Hour, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := caRenewAt(ca, tt.overlap); !got.Equal(tt.want) {
				t.Errorf("caRenewAt = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEarliest(t *testing.T) {
	t.Parallel()
	if got := earliest(); !got.IsZero() {
		t.Errorf("earliest() = %s, want zero", got)
	}
	if got := earliest(time.Time{}, t0.Add(time.Hour), t0, time.Time{}); !got.Equal(t0) {
		t.Errorf("earliest ignores zero: got %s, want %s", got, t0)
	}
}

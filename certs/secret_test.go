package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestChainSecretRoundTrip(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	c := mustPlan(t, p, nil, t0, stepCreate)
	c = mustPlan(t, p, c, caRenewAt(c.ca.cert, p.caOverlap), stepStageCA, stepRenewLeaf)
	c = c.published(t0.Add(300 * day).Add(123 * time.Millisecond))

	s := c.applyTo(nil, "ops", "wisp-tls")
	if s.Type != corev1.SecretTypeTLS || s.Namespace != "ops" || s.Name != "wisp-tls" || s.Labels[labelManagedBy] != "wisp" {
		t.Errorf("new secret: type %q, %s/%s, labels %v", s.Type, s.Namespace, s.Name, s.Labels)
	}
	back, err := decodeChain(s)
	if err != nil {
		t.Fatal(err)
	}
	if !back.leaf.cert.Equal(c.leaf.cert) || !back.ca.cert.Equal(c.ca.cert) || back.next == nil || !back.next.cert.Equal(c.next.cert) {
		t.Error("certificates differ after the round trip")
	}
	if back.revision != c.revision || !back.nextPublishedAt.Equal(c.nextPublishedAt) || !sameCerts(back.bundle, c.bundle) {
		t.Errorf("revision %d/%d, published %s/%s, bundle %v/%v", back.revision, c.revision, back.nextPublishedAt, c.nextPublishedAt, names(back.bundle), names(c.bundle))
	}

	// Promotion removes the successor's keys and the publication mark, and
	// keeps what others put in the Secret.
	s.Data["extra"] = []byte("kept")
	s.Annotations["other"] = "kept"
	promoted := mustPlan(t, p, back, back.nextPublishedAt.Add(p.propagationDelay), stepPromoteCA)
	s2 := promoted.applyTo(s, "ignored", "ignored")
	for _, k := range []string{SecretKeyNextCA, SecretKeyNextCAKey} {
		if _, ok := s2.Data[k]; ok {
			t.Errorf("%s kept after promotion", k)
		}
	}
	if _, ok := s2.Annotations[AnnotationNextCAPublishedAt]; ok {
		t.Error("publication mark kept after promotion")
	}
	if string(s2.Data["extra"]) != "kept" || s2.Annotations["other"] != "kept" || s2.Name != "wisp-tls" {
		t.Error("foreign keys, annotations or the name were not kept")
	}
	if _, ok := s.Data[SecretKeyNextCA]; !ok {
		t.Error("applyTo changed its input")
	}
}

func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func TestDecodeChainWithoutChainData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    *corev1.Secret
	}{
		{"no secret", nil},
		{"pre-created empty", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x"}}},
		{"empty values", &corev1.Secret{Data: map[string][]byte{CertFile: {}, KeyFile: {}}}},
		{"other keys only", &corev1.Secret{Data: map[string][]byte{"foo": []byte("bar")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := decodeChain(tt.s)
			if c != nil || err != nil {
				t.Errorf("got %v, %v; want no chain and no error", c != nil, err)
			}
		})
	}
}

func TestDecodeChainNamesEveryCorruptKey(t *testing.T) {
	t.Parallel()
	c := mustPlan(t, testPolicy(), nil, t0, stepCreate)
	good := c.applyTo(nil, "ops", "wisp-tls")
	tests := []struct {
		name  string
		edit  func(s *corev1.Secret)
		wants []string
	}{
		{"garbage certificate", func(s *corev1.Secret) { s.Data[CertFile] = []byte("garbage") }, []string{"tls.crt and tls.key"}},
		{"missing key", func(s *corev1.Secret) { delete(s.Data, KeyFile) }, []string{"tls.key: missing"}},
		{"CA key of another CA", func(s *corev1.Secret) { s.Data[SecretKeyCAKey] = c.leaf.keyPEM }, []string{"ca.crt and ca.key"}},
		{"leaf as CA", func(s *corev1.Secret) {
			s.Data[CAFile], s.Data[SecretKeyCAKey] = c.leaf.certPEM, c.leaf.keyPEM
		}, []string{"ca.crt: not a CA"}},
		{"half a successor", func(s *corev1.Secret) { s.Data[SecretKeyNextCA] = c.ca.certPEM }, []string{"ca-next.key: missing"}},
		{"garbage bundle", func(s *corev1.Secret) { s.Data[SecretKeyCABundle] = []byte("garbage") }, []string{"ca-bundle.crt"}},
		{"bad revision", func(s *corev1.Secret) { s.Annotations[AnnotationRevision] = "x" }, []string{AnnotationRevision}},
		{"two at once", func(s *corev1.Secret) {
			s.Data[CertFile] = []byte("garbage")
			s.Data[SecretKeyCABundle] = []byte("garbage")
		}, []string{"tls.crt", "ca-bundle.crt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := good.DeepCopy()
			tt.edit(s)
			_, err := decodeChain(s)
			if !errors.Is(err, ErrCorruptSecret) {
				t.Fatalf("err = %v, want ErrCorruptSecret", err)
			}
			for _, w := range append(tt.wants, "ops/wisp-tls") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			for _, secret := range [][]byte{c.leaf.keyPEM, c.ca.keyPEM} {
				if strings.Contains(err.Error(), string(secret)) {
					t.Error("error shows a private key")
				}
			}
		})
	}
}

func TestApplyToKeepsThePreCreatedSecretsType(t *testing.T) {
	t.Parallel()
	c := mustPlan(t, testPolicy(), nil, t0, stepCreate)
	pre := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "wisp-tls", ResourceVersion: "7"}, Type: corev1.SecretTypeOpaque}
	got := c.applyTo(pre, "ops", "wisp-tls")
	if diff := cmp.Diff([]string{string(corev1.SecretTypeOpaque), "7"}, []string{string(got.Type), got.ResourceVersion}); diff != "" {
		t.Errorf("type and resourceVersion (-want +got):\n%s", diff)
	}
}

func TestKeysNeverPrint(t *testing.T) {
	t.Parallel()
	c := mustPlan(t, testPolicy(), nil, t0, stepCreate)
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "chain", c, "ca", c.ca)
	out := buf.String() + fmt.Sprint(c, c.ca, c.leaf) + fmt.Sprintf("%v %+v", c, c.leaf)
	if strings.Contains(out, "PRIVATE") || strings.Contains(out, string(c.ca.keyPEM)) {
		t.Errorf("a private key printed: %s", out)
	}
}

package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the auto-mode Secret beyond tls.crt, tls.key and ca.crt.
const (
	// SecretKeyCAKey is the signing CA's private key (PKCS #8 PEM).
	SecretKeyCAKey = "ca.key"
	// SecretKeyNextCA and SecretKeyNextCAKey hold the successor CA during a
	// CA rotation: published in the trust bundle, not yet signing.
	SecretKeyNextCA    = "ca-next.crt"
	SecretKeyNextCAKey = "ca-next.key"
	// SecretKeyCABundle is the trust bundle published to caBundle: the
	// signing CA, the successor CA during a rotation and the previous CA
	// until it expires.
	SecretKeyCABundle = "ca-bundle.crt"
)

// Annotations wisp writes on the Secret and on the webhook configurations.
const (
	// AnnotationRevision on the Secret counts the changes of its chain; the
	// injector never replaces a caBundle written from a later revision.
	AnnotationRevision = "wisp.dev/cert-revision"
	// AnnotationNextCAPublishedAt on the Secret is when (RFC 3339) every
	// webhook configuration was seen to trust the successor CA; the successor
	// signs only PropagationDelay after it.
	AnnotationNextCAPublishedAt = "wisp.dev/ca-next-published-at"
	// AnnotationCABundleSource on a webhook configuration names the Secret
	// (UID) and revision its caBundle was written from: "<uid>/<revision>".
	AnnotationCABundleSource = "wisp.dev/ca-bundle-source"
)

// ErrCorruptSecret is wrapped when the auto-mode Secret holds keys wisp
// cannot parse. wisp does not overwrite such a Secret: fix or delete it.
var ErrCorruptSecret = errors.New("corrupt certificate secret")

// Label wisp sets on the Secret it creates.
const labelManagedBy = "app.kubernetes.io/managed-by"

// chain is the state kept in the auto-mode Secret. It is immutable once
// built: plan returns a new chain rather than change one.
type chain struct {
	leaf *keyPair // serving certificate, signed by ca
	ca   *keyPair // signing CA
	next *keyPair // successor CA during a rotation, else nil
	// bundle is the trust bundle to publish: ca, next and the previous CA.
	bundle []*x509.Certificate
	// revision counts changes to the chain (see AnnotationRevision).
	revision int64
	// nextPublishedAt is when next was seen in every webhook configuration;
	// zero until then.
	nextPublishedAt time.Time
}

// String never prints the private keys.
func (c *chain) String() string {
	return fmt.Sprintf("certs.chain{revision: %d, keys: [redacted]}", c.revision)
}

// LogValue never logs the private keys.
func (c *chain) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("revision", c.revision), slog.String("keys", "[redacted]"))
}

// bundlePEM is the trust bundle in PEM, as written to caBundle.
func (c *chain) bundlePEM() []byte { return encodeCertsPEM(c.bundle) }

// chainKeys are the keys whose presence makes a Secret hold a chain.
var chainKeys = []string{CertFile, KeyFile, CAFile, SecretKeyCAKey}

// decodeChain reads the chain from s. A nil Secret, or one with none of the
// chain's keys (for example created empty by an installer), holds no chain:
// (nil, nil). A Secret with some keys missing or unparsable is an error
// naming each bad key; wisp never overwrites such a Secret.
func decodeChain(s *corev1.Secret) (*chain, error) {
	if s == nil {
		return nil, nil
	}
	present := 0
	for _, k := range chainKeys {
		if len(s.Data[k]) > 0 {
			present++
		}
	}
	if present == 0 {
		return nil, nil
	}
	var errs []error
	pair := func(certKey, keyKey string) *keyPair {
		certPEM, keyPEM := s.Data[certKey], s.Data[keyKey]
		switch {
		case len(certPEM) == 0:
			errs = append(errs, fmt.Errorf("%s: missing", certKey))
		case len(keyPEM) == 0:
			errs = append(errs, fmt.Errorf("%s: missing", keyKey))
		default:
			kp, err := parseKeyPair(certPEM, keyPEM)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s and %s: %w", certKey, keyKey, err))
			}
			return kp
		}
		return nil
	}
	c := &chain{leaf: pair(CertFile, KeyFile), ca: pair(CAFile, SecretKeyCAKey)}
	if c.ca != nil && !c.ca.cert.IsCA {
		errs = append(errs, fmt.Errorf("%s: not a CA certificate", CAFile))
	}
	if len(s.Data[SecretKeyNextCA]) > 0 || len(s.Data[SecretKeyNextCAKey]) > 0 {
		c.next = pair(SecretKeyNextCA, SecretKeyNextCAKey)
	}
	if raw := s.Data[SecretKeyCABundle]; len(raw) > 0 {
		b, err := parseCertsPEM(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", SecretKeyCABundle, err))
		}
		c.bundle = b
	}
	if v, ok := s.Annotations[AnnotationRevision]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("annotation %s: %q is not a revision", AnnotationRevision, v))
		}
		c.revision = n
	}
	if v, ok := s.Annotations[AnnotationNextCAPublishedAt]; ok && c.next != nil {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("annotation %s: %w", AnnotationNextCAPublishedAt, err))
		}
		c.nextPublishedAt = t
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w %s/%s: %w", ErrCorruptSecret, s.Namespace, s.Name, err)
	}
	return c, nil
}

// applyTo writes c into a copy of s (nil: a new Secret named namespace/name)
// and returns the copy. Keys and annotations wisp does not own are kept.
func (c *chain) applyTo(s *corev1.Secret, namespace, name string) *corev1.Secret {
	if s == nil {
		s = &corev1.Secret{Type: corev1.SecretTypeTLS}
		s.Namespace, s.Name = namespace, name
		s.Labels = map[string]string{labelManagedBy: "wisp"}
	} else {
		s = s.DeepCopy()
	}
	data := maps.Clone(s.Data)
	if data == nil {
		data = map[string][]byte{}
	}
	data[CertFile], data[KeyFile] = c.leaf.certPEM, c.leaf.keyPEM
	data[CAFile], data[SecretKeyCAKey] = c.ca.certPEM, c.ca.keyPEM
	data[SecretKeyCABundle] = c.bundlePEM()
	delete(data, SecretKeyNextCA)
	delete(data, SecretKeyNextCAKey)
	if c.next != nil {
		data[SecretKeyNextCA], data[SecretKeyNextCAKey] = c.next.certPEM, c.next.keyPEM
	}
	s.Data = data
	ann := maps.Clone(s.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationRevision] = strconv.FormatInt(c.revision, 10)
	delete(ann, AnnotationNextCAPublishedAt)
	if c.next != nil && !c.nextPublishedAt.IsZero() {
		ann[AnnotationNextCAPublishedAt] = c.nextPublishedAt.UTC().Format(time.RFC3339Nano)
	}
	s.Annotations = ann
	return s
}

package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Defaults of AutoOptions.
const (
	DefaultSecretName       = "wisp-webhook-tls"
	DefaultCAValidity       = 365 * 24 * time.Hour
	DefaultCertValidity     = 90 * 24 * time.Hour
	DefaultRenewFraction    = 2.0 / 3.0
	DefaultPropagationDelay = time.Minute
	DefaultCACommonName     = "wisp webhook CA"
)

// Timing of Auto's reconcile loop.
const (
	// retryMin and retryMax bound the back-off after a failed pass.
	retryMin = 500 * time.Millisecond
	retryMax = 30 * time.Second
	// resyncInterval is the longest the loop sleeps without an event, so
	// that drift (say a caBundle reset by an installer) is repaired even if
	// an event is missed.
	resyncInterval = 5 * time.Minute
	// waitingRecheck is how soon a replica re-checks the webhook
	// configurations while it waits for them to trust a new CA.
	waitingRecheck = time.Second
	// heldBackWarning is how long a replica waits for the configurations to
	// trust a new CA before it warns: normally it takes moments.
	heldBackWarning = 30 * time.Second
)

// AutoOptions configure Auto. Zero values mean the documented defaults.
type AutoOptions struct {
	// Namespace of the Secret and of the webhook's Service. Required.
	Namespace string
	// SecretName is the Secret holding the CA and the serving certificate,
	// shared by every replica. Default "wisp-webhook-tls".
	SecretName string
	// ServiceName is the webhook's Service: the certificate names <svc>,
	// <svc>.<ns>, <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local.
	// Required unless Hosts is set.
	ServiceName string
	// Hosts are further DNS names or IP addresses the certificate names.
	// Default none.
	Hosts []string
	// MutatingWebhookName and ValidatingWebhookName name wisp's webhook
	// configurations, whose every webhook gets the CA bundle in caBundle.
	// Empty means none of that kind. A named configuration that does not
	// exist is written when it appears.
	MutatingWebhookName   string
	ValidatingWebhookName string
	// WebhookSelector is a label selector: every Mutating- and
	// ValidatingWebhookConfiguration it matches is written too. Default none.
	// At least one of the two names or the selector is required.
	WebhookSelector string
	// CACommonName is the CA's subject. Default "wisp webhook CA".
	CACommonName string
	// CAValidity is the CA's lifetime. Default 365 days.
	CAValidity time.Duration
	// CertValidity is the serving certificate's lifetime; it never outlives
	// its CA. Default 90 days.
	CertValidity time.Duration
	// RenewFraction of its lifetime after which the serving certificate is
	// renewed, in (0, 1). Default 2/3.
	RenewFraction float64
	// CAOverlap is how long before the CA expires its successor is made and
	// published: for that time caBundle holds both. Must be less than
	// CAValidity and more than PropagationDelay. Default CAValidity/3.
	CAOverlap time.Duration
	// PropagationDelay is how long after the successor CA was seen in every
	// webhook configuration it starts signing, so that every API server has
	// caught up with the new caBundle. Default 1 minute.
	PropagationDelay time.Duration
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
	// Logger receives lifecycle events and failures. Default: discard.
	Logger *slog.Logger
	// Registerer receives wisp_cert_expiry_timestamp_seconds{cert} and
	// wisp_cert_reload_failing. Default: no metrics.
	Registerer prometheus.Registerer
}

func (o AutoOptions) withDefaults() AutoOptions {
	if o.SecretName == "" {
		o.SecretName = DefaultSecretName
	}
	if o.CACommonName == "" {
		o.CACommonName = DefaultCACommonName
	}
	if o.CAValidity == 0 {
		o.CAValidity = DefaultCAValidity
	}
	if o.CertValidity == 0 {
		o.CertValidity = DefaultCertValidity
	}
	if o.RenewFraction == 0 {
		o.RenewFraction = DefaultRenewFraction
	}
	if o.CAOverlap == 0 {
		o.CAOverlap = o.CAValidity / 3
	}
	if o.PropagationDelay == 0 {
		o.PropagationDelay = DefaultPropagationDelay
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate names every bad field of o (after defaults), wrapping
// ErrInvalidOptions.
func (o AutoOptions) Validate() error {
	o = o.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if o.Namespace == "" {
		bad("Namespace", "required")
	}
	if o.ServiceName == "" && len(o.Hosts) == 0 {
		bad("ServiceName", "required unless Hosts is set")
	}
	if o.MutatingWebhookName == "" && o.ValidatingWebhookName == "" && o.WebhookSelector == "" {
		bad("MutatingWebhookName", "set it, ValidatingWebhookName or WebhookSelector: auto mode must publish its CA")
	}
	if o.WebhookSelector != "" {
		if _, err := labels.Parse(o.WebhookSelector); err != nil {
			bad("WebhookSelector", "%w", err)
		}
	}
	if o.CAValidity < 0 {
		bad("CAValidity", "%s is negative", o.CAValidity)
	}
	if o.CertValidity < 0 {
		bad("CertValidity", "%s is negative", o.CertValidity)
	}
	if o.RenewFraction <= 0 || o.RenewFraction >= 1 || math.IsNaN(o.RenewFraction) {
		bad("RenewFraction", "%v is not in (0, 1)", o.RenewFraction)
	}
	if o.CAOverlap <= 0 || o.CAOverlap >= o.CAValidity {
		bad("CAOverlap", "%s is not in (0, CAValidity %s)", o.CAOverlap, o.CAValidity)
	}
	if o.PropagationDelay < 0 || o.PropagationDelay >= o.CAOverlap {
		bad("PropagationDelay", "%s is not in [0, CAOverlap %s)", o.PropagationDelay, o.CAOverlap)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
}

// hosts are the names the serving certificate must carry.
func (o AutoOptions) hosts() []string {
	var hosts []string
	if o.ServiceName != "" {
		hosts = ServiceHosts(o.ServiceName, o.Namespace)
	}
	for _, h := range o.Hosts {
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// Auto is the auto-mode Source: it generates a CA and a serving certificate,
// keeps both in one Secret so that every replica serves the same chain,
// renews them, and keeps the CA bundle in caBundle of wisp's webhook
// configurations.
//
// Every replica runs the same loop; there is no leader. Writes are
// conditional: the Secret is created if absent (AlreadyExists: adopt the
// winner's) and updated with its resourceVersion (Conflict: re-read and
// adopt), so racing replicas converge on one chain. Replicas learn of the
// Secret and the configurations through informers restricted to those
// objects, never through an API call per TLS handshake.
//
// Invariant: a replica never switches to a certificate whose CA is missing
// from the caBundle of any webhook of an existing webhook configuration (it
// checks its informer's view first and keeps serving the previous
// certificate meanwhile), unless the previous one has expired. A new CA
// signs only PropagationDelay after every configuration was seen to trust it.
type Auto struct {
	client  kubernetes.Interface
	opts    AutoOptions
	policy  policy
	log     *slog.Logger
	h       holder
	inj     *injector
	secrets cache.SharedIndexInformer
	kick    chan struct{}
	started atomic.Bool
	synced  atomic.Bool

	// known is the newest Secret revision a pass acted on; only the
	// reconcile goroutine uses it.
	known bundleSource

	// heldSince is when serve started holding back the Secret's certificate
	// (zero when it is not); only the reconcile goroutine uses it.
	heldSince  time.Time
	heldWarned bool

	mu      sync.Mutex // guards waiting
	waiting error      // why the Secret's certificate is not served yet; not a failure
}

// NewAuto validates opts and builds the source. Nothing is read or written
// until Start.
func NewAuto(client kubernetes.Interface, opts AutoOptions) (*Auto, error) {
	if client == nil {
		return nil, fmt.Errorf("certs: auto: %w: no Kubernetes client", ErrInvalidOptions)
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("certs: auto: %w", err)
	}
	opts = opts.withDefaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("certs: auto: %w", err)
	}
	log := opts.Logger.With("mode", string(ModeAuto), "namespace", opts.Namespace, "secret", opts.SecretName)
	a := &Auto{
		client: client,
		opts:   opts,
		policy: policy{
			hosts:            opts.hosts(),
			caName:           opts.CACommonName,
			caValidity:       opts.CAValidity,
			certValidity:     opts.CertValidity,
			renewFraction:    opts.RenewFraction,
			caOverlap:        opts.CAOverlap,
			propagationDelay: opts.PropagationDelay,
		},
		log:  log,
		h:    holder{clock: opts.Clock, metrics: m},
		inj:  newInjector(client, opts.MutatingWebhookName, opts.ValidatingWebhookName, opts.WebhookSelector, log),
		kick: make(chan struct{}, 1),
	}
	secrets := client.CoreV1().Secrets(opts.Namespace)
	byName := fields.OneTermEqualSelector("metadata.name", opts.SecretName).String()
	a.secrets = newInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = byName
			return secrets.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = byName
			return secrets.Watch(ctx, o)
		},
	}, &corev1.Secret{})
	for _, inf := range a.informers() {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { a.trigger() },
			UpdateFunc: func(any, any) { a.trigger() },
			DeleteFunc: func(any) { a.trigger() },
		}); err != nil {
			return nil, fmt.Errorf("certs: auto: watch: %w", err)
		}
		if err := inf.SetWatchErrorHandlerWithContext(a.watchError); err != nil {
			return nil, fmt.Errorf("certs: auto: watch: %w", err)
		}
	}
	return a, nil
}

// GetCertificate returns the serving certificate; see Source.
func (a *Auto) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.h.getCertificate(hello)
}

// Ready returns nil while a valid certificate is served, else why not: not
// started, informers not synced, the Secret corrupt, the CA not yet in
// caBundle, ...
func (a *Auto) Ready() error {
	err := a.h.ready()
	if err == nil {
		return nil
	}
	switch {
	case !a.started.Load():
		return fmt.Errorf("%w (not started)", err)
	case !a.synced.Load():
		return fmt.Errorf("%w (waiting for the Secret and webhook configurations to be listed)", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.waiting != nil {
		return fmt.Errorf("%w: %w", err, a.waiting)
	}
	return err
}

// Status reports the served certificate and the error of the last pass of
// the loop (nil once a pass succeeds). While Err is set, the previously
// loaded certificate (if any) keeps serving.
func (a *Auto) Status() Status { return a.h.status() }

func (a *Auto) informers() []cache.SharedIndexInformer {
	return append([]cache.SharedIndexInformer{a.secrets}, a.inj.informers()...)
}

func (a *Auto) trigger() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// watchError records list/watch failures (say RBAC) until the informers have
// synced, so that Ready says why it waits; later ones are transient and only
// logged by client-go.
func (a *Auto) watchError(ctx context.Context, r *cache.Reflector, err error) {
	if !a.synced.Load() {
		a.h.setError(fmt.Errorf("list and watch: %w", err))
	}
	cache.DefaultWatchErrorHandler(ctx, r, err)
}

// Start runs the informers and the reconcile loop until ctx is done, then
// returns nil. It may be called once.
func (a *Auto) Start(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("certs: auto: started twice")
	}
	// client-go logs through the logger in the context.
	ctx = logr.NewContext(ctx, logr.FromSlogHandler(a.log.Handler()))
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var synced []cache.InformerSynced
	for _, inf := range a.informers() {
		wg.Go(func() { inf.RunWithContext(ctx) })
		synced = append(synced, inf.HasSynced)
	}
	a.log.Info("starting certificate manager", "hosts", a.policy.hosts, "mutatingWebhook", a.opts.MutatingWebhookName, "validatingWebhook", a.opts.ValidatingWebhookName)
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	a.synced.Store(true)

	retry := retryMin
	// Since Go 1.23 Reset needs no drained channel: no stale tick arrives.
	timer := time.NewTimer(resyncInterval)
	defer timer.Stop()
	for {
		wake, err := a.reconcile(ctx)
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.h.setError(err)
			level := slog.LevelWarn
			if errors.Is(err, ErrCorruptSecret) {
				level = slog.LevelError
			}
			a.log.Log(ctx, level, "certificate reconcile failed; the served certificate stays", "err", err, "retryIn", retry)
			wait, retry = retry, min(2*retry, retryMax)
		} else {
			a.h.setError(nil)
			retry = retryMin
			wait = min(max(wake.Sub(a.opts.Clock()), 0), resyncInterval)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-a.kick:
		case <-timer.C:
		}
	}
}

// reconcile is one pass: bring the Secret's chain up to date (creating it if
// absent), publish its trust bundle, then serve its certificate if the
// webhook configurations trust its CA. It returns when to run again.
func (a *Auto) reconcile(ctx context.Context) (time.Time, error) {
	now := a.opts.Clock()
	sec, err := a.cachedSecret()
	if err != nil {
		return time.Time{}, err
	}
	var c *chain
	live := false
	for attempt := 1; ; attempt++ {
		cur, err := decodeChain(sec)
		if err != nil {
			return time.Time{}, err
		}
		if !live && sec != nil && cur != nil && sec.UID == a.known.uid && cur.revision < a.known.revision {
			// The informer has not caught up with a write seen earlier; acting
			// on its copy would serve an older certificate again.
			if sec, err = a.getSecret(ctx); err != nil {
				return time.Time{}, err
			}
			live = true
			continue
		}
		next, steps, err := a.policy.plan(cur, now)
		if err != nil {
			return time.Time{}, err
		}
		if next == nil {
			c = cur
			break
		}
		written, err := a.writeSecret(ctx, sec, next)
		if err == nil {
			a.log.Info("certificate chain updated", "steps", steps, "revision", next.revision,
				"notAfter", next.leaf.cert.NotAfter, "caNotAfter", next.ca.cert.NotAfter, "fingerprint", Fingerprint(next.leaf.cert.Raw))
			sec, c = written, next
			break
		}
		if attempt >= maxWriteAttempts || !(apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) {
			return time.Time{}, err
		}
		// Another replica wrote first: adopt what it wrote.
		a.log.Debug("secret written by another replica; re-reading", "attempt", attempt, "err", err)
		if sec, err = a.getSecret(ctx); err != nil {
			return time.Time{}, err
		}
		live = true
	}
	a.known = bundleSource{uid: sec.UID, revision: c.revision}

	injectErr := a.inj.ensure(ctx, c.bundlePEM(), a.known)
	if injectErr == nil && c.next != nil && c.nextPublishedAt.IsZero() && a.inj.trusts(c.next.cert) == nil {
		marked := c.published(now)
		_, err := a.writeSecret(ctx, sec, marked)
		switch {
		case err == nil:
			a.log.Info("successor CA published in every webhook configuration", "signsAfter", now.Add(a.opts.PropagationDelay), "caNotAfter", c.next.cert.NotAfter)
			c = marked
		case apierrors.IsConflict(err):
			// Someone else wrote the Secret; its informer event runs the next pass.
		default:
			injectErr = errors.Join(injectErr, err)
		}
	}
	wake := a.policy.wakeAt(c)
	if waiting := a.serve(c, now); waiting {
		wake = earliest(wake, now.Add(waitingRecheck))
	}
	return wake, injectErr
}

// serve swaps in the chain's serving certificate unless it is already
// served, or unless a webhook configuration does not trust its CA yet; it
// reports whether it is waiting for that.
func (a *Auto) serve(c *chain, now time.Time) (waiting bool) {
	cur := a.h.cur.Load()
	if cur != nil && cur.leaf.Equal(c.leaf.cert) {
		a.setWaiting(nil)
		return false
	}
	if err := a.inj.trusts(c.ca.cert); err != nil {
		if cur == nil || now.Before(cur.leaf.NotAfter) {
			a.setWaiting(fmt.Errorf("new serving certificate held back until its CA is in caBundle: %w", err))
			if a.heldSince.IsZero() {
				a.heldSince = now
			}
			if now.Sub(a.heldSince) >= heldBackWarning && !a.heldWarned {
				a.heldWarned = true
				a.log.Warn("new serving certificate still held back: its CA is not in caBundle", "since", a.heldSince, "err", err)
			} else {
				a.log.Debug("new serving certificate held back until its CA is in caBundle", "err", err)
			}
			return true
		}
		a.log.Error("serving a certificate whose CA is not in caBundle yet: the previous one expired", "err", err)
	}
	a.heldSince, a.heldWarned = time.Time{}, false
	a.setWaiting(nil)
	a.h.store(&served{cert: c.leaf.tlsCertificate(), leaf: c.leaf.cert, ca: c.ca.cert})
	a.log.Info("serving certificate loaded", "fingerprint", Fingerprint(c.leaf.cert.Raw), "notAfter", c.leaf.cert.NotAfter,
		"caFingerprint", Fingerprint(c.ca.cert.Raw), "revision", c.revision)
	return false
}

func (a *Auto) setWaiting(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.waiting = err
}

func (a *Auto) cachedSecret() (*corev1.Secret, error) {
	obj, ok, err := a.secrets.GetStore().GetByKey(a.opts.Namespace + "/" + a.opts.SecretName)
	if err != nil || !ok {
		return nil, err
	}
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return nil, fmt.Errorf("read secret %s/%s: cached object is %T", a.opts.Namespace, a.opts.SecretName, obj)
	}
	return s, nil
}

// getSecret reads the Secret from the API server; nil if it does not exist.
func (a *Auto) getSecret(ctx context.Context) (*corev1.Secret, error) {
	s, err := a.client.CoreV1().Secrets(a.opts.Namespace).Get(ctx, a.opts.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secret %s/%s: %w", a.opts.Namespace, a.opts.SecretName, err)
	}
	return s, nil
}

// writeSecret creates the Secret (base nil) or updates base, conditional on
// its resourceVersion. A Conflict or AlreadyExists stays visible to
// apierrors.IsConflict and IsAlreadyExists through the wrapping.
func (a *Auto) writeSecret(ctx context.Context, base *corev1.Secret, c *chain) (*corev1.Secret, error) {
	s := c.applyTo(base, a.opts.Namespace, a.opts.SecretName)
	secrets := a.client.CoreV1().Secrets(a.opts.Namespace)
	var (
		out *corev1.Secret
		err error
	)
	if base == nil {
		out, err = secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: fieldManager})
	} else {
		out, err = secrets.Update(ctx, s, metav1.UpdateOptions{FieldManager: fieldManager})
	}
	if err != nil {
		return nil, fmt.Errorf("write secret %s/%s: %w", a.opts.Namespace, a.opts.SecretName, err)
	}
	return out, nil
}

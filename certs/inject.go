package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// fieldManager names wisp in managedFields.
const fieldManager = "wisp-certs"

// maxWriteAttempts bounds the re-read-and-retry loop on a write conflict.
const maxWriteAttempts = 5

// webhookConfig is what the injector needs of a Mutating- or
// ValidatingWebhookConfiguration.
type webhookConfig struct {
	kind            string
	name            string
	resourceVersion string
	source          string // AnnotationCABundleSource
	webhooks        []webhookEntry
}

type webhookEntry struct {
	name     string
	caBundle []byte
}

func (c webhookConfig) String() string { return c.kind + " " + c.name }

// bundleSource identifies the Secret revision a caBundle is written from.
type bundleSource struct {
	uid      types.UID
	revision int64
}

func (s bundleSource) String() string { return string(s.uid) + "/" + strconv.FormatInt(s.revision, 10) }

func parseBundleSource(v string) (bundleSource, bool) {
	uid, rev, ok := strings.Cut(v, "/")
	if !ok {
		return bundleSource{}, false
	}
	n, err := strconv.ParseInt(rev, 10, 64)
	if err != nil {
		return bundleSource{}, false
	}
	return bundleSource{uid: types.UID(uid), revision: n}, true
}

// needsPatch reports whether cfg's caBundles should be replaced by bundle
// from src. A configuration written from a later revision of the same Secret
// is left alone: the writer here is behind, and would undo a newer bundle.
func needsPatch(cfg webhookConfig, bundle []byte, src bundleSource) bool {
	have, ok := parseBundleSource(cfg.source)
	if ok && have.uid == src.uid && have.revision > src.revision {
		return false
	}
	if !ok || have != src {
		return true
	}
	for _, w := range cfg.webhooks {
		if !bytes.Equal(w.caBundle, bundle) {
			return true
		}
	}
	return false
}

// patchBody is a strategic merge patch setting caBundle on every webhook of
// cfg (the list merges by name) and the source annotation. The
// resourceVersion makes it conditional: the API server answers Conflict if
// cfg changed since it was read, say to add a webhook.
func patchBody(cfg webhookConfig, bundle []byte, src bundleSource) ([]byte, error) {
	type clientConfig struct {
		CABundle []byte `json:"caBundle"`
	}
	type entry struct {
		Name         string       `json:"name"`
		ClientConfig clientConfig `json:"clientConfig"`
	}
	type meta struct {
		ResourceVersion string            `json:"resourceVersion"`
		Annotations     map[string]string `json:"annotations"`
	}
	body := struct {
		Metadata meta    `json:"metadata"`
		Webhooks []entry `json:"webhooks"`
	}{
		Metadata: meta{ResourceVersion: cfg.resourceVersion, Annotations: map[string]string{AnnotationCABundleSource: src.String()}},
		Webhooks: []entry{},
	}
	for _, w := range cfg.webhooks {
		body.Webhooks = append(body.Webhooks, entry{Name: w.name, ClientConfig: clientConfig{CABundle: bundle}})
	}
	return json.Marshal(body)
}

// untrusted names the webhooks of cfg whose caBundle lacks ca.
func untrusted(cfg webhookConfig, ca *x509.Certificate) []string {
	var out []string
	for _, w := range cfg.webhooks {
		if !bundleContains(w.caBundle, ca) {
			out = append(out, w.name)
		}
	}
	return out
}

// configKind reads and writes one kind of webhook configuration.
type configKind struct {
	kind      string
	informers []cache.SharedIndexInformer
	get       func(ctx context.Context, name string) (webhookConfig, error)
	patch     func(ctx context.Context, name string, body []byte) error
}

// injector keeps the trust bundle in caBundle of every webhook of wisp's
// webhook configurations: found by name, and by label when a selector is
// set. It reads them from informers (no API call per check) and writes with
// conditional strategic merge patches. It is used by Auto's single
// reconcile goroutine; its reads are safe from any goroutine.
type injector struct {
	kinds []*configKind
	log   *slog.Logger
}

func newInjector(client kubernetes.Interface, mutatingName, validatingName, selector string, log *slog.Logger) *injector {
	mw := client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	vw := client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	mutating := &configKind{
		kind: "MutatingWebhookConfiguration",
		get: func(ctx context.Context, name string) (webhookConfig, error) {
			o, err := mw.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return webhookConfig{}, err
			}
			return fromMutating(o), nil
		},
		patch: func(ctx context.Context, name string, body []byte) error {
			_, err := mw.Patch(ctx, name, types.StrategicMergePatchType, body, metav1.PatchOptions{FieldManager: fieldManager})
			return err
		},
	}
	validating := &configKind{
		kind: "ValidatingWebhookConfiguration",
		get: func(ctx context.Context, name string) (webhookConfig, error) {
			o, err := vw.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return webhookConfig{}, err
			}
			return fromValidating(o), nil
		},
		patch: func(ctx context.Context, name string, body []byte) error {
			_, err := vw.Patch(ctx, name, types.StrategicMergePatchType, body, metav1.PatchOptions{FieldManager: fieldManager})
			return err
		},
	}
	mlw := func(o metav1.ListOptions) *cache.ListWatch {
		return &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				opts.FieldSelector, opts.LabelSelector = o.FieldSelector, o.LabelSelector
				return mw.List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				opts.FieldSelector, opts.LabelSelector = o.FieldSelector, o.LabelSelector
				return mw.Watch(ctx, opts)
			},
		}
	}
	vlw := func(o metav1.ListOptions) *cache.ListWatch {
		return &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				opts.FieldSelector, opts.LabelSelector = o.FieldSelector, o.LabelSelector
				return vw.List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				opts.FieldSelector, opts.LabelSelector = o.FieldSelector, o.LabelSelector
				return vw.Watch(ctx, opts)
			},
		}
	}
	byName := func(name string) metav1.ListOptions {
		return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
	}
	if mutatingName != "" {
		mutating.informers = append(mutating.informers, newInformer(mlw(byName(mutatingName)), &admissionregistrationv1.MutatingWebhookConfiguration{}))
	}
	if validatingName != "" {
		validating.informers = append(validating.informers, newInformer(vlw(byName(validatingName)), &admissionregistrationv1.ValidatingWebhookConfiguration{}))
	}
	if selector != "" {
		bySelector := metav1.ListOptions{LabelSelector: selector}
		mutating.informers = append(mutating.informers, newInformer(mlw(bySelector), &admissionregistrationv1.MutatingWebhookConfiguration{}))
		validating.informers = append(validating.informers, newInformer(vlw(bySelector), &admissionregistrationv1.ValidatingWebhookConfiguration{}))
	}
	return &injector{kinds: []*configKind{mutating, validating}, log: log}
}

func newInformer(lw cache.ListerWatcher, example runtime.Object) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformerWithOptions(lw, example, cache.SharedIndexInformerOptions{})
}

// informers are every informer the injector reads.
func (in *injector) informers() []cache.SharedIndexInformer {
	var out []cache.SharedIndexInformer
	for _, k := range in.kinds {
		out = append(out, k.informers...)
	}
	return out
}

// configs lists the cached configurations of kind k, each once, by name.
func (k *configKind) configs() []webhookConfig {
	seen := map[string]bool{}
	var out []webhookConfig
	for _, inf := range k.informers {
		for _, o := range inf.GetStore().List() {
			var c webhookConfig
			switch o := o.(type) {
			case *admissionregistrationv1.MutatingWebhookConfiguration:
				c = fromMutating(o)
			case *admissionregistrationv1.ValidatingWebhookConfiguration:
				c = fromValidating(o)
			default:
				continue
			}
			if !seen[c.name] {
				seen[c.name] = true
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b webhookConfig) int { return strings.Compare(a.name, b.name) })
	return out
}

// ensure writes bundle into every cached configuration that needs it. A
// conflict re-reads the configuration and tries again. Configurations that
// do not exist are skipped: they are written when they appear.
func (in *injector) ensure(ctx context.Context, bundle []byte, src bundleSource) error {
	var errs []error
	for _, k := range in.kinds {
		for _, cfg := range k.configs() {
			if err := in.ensureOne(ctx, k, cfg, bundle, src); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (in *injector) ensureOne(ctx context.Context, k *configKind, cfg webhookConfig, bundle []byte, src bundleSource) error {
	for attempt := 1; ; attempt++ {
		if !needsPatch(cfg, bundle, src) {
			return nil
		}
		body, err := patchBody(cfg, bundle, src)
		if err != nil {
			return fmt.Errorf("patch caBundle of %s: %w", cfg, err)
		}
		err = k.patch(ctx, cfg.name, body)
		switch {
		case err == nil:
			in.log.Info("caBundle updated", "kind", cfg.kind, "name", cfg.name, "webhooks", len(cfg.webhooks), "revision", src.revision)
			return nil
		case apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err) && attempt < maxWriteAttempts:
			in.log.Debug("caBundle patch conflict; re-reading", "kind", cfg.kind, "name", cfg.name, "attempt", attempt)
			fresh, err := k.get(ctx, cfg.name)
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", cfg, err)
			}
			cfg = fresh
		default:
			return fmt.Errorf("patch caBundle of %s: %w", cfg, err)
		}
	}
}

// trusts returns nil if every webhook of every cached configuration has ca
// in its caBundle, else an error naming the webhooks that do not. With no
// configuration present it returns nil: no API server calls the webhook.
func (in *injector) trusts(ca *x509.Certificate) error {
	var errs []error
	for _, k := range in.kinds {
		for _, cfg := range k.configs() {
			if bad := untrusted(cfg, ca); len(bad) > 0 {
				errs = append(errs, fmt.Errorf("%s: caBundle of webhooks %s lacks the CA", cfg, strings.Join(bad, ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

func fromMutating(o *admissionregistrationv1.MutatingWebhookConfiguration) webhookConfig {
	c := webhookConfig{kind: "MutatingWebhookConfiguration", name: o.Name, resourceVersion: o.ResourceVersion, source: o.Annotations[AnnotationCABundleSource]}
	for _, w := range o.Webhooks {
		c.webhooks = append(c.webhooks, webhookEntry{name: w.Name, caBundle: w.ClientConfig.CABundle})
	}
	return c
}

func fromValidating(o *admissionregistrationv1.ValidatingWebhookConfiguration) webhookConfig {
	c := webhookConfig{kind: "ValidatingWebhookConfiguration", name: o.Name, resourceVersion: o.ResourceVersion, source: o.Annotations[AnnotationCABundleSource]}
	for _, w := range o.Webhooks {
		c.webhooks = append(c.webhooks, webhookEntry{name: w.Name, caBundle: w.ClientConfig.CABundle})
	}
	return c
}

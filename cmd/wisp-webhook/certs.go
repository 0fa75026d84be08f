package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"

	"wisp.dev/wisp/certs"
	"wisp.dev/wisp/webhook"
)

// certOptions are the flags of the serving certificate.
type certOptions struct {
	mode            string
	certDir         string
	certName        string
	keyName         string
	devCerts        bool
	devCertHosts    []string
	devCertValidity time.Duration
	namespace       string
	serviceName     string
	secretName      string
	hosts           []string
	mutatingName    string
	validatingName  string
	selector        string
	caValidity      time.Duration
	certValidity    time.Duration
	caOverlap       time.Duration
	propagation     time.Duration
}

func (o *certOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.mode, "cert-mode", string(certs.ModeFiles), "serving certificate: auto (self-managed in a Secret, caBundle patched), files (--cert-dir, hot reloaded) or dev (ephemeral)")
	f.StringVar(&o.certDir, "cert-dir", "", "files mode: folder with the certificate and key; dev mode: where ca.crt is written")
	f.StringVar(&o.certName, "cert-name", certs.CertFile, "files mode: certificate file name in --cert-dir")
	f.StringVar(&o.keyName, "key-name", certs.KeyFile, "files mode: key file name in --cert-dir")
	f.BoolVar(&o.devCerts, "dev-certs", false, "same as --cert-mode=dev")
	f.StringSliceVar(&o.devCertHosts, "dev-cert-hosts", []string{"localhost", "127.0.0.1"}, "dev mode: host names and IPs of the certificate")
	f.DurationVar(&o.devCertValidity, "dev-cert-validity", 24*time.Hour, "dev mode: validity of the certificate")
	f.StringVar(&o.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "auto mode: wisp's namespace, where its Secret lives (default $POD_NAMESPACE)")
	f.StringVar(&o.serviceName, "service-name", "wisp-webhook", "auto mode: the webhook Service's name (the certificate names its DNS names)")
	f.StringVar(&o.secretName, "cert-secret", "wisp-webhook-tls", "auto mode: the Secret that holds the CA and serving certificate")
	f.StringSliceVar(&o.hosts, "cert-hosts", nil, "auto mode: extra DNS names or IPs of the serving certificate")
	f.StringVar(&o.mutatingName, "mutating-webhook", "wisp", "auto mode: the MutatingWebhookConfiguration whose caBundle wisp keeps current")
	f.StringVar(&o.validatingName, "validating-webhook", "wisp", "auto mode: the ValidatingWebhookConfiguration whose caBundle wisp keeps current")
	f.StringVar(&o.selector, "webhook-selector", "", "auto mode: also keep the caBundle of every webhook configuration this label selector matches")
	f.DurationVar(&o.caValidity, "ca-validity", 0, "auto mode: CA lifetime (default 8760h)")
	f.DurationVar(&o.certValidity, "cert-validity", 0, "auto mode: serving certificate lifetime (default 2160h; renewed at 2/3)")
	f.DurationVar(&o.caOverlap, "ca-overlap", 0, "auto mode: how long the old and the new CA are both trusted (default a third of --ca-validity)")
	f.DurationVar(&o.propagation, "ca-propagation-delay", 0, "auto mode: wait after publishing a new CA before it signs (default 1m)")
}

// source builds the certificate source of the chosen mode, with its
// readiness checks and a cleanup for what it wrote.
func (o *certOptions) source(client kubernetes.Interface, log *slog.Logger, reg prometheus.Registerer) (certs.Source, []webhook.Check, func(), error) {
	noop := func() {}
	if o.devCerts {
		o.mode = string(certs.ModeDev)
	}
	mode, err := certs.ParseMode(o.mode)
	if err != nil {
		return nil, nil, noop, fmt.Errorf("--cert-mode: %w", err)
	}
	var (
		src    certs.Source
		status func() certs.Status
	)
	cleanup := noop
	switch mode {
	case certs.ModeAuto:
		if client == nil {
			return nil, nil, noop, errors.New("--cert-mode=auto needs cluster access (in a pod, or --kubeconfig)")
		}
		a, err := certs.NewAuto(client, certs.AutoOptions{
			Namespace:             o.namespace,
			SecretName:            o.secretName,
			ServiceName:           o.serviceName,
			Hosts:                 o.hosts,
			MutatingWebhookName:   o.mutatingName,
			ValidatingWebhookName: o.validatingName,
			WebhookSelector:       o.selector,
			CAValidity:            o.caValidity,
			CertValidity:          o.certValidity,
			CAOverlap:             o.caOverlap,
			PropagationDelay:      o.propagation,
			Logger:                log,
			Registerer:            reg,
		})
		if err != nil {
			return nil, nil, noop, err
		}
		src, status = a, a.Status
	case certs.ModeFiles:
		if o.certDir == "" {
			return nil, nil, noop, errors.New("set --cert-dir (files mode), or --cert-mode=auto, or --dev-certs for local use")
		}
		f, err := certs.NewFiles(filepath.Join(o.certDir, o.certName), filepath.Join(o.certDir, o.keyName), certs.FilesOptions{Logger: log, Registerer: reg})
		if err != nil {
			return nil, nil, noop, err
		}
		src, status = f, f.Status
	case certs.ModeDev:
		dir := o.certDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "wisp-dev-certs-"); err != nil {
				return nil, nil, noop, fmt.Errorf("dev certificates: %w", err)
			}
			cleanup = func() { _ = os.RemoveAll(dir) }
		}
		b, err := certs.NewDev(o.devCertHosts, time.Now(), o.devCertValidity)
		if err != nil {
			cleanup()
			return nil, nil, noop, err
		}
		if err := b.WriteDir(dir); err != nil {
			cleanup()
			return nil, nil, noop, err
		}
		s, err := certs.NewStatic(b.CertPEM, b.KeyPEM, nil)
		if err != nil {
			cleanup()
			return nil, nil, noop, err
		}
		src, status = s, s.Status
		log.Info("generated dev certificates", "hosts", strings.Join(o.devCertHosts, ","), "caFile", filepath.Join(dir, certs.CAFile))
	}
	checks := []webhook.Check{
		{Name: "certificate", Fn: func(*http.Request) error { return src.Ready() }},
		{Name: "certificate-reload", Degraded: true, Fn: func(*http.Request) error { return status().Err }},
	}
	return src, checks, cleanup, nil
}

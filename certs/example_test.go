package certs_test

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"wisp.dev/wisp/certs"
)

// Auto mode behind an HTTPS server: the Source plugs into tls.Config, runs
// beside the server, and gates readiness.
func ExampleNewAuto() {
	ctx := context.Background()
	var client kubernetes.Interface // from rest.InClusterConfig()
	src, err := certs.NewAuto(client, certs.AutoOptions{
		Namespace:             "wisp-system",
		ServiceName:           "wisp-webhook",
		MutatingWebhookName:   "wisp",
		ValidatingWebhookName: "wisp",
		Logger:                slog.Default(),
		Registerer:            prometheus.NewRegistry(),
	})
	if err != nil {
		panic(err)
	}
	go func() { _ = src.Start(ctx) }()

	srv := &http.Server{Addr: ":9443", TLSConfig: certs.TLSConfig(src.GetCertificate), ReadHeaderTimeout: 10 * time.Second}
	http.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := src.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := src.Status().Err; err != nil {
			_, _ = w.Write([]byte("degraded: " + err.Error())) // still serving the previous certificate
		}
	})
	_ = srv.ListenAndServeTLS("", "") // certificates come from TLSConfig
}

// Files mode: a certificate and key written by cert-manager into a mounted
// Secret, hot reloaded.
func ExampleNewFiles() {
	src, err := certs.NewFiles("/tls/tls.crt", "/tls/tls.key", certs.FilesOptions{})
	if err != nil {
		panic(err) // no usable pair at start-up
	}
	go func() { _ = src.Start(context.Background()) }()
	_ = certs.TLSConfig(src.GetCertificate)
}

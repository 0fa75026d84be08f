package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// RegistryRequest is one request the env's registry answered.
type RegistryRequest struct {
	Method, Path string
	Status       int
	// UserAgent names the client: containerd for the node's pulls, Helm
	// for the chart's, go-containerregistry for the pushes.
	UserAgent string
}

// registry is an OCI registry on 127.0.0.1 over plain HTTP, in this
// process (go-containerregistry's pkg/registry): blobs in a folder,
// manifests in memory, the referrers API on. It records every request.
type registry struct {
	host string // 127.0.0.1:<port>
	srv  *http.Server
	done chan error

	mu   sync.Mutex
	reqs []RegistryRequest
}

// startRegistry listens on a free port of 127.0.0.1 and serves until stop;
// blobs go to dir.
func startRegistry(dir string) (*registry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("registry: create %s: %w", dir, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("registry: listen: %w", err)
	}
	r := &registry{host: ln.Addr().String(), done: make(chan error, 1)}
	h := ggcrregistry.New(
		ggcrregistry.WithBlobHandler(ggcrregistry.NewDiskBlobHandler(dir)),
		ggcrregistry.WithReferrersSupport(true),
		ggcrregistry.Logger(log.New(io.Discard, "", 0)),
	)
	r.srv = &http.Server{Handler: r.record(h), ReadHeaderTimeout: 10 * time.Second}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

// statusWriter keeps the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (r *registry) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, req)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, RegistryRequest{Method: req.Method, Path: req.URL.Path, Status: sw.status, UserAgent: req.UserAgent()})
		r.mu.Unlock()
	})
}

// requests are the requests answered so far, oldest first.
func (r *registry) requests() []RegistryRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RegistryRequest(nil), r.reqs...)
}

// stop closes the listener and waits for the requests in flight (5 s at
// most). Safe to call twice.
func (r *registry) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if serr := <-r.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	r.done <- http.ErrServerClosed
	if err != nil {
		return fmt.Errorf("stop the registry: %w", err)
	}
	return nil
}

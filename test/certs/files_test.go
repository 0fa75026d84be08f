package certs_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wisp.dev/wisp/certs"
	"wisp.dev/wisp/test/testutil"
)

// devPair is a dev CA and certificate for localhost and 127.0.0.1.
func devPair(t *testing.T) (*certs.Bundle, string) {
	t.Helper()
	b, err := certs.NewDev([]string{"localhost", "127.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(b.CertPEM, b.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return b, certs.Fingerprint(pair.Certificate[0])
}

// kubeletDir lays files out as the kubelet mounts a Secret: each name is a
// symlink into ..data, itself a symlink to a timestamped folder; an update
// swaps ..data atomically.
type kubeletDir struct {
	dir string
	n   int
}

func (k *kubeletDir) write(t *testing.T, b *certs.Bundle) {
	t.Helper()
	k.n++
	ts := filepath.Join(k.dir, fmt.Sprintf("..%d", k.n))
	if err := b.WriteDir(ts); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(k.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(k.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{certs.CertFile, certs.KeyFile, certs.CAFile} {
		link := filepath.Join(k.dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}

// renameInPlace replaces the certificate then the key, each by an atomic
// rename: between the two the pair on disk does not match.
func renameInPlace(t *testing.T, dir string, b *certs.Bundle) {
	t.Helper()
	for _, f := range []struct {
		name string
		data []byte
	}{{certs.CertFile, b.CertPEM}, {certs.KeyFile, b.KeyPEM}} {
		tmp := filepath.Join(dir, "."+f.name+".tmp")
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // let the watcher see the mismatched pair
	}
}

// Files mode under load: requests keep flowing over new TLS connections
// while the files are replaced (kubelet-style symlink swaps, and a
// non-atomic certificate-then-key rename); none fails, and each new
// certificate is served soon after.
func TestFilesReloadUnderLoadFailsNoRequest(t *testing.T) {
	pairs := make([]*certs.Bundle, 4)
	prints := make([]string, 4)
	pool := x509.NewCertPool()
	for i := range pairs {
		pairs[i], prints[i] = devPair(t)
		pool.AppendCertsFromPEM(pairs[i].CAPEM)
	}
	kd := &kubeletDir{dir: t.TempDir()}
	kd.write(t, pairs[0])
	flat := t.TempDir()
	if err := pairs[0].WriteDir(flat); err != nil {
		t.Fatal(err)
	}

	for _, layout := range []struct {
		name    string
		dir     string
		replace func(t *testing.T, b *certs.Bundle)
	}{
		{"kubelet symlink swap", kd.dir, kd.write},
		{"certificate then key renamed", flat, func(t *testing.T, b *certs.Bundle) { renameInPlace(t, flat, b) }},
	} {
		t.Run(layout.name, func(t *testing.T) {
			logs := &testutil.SyncBuffer{}
			f, err := certs.NewFiles(filepath.Join(layout.dir, certs.CertFile), filepath.Join(layout.dir, certs.KeyFile),
				certs.FilesOptions{PollInterval: 2 * time.Second, Logger: slogTo(logs)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- f.Start(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Files.Start: %v", err)
				}
				if t.Failed() {
					t.Logf("logs:\n%s", logs.String())
				}
			})
			srv := serve(t, f.GetCertificate, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12},
				DisableKeepAlives: true,
			}}
			t.Cleanup(client.CloseIdleConnections)

			var ok, failed atomic.Int64
			var failMu sync.Mutex
			var failures []string
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						resp, err := client.Get(srv.url("/"))
						if err == nil {
							_, _ = io.Copy(io.Discard, resp.Body)
							_ = resp.Body.Close()
							if resp.StatusCode != http.StatusOK {
								err = fmt.Errorf("status %d", resp.StatusCode)
							}
						}
						if err != nil {
							failed.Add(1)
							failMu.Lock()
							failures = append(failures, err.Error())
							failMu.Unlock()
							continue
						}
						ok.Add(1)
					}
				})
			}
			for i := 1; i < len(pairs); i++ {
				layout.replace(t, pairs[i])
				eventually(t, 20*time.Second, fmt.Sprintf("certificate %d served", i), func() error {
					peer, err := peerCert(srv.addr)
					if err != nil {
						return err
					}
					if got := certs.Fingerprint(peer.Raw); got != prints[i] {
						return fmt.Errorf("serving %s, want %s", got[:12], prints[i][:12])
					}
					return nil
				})
				time.Sleep(200 * time.Millisecond) // some load on the new certificate
			}
			close(stop)
			wg.Wait()
			t.Logf("%d requests, %d failed", ok.Load(), failed.Load())
			if n := failed.Load(); n > 0 {
				t.Errorf("%d requests failed; first: %s", n, strings.Join(failures[:min(5, len(failures))], "; "))
			}
			if ok.Load() < 20 {
				t.Errorf("only %d requests: too little load to prove anything", ok.Load())
			}
			if err := f.Ready(); err != nil {
				t.Errorf("Ready: %v", err)
			}
		})
		// The next layout starts from pair 0 again.
	}
}

// A corrupt or vanished file is reported, and the last good certificate
// keeps serving.
func TestFilesCorruptFileKeepsTheServedCertificate(t *testing.T) {
	dir := t.TempDir()
	b, fp := devPair(t)
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	f, err := certs.NewFiles(filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile), certs.FilesOptions{PollInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.Start(ctx) }()
	srv := serve(t, f.GetCertificate, nil)

	for _, tt := range []struct {
		name   string
		break_ func()
		want   string
	}{
		{"garbage certificate", func() {
			if err := os.WriteFile(filepath.Join(dir, certs.CertFile), []byte("garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "PEM"},
		{"key removed", func() {
			if err := os.Remove(filepath.Join(dir, certs.KeyFile)); err != nil {
				t.Fatal(err)
			}
		}, "tls.key"},
	} {
		tt.break_()
		eventually(t, 20*time.Second, tt.name+" reported", func() error {
			st := f.Status()
			if st.Err == nil || !strings.Contains(st.Err.Error(), tt.want) {
				return fmt.Errorf("Status().Err = %v, want it to mention %q", st.Err, tt.want)
			}
			return nil
		})
		peer, err := peerCert(srv.addr)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if certs.Fingerprint(peer.Raw) != fp || errors.Is(f.Ready(), certs.ErrNotReady) {
			t.Errorf("%s: previous certificate no longer served, or not ready", tt.name)
		}
	}
}

// This file is not part of wisp-webhook. test/load adds it to package main
// of cmd/wisp-webhook with `go build -overlay` when asked for profiles
// (-pprof): it serves net/http/pprof on $WISP_LOAD_PPROF. The sources and
// the release binary never contain it.

package main

import (
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

func init() {
	addr := os.Getenv("WISP_LOAD_PPROF")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
}

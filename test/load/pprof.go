package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profileAsync fetches a CPU profile of s over the run that is about to
// start (warm-up excluded) into cfg.pprofDir/name.
func profileAsync(s *server, addr string, cfg config, name string) chan error {
	done := make(chan error, 1)
	secs := int(cfg.duration.Seconds())
	if secs < 1 {
		secs = 1
	}
	go func() {
		time.Sleep(cfg.warmup)
		if !s.alive() {
			done <- fmt.Errorf("%s is not running", s.name)
			return
		}
		done <- fetch(addr, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), filepath.Join(cfg.pprofDir, name))
	}()
	return done
}

// fetch saves a pprof endpoint of the server on addr (plain HTTP, loopback).
func fetch(addr, path, file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bins are wisp-webhook and the floor, built once for the package's tests.
var bins *binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wisp-load-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bins, err = build(dir, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the servers:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func startServer(t *testing.T, name string) *server {
	t.Helper()
	s, err := start(context.Background(), bins, name, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	return s
}

// The soak, 30 s: wisp-webhook at its default log level, 64 connections,
// valid reviews mixed with hostile requests. No crash, no wrong answer,
// every bad request refused with a 4xx, memory flat. `go run ./test/load
// -soak 5m` (make soak) is the long version.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s soak; -short skips it")
	}
	s := startServer(t, srvWispInfo)
	rep, err := soak(context.Background(), s, 30*time.Second, 64, 4<<20, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Log("\n" + out.String())
	if !rep.ok() {
		t.Fatalf("soak failed:\n%s", strings.Join(rep.problems, "\n"))
	}
	if err := s.stop(70 * time.Second); err != nil {
		t.Fatalf("wisp-webhook did not exit cleanly after the soak: %v", err)
	}
}

// outcome is what one request of the shutdown test saw.
type outcome struct {
	at      time.Time
	err     error // transport error: refused or closed before an answer
	invalid error // an answer that is cut short or wrong
}

// SIGTERM under load: requests in flight complete, later ones are refused
// cleanly (connection refused or closed, never a half-written answer), and
// the process exits 0.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	s := startServer(t, srvWisp)
	injected, err := scenario(scInjected)
	if err != nil {
		t.Fatal(err)
	}

	// Steady load: 16 connections until the server is gone.
	var mu sync.Mutex
	var outcomes []outcome
	client := newClient(s.roots, 16)
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			c := newChecker(injected, false)
			for seq := 0; ; seq++ {
				uid := fmt.Sprintf("shutdown-%d-%d", w, seq)
				code, body, err := post(context.Background(), client, s.url+"/mutate", injected, uid)
				o := outcome{at: time.Now()}
				switch {
				case errors.Is(err, errHalfWritten):
					o.invalid = err
				case err != nil:
					o.err = err
				default:
					o.invalid = c.check(uid, code, body)
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if o.err != nil && !s.alive() {
					return
				}
				if o.err != nil {
					time.Sleep(5 * time.Millisecond) // refused while shutting down: try again
				}
			}
		})
	}
	time.Sleep(time.Second)

	// Requests in flight at SIGTERM: half their body sent.
	type slowResult struct {
		i    int
		code int
		body []byte
		err  error
	}
	const slow = 4
	slowDone := make(chan slowResult, slow)
	var writers []*io.PipeWriter
	for i := range slow {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		go func() {
			req, _ := http.NewRequest(http.MethodPost, s.url+"/mutate", pr)
			req.Header.Set("Content-Type", "application/json")
			resp, err := newClient(s.roots, 1).Do(req)
			if err != nil {
				slowDone <- slowResult{i: i, err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			slowDone <- slowResult{i: i, code: resp.StatusCode, body: b, err: err}
		}()
		body := injected.bodyFor(fmt.Sprintf("slow-%d", i))
		if _, err := pw.Write(body[:len(body)/2]); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the slow requests are in their handlers, reading

	term := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // shutdown has begun
	for i, pw := range writers {
		body := injected.bodyFor(fmt.Sprintf("slow-%d", i))
		if _, err := pw.Write(body[len(body)/2:]); err != nil {
			t.Errorf("slow request %d: the rest of its body: %v", i, err)
		}
		pw.Close()
	}
	c := newChecker(injected, false)
	for range slow {
		r := <-slowDone
		if r.err != nil {
			t.Errorf("a request in flight at SIGTERM failed: %v", r.err)
			continue
		}
		if err := c.check(fmt.Sprintf("slow-%d", r.i), r.code, r.body); err != nil {
			t.Errorf("in-flight request %d: %v", r.i, err)
		}
	}

	select {
	case <-s.done:
	case <-time.After(70 * time.Second):
		t.Fatal("wisp-webhook did not exit within 70 s of SIGTERM")
	}
	exited := time.Now()
	if s.waitErr != nil {
		t.Errorf("wisp-webhook exited with %v, want 0; log:\n%s", s.waitErr, s.log())
	}
	wg.Wait()

	var before, after, refused, invalid int
	kinds := map[string]int{}
	for _, o := range outcomes {
		if o.err != nil {
			kinds[errKind(o.err)]++
		}
		switch {
		case o.invalid != nil:
			invalid++
			if invalid <= 5 {
				t.Errorf("a bad answer at %s after SIGTERM: %v", o.at.Sub(term), o.invalid)
			}
		case o.err != nil && o.at.Before(term):
			t.Errorf("a request failed before SIGTERM: %v", o.err)
		case o.err != nil:
			refused++
		case o.at.Before(term):
			before++
		default:
			after++
		}
	}
	t.Logf("answered before SIGTERM %d, after %d (in flight, drained); refused or closed after SIGTERM %d; exit %s after SIGTERM",
		before, after, refused, exited.Sub(term).Round(time.Millisecond))
	t.Logf("refusals: %v", kinds)
	if before == 0 {
		t.Error("no request was answered before SIGTERM")
	}
	if invalid > 0 {
		t.Errorf("%d answers were cut short or wrong", invalid)
	}

	// The port is closed: a new connection is refused.
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "https://"), time.Second)
	if err == nil {
		conn.Close()
		t.Error("a new connection was accepted after the exit")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("a new connection: %v, want connection refused", err)
	}
}

// errKind names a transport error without its addresses.
func errKind(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed (EOF)"
	case strings.Contains(err.Error(), "server closed idle connection"):
		return "server closed idle connection"
	}
	return err.Error()
}

// The checker accepts right answers and names what is wrong with others.
func TestChecker(t *testing.T) {
	injected, _ := scenario(scInjected)
	denied, _ := scenario(scDenied)
	patch := `[{"op":"add","path":"/spec/initContainers","value":[]},{"op":"add","path":"/metadata/annotations/wisp.dev~1status","value":"injected"}]`
	tests := []struct {
		name string
		k    *kind
		code int
		body string
		want string // in the error; "" for none
	}{
		{"patched", injected, 200, `{"response":{"uid":"u","allowed":true,"patchType":"JSONPatch","patch":"` + base64.StdEncoding.EncodeToString([]byte(patch)) + `"}}`, ""},
		{"no patch", injected, 200, `{"response":{"uid":"u","allowed":true}}`, "no JSONPatch"},
		{"wrong uid", injected, 200, `{"response":{"uid":"v","allowed":true}}`, "uid"},
		{"not a review", injected, 200, `<html>`, "not an AdmissionReview"},
		{"denied", denied, 200, `{"response":{"uid":"u","allowed":false,"status":{"code":403,"message":"wisp: 1 static secret(s)"}}}`, ""},
		{"denied without message", denied, 200, `{"response":{"uid":"u","allowed":false,"status":{"code":403}}}`, "without a message"},
		{"server error", denied, 500, `oops`, "HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newChecker(tt.k, false).check("u", tt.code, []byte(tt.body))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// After a right answer, the same answer with another request's uid is
// right, and any other difference is still caught.
func TestCheckerGolden(t *testing.T) {
	injected, _ := scenario(scInjected)
	patch := base64.StdEncoding.EncodeToString([]byte(`[{"op":"add","path":"/spec/initContainers","value":[]},{"op":"add","path":"/metadata/annotations/wisp.dev~1status","value":"injected"}]`))
	answer := func(uid string, allowed bool) []byte {
		return []byte(fmt.Sprintf(`{"response":{"uid":%q,"allowed":%v,"patchType":"JSONPatch","patch":%q}}`, uid, allowed, patch))
	}
	c := newChecker(injected, false)
	if err := c.check("a-1", 200, answer("a-1", true)); err != nil {
		t.Fatal(err)
	}
	if err := c.check("a-22", 200, answer("a-22", true)); err != nil {
		t.Errorf("same answer, other uid: %v", err)
	}
	if err := c.check("a-3", 200, answer("a-4", true)); err == nil {
		t.Error("another request's uid passed")
	}
	if err := c.check("a-5", 200, answer("a-5", false)); err == nil {
		t.Error("a refusal passed")
	}
}

func TestThirds(t *testing.T) {
	mid, last, ok := thirds([]int64{100, 100, 100, 10, 10, 10, 20, 20, 20})
	if !ok || mid != 10 || last != 20 {
		t.Errorf("thirds = %v %v %v, want 10 20 true", mid, last, ok)
	}
	if _, _, ok := thirds([]int64{1, 2}); ok {
		t.Error("thirds of 2 samples: want not ok")
	}
}

// injected-cold's patches differ by the request's uid only: the checker
// takes each for the first one, and still catches any other difference.
func TestCheckerUIDInPatch(t *testing.T) {
	cold, err := scenario(scInjectedCold)
	if err != nil {
		t.Fatal(err)
	}
	answer := func(uid, extra string) []byte {
		patch := `[{"op":"add","path":"/metadata/annotations/wisp.dev~1status","value":"injected"},{"op":"add","path":"/spec/initContainers","value":[{"name":"wisp-fetch","env":[{"name":"WISP_PLAN","value":"{{/* ` + uid + ` */}}` + extra + `"}]}]}]`
		return []byte(`{"response":{"uid":"` + uid + `","allowed":true,"patchType":"JSONPatch","patch":"` + base64.StdEncoding.EncodeToString([]byte(patch)) + `"}}`)
	}
	c := newChecker(cold, false)
	for _, uid := range []string{"3f1c2a9e-0001", "3f1c2a9e-0002", "3f1c2a9e-0003"} {
		if err := c.check(uid, 200, answer(uid, "")); err != nil {
			t.Errorf("uid %s: %v", uid, err)
		}
	}
	if err := c.check("3f1c2a9e-0004", 200, answer("3f1c2a9e-0004", "x")); err == nil {
		t.Error("a patch that differs beyond the uid passed")
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// mix is a weighted choice of kinds.
type mix struct {
	kinds   []*kind
	weights []int
	total   int
}

func single(k *kind) *mix { return &mix{kinds: []*kind{k}, weights: []int{1}, total: 1} }

func (m *mix) add(k *kind, weight int) {
	m.kinds = append(m.kinds, k)
	m.weights = append(m.weights, weight)
	m.total += weight
}

func (m *mix) pick(r *rand.Rand) int {
	if len(m.kinds) == 1 {
		return 0
	}
	n := r.IntN(m.total)
	for i, w := range m.weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(m.kinds) - 1
}

// result is what one load run saw.
type result struct {
	server, scenario string
	conns            int
	elapsed          time.Duration
	latencies        []time.Duration // of the requests answered right
	perKind          map[string]*kindCount
	errors           int            // wrong answers and transport errors
	samples          map[string]int // error message -> count (first 20 kinds)
	cpu              time.Duration  // the server's CPU time during the run
	clientCPU        time.Duration  // the load generator's (this process's) CPU time
	rss, hwm         int64          // the server's resident memory after the run, and its peak
}

type kindCount struct{ ok, wrong, transport int }

func (r *result) rate() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

// pct returns the p-th percentile (0..100) of the sorted latencies.
func (r *result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.latencies)-1) * p / 100)
	return r.latencies[i]
}

func (r *result) max() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[len(r.latencies)-1]
}

// runOpts configure one closed-loop run.
type runOpts struct {
	conns    int
	duration time.Duration
	warmup   time.Duration
	floor    bool // expect the floor's answers
	// stopOnTransportError ends a worker at its first transport error
	// (not used by the bench: errors are counted).
	tick func(elapsed time.Duration) // called every second, if set
}

// run drives s with o.conns workers, each sending one request at a time
// over its own keep-alive connection, for o.warmup (not measured) then
// o.duration. Every answer is checked.
func run(ctx context.Context, s *server, scenarioName string, m *mix, o runOpts) *result {
	client := newClient(s.roots, o.conns)
	defer client.CloseIdleConnections()
	res := &result{server: s.name, scenario: scenarioName, conns: o.conns, perKind: map[string]*kindCount{}, samples: map[string]int{}}
	for _, k := range m.kinds {
		res.perKind[k.name] = &kindCount{}
	}

	var measuring atomic.Bool
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := range o.conns {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			checkers := make([]*checker, len(m.kinds))
			for i, k := range m.kinds {
				checkers[i] = newChecker(k, o.floor)
			}
			counts := make([]kindCount, len(m.kinds))
			var lat []time.Duration
			errs := map[string]int{}
			for seq := 0; ctx.Err() == nil; seq++ {
				i := m.pick(r)
				k := m.kinds[i]
				uid := "load-" + strconv.Itoa(w) + "-" + strconv.Itoa(seq)
				t0 := time.Now()
				code, body, err := post(ctx, client, s.url+"/mutate", k, uid)
				d := time.Since(t0)
				if ctx.Err() != nil {
					break // the run ended during this request: not counted
				}
				if !measuring.Load() {
					continue
				}
				switch {
				case err != nil:
					counts[i].transport++
					errs[k.name+": "+trimErr(err)]++
				default:
					if err := checkers[i].check(uid, code, body); err != nil {
						counts[i].wrong++
						errs[k.name+": "+err.Error()]++
					} else {
						counts[i].ok++
						lat = append(lat, d)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, lat...)
			for i, c := range counts {
				kc := res.perKind[m.kinds[i].name]
				kc.ok += c.ok
				kc.wrong += c.wrong
				kc.transport += c.transport
				res.errors += c.wrong + c.transport
			}
			for e, n := range errs {
				if _, ok := res.samples[e]; ok || len(res.samples) < 20 {
					res.samples[e] += n
				}
			}
		})
	}

	select {
	case <-time.After(o.warmup):
	case <-ctx.Done():
	}
	before, self := s.stats(), statsOf(os.Getpid())
	start := time.Now()
	measuring.Store(true)
	ticker := time.NewTicker(time.Second)
	end := time.After(o.duration)
loop:
	for {
		select {
		case <-ticker.C:
			if o.tick != nil {
				o.tick(time.Since(start))
			}
		case <-end:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	ticker.Stop()
	measuring.Store(false)
	res.elapsed = time.Since(start)
	after, selfAfter := s.stats(), statsOf(os.Getpid())
	cancel()
	wg.Wait()
	slices.Sort(res.latencies)
	if before.valid && after.valid {
		res.cpu = after.cpu - before.cpu
		res.rss, res.hwm = after.rss, after.hwm
	}
	if self.valid && selfAfter.valid {
		res.clientCPU = selfAfter.cpu - self.cpu
	}
	return res
}

// post sends one review and reads the whole answer.
func post(ctx context.Context, client *http.Client, url string, k *kind, uid string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(k.bodyFor(uid)))
	if err != nil {
		return 0, nil, err
	}
	ct := k.contentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		// Headers arrived but the body did not: a half-written answer.
		return resp.StatusCode, body, fmt.Errorf("%w: %w", errHalfWritten, err)
	}
	return resp.StatusCode, body, nil
}

// errHalfWritten marks an answer cut after its headers.
var errHalfWritten = errors.New("answer cut short")

// trimErr shortens transport errors to their kind (they name ports).
func trimErr(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

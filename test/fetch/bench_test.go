package fetch

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkFetchProcess measures wisp-fetch from process start to exit
// (files written) for one KV v2 secret and one dynamic PostgreSQL
// credential against the local stack, and reports the median and p90:
//
//	go test -run '^$' -bench FetchProcess -benchtime 20x ./test/fetch/
func BenchmarkFetchProcess(b *testing.B) {
	root := b.TempDir()
	var times []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		dir := filepath.Join(root, "run"+itoa(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		env := injectedEnv(b, "bench.yaml", dir)
		b.StartTimer()
		r := runFetch(b, env, nil)
		b.StopTimer()
		if r.code != 0 {
			b.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		times = append(times, r.elapsed)
		b.StartTimer()
	}
	slices.Sort(times)
	if len(times) > 0 {
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
		b.ReportMetric(float64(times[len(times)*9/10].Microseconds())/1000, "ms-p90")
		b.Logf("%d runs: min %s median %s p90 %s max %s", len(times), times[0], times[len(times)/2],
			times[len(times)*9/10], times[len(times)-1])
	}
}

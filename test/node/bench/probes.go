package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// startupProbes sums the kubelet's prober_probe_total of the startup
// probes of namespace ns by result ("successful", "failed"), from its
// /metrics/probes (a test kubelet: anonymous, its own certificate).
func (b *bench) startupProbes(ctx context.Context) (map[string]int, error) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test kubelet on loopback
	}}
	defer hc.CloseIdleConnections()
	url := fmt.Sprintf("https://127.0.0.1:%d/metrics/probes", b.env.Node.KubeletPort())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubelet probe metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "prober_probe_total{") || !strings.Contains(line, `namespace="`+ns+`"`) ||
			!strings.Contains(line, `probe_type="Startup"`) {
			continue
		}
		_, after, _ := strings.Cut(line, `result="`)
		result, _, _ := strings.Cut(after, `"`)
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		out[result] += int(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kubelet probe metrics: %w", err)
	}
	return out, nil
}

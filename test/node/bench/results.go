package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// results are the whole run's figures.
type results struct {
	load, loadEnd string
	podSelectors  bool
	samples       []sample
	images        map[string]int64
	// Left by the latency phase's init containers once their pods are
	// gone: wisp-fetch's tokens, the agent's tokens, the database leases
	// of both.
	initWispTokens, initAgentTokens, initLeases int
	rollout                                     *rolloutResult
}

// imageSizes are the images' sizes: the uncompressed layers of each, for
// this machine's platform, as the registry serves them to the kubelet
// (what containerd unpacks).
func (b *bench) imageSizes(ctx context.Context) (map[string]int64, error) {
	sizes := map[string]int64{}
	for key, ref := range map[string]string{"wisp": b.env.WispImage, "app": b.env.AppImage, "vault_agent": b.agentImage} {
		n, err := imageSize(ctx, ref)
		if err != nil {
			return nil, err
		}
		sizes[key] = n
	}
	return sizes, nil
}

// imageSize pulls ref (an image or an index) from the env's plain-HTTP
// registry and counts its layers' uncompressed bytes.
func imageSize(ctx context.Context, ref string) (int64, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return 0, fmt.Errorf("image %s: %w", ref, err)
	}
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		return 0, fmt.Errorf("pull %s: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return 0, fmt.Errorf("image %s: %w", ref, err)
	}
	var size int64
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, fmt.Errorf("image %s: layer: %w", ref, err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, fmt.Errorf("image %s: read a layer: %w", ref, err)
		}
		size += n
	}
	return size, nil
}

// of returns a field of every sample of kind k, sorted.
func (r *results) of(k kind, field func(sample) float64) []float64 {
	var v []float64
	for _, s := range r.samples {
		if s.kind == k && (!s.missed || field(s) == s.total) {
			v = append(v, field(s))
		}
	}
	slices.Sort(v)
	return v
}

// p is the p-th percentile (nearest rank) of sorted values; NaN if none.
func p(sorted []float64, q int) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := (len(sorted)*q + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

func fTotal(s sample) float64 { return s.total }

// initMem is the p50 of the init container's peak RSS in bytes.
func (r *results) initMem(k kind) float64 {
	return p(r.of(k, func(s sample) float64 { return float64(s.memPeak) }), 50)
}

// initCgroupMem is the p50 of the init container cgroup's memory
// high-water mark in bytes (page cache it was charged with included).
func (r *results) initCgroupMem(k kind) float64 {
	return p(r.of(k, func(s sample) float64 { return float64(s.cgroupPeak) }), 50)
}

// initCPU is the p50 of the init container's CPU time in ms.
func (r *results) initCPU(k kind) float64 {
	return p(r.of(k, func(s sample) float64 { return float64(s.cpu) }), 50) / 1e6
}

// figures is the JSON line.
func (r *results) figures() map[string]any {
	round := func(v float64) float64 { return math.Round(v*10) / 10 }
	tot := func(k kind, q int) float64 { return round(p(r.of(k, func(s sample) float64 { return s.total }), q)) }
	f := map[string]any{
		"n":                      len(r.of(plain, func(s sample) float64 { return s.total })),
		"load_avg":               r.load,
		"plain_p50_ms":           tot(plain, 50),
		"plain_p95_ms":           tot(plain, 95),
		"wisp_p50_ms":            tot(wisp, 50),
		"wisp_p95_ms":            tot(wisp, 95),
		"agent_p50_ms":           tot(agent, 50),
		"agent_p95_ms":           tot(agent, 95),
		"wisp_overhead_p50_ms":   round(tot(wisp, 50) - tot(plain, 50)),
		"agent_overhead_p50_ms":  round(tot(agent, 50) - tot(plain, 50)),
		"wisp_fetch_p50_ms":      round(p(r.of(wisp, func(s sample) float64 { return s.fetch }), 50)),
		"agent_run_p50_ms":       round(p(r.of(agent, func(s sample) float64 { return s.fetch }), 50)),
		"wisp_fetch_peak_rss_mb": round(r.initMem(wisp) / (1 << 20)),
		"agent_peak_rss_mb":      round(r.initMem(agent) / (1 << 20)),
		"wisp_fetch_cpu_ms":      round(r.initCPU(wisp)),
		"agent_cpu_ms":           round(r.initCPU(agent)),
		"wisp_image_mb":          round(float64(r.images["wisp"]) / (1 << 20)),
		"agent_image_mb":         round(float64(r.images["vault_agent"]) / (1 << 20)),
		"init_wisp_tokens_left":  r.initWispTokens,
		"init_agent_tokens_left": r.initAgentTokens,
		"init_leases_left":       r.initLeases,
	}
	if ro := r.rollout; ro != nil {
		per := func(v int) float64 { return round(float64(v) / float64(max(1, ro.ready))) }
		f["rollout_pods"] = ro.pods
		f["rollout_ready"] = ro.ready
		f["rollout_failed"] = ro.failed
		f["rollout_s"] = round(ro.allReady.Seconds())
		f["rollout_plain_s"] = round(ro.plain.Seconds())
		f["rollout_first_pod_s"] = round(ro.first.Seconds())
		f["rollout_pod_p50_s"] = round(ro.podP50.Seconds())
		f["rollout_pod_p95_s"] = round(ro.podP95.Seconds())
		f["vault_logins_per_pod"] = per(ro.vault.logins)
		f["vault_reads_per_pod"] = per(ro.vault.reads)
		f["vault_leases_per_pod"] = per(ro.vault.leases)
		f["vault_errors"] = ro.vault.errors
		f["rollout_startup_probes"] = ro.probes["successful"] + ro.probes["failed"]
		f["rollout_startup_probes_failed"] = ro.probes["failed"]
		f["tokens_left"] = ro.tokensLeft
		f["leases_left"] = ro.leasesLeft
	}
	return f
}

// printTable writes the human table.
func printTable(out io.Writer, r *results) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "pod start (ms)\tp50\tp95\tover plain p50\tadmission\timage/sandbox\tinit container\tapp start\t\n")
	base := p(r.of(plain, fTotal), 50)
	for _, k := range []kind{plain, wisp, agent, wispNoCPULimit, agentCSI} {
		if len(r.of(k, fTotal)) == 0 {
			continue
		}
		med := func(field func(sample) float64) string {
			v := p(r.of(k, field), 50)
			if v == 0 {
				return "-"
			}
			return fmt.Sprintf("%.0f", v)
		}
		fmt.Fprintf(w, "%s\t%.0f\t%.0f\t%+.0f\t%s\t%s\t%s\t%s\t\n", k,
			p(r.of(k, fTotal), 50), p(r.of(k, fTotal), 95), p(r.of(k, fTotal), 50)-base,
			med(func(s sample) float64 { return s.admission }), med(func(s sample) float64 { return s.sandbox }),
			med(func(s sample) float64 { return s.fetch }), med(func(s sample) float64 { return s.app }))
	}
	w.Flush()
	fmt.Fprintf(out, "the kubelet's view, from created (p50 ms): init container ended: wisp %.0f, agent %.0f; app running: plain %.0f, wisp %.0f, agent %.0f\n",
		p(r.of(wisp, func(s sample) float64 { return s.initSeen }), 50), p(r.of(agent, func(s sample) float64 { return s.initSeen }), 50),
		p(r.of(plain, func(s sample) float64 { return s.appSeen }), 50), p(r.of(wisp, func(s sample) float64 { return s.appSeen }), 50),
		p(r.of(agent, func(s sample) float64 { return s.appSeen }), 50))
	fmt.Fprintf(out, "wisp-fetch svid p95 %.0f ms, max %.0f ms\n", p(r.of(wisp, func(s sample) float64 { return s.svid }), 95),
		p(r.of(wisp, func(s sample) float64 { return s.svid }), 100))
	fmt.Fprintf(out, "wisp-fetch (p50 ms): process %.0f, of which its fetch %.0f: svid %.0f, login %.0f, reads %.0f, writes %.0f\n",
		p(r.of(wisp, func(s sample) float64 { return s.fetch }), 50), p(r.of(wisp, func(s sample) float64 { return s.fetchCore }), 50),
		p(r.of(wisp, func(s sample) float64 { return s.svid }), 50), p(r.of(wisp, func(s sample) float64 { return s.login }), 50),
		p(r.of(wisp, func(s sample) float64 { return s.reads }), 50), p(r.of(wisp, func(s sample) float64 { return s.writes }), 50))
	fmt.Fprintf(out, "init container (p50; peak RSS, cgroup memory high-water mark, CPU): wisp-fetch %.1f MiB, %.1f MiB, %.0f ms; vault agent %.1f MiB, %.1f MiB, %.0f ms\n",
		r.initMem(wisp)/(1<<20), r.initCgroupMem(wisp)/(1<<20), r.initCPU(wisp),
		r.initMem(agent)/(1<<20), r.initCgroupMem(agent)/(1<<20), r.initCPU(agent))
	fmt.Fprintf(out, "images (uncompressed): wisp %.1f MiB, vault agent %.1f MiB, app %.1f MiB\n",
		float64(r.images["wisp"])/(1<<20), float64(r.images["vault_agent"])/(1<<20), float64(r.images["app"])/(1<<20))
	fmt.Fprintf(out, "left by init containers alone after their pods were deleted: wisp-fetch tokens %d, agent tokens %d, database leases %d\n",
		r.initWispTokens, r.initAgentTokens, r.initLeases)
	if ro := r.rollout; ro != nil {
		fmt.Fprintf(out, "rollout 0 -> %d with the sidecar: %d Ready, %d failed, all Ready in %.1f s (first pod of the new SPIFFE ID %.1f s); per pod p50 %.1f s p95 %.1f s\n",
			ro.pods, ro.ready, ro.failed, ro.allReady.Seconds(), ro.first.Seconds(), ro.podP50.Seconds(), ro.podP95.Seconds())
		fmt.Fprintf(out, "the same rollout of plain pods (no secrets): all Ready in %.1f s\n", ro.plain.Seconds())
		fmt.Fprintf(out, "the sidecars' startup probes (exec, every second until the files are written): %d, %d failed\n",
			ro.probes["successful"]+ro.probes["failed"], ro.probes["failed"])
		fmt.Fprintf(out, "vault per pod: %.2f logins, %.2f reads, %.2f leases (%d errors); after delete (%.1f s): %d tokens, %d leases left\n",
			float64(ro.vault.logins)/float64(max(1, ro.ready)), float64(ro.vault.reads)/float64(max(1, ro.ready)),
			float64(ro.vault.leases)/float64(max(1, ro.ready)), ro.vault.errors, ro.delete.Seconds(), ro.tokensLeft, ro.leasesLeft)
	}
	fmt.Fprintf(out, "load average (1 min) at start %s, at end %s; %s\n", r.load, r.loadEnd, strings.TrimSpace(cpuInfo()))
}

func cpuInfo() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	n := strings.Count(string(b), "processor\t:")
	return fmt.Sprintf("%d CPUs", n)
}

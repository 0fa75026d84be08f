package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// usage is one container's peak resident set (the largest VmHWM of its
// processes, bytes) and CPU time (its cgroup's cpuacct.usage, ns), as last
// seen.
type usage struct {
	comm       string
	peakRSS    int64
	cpu        int64
	cgroupPeak int64 // memory.max_usage_in_bytes (page cache included)
	// firstSeen and lastSeen are the first and last samples that saw the
	// container's binary running (after runc's exec): its life within
	// sampleEvery.
	firstSeen, lastSeen time.Time
}

// sampler watches the containers of one pod while it starts: every
// interval it reads, for each container cgroup under the pod's, the
// processes' VmHWM (which only grows, so the last sample before the
// process ends is its peak up to then) and the cgroup's CPU time. An init
// container's cgroup goes when it exits, so these are the figures the
// kubelet's stats cannot give afterwards.
type sampler struct {
	uid  string
	stop chan struct{}
	done chan map[string]*usage
}

const sampleEvery = 5 * time.Millisecond

func startSampler(uid string) *sampler {
	s := &sampler{uid: uid, stop: make(chan struct{}), done: make(chan map[string]*usage, 1)}
	go s.run()
	return s
}

// Stop ends the sampling and returns each container's usage by the name
// of its first process (comm).
func (s *sampler) Stop() map[string]*usage {
	close(s.stop)
	byDir := <-s.done
	out := map[string]*usage{}
	for _, u := range byDir {
		if u.comm != "" {
			out[u.comm] = u
		}
	}
	return out
}

func (s *sampler) run() {
	byDir := map[string]*usage{}
	var memPod, cpuPod string
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		stopped := false
		select {
		case <-s.stop:
			// One last pass: a container still running is seen at least
			// once, however late the ticks came.
			stopped = true
		case <-t.C:
		}
		if memPod == "" {
			memPod, cpuPod = findPodCgroup("/sys/fs/cgroup/memory", s.uid), findPodCgroup("/sys/fs/cgroup/cpuacct", s.uid)
		}
		if memPod == "" || cpuPod == "" {
			memPod = ""
			if stopped {
				s.done <- byDir
				return
			}
			continue
		}
		entries, _ := os.ReadDir(memPod)
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := e.Name()
			u := byDir[dir]
			if u == nil {
				u = &usage{}
				byDir[dir] = u
			}
			sampleContainer(u, filepath.Join(memPod, dir), filepath.Join(cpuPod, dir))
		}
		if stopped {
			s.done <- byDir
			return
		}
	}
}

func sampleContainer(u *usage, memDir, cpuDir string) {
	for _, pid := range readLines(filepath.Join(memDir, "cgroup.procs")) {
		// Before it execs the container's binary, the process is runc's
		// (runc:[2:INIT]); exec starts a new memory map, and VmHWM anew.
		comm := strings.TrimSpace(readFile(filepath.Join("/proc", pid, "comm")))
		if comm == "" || strings.HasPrefix(comm, "runc") {
			continue
		}
		if u.comm == "" {
			u.comm = comm
			u.firstSeen = time.Now()
		}
		u.lastSeen = time.Now()
		if hwm := vmHWM(pid); hwm > u.peakRSS {
			u.peakRSS = hwm
		}
	}
	if v := readInt(filepath.Join(cpuDir, "cpuacct.usage")); v > u.cpu {
		u.cpu = v
	}
	if v := readInt(filepath.Join(memDir, "memory.max_usage_in_bytes")); v > u.cgroupPeak {
		u.cgroupPeak = v
	}
}

// findPodCgroup finds the pod's cgroup under a cgroup v1 hierarchy: the
// kubelet's cgroupRoot, kubepods, the QoS class, pod<uid>.
func findPodCgroup(root, uid string) string {
	for _, pat := range []string{"*/kubepods/pod" + uid, "*/kubepods/*/pod" + uid} {
		if m, _ := filepath.Glob(filepath.Join(root, pat)); len(m) == 1 {
			return m[0]
		}
	}
	return ""
}

// vmHWM is the process's peak resident set in bytes (0 if gone).
func vmHWM(pid string) int64 {
	f, err := os.Open(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(b)
}

func readLines(p string) []string { return strings.Fields(readFile(p)) }

func readInt(p string) int64 {
	v, err := strconv.ParseInt(strings.TrimSpace(readFile(p)), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

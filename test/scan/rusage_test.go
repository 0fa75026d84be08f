package scan

import (
	"os"
	"syscall"
)

// maxRSS returns a finished process's peak resident set size in bytes
// (getrusage's ru_maxrss, in KiB on Linux).
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

package webhook

import (
	"fmt"
	"net/http"
	"strings"
)

// Check is one line of /readyz.
type Check struct {
	// Name is shown in the report.
	Name string
	// Fn returns nil when healthy.
	Fn func(*http.Request) error
	// Degraded checks are reported ("[!]") without failing readiness: the
	// webhook still serves correctly, on its last good state (for example
	// the last good policy while the file on disk is bad). Taking every
	// replica out of its Service for that would stop the cluster's pods.
	Degraded bool
}

// readyz answers 200 when every non-degraded check passes, 503 otherwise,
// with one line per check in the style of the API server's /readyz?verbose.
func readyz(checks []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		ok := true
		for _, c := range checks {
			err := c.Fn(r)
			switch {
			case err == nil:
				fmt.Fprintf(&b, "[+]%s ok\n", c.Name)
			case c.Degraded:
				fmt.Fprintf(&b, "[!]%s degraded: %v\n", c.Name, err)
			default:
				ok = false
				fmt.Fprintf(&b, "[-]%s failed: %v\n", c.Name, err)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			b.WriteString("readyz check failed\n")
		} else {
			b.WriteString("readyz check passed\n")
		}
		_, _ = w.Write([]byte(b.String()))
	})
}

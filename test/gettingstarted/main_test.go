package gettingstarted

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"wisp.dev/wisp/test/node"
)

// shared is set up once by TestMain.
var shared struct {
	env *node.Env
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	if os.Getuid() != 0 {
		fmt.Fprintln(os.Stderr, "test/gettingstarted: needs root (a real kubelet and containerd); run as root")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
	}
	env, err := node.StartEnv(ctx, node.EnvOptions{NoWisp: true, NoJWTAuth: true, Logf: logf})
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/gettingstarted: start:", err)
		return 1
	}
	shared.env = env
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "test/gettingstarted: stop:", err)
			code = 1
		}
		if left := env.Leftovers(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "test/gettingstarted: FAIL: the node left behind:\n  %s\n", strings.Join(left, "\n  "))
			code = 1
		}
	}()
	return m.Run()
}

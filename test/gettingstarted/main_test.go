package gettingstarted

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"wisp.dev/wisp/test/node"
	"wisp.dev/wisp/test/stack"
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
	env, err := node.StartEnv(ctx, node.EnvOptions{NoWisp: true, NoJWTAuth: true, Logf: stack.StderrLogf})
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/gettingstarted: start:", err)
		return 1
	}
	shared.env = env
	defer func() {
		if err := env.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "test/gettingstarted: FAIL: stop:", err)
			code = 1
		}
	}()
	return m.Run()
}

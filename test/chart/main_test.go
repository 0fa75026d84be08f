package chart

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// The deploy tests share one API server, started by the first of them.
	if deploy != nil {
		deploy.stop()
	}
	os.Exit(code)
}

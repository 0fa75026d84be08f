package main

import (
	"flag"
	"fmt"
	"os"

	"wisp.dev/wisp/policy/internal/gitleaksgen"
)

func main() {
	out := flag.String("o", "gitleaks_rules_gen.go", "file to write")
	pkg := flag.String("package", "policy", "package of the generated file")
	flag.Parse()
	src, err := gitleaksgen.Source(*pkg, gitleaksgen.Version())
	if err == nil {
		err = os.WriteFile(*out, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitleaksgen:", err)
		os.Exit(1)
	}
}

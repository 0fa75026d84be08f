// Command modules is a binary with dependencies, for the SBOM tests.
package main

import (
	"fmt"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

func main() {
	b, _ := yaml.Marshal(map[string]string{"a": "b"})
	fmt.Println(cmp.Diff("a", string(b)))
}

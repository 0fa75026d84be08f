package config

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/mutate"
)

// APIVersion and Kind of the policy file.
const (
	APIVersion = "wisp.dev/v1alpha1"
	Kind       = "Policy"
)

// File is the policy file as written by the platform team.
type File struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Injection holds the injection defaults (image, Vault address, ...).
	Injection mutate.Config `json:"injection,omitempty"`
}

// Snapshot is one loaded policy file, immutable and shared by all requests.
type Snapshot struct {
	// Injection is the injection config with its defaults applied.
	Injection mutate.Config
}

// Default is the snapshot of an empty policy: built-in injection defaults.
func Default() *Snapshot {
	return &Snapshot{Injection: mutate.Config{}.WithDefaults()}
}

// Parse decodes and validates a policy file (YAML or JSON). Unknown fields
// are errors; every problem is reported.
func Parse(data []byte) (*Snapshot, error) {
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if f.APIVersion != APIVersion || f.Kind != Kind {
		return nil, fmt.Errorf("apiVersion %q kind %q, want %s %s", f.APIVersion, f.Kind, APIVersion, Kind)
	}
	if err := f.Injection.Validate(); err != nil {
		return nil, fmt.Errorf("injection: %w", err)
	}
	return &Snapshot{Injection: f.Injection.WithDefaults()}, nil
}

// Static serves one snapshot forever: for tests, the CLI and a webhook run
// without a policy file.
type Static struct{ Snapshot *Snapshot }

// Load returns the snapshot.
func (s Static) Load() *Snapshot { return s.Snapshot }

package config

import (
	"errors"
	"fmt"

	"sigs.k8s.io/yaml"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/policy"
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
	// Spec is the secret-detection policy: mode, namespaces, exemptions,
	// rules, allow lists, role bindings (top-level fields of the file).
	policy.Spec `json:",inline"`
}

// Snapshot is one loaded policy file, immutable and shared by all requests.
type Snapshot struct {
	// Injection is the injection config with its defaults applied.
	Injection mutate.Config
	// Policy evaluates pods against the detection policy.
	Policy *policy.Evaluator
}

// Default is the snapshot of an empty policy file: built-in injection
// defaults, and every detection rule on in enforce mode.
func Default() *Snapshot {
	ev, err := policy.Compile(policy.Spec{})
	if err != nil {
		// The zero Spec is valid by construction; failing here is a bug.
		panic(fmt.Sprintf("config: compile the default policy: %v", err))
	}
	return &Snapshot{Injection: mutate.Config{}.WithDefaults(), Policy: ev}
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
	var errs []error
	if err := f.Injection.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("injection: %w", err))
	}
	ev, err := policy.Compile(f.Spec)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Snapshot{Injection: f.Injection.WithDefaults(), Policy: ev}, nil
}

// Static serves one snapshot forever: for tests, the CLI and a webhook run
// without a policy file.
type Static struct{ Snapshot *Snapshot }

// Load returns the snapshot.
func (s Static) Load() *Snapshot { return s.Snapshot }

package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	kjson "sigs.k8s.io/json"
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
	// Cache remembers what the injections of this snapshot derive from
	// annotations alone (nil: nothing is remembered).
	Cache *mutate.Cache
	// Warnings are the questionable parts of a valid file, one line each
	// naming its field (policy.Evaluator.Warnings). Whoever loads the file
	// reports them: the webhook logs them, the CLI prints them on stderr.
	Warnings []string
}

// Default is the snapshot of an empty policy file: built-in injection
// defaults, and every detection rule on in enforce mode.
func Default() *Snapshot {
	ev, err := policy.Compile(policy.Spec{})
	if err != nil {
		// The zero Spec is valid by construction; failing here is a bug.
		panic(fmt.Sprintf("config: compile the default policy: %v", err))
	}
	return &Snapshot{Injection: mutate.Config{}.WithDefaults(), Policy: ev, Cache: mutate.NewCache()}
}

// Parse decodes and validates a policy file (YAML or JSON). Unknown and
// duplicate fields are errors, and keys must match field names exactly (as
// in Kubernetes objects: "MODE" is not "mode"). Every problem is reported,
// each naming its field, joined in one error: every unknown, duplicate or
// mistyped field, and, once every value decodes, every invalid value. YAML
// that does not parse is reported alone. Allow-list values never appear in
// the error.
func Parse(data []byte) (*Snapshot, error) {
	var errs []error
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		// A duplicate key (the strict error lists each, with its line), or
		// YAML that does not parse.
		var lerr error
		if j, lerr = yaml.YAMLToJSON(data); lerr != nil {
			return nil, fmt.Errorf("decode: %w", lerr)
		}
		errs = append(errs, fmt.Errorf("decode: %w", err))
	}

	// The values, each converted by its field's type as sigs.k8s.io/yaml
	// does; unknown fields are skipped here and reported below.
	var f File
	valuesErr := yaml.Unmarshal(data, &f)
	if valuesErr != nil {
		errs = append(errs, fmt.Errorf("decode: %w", valuesErr))
	}
	errs = append(errs, unknownFields(j)...)
	if valuesErr != nil {
		// A value that did not decode is left empty: validating it would
		// report a second, misleading problem for the same field (12345 in
		// allow.values would be "allow.values[0]: empty value").
		return nil, errors.Join(errs...)
	}

	if f.APIVersion != APIVersion || f.Kind != Kind {
		errs = append(errs, fmt.Errorf("apiVersion %q kind %q, want %s %s", f.APIVersion, f.Kind, APIVersion, Kind))
	}
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
	return &Snapshot{Injection: f.Injection.WithDefaults(), Policy: ev, Cache: mutate.NewCache(), Warnings: ev.Warnings()}, nil
}

// unknownFields returns one error per key of the policy file j (JSON) that
// names no field, by its path: unknown field "injection.imagePulPolicy",
// unknown field "roles[0].role".
//
// It decodes j's keys alone, every scalar replaced by null: a value of the
// wrong type does not stop the search, and no value can appear in an error.
func unknownFields(j []byte) []error {
	var doc any
	if err := json.Unmarshal(j, &doc); err != nil {
		return []error{fmt.Errorf("decode keys: %w", err)}
	}
	return unknownFieldsAt(keysOnly(doc), nil)
}

// unknownFieldsAt checks the node of tree at path (a list of map keys and
// list indexes), with its ancestors but not their other children. A node of
// the wrong shape (a map where a list is expected, ...) stops the decoder,
// and its strict errors with it: then each child is checked on its own, so
// that only the keys below the misshapen node itself go unchecked.
func unknownFieldsAt(tree any, path []any) []error {
	data, err := json.Marshal(subtree(tree, path))
	if err != nil {
		return []error{fmt.Errorf("decode keys: %w", err)}
	}
	strict, err := kjson.UnmarshalStrict(data, &File{}, kjson.DisallowUnknownFields)
	if err == nil {
		errs := make([]error, 0, len(strict))
		for _, e := range strict {
			errs = append(errs, fmt.Errorf("decode: %w", e))
		}
		return errs
	}
	// The type error itself is reported by the decoding of the values.
	var errs []error
	switch node := nodeAt(tree, path).(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(node)) {
			errs = append(errs, unknownFieldsAt(tree, append(slices.Clip(path), k))...)
		}
	case []any:
		for i := range node {
			errs = append(errs, unknownFieldsAt(tree, append(slices.Clip(path), i))...)
		}
	}
	return errs
}

// subtree returns the node of tree at path wrapped in its ancestors, without
// their other children (other list elements are null, to keep the indexes).
func subtree(tree any, path []any) any {
	if len(path) == 0 {
		return tree
	}
	switch step := path[0].(type) {
	case string:
		return map[string]any{step: subtree(tree.(map[string]any)[step], path[1:])}
	default:
		i := step.(int)
		list := make([]any, i+1)
		list[i] = subtree(tree.([]any)[i], path[1:])
		return list
	}
}

// nodeAt returns the node of tree at path.
func nodeAt(tree any, path []any) any {
	for _, step := range path {
		switch step := step.(type) {
		case string:
			tree = tree.(map[string]any)[step]
		default:
			tree = tree.([]any)[step.(int)]
		}
	}
	return tree
}

// keysOnly returns v, decoded JSON, with every scalar replaced by nil:
// only the keys and the shape remain.
func keysOnly(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = keysOnly(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = keysOnly(e)
		}
		return v
	default:
		return nil
	}
}

// Static serves one snapshot forever: for tests, the CLI and a webhook run
// without a policy file.
type Static struct{ Snapshot *Snapshot }

// Load returns the snapshot.
func (s Static) Load() *Snapshot { return s.Snapshot }

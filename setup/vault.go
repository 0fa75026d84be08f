package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	vault "github.com/hashicorp/vault/api"
)

// Client reads and writes Vault paths. VaultClient is the real one.
type Client interface {
	// Read returns the data at path, or nil when there is none.
	Read(ctx context.Context, path string) (map[string]any, error)
	Write(ctx context.Context, path string, data map[string]any) error
	// List returns the keys under path (nil when there are none).
	List(ctx context.Context, path string) ([]string, error)
}

// VaultClient is a Client over vault/api.
type VaultClient struct{ C *vault.Client }

// Read implements Client.
func (v VaultClient) Read(ctx context.Context, path string) (map[string]any, error) {
	s, err := v.C.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, nil
	}
	return s.Data, nil
}

// Write implements Client.
func (v VaultClient) Write(ctx context.Context, path string, data map[string]any) error {
	_, err := v.C.Logical().WriteWithContext(ctx, path, data)
	return err
}

// Action is what a Change does.
type Action string

// Actions.
const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	// Enable enables the auth method at the mount.
	Enable Action = "enable"
	// Extra marks a role Vault has and the plan does not: reported, never
	// deleted.
	Extra Action = "not in the policy (left as is)"
)

// Change is one path of the plan against what Vault has.
type Change struct {
	Path   string
	Action Action
	// Fields are the differing fields, "name: old -> new", sorted.
	Fields []string
	// Body is what to write (nil for Unchanged and Extra).
	Body map[string]any
}

func (c Change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", c.Path, c.Action)
	for _, f := range c.Fields {
		fmt.Fprintf(&b, "\n  %s", f)
	}
	return b.String()
}

// Diff compares the plan with what Vault has: the mount, the auth config,
// each role, and the roles Vault has beyond the plan's.
func Diff(ctx context.Context, c Client, p Plan) ([]Change, error) {
	mounts, err := c.Read(ctx, "sys/auth")
	if err != nil {
		return nil, fmt.Errorf("read sys/auth: %w", err)
	}
	var out []Change
	mount, enabled := mounts[p.Mount+"/"].(map[string]any)
	if enabled && mount["type"] != "jwt" {
		return nil, fmt.Errorf("auth/%s is a %v auth method, not jwt", p.Mount, mount["type"])
	}
	if !enabled {
		out = append(out, Change{Path: "sys/auth/" + p.Mount, Action: Enable, Body: map[string]any{"type": "jwt"}})
	}
	ch, err := diffPath(ctx, c, p.ConfigPath(), p.AuthConfig, enabled)
	if err != nil {
		return nil, err
	}
	out = append(out, ch)
	planned := map[string]bool{}
	for _, r := range p.Roles {
		planned[r.Name] = true
		ch, err := diffPath(ctx, c, p.RolePath(r.Name), r.Body, enabled)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	if !enabled {
		return out, nil
	}
	extra, err := c.List(ctx, p.rolesPath())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p.rolesPath(), err)
	}
	for _, name := range extra {
		if !planned[name] {
			out = append(out, Change{Path: p.RolePath(name), Action: Extra})
		}
	}
	return out, nil
}

// diffPath compares want with what path holds.
func diffPath(ctx context.Context, c Client, path string, want map[string]any, mounted bool) (Change, error) {
	var have map[string]any
	if mounted {
		var err error
		if have, err = c.Read(ctx, path); err != nil {
			return Change{}, fmt.Errorf("read %s: %w", path, err)
		}
	}
	if have == nil {
		return Change{Path: path, Action: Create, Body: want, Fields: fieldsOf(nil, want)}, nil
	}
	fields := fieldsOf(have, want)
	if len(fields) == 0 {
		return Change{Path: path, Action: Unchanged}, nil
	}
	return Change{Path: path, Action: Update, Body: want, Fields: fields}, nil
}

// fieldsOf lists the fields of want that have differs from, as
// "key: old -> new" (old omitted when have is nil).
func fieldsOf(have, want map[string]any) []string {
	var out []string
	for k, w := range want {
		wn := normalize(w)
		if have == nil {
			if !isEmpty(wn) {
				out = append(out, fmt.Sprintf("%s: %s", k, show(wn)))
			}
			continue
		}
		hn := normalize(have[k])
		if isEmpty(hn) && isEmpty(wn) || reflect.DeepEqual(hn, wn) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s -> %s", k, show(hn), show(wn)))
	}
	sort.Strings(out)
	return out
}

// normalize turns a value into JSON's types, string lists sorted (Vault
// keeps policies and audiences as sets).
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Sprint(v)
	}
	return sortLists(out)
}

func sortLists(v any) any {
	switch x := v.(type) {
	case []any:
		strs := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return x
			}
			strs = append(strs, s)
		}
		sort.Strings(strs)
		for i, s := range strs {
			x[i] = s
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = sortLists(e)
		}
	}
	return v
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// List implements Client.
func (v VaultClient) List(ctx context.Context, path string) ([]string, error) {
	s, err := v.C.Logical().ListWithContext(ctx, path)
	if err != nil || s == nil {
		return nil, err
	}
	keys, _ := s.Data["keys"].([]any)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if s, ok := k.(string); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// Apply writes each change that has a body, in order (the mount first).
func Apply(ctx context.Context, c Client, changes []Change) error {
	for _, ch := range changes {
		if ch.Body == nil {
			continue
		}
		if err := c.Write(ctx, ch.Path, ch.Body); err != nil {
			return fmt.Errorf("write %s: %w", ch.Path, err)
		}
	}
	return nil
}

// Pending reports whether any change writes.
func Pending(changes []Change) bool {
	for _, ch := range changes {
		if ch.Body != nil {
			return true
		}
	}
	return false
}

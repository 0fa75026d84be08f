package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/mutate"
	"wisp.dev/wisp/test/stack"
)

// vaultSetup is what the platform team would have set up in Vault for the
// example pod, derived from its annotations: a JWT role bound to the pod's
// SPIFFE ID, a policy reading exactly its secrets, a KV secret and a
// database role.
type vaultSetup struct {
	role     string
	spiffeID string
	audience string
	paths    []string                  // every path the pod names, sorted
	kvData   map[string]map[string]any // KV name (secret/<name>) -> its data
	dbRoles  []string
}

// DB lease of the demo's database roles.
const (
	dbTTL    = time.Hour
	dbMaxTTL = 24 * time.Hour
)

// planVault derives the Vault objects from the pod's annotations. It knows
// the two kinds of path the example uses: KV v2 at secret/data/<name> and
// dynamic PostgreSQL users at database/creds/<role>.
func planVault(pod *corev1.Pod, spiffeID, audience string) (vaultSetup, error) {
	v := vaultSetup{
		role: pod.Annotations[mutate.AnnotationRole], spiffeID: spiffeID, audience: audience,
		kvData: map[string]map[string]any{},
	}
	if v.role == "" {
		return v, fmt.Errorf("pod %s/%s has no %s annotation", pod.Namespace, pod.Name, mutate.AnnotationRole)
	}
	seen := map[string]bool{}
	for k, path := range pod.Annotations {
		if !strings.HasPrefix(k, mutate.AnnotationSecretPrefix) || seen[path] {
			continue
		}
		seen[path] = true
		v.paths = append(v.paths, path)
		switch {
		case strings.HasPrefix(path, "secret/data/"):
			name := strings.TrimPrefix(path, "secret/data/")
			// The fields the example's template reads; random demo values.
			v.kvData[name] = map[string]any{"api_key": "demo-" + randomHex(10), "session_secret": randomHex(16)}
		case strings.HasPrefix(path, "database/creds/"):
			v.dbRoles = append(v.dbRoles, strings.TrimPrefix(path, "database/creds/"))
		default:
			return v, fmt.Errorf("annotation %s: the demo provisions secret/data/<name> (KV v2) and database/creds/<role> paths, not %q", k, path)
		}
	}
	sort.Strings(v.paths)
	sort.Strings(v.dbRoles)
	return v, nil
}

// apply writes the policy, the JWT role, the KV secrets and the database
// roles through the stack's root token.
func (v vaultSetup) apply(ctx context.Context, st *stack.Stack) error {
	var hcl strings.Builder
	for _, p := range v.paths {
		fmt.Fprintf(&hcl, "path %q { capabilities = [\"read\"] }\n", p)
	}
	if err := st.WritePolicy(ctx, v.role, hcl.String()); err != nil {
		return err
	}
	if err := st.WriteJWTRole(ctx, v.role, stack.JWTRole{
		BoundSubject: v.spiffeID, Audience: v.audience, Policies: []string{v.role}, TokenTTL: dbTTL,
	}); err != nil {
		return err
	}
	for name, data := range v.kvData {
		if err := st.PutKV(ctx, name, data); err != nil {
			return err
		}
	}
	for _, r := range v.dbRoles {
		if err := st.WriteDBRole(ctx, r, stack.DBRole{DefaultTTL: dbTTL, MaxTTL: dbMaxTTL}); err != nil {
			return err
		}
	}
	return nil
}

// describe is the setup in two readable lines.
func (v vaultSetup) describe() []string {
	var kv []string
	for name, data := range v.kvData {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kv = append(kv, fmt.Sprintf("KV secret/%s {%s}", name, strings.Join(keys, ", ")))
	}
	sort.Strings(kv)
	var db []string
	for _, r := range v.dbRoles {
		db = append(db, fmt.Sprintf("database role %s (PostgreSQL, TTL %s)", r, dbTTL))
	}
	return []string{
		fmt.Sprintf("JWT role %s: bound_subject %s, audience %s, policy %s (read %s)",
			v.role, v.spiffeID, v.audience, v.role, strings.Join(v.paths, ", ")),
		strings.Join(append(kv, db...), "; "),
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

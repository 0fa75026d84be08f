package memo

import (
	"strings"
	"sync"
)

// Strings maps a key to the value a pure function gives for it. It is safe
// for concurrent use. Its zero value remembers nothing: Get always computes.
//
// When a new entry would pass the budget, every entry is dropped: a cache
// that a stream of distinct keys keeps full costs at most what no cache
// costs, and its memory stays bounded without any bookkeeping per entry.
type Strings[V any] struct {
	mu     sync.Mutex
	m      map[string]V
	used   int
	budget int
	cost   func(key string, v V) int
}

// New returns a cache of at most budget bytes, each entry's size as cost
// estimates it (the key's and the value's bytes, and some overhead).
func New[V any](budget int, cost func(key string, v V) int) *Strings[V] {
	return &Strings[V]{budget: budget, cost: cost}
}

// Get returns compute(key), remembered. compute runs outside the lock, so
// two callers may compute the same key at once; both get equal values, as
// compute is pure. The value is shared: callers must not modify it.
func (c *Strings[V]) Get(key string, compute func(string) V) V {
	if c == nil || c.budget <= 0 {
		return compute(key)
	}
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = compute(key)
	n := c.cost(key, v)
	if n > c.budget {
		return v
	}
	// The key is cloned: it may be a slice of a larger string (a decoded
	// request) that the cache would otherwise keep alive.
	key = strings.Clone(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return v
	}
	if c.m == nil || c.used+n > c.budget {
		c.m, c.used = map[string]V{}, 0
	}
	c.m[key] = v
	c.used += n
	return v
}

// Len returns the number of entries.
func (c *Strings[V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

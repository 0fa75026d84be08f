package mutate

import (
	"strconv"

	"wisp.dev/wisp/internal/memo"
	"wisp.dev/wisp/plan"
)

// TemplateCache remembers whether secret templates parse (with
// plan.ParseTemplate, as wisp-fetch parses them), within a budget of bytes.
// Parsing is the costliest step of an injection, and the replicas of a
// workload carry the same templates. It is safe for concurrent use; a nil
// *TemplateCache remembers nothing.
type TemplateCache struct {
	m *memo.Strings[error]
}

// templateCacheBytes bounds a TemplateCache: about 16 templates at their
// size limit, thousands of typical ones.
const templateCacheBytes = 4 << 20

// NewTemplateCache returns an empty cache.
func NewTemplateCache() *TemplateCache {
	return &TemplateCache{m: memo.New(templateCacheBytes, func(key string, err error) int {
		n := len(key) + 64
		if err != nil {
			n += len(err.Error())
		}
		return n
	})}
}

// check returns plan.ParseTemplate's error for the template text of the
// secret name: the template's name is part of what parses (a define of
// the same name is a redefinition).
func (c *TemplateCache) check(name, text string) error {
	parse := func(string) error {
		_, err := plan.ParseTemplate(name, text)
		return err
	}
	if c == nil {
		return parse("")
	}
	// The name's length keeps the key unambiguous.
	return c.m.Get(strconv.Itoa(len(name))+":"+name+text, parse)
}

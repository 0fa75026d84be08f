package mutate

import (
	"slices"
	"strconv"
	"strings"

	"wisp.dev/wisp/internal/memo"
	"wisp.dev/wisp/plan"
)

// Cache remembers what an injection derives from a pod's wisp annotations
// alone, within a budget of bytes: whether each secret template parses
// (with plan.ParseTemplate, as wisp-fetch parses it), and the request the
// annotations make, with its fetch plan encoded. Parsing and encoding are
// most of an injection's work, and the replicas of a workload carry the
// same annotations. It is safe for concurrent use; a nil *Cache remembers
// nothing. What it returns is shared: never modified.
type Cache struct {
	templates *memo.Strings[error]
	requests  *memo.Strings[*parsed]
}

// parsed is a request that parsed without a problem, and its plan's JSON;
// nil for annotations with problems (parsed again to report them).
type parsed struct {
	req  *Request
	plan string
}

// cacheBytes bounds each of a Cache's memos: a few hundred workloads'
// annotations, or 32 templates at their size limit. Memory held there is
// memory the garbage collector scans and, when a stream of new keys
// empties the memo again and again, garbage: budgets of 4 MiB took RSS
// from 37 to 46 MB after the load bench's injected-cold runs.
const cacheBytes = 512 << 10

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{
		templates: memo.New(cacheBytes, func(key string, err error) int {
			n := len(key) + 64
			if err != nil {
				n += len(err.Error())
			}
			return n
		}),
		requests: memo.New(cacheBytes, func(key string, p *parsed) int {
			if p == nil {
				return len(key) + 64
			}
			// The request holds the annotations' values once more, and the
			// plan about as much again.
			return 3*len(key) + 256
		}),
	}
}

// check returns plan.ParseTemplate's error for the template text of the
// secret name: the template's name is part of what parses (a define of
// the same name is a redefinition).
func (c *Cache) check(name, text string) error {
	parse := func(string) error {
		_, err := plan.ParseTemplate(name, text)
		return err
	}
	if c == nil {
		return parse("")
	}
	// The name's length keeps the key unambiguous.
	return c.templates.Get(strconv.Itoa(len(name))+":"+name+text, parse)
}

// request is parseRequest, remembered when the annotations parse. Those
// that do not are parsed again, to report their problems.
func (c *Cache) request(annotations map[string]string, mount mountRule, origin map[string]string) (*Request, string, []error) {
	if c == nil {
		return parseRequest(annotations, mount, origin, nil)
	}
	p := c.requests.Get(requestKey(annotations, mount, origin), func(string) *parsed {
		req, doc, errs := parseRequest(annotations, mount, origin, c)
		if len(errs) > 0 {
			return nil
		}
		return &parsed{req: req, plan: doc}
	})
	if p == nil {
		return parseRequest(annotations, mount, origin, c)
	}
	return p.req, p.plan, nil
}

// parseRequest is parseAnnotations, with the JSON of the request's plan
// ("" when there are problems).
func parseRequest(annotations map[string]string, mount mountRule, origin map[string]string, c *Cache) (*Request, string, []error) {
	if err := templatesTooLarge(annotations); err != nil {
		return &Request{MountPath: mount.def}, "", []error{err}
	}
	req, errs := parseAnnotations(annotations, mount, origin, c)
	if len(errs) > 0 {
		return req, "", errs
	}
	doc, err := Plan(req).Marshal()
	if err != nil {
		return req, "", []error{err}
	}
	if err := planTooLarge(AnnotationSecretPrefix+"<name>", "a fetch plan", len(doc)); err != nil {
		return req, "", []error{err}
	}
	return req, string(doc), nil
}

// requestKey is what parseAnnotations reads: the wisp.dev/ annotations
// (each length-prefixed, in key order), the Vault annotation each came
// from, and the mount rule.
func requestKey(annotations map[string]string, mount mountRule, origin map[string]string) string {
	keys := make([]string, 0, len(annotations))
	n := len(mount.def) + 16
	for _, r := range mount.roots {
		n += len(r) + 8
	}
	for k, v := range annotations {
		if strings.HasPrefix(k, Prefix) {
			keys = append(keys, k)
			n += len(k) + len(v) + len(origin[k]) + 16
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	field(mount.def)
	field(strconv.Itoa(len(mount.roots)))
	for _, r := range mount.roots {
		field(r)
	}
	for _, k := range keys {
		field(k)
		field(annotations[k])
		field(origin[k])
	}
	return b.String()
}

package policy

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"text/template/parse"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"wisp.dev/wisp/internal/memo"
	"wisp.dev/wisp/plan"
)

// TemplatePrefixes are the annotations whose text wisp renders into a pod's
// secret files (wisp's own, and the Vault Agent Injector's that wisp reads as
// aliases). A credential written in such a template, as text, as a string
// constant of an action (plainly or through b64dec) or split across
// actions, ends up in the file exactly like one written in an env var: it
// is judged by the same literal rules, on the template's text and
// constants and on what it renders over stub data (render.go).
var TemplatePrefixes = []string{"wisp.dev/template-", "vault.hashicorp.com/agent-inject-template-"}

// remedyTemplate is the remedy of a literal found in a template.
const remedyTemplate = "put the value in Vault and let the template read it (e.g. {{ .api_key }}); a template only shapes the data it fetches"

// keyValueLine matches `key = value`, `key: value`, `"key": "value"` lines
// of a template's text: the key names the value for the name-aware rules.
var keyValueLine = regexp.MustCompile(`^\s*["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*[:=]\s*(.*?)\s*,?\s*$`)

// trailingKey matches text that ends with `key = ` (an action follows).
var trailingKey = regexp.MustCompile(`["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*[:=]\s*["']?$`)

// templateLiteral is a literal of a template: a value and, when the text
// gives one, the key it is assigned to.
type templateLiteral struct{ name, value string }

// scanTemplates judges the literals of o's template annotations.
func (e *Evaluator) scanTemplates(o Object, prefix string) []Violation {
	var keys []string
	for k := range o.Annotations {
		for _, p := range TemplatePrefixes {
			if strings.HasPrefix(k, p) {
				keys = append(keys, k)
				break
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	var out []Violation
	for _, k := range keys {
		for _, l := range e.templates.Get(withDefaultDelims(o.Annotations, k), templateLiterals) {
			ev := corev1.EnvVar{Name: l.name, Value: l.value}
			if e.allowedValue(l.value) {
				continue
			}
			it := item{env: &ev, lit: newLiteral(l.value), nameAllowed: l.name != "" && len(e.allowNames) > 0 && anyGlob(e.allowNames, l.name)}
			if id, reason, _ := e.check(&it); id != "" {
				out = append(out, Violation{
					RuleID: id,
					Env:    k,
					Field:  annotationsPath(prefix) + "[" + k + "]",
					Reason: "template " + reason,
					Remedy: remedyTemplate,
				})
				break // one violation per annotation is enough to act on
			}
		}
	}
	return out
}

// Delimiters of a Vault Agent template (+ <name>), which wisp reads the
// template with.
const (
	vaultTemplatePrefix   = "vault.hashicorp.com/agent-inject-template-"
	vaultLeftDelimPrefix  = "vault.hashicorp.com/agent-template-left-delim-"
	vaultRightDelimPrefix = "vault.hashicorp.com/agent-template-right-delim-"
)

// withDefaultDelims returns the text of template annotation key, rewritten
// with the default delimiters when it is a Vault Agent template with
// delimiters of its own (as mutate reads it): a credential split across
// [[ ]] actions is judged whole, like one split across {{ }} ones. A text
// that does not parse with its delimiters is returned as is.
func withDefaultDelims(annotations map[string]string, key string) string {
	text := annotations[key]
	name, ok := strings.CutPrefix(key, vaultTemplatePrefix)
	if !ok {
		return text
	}
	left := strings.TrimSpace(annotations[vaultLeftDelimPrefix+name])
	right := strings.TrimSpace(annotations[vaultRightDelimPrefix+name])
	if (left == "" || left == "{{") && (right == "" || right == "}}") {
		return text
	}
	t := parse.New(mainTemplate)
	t.Mode = parse.SkipFuncCheck | parse.ParseComments
	trees := map[string]*parse.Tree{}
	if _, err := t.Parse(text, left, right, trees); err != nil || t.Root == nil {
		return text
	}
	return t.Root.String()
}

// annotationsPath is the path of the annotations that go with the pod spec
// at specPath: metadata.annotations for a pod, the template's otherwise.
func annotationsPath(spec string) string {
	if p, ok := strings.CutSuffix(spec, ".spec"); ok && p != "" && p != "spec" {
		return p + ".metadata.annotations"
	}
	return "metadata.annotations"
}

// templateLiterals lists the literals of a template: its text (key = value
// lines, words, PEM blocks with a body) and the string constants of its
// actions, with their base64 decoding when they decode to text, then the
// same of what it renders over stub data (render.go). A template that does
// not parse yields nothing (the injection refuses it with its own error).
func templateLiterals(text string) []templateLiteral {
	trees := parseTemplate(text)
	if trees == nil {
		return nil
	}
	w := &literalWalker{}
	names := make([]string, 0, len(trees))
	for n := range trees {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if tr := trees[n]; tr != nil && tr.Root != nil {
			w.walk(tr.Root)
		}
	}
	for _, out := range renderTemplate(trees, mainTemplate, text) {
		w.text(out)
	}
	return dedupLiterals(w.out)
}

// mainTemplate names a template's own tree among those it defines.
const mainTemplate = "t"

// parseTemplate parses text as wisp-fetch would, and as a Vault Agent
// template (whose functions wisp does not define): its trees, nil when it
// does not parse.
func parseTemplate(text string) map[string]*parse.Tree {
	if !utf8.ValidString(text) {
		return nil
	}
	trees := map[string]*parse.Tree{}
	t := parse.New(mainTemplate)
	t.Mode = parse.SkipFuncCheck
	if _, err := t.Parse(text, "", "", trees); err != nil {
		return nil
	}
	return trees
}

// dedupLiterals drops repeated literals, keeping the first of each.
func dedupLiterals(lits []templateLiteral) []templateLiteral {
	seen := make(map[templateLiteral]bool, len(lits))
	out := lits[:0]
	for _, l := range lits {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

type literalWalker struct {
	out     []templateLiteral
	pending string // the key the text before an action assigns to
}

func (w *literalWalker) add(name, v string) {
	v = strings.Trim(v, `"'`+"` ;")
	if v == "" {
		return
	}
	w.out = append(w.out, templateLiteral{name: name, value: v})
}

func (w *literalWalker) text(s string) {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if b := pemBlock(lines[i:]); b != "" {
			w.add("", b)
		}
		// A URL's scheme is no key: postgres://u:p@h is a word.
		if m := keyValueLine.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[2], "//") {
			w.add(m[1], m[2])
			continue
		}
		for _, f := range strings.Fields(line) {
			if len(f) >= 8 {
				w.add("", f)
			}
		}
	}
	w.pending = ""
	last := lines[len(lines)-1]
	if len(last) > 256 {
		last = last[len(last)-256:] // a key is short; matching a long line costs more than judging it
	}
	if m := trailingKey.FindStringSubmatch(last); m != nil {
		w.pending = m[1]
	}
}

// pemBlock is the PEM block that lines[0] opens (its BEGIN line, body and
// END line, within 256 lines), or "" when it opens none or the body is
// empty: armour around data the template reads is no credential.
func pemBlock(lines []string) string {
	begin := strings.TrimSpace(lines[0])
	if !strings.HasPrefix(begin, "-----BEGIN ") {
		return ""
	}
	for j := 1; j < len(lines) && j < 256; j++ {
		if end := strings.TrimSpace(lines[j]); strings.HasPrefix(end, "-----END ") {
			body := strings.TrimSpace(strings.Join(lines[1:j], "\n"))
			if body == "" {
				return ""
			}
			return begin + "\n" + body + "\n" + end
		}
	}
	return ""
}

func (w *literalWalker) constant(s string) {
	w.add(w.pending, s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 && utf8.Valid(b) {
			w.add(w.pending, string(b))
			break
		}
	}
}

func (w *literalWalker) walk(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			w.walk(c)
		}
	case *parse.TextNode:
		w.text(string(n.Text))
	case *parse.ActionNode:
		w.pipe(n.Pipe)
	case *parse.IfNode:
		w.branch(&n.BranchNode)
	case *parse.RangeNode:
		w.branch(&n.BranchNode)
	case *parse.WithNode:
		w.branch(&n.BranchNode)
	case *parse.TemplateNode:
		w.pipe(n.Pipe)
	}
}

func (w *literalWalker) branch(b *parse.BranchNode) {
	w.pipe(b.Pipe)
	w.walk(b.List)
	w.walk(b.ElseList)
}

func (w *literalWalker) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			switch a := a.(type) {
			case *parse.StringNode:
				w.constant(a.Text)
			case *parse.PipeNode:
				w.pipe(a)
			}
		}
	}
}

// wispVarLiterals is wispVarLiterals, remembered per value.
func (e *Evaluator) wispVarLiterals(name, value string) ([]templateLiteral, bool) {
	var m *memo.Strings[[]templateLiteral]
	switch name {
	case plan.PlanVar:
		m = e.plans
	case plan.EnvSpecVar:
		m = e.envSpecs
	default:
		return nil, false
	}
	lits := m.Get(value, func(string) []templateLiteral {
		lits, ok := wispVarLiterals(name, value)
		if ok && lits == nil {
			lits = []templateLiteral{} // parsed, no literal
		}
		return lits
	})
	return lits, lits != nil
}

// wispVarLiterals reads the literals of wisp's own variables, which carry
// JSON that the generic literal rules would misjudge: the fetch plan
// (WISP_PLAN; its templates' literals) and the exec shim's spec (WISP_ENV;
// its keys). ok is false when the variable is not one of them or does not
// parse: it is then judged as any literal. Judging the parts keeps a
// hand-written plan or spec from smuggling a literal past the rules.
func wispVarLiterals(name, value string) (lits []templateLiteral, ok bool) {
	switch name {
	case plan.PlanVar:
		// Only the templates' text matters here: decode without
		// plan.Validate, which would parse every template once more.
		var p plan.Plan
		if err := json.Unmarshal([]byte(value), &p); err != nil || p.Version == "" {
			return nil, false
		}
		for _, s := range p.Secrets {
			lits = append(lits, templateLiterals(s.Template)...)
		}
		return lits, true
	case plan.EnvSpecVar:
		spec, err := plan.ParseEnvSpec(value)
		if err != nil {
			return nil, false
		}
		for _, v := range spec.Vars {
			lits = append(lits, templateLiteral{value: v.Key}, templateLiteral{value: v.Secret})
		}
		return lits, true
	}
	return nil, false
}

package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// Templates are judged by what they render, not only by their parse-tree
// constants: `AKIAZ5QWERT{{/* */}}YUIOP7QAB`, `{{ print "AKIAZ5QWERT"
// "YUIOP7QAB" }}` or `{{ printf "%c%c" 65 75 }}` hold no credential in any
// one constant, yet write one into the file. renderTemplate executes a
// template at admission, as wisp-fetch would, over stub data and with
// wisp's own helpers (plan.Funcs), and the literal rules judge the output
// (templateLiterals splits it as it splits a template's text).
//
// Why render rather than restrict templates to fields and helpers: a
// restriction (no constants, no print/printf/slice) would refuse templates
// that teams write today (`{{ .region | default "eu-west-1" }}`, `printf`
// for a DSN) and would need its own list of safe constructs, which the next
// helper or builtin would have to join; a render judges whatever the
// template produces with the rules every literal already meets, and the
// parse-tree walk stays for what a render cannot reach (a constant in a
// branch no stub takes).
//
// Stub data. Every field, map key or index of the data yields one stub
// value: the tree is rewritten so that `.a.b`, `$x.y` and `(pipe).z` call
// a function that returns it, whatever the dot (a map-like stub with every
// key would need the keys up front, and a string stub has no fields). Two
// passes:
//
//   - empty: the stub is "". Data-dependent conditions are false, ranges
//     over data run their else branch, and text around fields joins as it
//     would around an empty value (`AKIAZ5QWERT{{ .x }}YUIOP7QAB`).
//   - marker: the stub is a marker derived from the template's text (so a
//     template cannot hold it), removed from the output before judging:
//     conditions on data are true, comparisons with data are true (eq and
//     ne alike, so `{{ if eq .env "prod" }}` is entered), a range over data
//     runs once with the marker as key and value. The marker is kept
//     through wisp's text helpers (upper, quote, json ...) and through
//     printf's verbs, and the encoding helpers (b64enc, b64dec) and slice
//     and index turn a value holding it into the marker, so no remnant of
//     it is judged as a value (`password={{ .p | b64enc }}` stays allowed).
//
// Bounds, per pass (text/template has no step limit; a render is pure: no
// I/O, no clock, no goroutine): the output stops at renderOutputMax bytes;
// a range over stub data runs at most once, over a number at most
// renderRangeMax times, and each iteration charges its body's size to a
// budget of renderUnits nodes; a template call charges its callee's size,
// and at most renderCalls run; helpers and print, printf, html, js,
// urlquery, eq ... charge an estimate of the bytes they produce (printf:
// widths, precisions and every verb) to renderBytes before they run.
// Nothing else costs more than a step per node. An execution error, or a
// bound reached, ends the render: what it wrote until then is judged (an
// error is not: wisp-fetch fails on it, or the data decides).
//
// What a render cannot see: text that only the two sides of one
// data-dependent condition make together (each pass takes one side), and
// text past a bound; their constants and text are still judged one by one.
const (
	renderOutputMax = 64 << 10
	renderRangeMax  = 256
	renderUnits     = 1 << 14
	renderCalls     = 256
	renderBytes     = 1 << 20
)

// Names of the functions the rewritten tree calls. They are valid
// identifiers (text/template accepts no other), so a template may call
// them too: they are as bounded as the rest.
const (
	fnStub  = "wispStubValue"
	fnRange = "wispStubRange"
	fnCall  = "wispStubCall"
)

var errRenderBudget = errors.New("render budget spent")

// helperFactor bounds the bytes each of plan.Funcs produces per byte of
// its arguments. A helper missing here is rendered as a function of the
// data (its result is the stub): TestRenderHelpersClassified fails until it
// is classified.
var helperFactor = map[string]int{
	"json": 6, "b64enc": 2, "b64dec": 1, "upper": 3, "lower": 3, "trim": 1, "quote": 10, "default": 1,
}

// opaqueHelpers encode their input: applied to a value holding the marker
// they give the marker.
var opaqueHelpers = map[string]bool{"b64enc": true, "b64dec": true}

// consulAliases are Consul Template's helpers that the Vault alias
// translation renames to wisp's (mutate's consulFuncs): a Vault Agent
// template renders with the same helper.
var consulAliases = map[string]string{
	"toJSON": "json", "base64Encode": "b64enc", "base64Decode": "b64dec",
	"toUpper": "upper", "toLower": "lower", "trimSpace": "trim",
}

// builtinNames are text/template's predefined functions that the render
// keeps as they are (the others are replaced by bounded ones).
var builtinNames = map[string]bool{"and": true, "or": true, "not": true, "len": true, "call": true}

// renderTemplate renders the template whose trees (the main one named
// main) were parsed from text, in both passes, and returns what each
// rendered, the marker cut out. It rewrites the trees: call it after
// reading them.
func renderTemplate(trees map[string]*parse.Tree, main, text string) []string {
	if trees[main] == nil {
		return nil
	}
	rw := rewriter{sizes: map[string]int{}, idents: map[string]bool{}}
	names := make([]string, 0, len(trees))
	for n, tr := range trees {
		names = append(names, n)
		rw.sizes[n] = nodeCount(tr.Root)
	}
	sort.Strings(names)
	set := template.New(main)
	for _, n := range names {
		rw.list(trees[n].Root)
		if _, err := set.AddParseTree(n, trees[n]); err != nil {
			return nil
		}
	}
	sum := sha256.Sum256([]byte(text))
	marker := "wispstub" + hex.EncodeToString(sum[:8])
	outs := make([]string, 0, 2)
	r := &render{}
	set.Funcs(r.funcs(rw.idents)) // once: the functions read the pass from r
	for _, leaf := range []string{"", marker} {
		*r = render{leaf: leaf, units: renderUnits, calls: renderCalls, bytes: renderBytes}
		w := &capWriter{}
		_ = set.Lookup(main).Execute(w, leaf) // an error ends the render; its output so far is judged
		outs = append(outs, removeMarker(string(w.b), marker))
	}
	return outs
}

// capWriter keeps what is written up to renderOutputMax bytes and fails
// past it, which ends the execution.
type capWriter struct{ b []byte }

func (w *capWriter) Write(p []byte) (int, error) {
	if room := renderOutputMax - len(w.b); len(p) > room {
		w.b = append(w.b, p[:room]...)
		return room, errRenderBudget
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

// removeMarker cuts every occurrence of marker (ASCII letters and digits)
// from s, in any case.
func removeMarker(s, marker string) string {
	if len(s) < len(marker) {
		return s
	}
	lower := []byte(s)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	var b strings.Builder
	last := 0
	for i := 0; i+len(marker) <= len(lower); {
		j := strings.Index(string(lower[i:]), marker)
		if j < 0 {
			break
		}
		b.WriteString(s[last : i+j])
		i += j + len(marker)
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// render is one pass: its stub value and what is left of its budgets.
type render struct {
	leaf                string // "" in the empty pass, the marker otherwise
	units, calls, bytes int
}

// tainted reports whether v holds the marker (in any case): a value that
// comes from the data in the marker pass.
func (r *render) tainted(v any) bool {
	s, ok := v.(string)
	if !ok || r.leaf == "" || len(s) < len(r.leaf) {
		return false
	}
	return strings.Contains(strings.ToLower(s), r.leaf)
}

func (r *render) anyTainted(args []any) bool {
	for _, a := range args {
		if r.tainted(a) {
			return true
		}
	}
	return false
}

// spend takes n bytes from the helpers' budget.
func (r *render) spend(n int) error {
	if n < 0 || n > r.bytes {
		r.bytes = 0
		return errRenderBudget
	}
	r.bytes -= n
	return nil
}

// argLen is what an argument weighs: a string's bytes, a fixed amount for
// anything else (a number prints in at most a few hundred bytes).
func argLen(a any) int {
	if s, ok := a.(string); ok {
		return len(s)
	}
	return 400
}

func argsLen(args []any) int {
	n := len(args)
	for _, a := range args {
		n += argLen(a)
	}
	return n
}

// rewriter prepares a parsed template for a render: every read of the data
// becomes a call of fnStub, every range's value goes through fnRange and
// every template call's data through fnCall (with the sizes that bound
// them), and it notes the functions the template names.
type rewriter struct {
	sizes  map[string]int  // node count of each template
	idents map[string]bool // functions named
}

func (rw *rewriter) list(l *parse.ListNode) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			rw.pipe(n.Pipe)
		case *parse.IfNode:
			rw.branch(&n.BranchNode)
		case *parse.WithNode:
			rw.branch(&n.BranchNode)
		case *parse.RangeNode:
			body := nodeCount(n.List)
			rw.branch(&n.BranchNode)
			n.Pipe.Cmds = append(n.Pipe.Cmds, command(n.Pos, fnRange, body))
		case *parse.TemplateNode:
			if n.Pipe == nil {
				n.Pipe = &parse.PipeNode{NodeType: parse.NodePipe, Pos: n.Pos, Line: n.Line}
			}
			rw.pipe(n.Pipe)
			n.Pipe.Cmds = append(n.Pipe.Cmds, command(n.Pos, fnCall, rw.sizes[n.Name]))
		}
	}
}

func (rw *rewriter) branch(b *parse.BranchNode) {
	rw.pipe(b.Pipe)
	rw.list(b.List)
	rw.list(b.ElseList)
}

func (rw *rewriter) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		for i, a := range c.Args {
			c.Args[i] = rw.arg(a)
		}
	}
}

// arg rewrites one argument: a field of the dot, of a variable or of a
// pipeline's value becomes the stub.
func (rw *rewriter) arg(a parse.Node) parse.Node {
	switch a := a.(type) {
	case *parse.FieldNode:
		return stubPipe(a.Pos)
	case *parse.ChainNode:
		return stubPipe(a.Pos)
	case *parse.VariableNode:
		if len(a.Ident) > 1 {
			return stubPipe(a.Pos)
		}
	case *parse.PipeNode:
		rw.pipe(a)
	case *parse.IdentifierNode:
		rw.idents[a.Ident] = true
	}
	return a
}

// stubPipe is `(wispStubValue)`.
func stubPipe(pos parse.Pos) *parse.PipeNode {
	return &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{command(pos, fnStub, -1)}}
}

// command is `fn n`, or `fn` when n < 0.
func command(pos parse.Pos, fn string, n int) *parse.CommandNode {
	args := []parse.Node{parse.NewIdentifier(fn).SetPos(pos)}
	if n >= 0 {
		args = append(args, &parse.NumberNode{NodeType: parse.NodeNumber, Pos: pos, IsInt: true, Int64: int64(n), Text: strconv.Itoa(n)})
	}
	return &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: args}
}

// nodeCount is the number of nodes under n, what executing it once costs.
func nodeCount(n parse.Node) int {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return 0
		}
		c := 1
		for _, x := range n.Nodes {
			c += nodeCount(x)
		}
		return c
	case *parse.ActionNode:
		return 1 + nodeCount(n.Pipe)
	case *parse.IfNode:
		return 1 + nodeCount(n.Pipe) + nodeCount(n.List) + nodeCount(n.ElseList)
	case *parse.WithNode:
		return 1 + nodeCount(n.Pipe) + nodeCount(n.List) + nodeCount(n.ElseList)
	case *parse.RangeNode:
		return 1 + nodeCount(n.Pipe) + nodeCount(n.List) + nodeCount(n.ElseList)
	case *parse.TemplateNode:
		return 1 + nodeCount(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return 0
		}
		c := 1
		for _, cmd := range n.Cmds {
			c++
			for _, a := range cmd.Args {
				c += nodeCount(a)
			}
		}
		return c
	case *parse.ChainNode:
		return 1 + nodeCount(n.Node)
	}
	return 1
}

package mutate

import (
	"fmt"
	"strings"
	"text/template/parse"

	"wisp.dev/wisp/plan"
)

// Vault Agent templates are Consul Template: the secret is read inside the
// template ({{ with secret "path" }}...{{ end }}) and its fields are under
// .Data (.Data.data for KV v2). A wisp template is a plain Go text/template
// whose dot is the secret's data (for KV v2 the inner data) and whose helpers
// are plan.Funcs. translateVaultTemplate rewrites the common form:
//
//	{{- with secret "database/creds/app" -}}
//	postgres://{{ .Data.username }}:{{ .Data.password }}@db:5432/app
//	{{- end }}
//
// becomes
//
//	postgres://{{.username}}:{{.password}}@db:5432/app
//
// Rules: at most one `with secret "<path>"` block, at the top level, reading
// exactly the path of the secret the template belongs to, with no
// parameters (no writes such as PKI issue) and no else branch. Inside it,
// .Data.data.<f> and .Data.<f> become .<f> (and $s.Data... for a block that
// binds the secret to $s); .Data.metadata and the response's other fields
// (.LeaseID, .Renewable, ...) are refused. Consul Template helpers with a wisp
// equivalent are renamed (toJSON -> json, base64Decode -> b64dec, ...); any
// other helper is refused. Text outside the block is kept. Anything else is
// refused with a message that gives the line and column and the kind of
// problem, never a word of the template, and suggests the wisp form.

// consulFuncs maps Consul Template helpers to their plan.Funcs equivalent.
var consulFuncs = map[string]string{
	"toJSON":       "json",
	"base64Encode": "b64enc",
	"base64Decode": "b64dec",
	"toUpper":      "upper",
	"toLower":      "lower",
	"trimSpace":    "trim",
}

// goBuiltins are text/template's predefined functions.
var goBuiltins = map[string]bool{
	"and": true, "call": true, "html": true, "index": true, "slice": true, "js": true, "len": true,
	"not": true, "or": true, "print": true, "printf": true, "println": true, "urlquery": true,
	"eq": true, "ge": true, "gt": true, "le": true, "lt": true, "ne": true,
}

// vaultTemplateHint is appended to every refusal.
const vaultTemplateHint = "write it as a wisp template instead (" + AnnotationTemplatePrefix +
	"<name>: the dot is the secret's data, e.g. {{ .password }}; helpers: json, b64enc, b64dec, upper, lower, trim, quote, default)"

// Refusals of translateVaultTemplate. A refusal names where (line and
// column) and what kind of construct, never a word of the template: not a
// path, a constant, a helper's, a field's or a template's name (a
// constant may be a credential, and denials and warnings are stored where
// others read them).
const (
	refuseDefines      = "it defines templates"
	refuseTwoSecrets   = "it reads more than one Vault secret; a wisp secret file renders one path: use one secret annotation per path"
	refuseElse         = "its with secret block has an else branch; wisp fails the fetch instead of rendering a fallback"
	refuseParameters   = "its secret call has parameters (a write, such as a PKI issue); wisp only reads"
	refuseComputedPath = "its secret call does not name a literal path"
	refuseOtherPath    = "its secret call reads a path other than the one its secret annotation names; a template renders the secret it belongs to"
	refuseTwoVariables = "its with secret block declares more than one variable"
	refuseNested       = "its with secret block is not at the top level"
	refuseTemplateCall = "it calls a template"
	refuseLoneSecret   = "it calls secret outside a top-level with secret block"
	refuseHelper       = "it calls a Consul Template helper that has no wisp equivalent"
	refuseWholeDot     = "it uses the whole Vault response (.); use .Data.data (KV v2) or .Data"
	refuseWhole        = "it uses the whole Vault response; use .Data.data (KV v2) or .Data"
	refuseField        = "it reads a field of the Vault response other than .Data; wisp templates see only the secret's data"
	refuseMetadata     = "it reads .Data.metadata; wisp templates see only a KV v2 secret's data"
)

// vaultTemplateName names the template's own tree.
const vaultTemplateName = "vault"

// templateRefusal is a refusal at a position of the template.
type templateRefusal struct {
	line, column int
	reason       string // one of the refuse* constants
}

func (r *templateRefusal) Error() string {
	return fmt.Sprintf("line %d column %d: %s", r.line, r.column, r.reason)
}

// translateVaultTemplate turns a Vault Agent (Consul Template) template of
// the secret at path into a wisp template. Its errors give a position and
// the kind of problem, never a word of the template.
func translateVaultTemplate(text, path string) (string, error) {
	refuse := func(err error) (string, error) {
		return "", fmt.Errorf("this Vault Agent template cannot be translated: %w; %s", err, vaultTemplateHint)
	}
	trees := map[string]*parse.Tree{}
	t := parse.New(vaultTemplateName)
	t.Mode = parse.SkipFuncCheck
	if _, err := t.Parse(text, "", "", trees); err != nil {
		// Parse errors quote the template's words: keep line and kind only.
		return refuse(plan.RedactTemplateError(err))
	}
	tr := &vaultTranslator{text: text, path: path, funcs: plan.Funcs()}
	if len(trees) > 1 {
		var first parse.Node // the first define, for a stable message
		for name, d := range trees {
			if name != vaultTemplateName && (first == nil || d.Root.Position() < first.Position()) {
				first = d.Root
			}
		}
		return refuse(tr.at(first, refuseDefines))
	}
	var out strings.Builder
	for _, n := range t.Root.Nodes {
		w, ok := n.(*parse.WithNode)
		if !ok || !isSecretCall(w.Pipe) {
			if err := tr.walk(n, false); err != nil {
				return refuse(err)
			}
			out.WriteString(n.String())
			continue
		}
		if err := tr.block(w); err != nil {
			return refuse(err)
		}
		out.WriteString(w.List.String())
	}
	return out.String(), nil
}

// at is the refusal reason at n's position: line and column (from 1, in
// bytes) in the template's text.
func (tr *vaultTranslator) at(n parse.Node, reason string) error {
	pos := min(max(int(n.Position()), 0), len(tr.text))
	before := tr.text[:pos]
	return &templateRefusal{
		line:   1 + strings.Count(before, "\n"),
		column: pos - strings.LastIndexByte(before, '\n'),
		reason: reason,
	}
}

type vaultTranslator struct {
	text   string // the template, for positions
	path   string
	funcs  map[string]any
	blocks int
	// secretVar is the variable a block binds the secret to ($s in
	// {{ with $s := secret "p" }}), "" when none.
	secretVar string
}

// isSecretCall reports whether a pipeline calls Consul Template's secret.
func isSecretCall(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) == 0 || len(p.Cmds[0].Args) == 0 {
		return false
	}
	id, ok := p.Cmds[0].Args[0].(*parse.IdentifierNode)
	return ok && id.Ident == "secret"
}

// block checks a top-level `with secret` block and rewrites its body.
func (tr *vaultTranslator) block(w *parse.WithNode) error {
	tr.blocks++
	if tr.blocks > 1 {
		return tr.at(w, refuseTwoSecrets)
	}
	if w.ElseList != nil {
		return tr.at(w.ElseList, refuseElse)
	}
	p := w.Pipe
	if len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 2 {
		return tr.at(p, refuseParameters)
	}
	s, ok := p.Cmds[0].Args[1].(*parse.StringNode)
	if !ok {
		return tr.at(p.Cmds[0].Args[1], refuseComputedPath)
	}
	if s.Text != tr.path {
		return tr.at(s, refuseOtherPath)
	}
	switch len(p.Decl) {
	case 0:
	case 1:
		tr.secretVar = p.Decl[0].Ident[0]
	default:
		return tr.at(p.Decl[1], refuseTwoVariables)
	}
	return tr.walkList(w.List, true)
}

func (tr *vaultTranslator) walkList(l *parse.ListNode, dotIsSecret bool) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := tr.walk(n, dotIsSecret); err != nil {
			return err
		}
	}
	return nil
}

// walk rewrites n in place. dotIsSecret says whether the dot is the secret
// (directly inside the with secret block) rather than rebound by a range or
// a nested with.
func (tr *vaultTranslator) walk(n parse.Node, dotIsSecret bool) error {
	switch n := n.(type) {
	case *parse.ListNode:
		return tr.walkList(n, dotIsSecret)
	case *parse.ActionNode:
		return tr.pipe(n.Pipe, dotIsSecret)
	case *parse.IfNode:
		return tr.branch(&n.BranchNode, dotIsSecret, dotIsSecret)
	case *parse.RangeNode:
		return tr.branch(&n.BranchNode, dotIsSecret, false)
	case *parse.WithNode:
		if isSecretCall(n.Pipe) {
			return tr.at(n, refuseNested)
		}
		return tr.branch(&n.BranchNode, dotIsSecret, false)
	case *parse.TemplateNode:
		return tr.at(n, refuseTemplateCall)
	}
	// Text, comments, break and continue need nothing.
	return nil
}

// branch walks an if, range or with: its pipeline and else branch see the
// current dot, its body sees bodyDot.
func (tr *vaultTranslator) branch(b *parse.BranchNode, dotIsSecret, bodyDot bool) error {
	if err := tr.pipe(b.Pipe, dotIsSecret); err != nil {
		return err
	}
	if err := tr.walkList(b.List, bodyDot); err != nil {
		return err
	}
	return tr.walkList(b.ElseList, dotIsSecret)
}

func (tr *vaultTranslator) pipe(p *parse.PipeNode, dotIsSecret bool) error {
	if p == nil {
		return nil
	}
	for _, c := range p.Cmds {
		for i, arg := range c.Args {
			out, err := tr.arg(arg, dotIsSecret)
			if err != nil {
				return err
			}
			c.Args[i] = out
		}
	}
	return nil
}

// arg rewrites one command argument and returns its replacement.
func (tr *vaultTranslator) arg(n parse.Node, dotIsSecret bool) (parse.Node, error) {
	switch n := n.(type) {
	case *parse.IdentifierNode:
		if n.Ident == "secret" {
			return nil, tr.at(n, refuseLoneSecret)
		}
		if w, ok := consulFuncs[n.Ident]; ok {
			n.Ident = w
			return n, nil
		}
		if _, ok := tr.funcs[n.Ident]; !ok && !goBuiltins[n.Ident] {
			return nil, tr.at(n, refuseHelper)
		}
		return n, nil
	case *parse.PipeNode:
		return n, tr.pipe(n, dotIsSecret)
	case *parse.ChainNode:
		out, err := tr.arg(n.Node, dotIsSecret)
		if err != nil {
			return nil, err
		}
		n.Node = out
		return n, nil
	case *parse.DotNode:
		if dotIsSecret {
			return nil, tr.at(n, refuseWholeDot)
		}
		return n, nil
	case *parse.FieldNode:
		if !dotIsSecret {
			return n, nil
		}
		rest, reason := dataFields(n.Ident)
		if reason != "" {
			return nil, tr.at(n, reason)
		}
		if len(rest) == 0 {
			return &parse.DotNode{NodeType: parse.NodeDot, Pos: n.Pos}, nil
		}
		n.Ident = rest
		return n, nil
	case *parse.VariableNode:
		if tr.secretVar == "" || n.Ident[0] != tr.secretVar {
			return n, nil
		}
		rest, reason := dataFields(n.Ident[1:])
		if reason != "" {
			return nil, tr.at(n, reason)
		}
		// $ is the root of a wisp template: the secret's data.
		n.Ident = append([]string{"$"}, rest...)
		return n, nil
	}
	return n, nil
}

// dataFields maps the fields read on a Vault response to the fields read on
// wisp's dot: Data.data.x and Data.x become x. A field it refuses gives
// the reason instead.
func dataFields(fields []string) (rest []string, reason string) {
	switch {
	case len(fields) == 0:
		return nil, refuseWhole
	case fields[0] != "Data":
		return nil, refuseField
	case len(fields) >= 2 && fields[1] == "metadata":
		return nil, refuseMetadata
	case len(fields) >= 2 && fields[1] == "data":
		return fields[2:], ""
	}
	return fields[1:], ""
}

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
// refused with a message that names the problem and suggests the wisp form.

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

// translateVaultTemplate turns a Vault Agent (Consul Template) template of
// the secret at path into a wisp template. Its errors never quote the
// template beyond a helper's or a field's name.
func translateVaultTemplate(text, path string) (string, error) {
	refuse := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("this Vault Agent template cannot be translated: %s; %s", fmt.Sprintf(format, args...), vaultTemplateHint)
	}
	trees := map[string]*parse.Tree{}
	t := parse.New("vault")
	t.Mode = parse.SkipFuncCheck
	if _, err := t.Parse(text, "", "", trees); err != nil {
		// Parse errors quote the template's words: keep line and kind only.
		return refuse("%v", plan.RedactTemplateError(err))
	}
	if len(trees) > 1 {
		return refuse("it defines templates")
	}
	tr := &vaultTranslator{path: path, funcs: plan.Funcs()}
	var out strings.Builder
	for _, n := range t.Root.Nodes {
		w, ok := n.(*parse.WithNode)
		if !ok || !isSecretCall(w.Pipe) {
			if err := tr.walk(n, false); err != nil {
				return refuse("%v", err)
			}
			out.WriteString(n.String())
			continue
		}
		if err := tr.block(w); err != nil {
			return refuse("%v", err)
		}
		out.WriteString(w.List.String())
	}
	return out.String(), nil
}

type vaultTranslator struct {
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
		return fmt.Errorf("it reads more than one Vault secret; a wisp secret file renders one path: use one secret annotation per path")
	}
	if w.ElseList != nil {
		return fmt.Errorf("its with secret block has an else branch; wisp fails the fetch instead of rendering a fallback")
	}
	p := w.Pipe
	if len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 2 {
		return fmt.Errorf("its secret call has parameters (a write, such as a PKI issue); wisp only reads")
	}
	s, ok := p.Cmds[0].Args[1].(*parse.StringNode)
	if !ok {
		return fmt.Errorf("its secret call does not name a literal path")
	}
	if s.Text != tr.path {
		return fmt.Errorf("it reads %q but its secret annotation names %q; a template renders the secret it belongs to", trunc(s.Text), trunc(tr.path))
	}
	switch len(p.Decl) {
	case 0:
	case 1:
		tr.secretVar = p.Decl[0].Ident[0]
	default:
		return fmt.Errorf("its with secret block declares more than one variable")
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
			return fmt.Errorf("its with secret block is not at the top level")
		}
		return tr.branch(&n.BranchNode, dotIsSecret, false)
	case *parse.TemplateNode:
		return fmt.Errorf("it calls a template (%s)", trunc(n.Name))
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
			return nil, fmt.Errorf("it calls secret outside a top-level with secret block")
		}
		if w, ok := consulFuncs[n.Ident]; ok {
			n.Ident = w
			return n, nil
		}
		if _, ok := tr.funcs[n.Ident]; !ok && !goBuiltins[n.Ident] {
			return nil, fmt.Errorf("it uses the Consul Template helper %q, which has no wisp equivalent", trunc(n.Ident))
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
			return nil, fmt.Errorf("it uses the whole Vault response (.); use .Data.data (KV v2) or .Data")
		}
		return n, nil
	case *parse.FieldNode:
		if !dotIsSecret {
			return n, nil
		}
		rest, err := dataFields(n.Ident)
		if err != nil {
			return nil, err
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
		rest, err := dataFields(n.Ident[1:])
		if err != nil {
			return nil, err
		}
		// $ is the root of a wisp template: the secret's data.
		n.Ident = append([]string{"$"}, rest...)
		return n, nil
	}
	return n, nil
}

// dataFields maps the fields read on a Vault response to the fields read on
// wisp's dot: Data.data.x and Data.x become x.
func dataFields(fields []string) ([]string, error) {
	switch {
	case len(fields) == 0:
		return nil, fmt.Errorf("it uses the whole Vault response; use .Data.data (KV v2) or .Data")
	case fields[0] != "Data":
		return nil, fmt.Errorf("it reads .%s of the Vault response; wisp templates see only the secret's data", trunc(fields[0]))
	case len(fields) >= 2 && fields[1] == "metadata":
		return nil, fmt.Errorf("it reads .Data.metadata; wisp templates see only a KV v2 secret's data")
	case len(fields) >= 2 && fields[1] == "data":
		return fields[2:], nil
	}
	return fields[1:], nil
}

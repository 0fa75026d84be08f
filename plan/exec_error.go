package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

// ExecError is a template execution error that carries the template's
// name, the position and the kind of failure, and nothing else: no word of
// text/template's own message, which quotes the data it failed on
// ("range can't iterate over <value>", "non-comparable type <map>: ...",
// "error calling index: ..."). Only Key may come from that message, and
// only when the template's text holds it as a field (see RedactExecError).
type ExecError struct {
	// Template is the template's name (the secret's name).
	Template string
	// Line and Column are text/template's position of the failing action;
	// 0 when unknown.
	Line, Column int
	// Kind says what failed, in a fixed vocabulary, with Key when set.
	Kind string
	// Key is the field a "missing key" or "no such field" error names.
	Key string
}

func (e *ExecError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "template %s: ", e.Template)
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d column %d: ", e.Line, e.Column)
	}
	b.WriteString(e.Kind)
	return b.String()
}

// execKinds maps the start of text/template's execution messages (after
// the position and the action) to a kind. The messages' ends, which may
// quote data, are never used.
var execKinds = []struct{ prefix, kind string }{
	{"map has no entry for key ", "map has no entry for key %q"},
	{"nil data; no entry for key ", "no data for key %q"},
	{"can't evaluate field ", "field %q of a value that is not a map"},
	{"range can't iterate over ", "range over a value that is not a list or map"},
	{"range over send-only channel", "range over a value that is not a list or map"},
	{"can't use ", "range with two variables over a value that has no keys"},
	{"if/with can't use ", "if or with over a value that has no truth value"},
	{"nil pointer evaluating ", "field of a nil value"},
	{"indirection through explicit nil", "field of a nil value"},
	{"wrong number of args for ", "wrong number of arguments"},
	{"wrong type for value", "an argument has the wrong type"},
	{"invalid value; expected ", "a missing argument"},
	{"can't handle ", "an argument has the wrong type"},
	{"expected ", "an argument has the wrong type"},
	{"cannot assign nil to ", "an argument has the wrong type"},
	{"dereference of nil pointer", "an argument is nil"},
	{"can't give argument to non-function ", "arguments to a value that is not a function"},
	{"can't evaluate command ", "not a command"},
	{"nil is not a command", "not a command"},
	{"can't print ", "a value that cannot be printed"},
	{"exceeded maximum template depth", "templates nested too deep"},
	{"template ", "a template that is not defined"},
	{"undefined variable", "an undefined variable"},
}

// callKinds maps the start of a function's error (index, slice, eq, ...,
// and wisp's helpers) to a kind.
var callKinds = []struct{ prefix, kind string }{
	{"index out of range", "index out of range"},
	{"cannot index slice/array with", "an index that is not an integer"},
	{"can't index item of type", "index of a value that is not a list, map or string"},
	{"index of ", "index of a nil value"},
	{"invalid slice index", "slice out of range"},
	{"too many slice indexes", "slice with too many indexes"},
	{"cannot 3-index slice a string", "slice with too many indexes"},
	{"can't slice item of type", "slice of a value that is not a list or string"},
	{"slice of ", "slice of a nil value"},
	{"len of ", "len of a value that has no length"},
	{"call of nil", "call of a value that is not a function"},
	{"non-function ", "call of a value that is not a function"},
	{"arg ", "an argument has the wrong type"},
	{"incompatible types for comparison", "values that cannot be compared"},
	{"invalid type for comparison", "values that cannot be compared"},
	{"non-comparable type", "values that cannot be compared"},
	{"missing argument for comparison", "a missing argument"},
	{"b64dec: ", "input is not valid base64"},
	{"json: ", "value is not JSON-encodable"},
}

// builtins are text/template's predefined functions.
var builtins = []string{"and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt",
	"ne", "not", "or", "print", "printf", "println", "slice", "urlquery"}

// RedactExecError turns an error of t.Execute into an *ExecError: the
// template's name, text/template's line and column, and the kind of
// failure, from the start of its message. It never keeps the rest of that
// message, which may quote data (a secret's value, a whole map). The one
// word it keeps is a missing key or field, and only when t's text holds it
// as a field (".key"): a word of the template, never of the data.
func RedactExecError(t *template.Template, text string, err error) error {
	if err == nil {
		return nil
	}
	e := &ExecError{Template: t.Name(), Kind: "execution failed"}
	var xe template.ExecError
	if !errors.As(err, &xe) || xe.Err == nil {
		return e
	}
	msg := xe.Err.Error()
	rest, ok := e.position(msg, t.Name())
	if !ok {
		return e
	}
	if cause := errors.Unwrap(xe.Err); cause != nil {
		e.Kind = callKind(msg, cause)
		return e
	}
	kind, key := restKind(rest)
	if key != "" && strings.Contains(text, "."+key) {
		e.Key, e.Kind = key, fmt.Sprintf(kind, key)
	} else {
		e.Kind = strings.Replace(kind, " %q", "", 1)
	}
	return e
}

// position reads "template: <name>:<line>:<col>: " off msg into e and
// returns what follows the action's description ("executing ... at
// <...>: "), or the rest after "template: <name>: " when text/template
// gave no position.
func (e *ExecError) position(msg, name string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "template: "+name+":")
	if !ok {
		return "", false
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) == 3 {
		line, err1 := strconv.Atoi(parts[0])
		col, err2 := strconv.Atoi(parts[1])
		if err1 == nil && err2 == nil {
			e.Line, e.Column = line, col
			return strings.TrimPrefix(parts[2], " "), true
		}
	}
	return strings.TrimPrefix(rest, " "), true
}

// restKind classifies a message's rest, which starts with "executing
// "<name>" at <<action>>: " when text/template knew the action. The
// action is template text that may hold ">: ", so every cut is tried and
// the first that starts with a known message wins. It returns the key of a
// missing-key or missing-field message, as text/template quoted it.
func restKind(rest string) (kind, key string) {
	cands := []string{rest}
	if i := strings.Index(rest, " at <"); strings.HasPrefix(rest, "executing ") && i >= 0 {
		cands = cands[:0]
		for s := rest[i:]; ; {
			j := strings.Index(s, ">: ")
			if j < 0 {
				break
			}
			s = s[j+3:]
			cands = append(cands, s)
		}
	}
	for _, c := range cands {
		for _, k := range execKinds {
			if strings.HasPrefix(c, k.prefix) {
				return k.kind, messageKey(k.prefix, c)
			}
		}
	}
	return "execution failed", ""
}

// messageKey returns the key of "map has no entry for key "k"" and
// "can't evaluate field k in type ...", or "".
func messageKey(prefix, msg string) string {
	after := strings.TrimPrefix(msg, prefix)
	switch prefix {
	case "map has no entry for key ", "nil data; no entry for key ":
		q, err := strconv.QuotedPrefix(after)
		if err != nil {
			return ""
		}
		k, _ := strconv.Unquote(q)
		return k
	case "can't evaluate field ":
		k, _, ok := strings.Cut(after, " in type ")
		if !ok {
			return ""
		}
		return k
	}
	return ""
}

// callKind is the kind of an "error calling <func>: <cause>" message: the
// function's name (when it is a builtin or one of Funcs) and the cause's
// kind.
func callKind(msg string, cause error) string {
	kind := "a call failed"
	head, ok := strings.CutSuffix(msg, ": "+cause.Error())
	if i := strings.LastIndex(head, "error calling "); ok && i >= 0 {
		if name := head[i+len("error calling "):]; isFuncName(name) {
			kind = "calling " + name + " failed"
		}
	}
	c := cause.Error()
	for _, k := range callKinds {
		if strings.HasPrefix(c, k.prefix) {
			return kind + ": " + k.kind
		}
	}
	return kind
}

func isFuncName(name string) bool {
	if _, ok := Funcs()[name]; ok {
		return true
	}
	for _, b := range builtins {
		if b == name {
			return true
		}
	}
	return false
}

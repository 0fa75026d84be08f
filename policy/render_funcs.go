package policy

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"text/template"

	"wisp.dev/wisp/plan"
)

// The functions of a render, for the names a template uses: wisp's
// helpers, each charged to the bytes budget and kept from leaving a remnant
// of the marker; text/template's builtins that cost more than a constant
// (print, printf, println, html, js, urlquery, eq ... ge) or that would
// fail on a stub (index, slice), redone bounded; the rewritten tree's own
// functions; and a stub for every other function the template names
// (Consul Template's secret, a helper wisp-fetch would refuse): its result
// is the stub.

var errRenderArgs = errors.New("wrong arguments")

func (r *render) funcs(idents map[string]bool) template.FuncMap {
	fm := make(template.FuncMap, len(idents)+3)
	fm[fnStub] = func() string { return r.leaf }
	fm[fnRange] = r.rangeOver
	fm[fnCall] = r.call
	var helpers template.FuncMap
	for name := range idents {
		if _, ok := fm[name]; ok || builtinNames[name] {
			continue
		}
		if f := r.builtin(name); f != nil {
			fm[name] = f
			continue
		}
		helper := name
		if a, ok := consulAliases[name]; ok {
			helper = a
		}
		if helpers == nil {
			helpers = plan.Funcs()
		}
		fn, ok := helpers[helper]
		factor, bounded := helperFactor[helper]
		if ok && bounded {
			fm[name] = r.helper(helper, factor, reflect.ValueOf(fn))
			continue
		}
		fm[name] = func(args ...any) (string, error) { return r.leaf, r.spend(argsLen(args)) }
	}
	return fm
}

// builtin is the render's own version of one of text/template's builtins,
// or nil.
func (r *render) builtin(name string) any {
	switch name {
	case "print":
		return func(args ...any) (string, error) {
			return r.format(argsLen(args), func() string { return fmt.Sprint(args...) })
		}
	case "println":
		return func(args ...any) (string, error) {
			return r.format(argsLen(args), func() string { return fmt.Sprintln(args...) })
		}
	case "printf":
		return r.printf
	case "html":
		return r.escaper(template.HTMLEscaper)
	case "js":
		return r.escaper(template.JSEscaper)
	case "urlquery":
		return r.escaper(template.URLQueryEscaper)
	case "index":
		return r.index
	case "slice":
		return r.slice
	case "eq":
		return func(a any, b ...any) (bool, error) {
			return r.compare(append([]any{a}, b...), func(c int) bool { return c == 0 })
		}
	case "ne":
		return r.compare2(func(c int) bool { return c != 0 })
	case "lt":
		return r.compare2(func(c int) bool { return c < 0 })
	case "le":
		return r.compare2(func(c int) bool { return c <= 0 })
	case "gt":
		return r.compare2(func(c int) bool { return c > 0 })
	case "ge":
		return r.compare2(func(c int) bool { return c >= 0 })
	}
	return nil
}

// helper calls one of plan.Funcs after charging factor bytes per byte of
// its arguments; an encoding helper applied to the marker gives the marker.
func (r *render) helper(name string, factor int, fn reflect.Value) func(args ...any) (any, error) {
	t := fn.Type()
	return func(args ...any) (any, error) {
		if err := r.spend(factor*argsLen(args) + 16); err != nil {
			return nil, err
		}
		if opaqueHelpers[name] && r.anyTainted(args) {
			return r.leaf, nil
		}
		if t.IsVariadic() || t.NumIn() != len(args) {
			return nil, errRenderArgs
		}
		in := make([]reflect.Value, len(args))
		for i, a := range args {
			pt := t.In(i)
			switch {
			case a == nil && pt.Kind() == reflect.Interface:
				in[i] = reflect.Zero(pt)
			case a != nil && reflect.TypeOf(a).AssignableTo(pt):
				in[i] = reflect.ValueOf(a)
			default:
				return nil, errRenderArgs
			}
		}
		out := fn.Call(in)
		if len(out) == 2 && !out[1].IsNil() {
			return nil, errRenderArgs // the helper's own error: never shown
		}
		return out[0].Interface(), nil
	}
}

// format charges cost bytes, then formats.
func (r *render) format(cost int, f func() string) (string, error) {
	if err := r.spend(cost); err != nil {
		return "", err
	}
	return f(), nil
}

// printf is fmt.Sprintf, charged what its format and arguments may
// produce; in the marker pass a value holding the marker prints as it is
// whatever the verb (%x of it would otherwise be judged as a value).
func (r *render) printf(format string, args ...any) (string, error) {
	if err := r.spend(printfCost(format, args)); err != nil {
		return "", err
	}
	for i, a := range args {
		if r.tainted(a) {
			args[i] = verbatim(a.(string))
		}
	}
	return fmt.Sprintf(format, args...), nil
}

// verbatim prints its text under every verb.
type verbatim string

func (v verbatim) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, string(v)) }

// printfCost bounds the bytes fmt.Sprintf(format, args...) produces: the
// format, and for every verb its width and precision plus the largest
// argument (an argument index may print one many times) at four bytes a
// byte (%q, % x), plus every argument once more (%!(EXTRA ...)). A width
// or precision taken from an argument (*) is refused.
func printfCost(format string, args []any) int {
	widest := 0
	for _, a := range args {
		widest = max(widest, argLen(a))
	}
	cost := len(format) + 4*argsLen(args) + 16
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		num := 0
		for i++; i < len(format); i++ {
			c := format[i]
			if c == '*' {
				return math.MaxInt
			}
			if '0' <= c && c <= '9' {
				if num = num*10 + int(c-'0'); num > renderOutputMax {
					return math.MaxInt
				}
				continue
			}
			cost += num
			num = 0
			if c != '.' && c != '[' && c != ']' && c != '+' && c != '-' && c != '#' && c != ' ' {
				break // the verb
			}
		}
		cost += num + 4*widest + 8
	}
	return cost
}

// escaper is one of text/template's html, js, urlquery (at most six bytes
// out per byte in).
func (r *render) escaper(f func(...any) string) func(...any) (string, error) {
	return func(args ...any) (string, error) {
		return r.format(6*argsLen(args)+16, func() string { return f(args...) })
	}
}

// index is text/template's index over what a render holds: indexing the
// stub, or with a string key (the data's maps), gives the stub; a string
// constant gives its byte; the map a range over the stub yields, its value.
func (r *render) index(item any, keys ...any) (any, error) {
	if err := r.spend(argLen(item)); err != nil { // tainted reads it
		return nil, err
	}
	for _, k := range keys {
		switch v := item.(type) {
		case string:
			i, isInt := toInt(k)
			switch {
			case v == r.leaf || r.tainted(v) || !isInt:
				item = r.leaf
			case i < 0 || i >= len(v):
				return nil, errRenderArgs
			default:
				item = v[i]
			}
		case map[string]string:
			s, ok := k.(string)
			if !ok {
				return nil, errRenderArgs
			}
			if item, ok = v[s]; !ok {
				item = r.leaf
			}
		case nil:
			item = r.leaf // the dot of a template called without data
		default:
			return nil, errRenderArgs
		}
	}
	return item, nil
}

// slice is text/template's slice of a string: of the stub or a value
// holding the marker, the stub (a part of the marker would be judged).
func (r *render) slice(item any, idx ...any) (any, error) {
	if err := r.spend(argLen(item)); err != nil { // tainted reads it
		return nil, err
	}
	s, ok := item.(string)
	switch {
	case item == nil:
		return r.leaf, nil
	case !ok || len(idx) > 2:
		return nil, errRenderArgs
	case s == r.leaf || r.tainted(s):
		return r.leaf, nil
	}
	bounds := []int{0, len(s)}
	for i, x := range idx {
		n, ok := toInt(x)
		if !ok {
			return nil, errRenderArgs
		}
		bounds[i] = n
	}
	if bounds[0] < 0 || bounds[0] > bounds[1] || bounds[1] > len(s) {
		return nil, errRenderArgs
	}
	return s[bounds[0]:bounds[1]], nil
}

func toInt(x any) (int, bool) {
	v := reflect.ValueOf(x)
	switch {
	case v.CanInt() && v.Int() >= math.MinInt32 && v.Int() <= math.MaxInt32:
		return int(v.Int()), true
	case v.CanUint() && v.Uint() <= math.MaxInt32:
		return int(v.Uint()), true
	}
	return 0, false
}

// compare is text/template's eq (true when args[0] is equal to any other
// argument) and, with two arguments, ne, lt, le, gt, ge. In the marker
// pass a comparison with the data is true whatever the operator, so the
// branch it guards is rendered; the empty pass renders the other one.
// Values text/template cannot compare are unequal (it fails instead).
func (r *render) compare(args []any, ok func(int) bool) (bool, error) {
	if err := r.spend(argsLen(args)); err != nil {
		return false, err
	}
	if r.anyTainted(args) {
		return true, nil
	}
	for _, b := range args[1:] {
		if c, comparable := compareBasic(args[0], b); comparable && ok(c) {
			return true, nil
		}
	}
	return false, nil
}

func (r *render) compare2(ok func(int) bool) func(a, b any) (bool, error) {
	return func(a, b any) (bool, error) { return r.compare([]any{a, b}, ok) }
}

// compareBasic orders two values of text/template's basic kinds (integers
// signed and unsigned together, floats, strings, booleans).
func compareBasic(a, b any) (int, bool) {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	switch {
	case !va.IsValid() || !vb.IsValid():
		return boolCompare(!va.IsValid(), !vb.IsValid()), true
	case va.CanInt() && vb.CanInt():
		return cmp.Compare(va.Int(), vb.Int()), true
	case va.CanUint() && vb.CanUint():
		return cmp.Compare(va.Uint(), vb.Uint()), true
	case va.CanInt() && vb.CanUint():
		if va.Int() < 0 {
			return -1, true
		}
		return cmp.Compare(uint64(va.Int()), vb.Uint()), true
	case va.CanUint() && vb.CanInt():
		c, ok := compareBasic(b, a)
		return -c, ok
	case va.CanFloat() && vb.CanFloat():
		return cmp.Compare(va.Float(), vb.Float()), true
	case va.Kind() == reflect.String && vb.Kind() == reflect.String:
		return strings.Compare(va.String(), vb.String()), true
	case va.Kind() == reflect.Bool && vb.Kind() == reflect.Bool:
		return boolCompare(va.Bool(), vb.Bool()), true
	}
	return 0, false
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// rangeOver bounds what a range iterates over (the rewritten tree pipes
// every range's value through it); body is the size of the range's body.
// The stub: nothing in the empty pass, one entry (the marker as key and
// value) in the marker pass. A number: at most renderRangeMax. Each
// iteration charges body units; iterations past the budget are dropped.
func (r *render) rangeOver(body int, v any) (any, error) {
	if err := r.spend(argLen(v)); err != nil { // tainted reads it
		return nil, err
	}
	body = max(body, 1)
	rv := reflect.ValueOf(v)
	k := 0
	switch {
	case rv.Kind() == reflect.String:
		if !r.tainted(v) {
			return nil, nil // the empty stub, or a constant text/template cannot range over
		}
		k = 1
	case rv.CanInt():
		k = int(min(max(rv.Int(), 0), renderRangeMax))
	case rv.CanUint():
		k = int(min(rv.Uint(), renderRangeMax))
	case rv.Kind() == reflect.Map && rv.Len() <= 1:
		k = rv.Len()
	default:
		return nil, errRenderArgs
	}
	k = min(k, r.units/body)
	r.units -= k * body
	switch {
	case k == 0:
		return nil, nil
	case rv.Kind() == reflect.String:
		return map[string]string{r.leaf: r.leaf}, nil
	case rv.Kind() == reflect.Map:
		return v, nil
	}
	return k, nil
}

// call charges a template call (the rewritten tree pipes every template
// action's data through it) and passes the data on.
func (r *render) call(size int, v ...any) (any, error) {
	size = max(size, 1)
	if r.calls == 0 || size > r.units {
		r.units = 0
		return nil, errRenderBudget
	}
	r.calls--
	r.units -= size
	if len(v) == 0 {
		return nil, nil
	}
	return v[len(v)-1], nil
}

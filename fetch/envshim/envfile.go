package envshim

import (
	"fmt"
	"strings"
)

// ParseEnvFile reads a file of the env format exactly as wisp-fetch writes
// it (fetch.Render, format env): one NAME=value entry a line, NAME in
// [A-Z_][A-Z0-9_]*, each entry ending with a newline. A value is bare when
// every byte of it is in [A-Za-z0-9_@%+=:,./-], otherwise single-quoted,
// each quote in it closing the quoted text, adding an escaped quote and
// opening it again; an empty value is two quotes:
//
//	USER=app
//	NOTE='it'\''s
//	PASSWORD=not an entry'
//	EMPTY=''
//
// So a quoted value may span lines, and a line of a value that reads
// NAME=x is part of the value, not an entry (NOTE above holds 2 lines and
// sets no PASSWORD). Anything else is refused; the error gives the line of
// the entry, never a word of the file.
func ParseEnvFile(data []byte) (map[string]string, error) {
	p := envParser{s: string(data), line: 1}
	out := map[string]string{}
	for p.i < len(p.s) {
		line := p.line
		name, val, err := p.entry()
		if err != nil {
			return nil, fmt.Errorf("format env: line %d: %w", line, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("format env: line %d: a variable set twice", line)
		}
		out[name] = val
	}
	return out, nil
}

// envParser walks an env file; line is the line of s[i].
type envParser struct {
	s    string
	i    int
	line int
}

type envSyntaxError string

func (e envSyntaxError) Error() string { return string(e) }

const (
	errEnvName     envSyntaxError = "want NAME=value, NAME in [A-Z_][A-Z0-9_]*"
	errEnvEmpty    envSyntaxError = "an empty value (written '')"
	errEnvBare     envSyntaxError = "an unquoted value holds a byte that must be quoted"
	errEnvUnclosed envSyntaxError = "a quoted value is not closed"
	errEnvTrailing envSyntaxError = "a value is not followed by a newline"
)

// entry reads NAME=value\n.
func (p *envParser) entry() (name, val string, err error) {
	start := p.i
	for p.i < len(p.s) && isNameByte(p.s[p.i], p.i == start) {
		p.i++
	}
	if p.i == start || p.i >= len(p.s) || p.s[p.i] != '=' {
		return "", "", errEnvName
	}
	name = p.s[start:p.i]
	p.i++ // '='
	if p.i < len(p.s) && p.s[p.i] == '\'' {
		val, err = p.quoted()
	} else {
		val, err = p.bare()
	}
	if err != nil {
		return "", "", err
	}
	if p.i >= len(p.s) || p.s[p.i] != '\n' {
		return "", "", errEnvTrailing
	}
	p.i++
	p.line++
	return name, val, nil
}

// bare reads an unquoted value up to the newline.
func (p *envParser) bare() (string, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '\n' {
		if !isBareByte(p.s[p.i]) {
			return "", errEnvBare
		}
		p.i++
	}
	if p.i == start {
		return "", errEnvEmpty
	}
	return p.s[start:p.i], nil
}

// quoted reads '...' segments joined by \' (an escaped quote).
func (p *envParser) quoted() (string, error) {
	var b strings.Builder
	for {
		p.i++ // opening quote
		end := strings.IndexByte(p.s[p.i:], '\'')
		if end < 0 {
			return "", errEnvUnclosed
		}
		seg := p.s[p.i : p.i+end]
		b.WriteString(seg)
		p.line += strings.Count(seg, "\n")
		p.i += end + 1 // closing quote
		if !strings.HasPrefix(p.s[p.i:], `\''`) {
			return b.String(), nil
		}
		b.WriteByte('\'')
		p.i += 2 // \' ; the next quote opens a segment
	}
}

func isNameByte(c byte, first bool) bool {
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9')
}

// isBareByte is the set of bytes the writer leaves unquoted.
func isBareByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte("_@%+=:,./-", c) >= 0
}

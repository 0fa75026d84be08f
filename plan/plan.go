package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"unicode/utf8"
)

// Version is the plan format this package reads and writes. A reader rejects
// any other version, so a fetcher never half-understands a newer webhook.
const Version = "wisp.dev/v1alpha1"

// DefaultFileMode is the mode of every secret file unless a plan says
// otherwise: read-only for the owner and the group (the pod's fsGroup).
const DefaultFileMode fs.FileMode = 0o440

// Format says how a secret's data is rendered into its file.
type Format string

const (
	// FormatJSON renders the secret's data as a JSON object (the default).
	FormatJSON Format = "json"
	// FormatEnv renders KEY=value lines, sorted by key.
	FormatEnv Format = "env"
	// FormatRawPrefix, followed by a key, writes that one field's bytes.
	FormatRawPrefix = "raw:"
)

// Plan is what wisp-fetch does in one pod: log in with Role, then fetch every
// Secret into Dir.
type Plan struct {
	// Version is always Version.
	Version string `json:"version"`
	// Role is the Vault JWT-auth role to log in with.
	Role string `json:"role"`
	// Dir is the folder, on the shared in-memory volume, that receives the files.
	Dir string `json:"dir"`
	// Secrets are fetched in order; their names are unique.
	Secrets []Secret `json:"secrets"`
}

// Secret is one Vault path rendered into one file, Dir/Name.
type Secret struct {
	// Name is the file name: a DNS label, so never "..", never a "/".
	Name string `json:"name"`
	// Path is the Vault logical path to read, e.g. "secret/data/app" or
	// "database/creds/app".
	Path string `json:"path"`
	// Format is "json", "env" or "raw:<key>"; empty when Template is set.
	Format Format `json:"format,omitempty"`
	// Template is a Go text/template over the secret's data (see Funcs).
	Template string `json:"template,omitempty"`
	// Mode is the file mode; zero means DefaultFileMode.
	Mode fs.FileMode `json:"mode,omitempty"`
}

// String keeps a plan's templates out of casual logs; it names what the plan
// fetches, which is all an operator needs.
func (p Plan) String() string {
	names := make([]string, len(p.Secrets))
	for i, s := range p.Secrets {
		names[i] = s.Name + "=" + s.Path
	}
	return fmt.Sprintf("plan(role=%s dir=%s secrets=[%s])", p.Role, p.Dir, strings.Join(names, " "))
}

// Marshal encodes p as compact JSON, with no "$(" or "$$" (see
// EscapeDollars).
func (p Plan) Marshal() ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	return EscapeDollars(b), nil
}

// EscapeDollars rewrites as \u0024 (which decodes to the same text) every
// "$" of a JSON document that the kubelet would change: one before "(" or
// "$". A plan (and an EnvSpec) travels as an env value, in which the kubelet
// expands $(VAR) references and turns "$$" into "$": escaped, the document
// the program reads is the document written ({{ $k }} stays as it is), and a
// "$(" in WISP_PLAN or WISP_ENV can be refused at admission as an attempt to
// change it. Outside strings, "$" is not JSON, so only strings change.
func EscapeDollars(doc []byte) []byte {
	if !bytes.Contains(doc, []byte("$(")) && !bytes.Contains(doc, []byte("$$")) {
		return doc
	}
	out := make([]byte, 0, len(doc)+16)
	for i, c := range doc {
		if c == '$' && i+1 < len(doc) && (doc[i+1] == '(' || doc[i+1] == '$') {
			out = append(out, `\u0024`...)
			continue
		}
		out = append(out, c)
	}
	return out
}

// Parse decodes and validates a plan. Unknown fields are errors.
func Parse(data []byte) (Plan, error) {
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Plan{}, fmt.Errorf("decode plan: %w", err)
	}
	// Decoder.More reports false for a stray "]" or "}", so ask for the next
	// token instead: only the end of the input is acceptable.
	if _, err := dec.Token(); err != io.EOF {
		return Plan{}, errors.New("decode plan: trailing data after the JSON object")
	}
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// Validate reports every problem of p at once.
func (p Plan) Validate() error {
	var errs []error
	if p.Version != Version {
		errs = append(errs, fmt.Errorf("version %q is not supported, want %q", p.Version, Version))
	}
	if p.Role == "" {
		errs = append(errs, errors.New("role is empty"))
	}
	// A plan travels as JSON, which turns invalid UTF-8 into U+FFFD: such a
	// string would reach wisp-fetch changed, so it is refused here.
	if !utf8.ValidString(p.Role) {
		errs = append(errs, errors.New("role is not valid UTF-8"))
	}
	if !path.IsAbs(p.Dir) || path.Clean(p.Dir) != p.Dir || !utf8.ValidString(p.Dir) {
		errs = append(errs, fmt.Errorf("dir %q is not a clean absolute path", p.Dir))
	}
	seen := make(map[string]bool, len(p.Secrets))
	for i, s := range p.Secrets {
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("secrets[%d]: %w", i, err))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("secrets[%d]: name %q is used twice", i, s.Name))
		}
		seen[s.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid plan: %w", err)
	}
	return nil
}

// Validate checks one secret entry.
func (s Secret) Validate() error {
	var errs []error
	if !IsFileName(s.Name) {
		errs = append(errs, fmt.Errorf("name %q is not a DNS label", s.Name))
	}
	if err := ValidatePath(s.Path); err != nil {
		errs = append(errs, err)
	}
	switch {
	case s.Template != "" && s.Format != "":
		errs = append(errs, errors.New("set either a template or a format, not both"))
	case s.Template != "":
		if _, err := ParseTemplate(s.Name, s.Template); err != nil {
			errs = append(errs, err)
		}
	default:
		if err := s.Format.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Mode&^fs.ModePerm != 0 {
		errs = append(errs, fmt.Errorf("mode %#o has bits beyond the permission bits", uint32(s.Mode)))
	}
	return errors.Join(errs...)
}

// FileMode returns the mode the secret's file gets.
func (s Secret) FileMode() fs.FileMode {
	if s.Mode == 0 {
		return DefaultFileMode
	}
	return s.Mode
}

// Validate accepts "", "json", "env" and "raw:<key>".
func (f Format) Validate() error {
	switch {
	case f == "" || f == FormatJSON || f == FormatEnv:
		return nil
	case strings.HasPrefix(string(f), FormatRawPrefix):
		if strings.TrimPrefix(string(f), FormatRawPrefix) == "" {
			return fmt.Errorf("format %q names no key, want raw:<key>", string(f))
		}
		if !utf8.ValidString(string(f)) {
			return fmt.Errorf("format %q is not valid UTF-8", string(f))
		}
		return nil
	default:
		return fmt.Errorf("format %q is unknown, want json, env or raw:<key>", string(f))
	}
}

// RawKey returns the key of a "raw:<key>" format.
func (f Format) RawKey() (string, bool) {
	return strings.CutPrefix(string(f), FormatRawPrefix)
}

// IsFileName reports whether name is a DNS label (RFC 1123): 1-63 characters
// of [a-z0-9-], starting and ending with an alphanumeric. Such a name can never
// escape the secrets folder.
func IsFileName(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && (c != '-' || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return true
}

// ValidatePath checks a Vault logical path: not empty, no leading slash, no
// empty, "." or ".." segment, no whitespace or control characters.
func ValidatePath(p string) error {
	if p == "" {
		return errors.New("vault path is empty")
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("vault path %q must not start with /", p)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("vault path %q is not valid UTF-8", p)
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("vault path %q has whitespace or a control character", p)
		}
	}
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("vault path %q has an empty, . or .. segment", p)
		}
	}
	if reason, ok := tokenMounts[strings.ToLower(segs[0])]; ok {
		return fmt.Errorf("vault path %q is refused: %s paths %s; a pod's files hold the secrets it reads, never a Vault token or Vault's own state", p, segs[0]+"/", reason)
	}
	return nil
}

// tokenMounts are Vault's built-in mounts whose paths return tokens
// (auth/token/create, auth/token/lookup-self, auth/<method>/login) or act
// on Vault itself (sys/wrapping/wrap returns a wrapping token, sys/ holds
// Vault's configuration), or the caller's token-scoped storage.
var tokenMounts = map[string]string{
	"auth":      "log in, create or look up tokens",
	"sys":       "configure Vault or wrap responses in tokens",
	"cubbyhole": "hold the token's private storage, which a fresh login never has",
}

// ParseTemplate parses a secret's template with the helper functions of Funcs.
// The webhook uses it to reject a broken template at admission; wisp-fetch
// uses it to render.
func ParseTemplate(name, text string) (*template.Template, error) {
	if !utf8.ValidString(text) {
		// Do not echo the template: it may hold literal secrets.
		return nil, errors.New("parse template: text is not valid UTF-8")
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(Funcs()).Parse(text)
	if err != nil {
		return nil, RedactTemplateError(err)
	}
	return t, nil
}

// templateErr matches text/template's parse errors:
// "template: <name>:<line>[:<col>]: <message>".
var templateErr = regexp.MustCompile(`^template: [^:]*:(\d+)(?::(\d+))?: (.*)$`)

// quotedInError matches what a template error quotes from the text: "...",
// '...' and U+XXXX characters.
var quotedInError = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|U\+[0-9A-Fa-f]+`)

// RedactTemplateError turns a template parse error into one that gives the
// line (and column) and the kind of problem, never a word of the template:
// an identifier or a quoted string in it may be a secret (a denial is
// stored in events that others can read).
func RedactTemplateError(err error) error {
	msg := err.Error()
	m := templateErr.FindStringSubmatch(msg)
	if m == nil {
		return errors.New("parse template: invalid template")
	}
	where := "line " + m[1]
	if m[2] != "" {
		where += " column " + m[2]
	}
	what := quotedInError.ReplaceAllString(m[3], "…")
	// Unquoted words of the template appear after "unexpected" and in
	// "bad character ..." messages: keep the kind, drop the rest.
	if i := strings.Index(what, "unexpected "); i >= 0 {
		what = what[:i] + "unexpected token"
	}
	if strings.HasPrefix(what, "function … not defined") {
		what += " (the functions are: " + strings.Join(funcNames(), ", ") + ")"
	}
	return fmt.Errorf("parse template: %s: %s", where, what)
}

// funcNames are the names of Funcs, sorted.
func funcNames() []string {
	fs := Funcs()
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

package plan

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
)

// Funcs returns the helper functions available in secret templates:
//
//	json      encode a value as JSON
//	b64enc    base64-encode a string
//	b64dec    base64-decode a string
//	upper     upper-case a string
//	lower     lower-case a string
//	trim      trim surrounding white space
//	quote     double-quote a value, Go syntax (\" and \\ escaped; $ is not)
//	default   the second argument, or the first when the second is empty
//
// The set is small on purpose: a template formats data, it does not compute.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			if err != nil {
				// encoding/json's errors may quote the value (an invalid
				// json.Number, a float): do not echo it.
				return "", errors.New("json: value is not JSON-encodable")
			}
			return string(b), nil
		},
		"b64enc": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"b64dec": func(s string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				// The input may be secret: do not echo it.
				return "", fmt.Errorf("b64dec: input is not valid base64")
			}
			return string(b), nil
		},
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"trim":  strings.TrimSpace,
		"quote": func(v any) string { return fmt.Sprintf("%q", fmt.Sprint(v)) },
		"default": func(def, v any) any {
			if v == nil || v == "" {
				return def
			}
			return v
		},
	}
}

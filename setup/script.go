package setup

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Script is the plan as vault CLI commands, for review or to run by hand:
// enable the auth method, write its config, write each role (JSON bodies on
// stdin). Unlike Apply it does not compare with Vault: `vault auth enable`
// fails on a mount that exists.
func Script(p Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vault auth enable -path=%s jwt\n", p.Mount)
	writeBody(&b, p.ConfigPath(), p.AuthConfig)
	for _, r := range p.Roles {
		fmt.Fprintf(&b, "# %s: pods of %s\n", r.Name, strings.Join(r.Namespaces, ", "))
		writeBody(&b, p.RolePath(r.Name), r.Body)
	}
	return b.String()
}

func writeBody(b *strings.Builder, path string, body map[string]any) {
	j, _ := json.MarshalIndent(body, "", "  ") // maps of strings and lists: no error
	fmt.Fprintf(b, "vault write %s - <<'EOF'\n%s\nEOF\n", path, j)
}

package fetch_test

import (
	"encoding/json"
	"fmt"

	"wisp.dev/wisp/fetch"
	"wisp.dev/wisp/plan"
)

// The env format: sorted, upper-cased names; values quoted for sh when
// needed.
func ExampleRender_env() {
	data := fetch.Data{"username": "v-app-x1", "password": "p@ss word", "port": json.Number("5432")}
	out, err := fetch.Render(plan.Secret{Name: "db", Path: "database/creds/app", Format: plan.FormatEnv}, data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// PASSWORD='p@ss word'
	// PORT=5432
	// USERNAME=v-app-x1
}

// A template sees the secret's data (for KV v2, the inner data map).
func ExampleRender_template() {
	data := fetch.Data{"username": "v-app-x1", "password": "pw"}
	s := plan.Secret{Name: "dsn", Path: "database/creds/app",
		Template: `postgresql://{{ .username }}:{{ .password }}@db:5432/app?sslmode=verify-full`}
	out, err := fetch.Render(s, data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// postgresql://v-app-x1:pw@db:5432/app?sslmode=verify-full
}

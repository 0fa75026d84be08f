package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"wisp.dev/wisp/test/stack"
)

// TestDemo runs the whole demo, as `make demo` does, on the real node, and
// checks its story: the static secrets denied by the helm-installed
// webhook, the pod injected and run by the kubelet, wisp-fetch's
// credential logging the app in to PostgreSQL, the role dropped on
// revocation, and nothing left behind.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var out bytes.Buffer
	t0 := time.Now()
	err := run(ctx, &out, options{})
	got := out.String()
	t.Logf("demo output (%s):\n%s", time.Since(t0).Round(time.Millisecond), got)
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	for _, want := range []*regexp.Regexp{
		// 1. The Deployment with static secrets is denied by wisp, naming
		// both env vars.
		regexp.MustCompile(`(?m)^  DENIED \(403 Forbidden\): admission webhook "validate-workloads.wisp.dev" denied the request: wisp: 2 static secret\(s\)`),
		regexp.MustCompile(`(?m)^    Deployment team-a/billing: container "app": env AWS_ACCESS_KEY_ID: .*known-credential-format`),
		regexp.MustCompile(`(?m)^    Deployment team-a/billing: container "app": env DB_PASSWORD: .*env-secret-key-ref`),
		// 2. The annotated pod is injected with the plan of its
		// annotations, and the kubelet runs it.
		regexp.MustCompile(`(?m)^  ADMITTED and INJECTED \(wisp.dev/status: injected\)`),
		regexp.MustCompile(`(?m)^    init container wisp-fetch, image 127\.0\.0\.1:\d+/wisp:v0\.0\.0-test, user 65532 group 65532`),
		regexp.MustCompile(`(?m)^      config +<- secret/data/app/config +\(Go template\)$`),
		regexp.MustCompile(`(?m)^      db +<- database/creds/app +\(format env\)$`),
		regexp.MustCompile(`(?m)^    volumes: kube-api-access-\w+, wisp-spiffe \(CSI csi.spiffe.io, read-only\), wisp-secrets \(emptyDir, medium Memory, sizeLimit 4Mi\)$`),
		regexp.MustCompile(`(?m)^    app +0/1 +Init:0/1 `),
		regexp.MustCompile(`(?m)^    app +1/1 +Running +0 `),
		// 3. wisp-fetch logs in with the pod's SPIFFE ID and writes 0440 files.
		regexp.MustCompile(`(?m)got a JWT-SVID for spiffe://example.org/ns/team-a/sa/app; logged in to Vault as role app`),
		regexp.MustCompile(`(?m)^    -r--r----- +65532:65532 +\d+ B  config +\[api\] \| key = "\*\*\*\*" \| \[session\] \| secret = "\*\*\*\*"$`),
		regexp.MustCompile(`(?m)^    -r--r----- +65532:65532 +\d+ B  db +USERNAME=v-\S+ PASSWORD=\*\*\*\*$`),
		// 4. The app, as uid 10001, reads both files.
		regexp.MustCompile(`(?m)^    uid=10001 `),
		regexp.MustCompile(`(?m)^    file config: 4 lines$`),
		// 5. Revocation drops the role; the app's next login fails.
		regexp.MustCompile(`(?m)^  \$ vault lease revoke database/creds/app/\S+`),
		regexp.MustCompile(`(?m)^  the app's next login \(every 2 s\): testapp: log in to PostgreSQL at 127.0.0.1:\d+ as v-\S+: failed$`),
		regexp.MustCompile(`(?m)^demo: stopped the node, its pods, the registry, SPIRE, Vault and PostgreSQL; no process, mount, cgroup or folder left`),
		regexp.MustCompile(`(?m)^demo: OK in `),
	} {
		if !want.MatchString(got) {
			t.Errorf("the output has no line matching %s", want)
		}
	}

	// 4. The dynamic user of the db file is the one the app logs in as, and
	// the one whose role is then dropped.
	user := regexp.MustCompile(`USERNAME=(v-\S+) PASSWORD`).FindStringSubmatch(got)
	if user == nil {
		t.Fatal("no dynamic PostgreSQL user in the output")
	}
	for _, want := range []string{
		"    current_user=" + user[1] + "\n",
		"PostgreSQL role " + user[1] + ": gone from pg_roles",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the output does not say %q", want)
		}
	}

	// No secret in the output: not the AWS key of the manifest, no Vault
	// token, no JWT.
	if strings.Contains(got, "AKIAZ3MHQ7LXK4T2V6PB") {
		t.Error("the output contains the AWS key of the manifest")
	}
	if c := stack.Credentials(got); len(c) > 0 {
		t.Errorf("the output contains %d Vault tokens or JWTs", len(c))
	}
}

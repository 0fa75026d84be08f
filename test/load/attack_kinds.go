package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Names of the attack's hostile requests.
const (
	atForgedPlan     = "forged-plan-2.8MB"
	atPasswords      = "25000-env-passwords"
	atTemplate       = "250KiB-template-no-opt-in"
	atContainers     = "200000-empty-containers"
	atLongName       = "900KiB-env-name"
	atLargestAllowed = "largest-allowed-templates"
)

// maxDenial is the largest denial the attack accepts for the 25,000
// passwords (the goal; it was 8.9 MB).
const maxDenial = 64 << 10

// attackKinds are the attack's hostile requests: what a tenant allowed to
// create pods in its own namespace can send (server-side dry runs do),
// each with the answer it must get now. Before the limits, the first cost
// about a second of CPU and 80 MB at /mutate, the second got an 8.9 MB
// denial, the third 60-160 ms though the pod does not opt in, the fourth
// decodes to 35 times its JSON (a 4 MiB body, 140 MB).
func attackKinds() []*kind {
	denied := func(name string, pod *corev1.Pod, says string) *kind {
		return &kind{name: name, body: reviewOf("Pod", "pods", pod), uid: true, want: wantDenied, says: says, maxAnswer: maxDenial, floorWant: wantAllowed}
	}
	forged := teamPod(false)
	forged.Annotations = map[string]string{"wisp.dev/status": "injected"}
	forged.Spec.Containers[0].Env = append(forged.Spec.Containers[0].Env, corev1.EnvVar{Name: "WISP_PLAN", Value: forgedPlan(2800 << 10)})

	passwords := teamPod(false)
	for i := range 25_000 {
		passwords.Spec.Containers[0].Env = append(passwords.Spec.Containers[0].Env, corev1.EnvVar{Name: fmt.Sprintf("P%d_PASSWORD", i), Value: "hunter2"})
	}
	template := teamPod(false)
	template.Annotations = map[string]string{"wisp.dev/template-x": tokenWords(250<<10, 2)}

	longName := teamPod(false)
	longName.Spec.Containers[0].Env = append(longName.Spec.Containers[0].Env,
		corev1.EnvVar{Name: "P_PASSWORD_" + strings.Repeat("X", 900<<10), Value: "hunter2"})

	return []*kind{
		denied(atForgedPlan, forged, "wisp's WISP_PLAN is 2.7 MiB; it may have at most 64 KiB"),
		denied(atPasswords, passwords, "25004 env and envFrom entries; wisp judges at most 4096"),
		denied(atTemplate, template, "template is 250 KiB; a template may have at most 16 KiB"),
		{name: atContainers, body: emptyContainers(200_000), uid: true, want: wantRejected, says: "request too large to judge", floorWant: wantAllowed},
		denied(atLongName, longName, "static secret(s) in env vars"),
		largestAllowed(),
	}
}

// largestAllowed is the costliest pod the limits let through: opted in,
// four templates of 15,000 bytes of actions (the most a plan carries),
// each new to the server (the request's uid is in them), so that both the
// policy and the injection parse all of them.
func largestAllowed() *kind {
	p := teamPod(true)
	for _, name := range []string{"a", "b", "c", "d"} {
		p.Annotations["wisp.dev/secret-"+name] = "secret/data/payments/" + name
		p.Annotations["wisp.dev/template-"+name] = "{{/* " + uidMark + " */}}" + strings.Repeat("{{ .x }}", 15000/8)
	}
	return &kind{name: atLargestAllowed, body: reviewOf("Pod", "pods", p), uid: true, want: wantPatch, uidInPatch: true, floorWant: wantAllowed}
}

// forgedPlan is a hand-written fetch plan of about n bytes: one template
// of token-like words.
func forgedPlan(n int) string {
	p := map[string]any{"version": "wisp.dev/v1alpha1", "role": "payments", "dir": "/wisp/secrets",
		"secrets": []map[string]string{{"name": "x", "path": "secret/data/x", "template": tokenWords(n, 1)}}}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // built here: a bug
	}
	return string(b)
}

// tokenWords is n bytes of words that look like tokens: 12 to 41 letters
// and digits, a line every ten words.
func tokenWords(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b strings.Builder
	b.Grow(n + 64)
	for b.Len() < n {
		for range 12 + r.IntN(30) {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		if r.IntN(10) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()[:n]
}

// emptyContainers is a review of a pod with n containers that have only a
// name: the JSON that decodes to the most memory per byte.
func emptyContainers(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"many","namespace":"team-a"},"spec":{"containers":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"c%d"}`, i)
	}
	b.WriteString("]}}")
	return reviewRaw("Pod", "pods", []byte(b.String()))
}

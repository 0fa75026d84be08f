package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// want is the answer a request must get.
type want int

const (
	wantPatch    want = iota // allowed, with a JSONPatch
	wantAllowed              // allowed, no patch
	wantDenied               // refused by the policy: 403 and a message
	wantRejected             // a bad request: refused with a 4xx code and a message
)

func (w want) String() string {
	return [...]string{"patch", "allowed", "denied", "rejected"}[w]
}

// kind is one sort of request: its body and the answer it must get. Bodies
// of valid reviews carry a placeholder uid that each request replaces with
// its own, so an echoed uid proves the answer is this request's.
type kind struct {
	name        string
	body        []byte // with uidMark where the uid goes, if uid is true
	uid         bool
	contentType string
	want        want
	says        string // the refusal's message contains this (denied, rejected)
	// uidInPatch: the uid is in the pod too, and so in the patch
	// (injected-cold's template).
	uidInPatch bool
	// floorWant is the floor's answer: it allows every review and refuses
	// what it cannot decode.
	floorWant want
	// maxAnswer, if set, bounds the answer's length in bytes.
	maxAnswer int
}

// uidMark is replaced by each request's uid, wherever it is.
const uidMark = "@@UID@@"

// bodyFor returns the body of one request with uid set.
func (k *kind) bodyFor(uid string) []byte {
	if !k.uid {
		return k.body
	}
	return bytes.ReplaceAll(k.body, []byte(uidMark), []byte(uid))
}

// Scenario names: the valid reviews measured by the bench.
const (
	scInjected = "injected" // an opted-in pod: policy, injection, patch
	scDenied   = "denied"   // a pod with a Secret in an env var: denied
	scPlain    = "plain"    // a pod that does not opt in: allowed as is
	scLarge    = "large"    // an opted-in pod, 10 containers x 50 env vars
	// scInjectedCold: the injected pod, its template unlike any before (it
	// names the request's uid), so no parse is remembered from an earlier
	// request: what a workload's first pod costs.
	scInjectedCold = "injected-cold"
)

var scenarioNames = []string{scInjected, scInjectedCold, scDenied, scPlain, scLarge}

// scenario returns the valid kind of that name.
func scenario(name string) (*kind, error) {
	switch name {
	case scInjected:
		return valid(name, teamPod(true), wantPatch), nil
	case scDenied:
		p := teamPod(false)
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "DB_PASSWORD",
			ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "payments-db"}, Key: "password"}}})
		k := valid(name, p, wantDenied)
		k.says = "static secret"
		return k, nil
	case scInjectedCold:
		p := teamPod(true)
		p.Annotations["wisp.dev/template-config"] = "{{/* " + uidMark + " */}}" + p.Annotations["wisp.dev/template-config"]
		k := valid(name, p, wantPatch)
		k.uidInPatch = true
		return k, nil
	case scPlain:
		return valid(name, teamPod(false), wantAllowed), nil
	case scLarge:
		return valid(name, largePod(10, 50), wantPatch), nil
	}
	return nil, fmt.Errorf("unknown scenario %q (want one of %s)", name, strings.Join(scenarioNames, ", "))
}

func valid(name string, pod *corev1.Pod, w want) *kind {
	return &kind{name: name, body: reviewOf("Pod", "pods", pod), uid: true, want: w, floorWant: wantAllowed}
}

// teamPod is an app team's pod: two containers, a few env vars and, when
// opted in, three secrets (the webhook benchmark's pod).
func teamPod(optIn bool) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "payments-6f7c9d-",
			Namespace:    "team-a",
			Labels:       map[string]string{"app": "payments", "pod-template-hash": "6f7c9d"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{
					Name:  "app",
					Image: "registry.example.com/payments:1.4.2",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
					Env: []corev1.EnvVar{
						{Name: "DB_CREDENTIALS_FILE", Value: "/vault/secrets/db"},
						{Name: "LOG_LEVEL", Value: "info"},
						{Name: "HTTP_PORT", Value: "8080"},
					},
				},
				{
					Name:  "metrics",
					Image: "registry.example.com/exporter:0.9.0",
					Env:   []corev1.EnvVar{{Name: "SCRAPE_INTERVAL", Value: "15s"}},
				},
			},
		},
	}
	if optIn {
		p.Annotations = map[string]string{
			"wisp.dev/inject":          "true",
			"wisp.dev/role":            "payments",
			"wisp.dev/secret-config":   "secret/data/payments/config",
			"wisp.dev/template-config": "{{ range $k, $v := . }}{{ $k }}={{ $v }}\n{{ end }}",
			"wisp.dev/secret-db":       "database/creds/payments",
			"wisp.dev/format-db":       "env",
			"wisp.dev/secret-stripe":   "secret/data/payments/stripe",
			"wisp.dev/format-stripe":   "raw:api_key",
		}
	}
	return p
}

// largePod is an opted-in pod with many containers, each with many harmless
// env vars, resources and probes: the policy reads every value.
func largePod(containers, envs int) *corev1.Pod {
	p := teamPod(true)
	words := []string{"info", "true", "8080", "/var/lib/app", "http://orders.team-a.svc:8080", "eu-west-1", "30s", "json"}
	p.Spec.Containers = nil
	for c := range containers {
		ctr := corev1.Container{
			Name:  "worker-" + strconv.Itoa(c),
			Image: "registry.example.com/worker:3.2." + strconv.Itoa(c),
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8080 + c)}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/readyz"}}, PeriodSeconds: 5},
		}
		for e := range envs {
			ctr.Env = append(ctr.Env, corev1.EnvVar{
				Name:  fmt.Sprintf("WORKER_SETTING_%02d", e),
				Value: words[(c+e)%len(words)],
			})
		}
		p.Spec.Containers = append(p.Spec.Containers, ctr)
	}
	return p
}

// reviewOf wraps obj in a v1 AdmissionReview of a CREATE in team-a, with
// the uid placeholder.
func reviewOf(kind, resource string, obj any) []byte {
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err) // the objects are built here: a bug
	}
	return reviewRaw(kind, resource, raw)
}

func reviewRaw(kind, resource string, raw []byte) []byte {
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       uidMark,
			Kind:      metav1.GroupVersionKind{Version: "v1", Kind: kind},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: resource},
			Namespace: "team-a",
			Operation: admissionv1.Create,
			Object:    runtime.RawExtension{Raw: []byte(`"@@OBJECT@@"`)},
		},
	}
	body, err := json.Marshal(ar)
	if err != nil {
		panic(err)
	}
	// Spliced in, so that raw may be anything (json.Marshal would check it).
	return bytes.Replace(body, []byte(`"@@OBJECT@@"`), raw, 1)
}

// hostileKinds are the soak's bad and odd requests, with the answer each
// must get. maxBody is the server's body limit.
func hostileKinds(maxBody int) []*kind {
	injected, _ := scenario(scInjected)
	good := injected.body
	rejected := func(name string, body []byte, says string) *kind {
		return &kind{name: name, body: body, want: wantRejected, says: says, floorWant: wantRejected}
	}
	var ks []*kind
	ks = append(ks,
		rejected("malformed-json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x",`+"\x00"+`}`), ""),
		rejected("truncated", good[:len(good)*2/3], ""),
		rejected("empty-body", nil, ""),
		rejected("over-limit", overLimit(good, maxBody), "too large"),
		&kind{name: "wrong-content-type", body: good, contentType: "text/plain", want: wantRejected, says: "application/json", floorWant: wantAllowed},
		rejected("object-not-a-pod", reviewRaw("Pod", "pods", []byte(`"just a string"`)), "decode pod"),
		rejected("deep-nesting", deepNesting(100_000), ""),
	)
	// Odd but valid: these get real answers.
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]string{"a": "b"}}
	ks = append(ks, &kind{name: "other-kind", body: reviewOf("ConfigMap", "configmaps", cm), uid: true, want: wantAllowed, floorWant: wantAllowed})

	many := teamPod(false)
	for i := range 10_000 {
		many.Spec.Containers[0].Env = append(many.Spec.Containers[0].Env, corev1.EnvVar{Name: fmt.Sprintf("SETTING_%05d", i), Value: "on"})
	}
	// Over the 4096 entries the policy judges: refused unjudged.
	ks = append(ks, &kind{name: "10000-env-vars", body: reviewOf("Pod", "pods", many), uid: true, want: wantDenied,
		says: "10004 env and envFrom entries; wisp judges at most 4096", floorWant: wantAllowed})

	huge := teamPod(true)
	huge.Annotations["example.com/notes"] = strings.Repeat("lorem ipsum ", 64<<10) // 768 KiB
	ks = append(ks, &kind{name: "huge-annotation", body: reviewOf("Pod", "pods", huge), uid: true, want: wantPatch, floorWant: wantAllowed})

	hugeTemplate := teamPod(true)
	hugeTemplate.Annotations["wisp.dev/template-config"] = strings.Repeat("{{ .x }}", 64<<10) // 512 KiB in the plan
	// A 512 KiB template: refused at once, naming the 16 KiB limit, rather
	// than parsed (which cost 177 ms and 56 MB a request).
	ks = append(ks, &kind{name: "huge-wisp-annotation", body: reviewOf("Pod", "pods", hugeTemplate), uid: true, want: wantDenied,
		says: "a template may have at most", floorWant: wantAllowed})
	return ks
}

// overLimit pads a valid review with spaces past the limit.
func overLimit(good []byte, maxBody int) []byte {
	b := make([]byte, 0, maxBody+len(good)+1)
	b = append(b, good[:len(good)-1]...)
	b = append(b, bytes.Repeat([]byte(" "), maxBody-len(good)+2)...)
	return append(b, good[len(good)-1])
}

// deepNesting is a review whose pod holds n nested arrays in an unknown
// field: a decoder without a depth limit would recurse n times.
func deepNesting(n int) []byte {
	raw := make([]byte, 0, 2*n+64)
	raw = append(raw, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep"},"spec":{"x":`...)
	raw = append(raw, bytes.Repeat([]byte("["), n)...)
	raw = append(raw, bytes.Repeat([]byte("]"), n)...)
	raw = append(raw, "}}"...)
	return reviewRaw("Pod", "pods", raw)
}

// answer is the part of an AdmissionReview answer the harness reads.
type answer struct {
	Response *struct {
		UID       string  `json:"uid"`
		Allowed   bool    `json:"allowed"`
		Patch     []byte  `json:"patch"`
		PatchType *string `json:"patchType"`
		Status    *struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
	} `json:"response"`
}

// patchOp is one JSONPatch operation, its value kept raw.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// checker checks answers against a kind's expectation. A patch must be a
// JSONPatch that adds the init container and the status annotation; once
// one is seen, every later patch of the same kind must be the same
// operations (in any order).
//
// The first right answer of a kind with uids is kept: a later answer that
// is the same bytes but for its own uid is right without decoding it again,
// so that the load generator spends its CPU on requests, not on reading
// large answers (anything else is checked in full).
type checker struct {
	k        *kind
	w        want
	firstRaw []byte
	first    []patchOp
	// golden is the first right answer, split around its uid member.
	goldenHead, goldenTail []byte
}

// sameAsGolden reports whether body is the golden answer with uid's member
// in place of the golden one.
func (c *checker) sameAsGolden(uid string, body []byte) bool {
	if c.goldenHead == nil {
		return false
	}
	member := `"uid":"` + uid + `"`
	return len(body) == len(c.goldenHead)+len(member)+len(c.goldenTail) &&
		bytes.HasPrefix(body, c.goldenHead) && bytes.HasSuffix(body, c.goldenTail) &&
		string(body[len(c.goldenHead):len(c.goldenHead)+len(member)]) == member
}

// keepGolden keeps body, a right answer for uid, as the golden one.
func (c *checker) keepGolden(uid string, body []byte) {
	member := []byte(`"uid":"` + uid + `"`)
	i := bytes.Index(body, member)
	if i < 0 || bytes.Count(body, member) != 1 {
		return
	}
	c.goldenHead = slices.Clone(body[:i])
	c.goldenTail = slices.Clone(body[i+len(member):])
}

func newChecker(k *kind, floor bool) *checker {
	w := k.want
	if floor {
		w = k.floorWant
	}
	return &checker{k: k, w: w}
}

// check returns nil when an answer with HTTP status code and body is right
// for the request with uid. It is not safe for concurrent use.
func (c *checker) check(uid string, code int, body []byte) error {
	if c.k.maxAnswer > 0 && len(body) > c.k.maxAnswer {
		return fmt.Errorf("answer of %d bytes, over %d", len(body), c.k.maxAnswer)
	}
	if !c.k.uid || code != 200 {
		return c.checkFull(uid, code, body)
	}
	if c.sameAsGolden(uid, body) {
		return nil
	}
	err := c.checkFull(uid, code, body)
	if err == nil && c.goldenHead == nil {
		c.keepGolden(uid, body)
	}
	return err
}

func (c *checker) checkFull(uid string, code int, body []byte) error {
	if c.w == wantRejected && code >= 400 && code < 500 {
		return nil // refused at the HTTP level: fine for a bad request
	}
	if code != 200 {
		return fmt.Errorf("HTTP %d: %.200s", code, body)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil || a.Response == nil {
		return fmt.Errorf("answer is not an AdmissionReview: %.200s", body)
	}
	r := a.Response
	if c.k.uid && r.UID != uid {
		return fmt.Errorf("uid %q, want %q", r.UID, uid)
	}
	switch c.w {
	case wantPatch, wantAllowed:
		if !r.Allowed {
			msg := ""
			if r.Status != nil {
				msg = r.Status.Message
			}
			return fmt.Errorf("refused, want allowed: %.300s", msg)
		}
		if c.w == wantAllowed {
			if len(r.Patch) > 0 {
				return errors.New("patched, want no patch")
			}
			return nil
		}
		if r.PatchType == nil || *r.PatchType != "JSONPatch" || len(r.Patch) == 0 {
			return errors.New("no JSONPatch, want one")
		}
		patch := r.Patch
		if c.k.uidInPatch {
			// The request's uid stands for the mark there, as in the
			// request.
			patch = bytes.ReplaceAll(patch, []byte(uid), []byte(uidMark))
		}
		return c.checkPatch(patch)
	default:
		if r.Allowed {
			return fmt.Errorf("allowed, want refused (%s)", c.w)
		}
		if r.Status == nil || r.Status.Message == "" {
			return errors.New("refused without a message")
		}
		if c.w == wantDenied && r.Status.Code != 403 {
			return fmt.Errorf("refused with code %d, want 403: %.200s", r.Status.Code, r.Status.Message)
		}
		if c.w == wantRejected && (r.Status.Code < 400 || r.Status.Code >= 500) {
			return fmt.Errorf("refused with code %d, want 4xx: %.200s", r.Status.Code, r.Status.Message)
		}
		if c.k.says != "" && !strings.Contains(r.Status.Message, c.k.says) {
			return fmt.Errorf("message does not say %q: %.200s", c.k.says, r.Status.Message)
		}
		return nil
	}
}

func (c *checker) checkPatch(patch []byte) error {
	if c.firstRaw != nil && bytes.Equal(patch, c.firstRaw) {
		return nil
	}
	var ops []patchOp
	if err := json.Unmarshal(patch, &ops); err != nil {
		return fmt.Errorf("patch is not a JSONPatch: %w", err)
	}
	sortOps(ops)
	if c.first == nil {
		paths := map[string]bool{}
		for _, op := range ops {
			paths[op.Path] = true
		}
		var missing []string
		for _, p := range []string{"/metadata/annotations/wisp.dev~1status"} {
			if !paths[p] {
				missing = append(missing, p)
			}
		}
		if !paths["/spec/initContainers"] && !paths["/spec/initContainers/0"] {
			missing = append(missing, "/spec/initContainers")
		}
		if len(missing) > 0 {
			return fmt.Errorf("patch has no %v", missing)
		}
		c.first, c.firstRaw = ops, slices.Clone(patch)
		return nil
	}
	if !slices.EqualFunc(ops, c.first, func(a, b patchOp) bool {
		return a.Op == b.Op && a.Path == b.Path && bytes.Equal(a.Value, b.Value)
	}) {
		return fmt.Errorf("patch differs from the first one of this kind: %.300s", patch)
	}
	return nil
}

func sortOps(ops []patchOp) {
	slices.SortStableFunc(ops, func(a, b patchOp) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Op, b.Op)
	})
}

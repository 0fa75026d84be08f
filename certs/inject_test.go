package certs

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

func TestNeedsPatch(t *testing.T) {
	t.Parallel()
	bundle := []byte("bundle-v5")
	src := bundleSource{uid: "u1", revision: 5}
	cfg := func(source string, bundles ...string) webhookConfig {
		c := webhookConfig{kind: "MutatingWebhookConfiguration", name: "wisp", source: source}
		for i, b := range bundles {
			c.webhooks = append(c.webhooks, webhookEntry{name: string(rune('a' + i)), caBundle: []byte(b)})
		}
		return c
	}
	tests := []struct {
		name string
		cfg  webhookConfig
		want bool
	}{
		{"fresh install: no annotation, empty caBundle", cfg("", "", ""), true},
		{"up to date", cfg("u1/5", "bundle-v5", "bundle-v5"), false},
		{"one webhook reset by an installer", cfg("u1/5", "bundle-v5", ""), true},
		{"webhook added later", cfg("u1/5", "bundle-v5", "bundle-v5", ""), true},
		{"older revision", cfg("u1/4", "bundle-v4", "bundle-v4"), true},
		{"newer revision from the same Secret: we are stale", cfg("u1/6", "bundle-v6", "bundle-v6"), false},
		{"newer revision, even if reset: leave it to the newer writer", cfg("u1/6", "", ""), false},
		{"another Secret (deleted and recreated)", cfg("u0/9", "old", "old"), true},
		{"annotation garbage", cfg("garbage", "bundle-v5"), true},
		{"content right, annotation missing", cfg("", "bundle-v5"), true},
		{"no webhooks, annotation right", cfg("u1/5"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := needsPatch(tt.cfg, bundle, src); got != tt.want {
				t.Errorf("needsPatch = %v, want %v", got, tt.want)
			}
		})
	}
}

// The patch, applied as the API server applies a strategic merge patch,
// sets caBundle on every webhook by name and touches nothing else.
func TestPatchBodySetsEveryCABundleAndNothingElse(t *testing.T) {
	t.Parallel()
	url := "https://127.0.0.1:1/mutate"
	path := "/mutate"
	orig := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "wisp", ResourceVersion: "42", Annotations: map[string]string{"keep": "me"}},
		Webhooks: []admissionregistrationv1.MutatingWebhook{
			{Name: "a.wisp.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: []byte("old")}},
			{Name: "b.wisp.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{Namespace: "ops", Name: "wisp", Path: &path},
			}},
		},
	}
	body, err := patchBody(fromMutating(orig), []byte("new bundle"), bundleSource{uid: "u1", revision: 3})
	if err != nil {
		t.Fatal(err)
	}
	origJSON, err := json.Marshal(orig)
	if err != nil {
		t.Fatal(err)
	}
	outJSON, err := strategicpatch.StrategicMergePatch(origJSON, body, admissionregistrationv1.MutatingWebhookConfiguration{})
	if err != nil {
		t.Fatal(err)
	}
	var got admissionregistrationv1.MutatingWebhookConfiguration
	if err := json.Unmarshal(outJSON, &got); err != nil {
		t.Fatal(err)
	}
	want := orig.DeepCopy()
	want.Annotations[AnnotationCABundleSource] = "u1/3"
	for i := range want.Webhooks {
		want.Webhooks[i].ClientConfig.CABundle = []byte("new bundle")
	}
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("patched object (-want +got):\n%s", diff)
	}
	var raw struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Metadata.ResourceVersion != "42" {
		t.Errorf("patch is not conditional on the resourceVersion: %s", body)
	}
}

func TestUntrustedNamesWebhooksLackingTheCA(t *testing.T) {
	t.Parallel()
	a := testCA(t, "a", t0, t0.Add(time.Hour))
	b := testCA(t, "b", t0, t0.Add(time.Hour))
	both := encodeCertsPEM(mergeBundle(t0, certsOf(a, b)))
	cfg := webhookConfig{webhooks: []webhookEntry{
		{name: "both", caBundle: both},
		{name: "only-a", caBundle: a.certPEM},
		{name: "empty"},
		{name: "garbage", caBundle: []byte("garbage")},
	}}
	if diff := cmp.Diff([]string{"only-a", "empty", "garbage"}, untrusted(cfg, b.cert)); diff != "" {
		t.Errorf("untrusted (-want +got):\n%s", diff)
	}
	if got := untrusted(webhookConfig{}, b.cert); got != nil {
		t.Errorf("a configuration without webhooks distrusts: %v", got)
	}
}

func TestBundleSourceRoundTrip(t *testing.T) {
	t.Parallel()
	src := bundleSource{uid: "0b9f6a1e-2c1d-4c1e-9e4e-3a0c3f0d7f11", revision: 12}
	got, ok := parseBundleSource(src.String())
	if !ok || got != src {
		t.Errorf("parse(%q) = %v, %v", src.String(), got, ok)
	}
	for _, bad := range []string{"", "no-slash", "u/x", "u/"} {
		if _, ok := parseBundleSource(bad); ok {
			t.Errorf("parse(%q) succeeded", bad)
		}
	}
}

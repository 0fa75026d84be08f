package webhook

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func rawReview(kind string, raw string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"` + map[bool]string{true: "apps", false: ""}[kind == "Deployment"] + `","version":"v1","kind":"` + kind + `"},"resource":{"version":"v1","resource":"x"},"namespace":"team-a","operation":"CREATE","object":` + raw + `}}`)
}

func rep(s string, n int) string { return strings.TrimSuffix(strings.Repeat(s+",", n), ",") }

func TestZZDecodeMem(t *testing.T) {
	const n = 1 << 20
	shapes := map[string]string{
		"containers":   `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[` + rep(`{"name":"a"}`, n/13) + `]}}`,
		"env":          `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","env":[` + rep(`{"name":"A","value":"b"}`, n/25) + `]}]}}`,
		"annotation":   `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","annotations":{"a":"` + strings.Repeat("x", n) + `"}},"spec":{"containers":[{"name":"a"}]}}`,
		"volumes":      `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a"}],"volumes":[` + rep(`{"name":"v","emptyDir":{}}`, n/26) + `]}}`,
		"labels":       `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","labels":{` + rep(`"k":"v"`, 1) + `,` + func() string { var b strings.Builder; for i := range n / 14 { fmt.Fprintf(&b, `"k%07d":"",`, i) }; return strings.TrimSuffix(b.String(), ",") }() + `}},"spec":{"containers":[{"name":"a"}]}}`,
		"ports":        `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","ports":[` + rep(`{"containerPort":1}`, n/20) + `]}]}}`,
		"args":         `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","args":[` + rep(`""`, n/3) + `]}]}}`,
	}
	for _, kind := range []string{"Pod", "Deployment"} {
		for name, raw := range shapes {
			if kind == "Deployment" {
				raw = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{},"template":` + strings.Replace(raw, `"apiVersion":"v1","kind":"Pod",`, "", 1) + `}}`
			}
			body := rawReview(kind, raw)
			h := newWebhook(nil, nil)
			if kind == "Pod" {
				h.decodingPods()
			}
			var ms0, ms1, ms2 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			req, _, err := h.decode(body)
			if err != nil {
				t.Fatal(name, err)
			}
			var keep any = req
			if kind == "Deployment" {
				obj, err := decodeObject(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, req.Object.Raw)
				if err != nil {
					t.Fatal(name, err)
				}
				keep = obj
			}
			runtime.ReadMemStats(&ms1)
			runtime.GC()
			runtime.ReadMemStats(&ms2)
			runtime.KeepAlive(keep)
			braces := bytes.Count(body, []byte("{"))
			commas := bytes.Count(body, []byte(","))
			fmt.Printf("%-10s %-11s body %7d  alloc %6.1fx  live %6.1fx  per{ %6.0f  per, %5.0f\n", kind, name, len(body),
				float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(len(body)), float64(ms2.HeapAlloc-ms0.HeapAlloc)/float64(len(body)),
				float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(braces), float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(commas+1))
		}
	}
	_ = admissionv1.Create
}

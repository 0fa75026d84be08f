package webhook

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	sigsjson "sigs.k8s.io/json"
)

// FuzzPodDecoder: on any body, the pod decoder accepts only what
// sigs.k8s.io/json accepts, and decodes it to the same review.
func FuzzPodDecoder(f *testing.F) {
	for _, tc := range append(goldenPatchCases(f), moreCases(f)...) {
		f.Add(reviewBody(f, "Pod", admissionv1.Create, tc.raw))
	}
	f.Add([]byte(`{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"object":{"metadata":{"name":"p","Name":"q"}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","object":{"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"\ud800\u00e9\xff"}]}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","object":{"spec":{"containers":[{"resources":{"limits":{"cpu":"1.5","memory":1e3}}}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","object":{"metadata":{"annotations":{"a":"b","a":"c"}},"unknown":[1,{"x":tru}]}}}`))
	for _, spec := range []string{
		`"terminationGracePeriodSeconds":1e3`, `"terminationGracePeriodSeconds":30.0`, `"terminationGracePeriodSeconds":-0`,
		`"priority":99999999999999999999`, `"activeDeadlineSeconds":"5"`, `"hostNetwork":"true"`, `"hostNetwork":1`,
		`"nodeSelector":null`, `"containers":null`, `"containers":{}`, `"containers":[null]`, `"containers":[{"name":null,"ports":[{"containerPort":"80"}]}]`,
		`"containers":[{"resources":{"limits":{"cpu":[]}}}]`, `"containers":[{"env":[{"name":"A","value":1}]}]`,
		`"securityContext":{"runAsUser":1.5}`, `"overhead":{"cpu":"1\u0000"}`, `"schedulerName":"\u00e9\/\b\ud800"`,
		`"containers":[{"name":"a"}],"Containers":[{"name":"b"}]`, `"restartPolicy":"Always","restartPolicy":"Never"`,
	} {
		f.Add([]byte(`{"request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"object":{"spec":{` + spec + `}}}}`))
	}
	dec := podDecoder()
	f.Fuzz(func(t *testing.T, body []byte) {
		var want, got podReview
		wantErr := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &want)
		if !validJSON(body) {
			return // decode takes the generic path
		}
		gotErr := dec.Unmarshal(body, &got)
		switch {
		case gotErr != nil:
			return // decode falls back to sigs.k8s.io/json
		case wantErr != nil:
			t.Fatalf("the pod decoder accepts what sigs.k8s.io/json refuses (%v):\n%q", wantErr, body)
		case !reflect.DeepEqual(want, got):
			t.Fatalf("decoded differently (-sigs +pod decoder):\n%s\nbody %q", cmp.Diff(want, got), body)
		}
	})
}

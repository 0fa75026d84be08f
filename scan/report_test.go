package scan

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func scanFixture(t *testing.T) *Result {
	t.Helper()
	r, err := Scan(context.Background(), fake.NewClientset(cluster()...), Config{Policy: testPolicy(t)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReports(t *testing.T) {
	t.Parallel()
	r := scanFixture(t)
	t1 := time.Unix(1000, 0)
	reps := r.Reports(nil, ReportOptions{Now: func() time.Time { return t1 }})

	type row struct {
		Namespace string
		Summary   reportsv1alpha1.ReportSummary
		Results   []string
	}
	var got []row
	for _, rep := range reps {
		rw := row{Namespace: rep.Namespace, Summary: rep.Summary}
		for _, res := range rep.Results {
			s := res.Subjects[0]
			rw.Results = append(rw.Results, strings.Join([]string{s.Kind, s.Name, res.Policy, string(res.Result), string(res.Severity), res.Properties["env"], res.Properties["mode"]}, " "))
		}
		if rep.Name != ReportName || rep.Labels[ManagedByLabel] != ManagedByValue || rep.Source != ReportSource || rep.APIVersion != "openreports.io/v1alpha1" || rep.Kind != "Report" {
			t.Errorf("report %s/%s: metadata %+v source %q", rep.Namespace, rep.Name, rep.ObjectMeta, rep.Source)
		}
		got = append(got, rw)
	}
	want := []row{
		// "empty" has no workload and no Report yet; legacy-x and team-sel are exempt.
		{"team-a", reportsv1alpha1.ReportSummary{Fail: 3}, []string{
			"Deployment web env-secret-key-ref fail medium app/DB_PASSWORD enforce",
			"Deployment web known-credential-format fail high app/AWS_ACCESS_KEY_ID enforce",
			"Pod gone-1 env-secret-key-ref fail medium app/API_TOKEN enforce",
		}},
		{"team-au", reportsv1alpha1.ReportSummary{Warn: 1}, []string{"StatefulSet db env-secret-key-ref warn medium app/PGPASSWORD audit"}},
		{"team-w", reportsv1alpha1.ReportSummary{Warn: 1}, []string{"CronJob nightly env-secret-key-ref warn medium app/TOKEN warn"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
	data, err := json.Marshal(reps)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), canary) {
		t.Error("a Report carries the value")
	}

	// A second run later: the same results keep their first timestamp, so
	// the Reports are identical; a namespace that had a Report keeps one
	// even with no workload left.
	existing := map[string]*reportsv1alpha1.Report{"empty": {ObjectMeta: metav1.ObjectMeta{Name: ReportName, Namespace: "empty"}}}
	for _, rep := range reps {
		existing[rep.Namespace] = rep
	}
	again := r.Reports(existing, ReportOptions{Now: func() time.Time { return t1.Add(time.Hour) }})
	if len(again) != len(reps)+1 || again[0].Namespace != "empty" || len(again[0].Results) != 0 {
		t.Fatalf("second run: %d reports (first %s with %d results), want the %d of the first run and an empty one for \"empty\"", len(again), again[0].Namespace, len(again[0].Results), len(reps))
	}
	if diff := cmp.Diff(reps, again[1:]); diff != "" {
		t.Errorf("a second run changed the Reports (-first +second):\n%s", diff)
	}
}

func TestReportsMaxResults(t *testing.T) {
	t.Parallel()
	r := scanFixture(t)
	reps := r.Reports(nil, ReportOptions{MaxResults: 2})
	teamA := reps[0]
	if teamA.Namespace != "team-a" || len(teamA.Results) != 2 || teamA.Summary.Fail != 3 ||
		teamA.Configuration == nil || teamA.Configuration.Limits.MaxResults != 2 {
		t.Errorf("team-a: %d results, summary %+v, configuration %+v; want 2 results, fail 3, maxResults 2", len(teamA.Results), teamA.Summary, teamA.Configuration)
	}
	if reps[1].Configuration != nil {
		t.Errorf("team-au: configuration %+v, want none (not truncated)", reps[1].Configuration)
	}
}

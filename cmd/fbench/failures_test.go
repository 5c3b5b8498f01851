package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/compare"
)

// Distinct exceptions are kept and grouped by reason in summary.json, the text summary and the
// HTML report; the worker's logs are counted, a log after its invocation settled is flagged, and
// compare notes a reason the baseline did not have.
func TestFailuresTable(t *testing.T) {
	tmp := t.TempDir()
	cur, base := filepath.Join(tmp, "varied"), filepath.Join(tmp, "fixed")
	r := fbench(t, time.Minute, "--out", cur, "--lag-budget", "10s", "--cpu-budget", "400", "-rps", "300", "-d", "2s",
		"--function", "fail", "--ref", "fail-mode=varied")
	expectExit(t, r, 0, 3)
	s := loadSummary(t, cur)
	f := s.Failures
	if f == nil || f.Total != s.Counts.Failed || s.Counts.Failed == 0 {
		t.Fatalf("failures %+v for %d failed", f, s.Counts.Failed)
	}
	want := map[string]bool{
		"System.InvalidOperationException: order <n> not found for customer <id>":              false,
		"System.TimeoutException: the database did not answer within <n> ms":                   false,
		"System.NullReferenceException: Object reference not set to an instance of an object.": false,
	}
	var sum int64
	for _, g := range f.Groups {
		sum += g.Count
		if _, ok := want[g.Pattern]; !ok || g.Function != "fail" || g.Kind != report.FailureException {
			t.Errorf("unexpected group %+v", g)
			continue
		}
		want[g.Pattern] = true
		if g.First.Message == "" || g.First.Source == "" || g.First.Stack == "" || g.InvocationID == "" {
			t.Errorf("first example incomplete: %+v", g)
		}
		if strings.Count(g.First.Stack, "\n") > 4 {
			t.Errorf("stack not cut to its first lines: %q", g.First.Stack)
		}
	}
	for p, seen := range want {
		if !seen {
			t.Errorf("no group for %q", p)
		}
	}
	if sum+f.Other != f.Total {
		t.Errorf("groups add to %d + other %d, total %d", sum, f.Other, f.Total)
	}
	if l := s.WorkerLogs; l == nil || l.ByLevel["Error"] < s.Counts.Failed || l.AfterSettle == 0 || len(l.FirstErrors) == 0 {
		t.Errorf("worker logs %+v for %d failed", l, s.Counts.Failed)
	}
	if !strings.Contains(r.stdout, "failures: ") || !strings.Contains(r.stdout, "order <n> not found for customer <id>") {
		t.Errorf("text summary lacks the failures:\n%s", r.stdout)
	}
	html, err := os.ReadFile(filepath.Join(cur, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []string{`id="failures"`, "the database did not answer within &lt;n&gt; ms", `href="worker.log"`} {
		if !strings.Contains(string(html), x) {
			t.Errorf("report.html lacks %q", x)
		}
	}

	// Compare with a baseline that failed one way only: the new reasons are noted.
	expectExit(t, fbench(t, time.Minute, "--out", base, "--lag-budget", "10s", "--cpu-budget", "400", "-rps", "300", "-d", "1s", "--function", "fail"), 0, 3)
	cr := fbench(t, time.Minute, "compare", "--json", base, cur)
	var c compare.Comparison
	if err := json.Unmarshal([]byte(cr.stdout), &c); err != nil {
		t.Fatalf("compare (exit %d): %v\n%s%s", cr.code, err, cr.stdout, cr.stderr)
	}
	n := 0
	for _, note := range c.Notes {
		if strings.HasPrefix(note, "new failure reason in the current runs: fail exception") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d new failure reasons noted, want 3: %q", n, c.Notes)
	}
}

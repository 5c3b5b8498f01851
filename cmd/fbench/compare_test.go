package main

// End-to-end test of fbench run --repeat and fbench compare: three repeated short runs of a 10 ms
// worker compared with three more of the same worker pass; with three of a 20 ms worker, fail.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/compare"
)

func TestCompareRepeatedRuns(t *testing.T) {
	dir := t.TempDir()
	repeat := func(out, serviceTime string, quiet bool) cliResult {
		args := []string{"--out", out, "--lag-budget", "10s", "-rps", "200", "-d", "1s",
			"--function", "work", "--ref", "service-time=" + serviceTime, "--repeat", "3"}
		if quiet {
			args = append(args, "-q")
		}
		return fbench(t, hang, args...)
	}
	base, same, slow := filepath.Join(dir, "base"), filepath.Join(dir, "same"), filepath.Join(dir, "slow")

	r := repeat(base, "10ms", false)
	expectExit(t, r, 0)
	for _, want := range []string{"run-1: exit 0 · achieved ", "run-3: exit 0", "3 runs in " + base + ": 3 usable",
		"metric ", "median", "spread", "rtt.p99 ", "achieved_rps "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("fbench run --repeat 3 output lacks %q:\n%s", want, r.stdout)
		}
	}
	seeds := map[any]bool{}
	for i := 1; i <= 3; i++ {
		s := loadSummary(t, filepath.Join(base, "run-"+string(rune('0'+i))))
		seeds[s.Config["seed"]] = true
		if rep, _ := s.Config["repeat"].(map[string]any); rep["of"] != 3.0 {
			t.Errorf("run-%d: config repeat %v, want run %d of 3", i, s.Config["repeat"], i)
		}
	}
	if len(seeds) != 3 {
		t.Errorf("the repeated runs share seeds: %v", seeds)
	}
	expectExit(t, repeat(slow, "20ms", true), 0)

	// The same worker: no regression. Its two sets alternate run by run, so that a drift in this
	// machine's load falls on both alike.
	base2 := filepath.Join(dir, "base2")
	for i := 1; i <= 3; i++ {
		for _, set := range []string{base2, same} {
			out := filepath.Join(set, "run-"+string(rune('0'+i)))
			expectExit(t, fbench(t, hang, "-q", "--out", out, "--lag-budget", "10s", "-rps", "200", "-d", "1s",
				"--function", "work", "--ref", "service-time=10ms"), 0)
		}
	}
	r = fbench(t, hang, "compare", base2, same)
	expectExit(t, r, 0)
	if !strings.Contains(r.stdout, "result: pass") || !strings.Contains(r.stdout, "95% CI") {
		t.Errorf("compare of the same worker:\n%s", r.stdout)
	}

	// Double the service time: rtt p50 regresses beyond the tolerance and the noise.
	r = fbench(t, hang, "compare", base, slow)
	expectExit(t, r, exitFailed)
	expectLine(t, errorLine(t, r), "fbench: compare: FAIL: ", "rtt.p50")
	if !rowHas(r.stdout, "rtt.p50", "REGRESSED") {
		t.Errorf("rtt.p50 is not flagged:\n%s", r.stdout)
	}

	// Markdown, for a pull request.
	r = fbench(t, hang, "compare", "--format", "md", base, slow)
	expectExit(t, r, exitFailed)
	for _, want := range []string{"### fbench compare: ❌ FAIL", "| metric | baseline | current | change | 95% CI | tolerance | result |",
		"|:--|--:|--:|--:|:--|--:|:--|", "| `rtt.p50` | ", "| **REGRESSED** |", "<sub>Method: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("Markdown output lacks %q:\n%s", want, r.stdout)
		}
	}

	// JSON, for machines.
	r = fbench(t, hang, "compare", "--json", base, slow)
	expectExit(t, r, exitFailed)
	var c compare.Comparison
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("compare --json: %v\n%s", err, r.stdout)
	}
	if c.Pass || c.Noise != "measured" || len(c.Baseline.Runs) != 3 || len(c.Current.Runs) != 3 || !contains(c.Regressions, "rtt.p50") {
		t.Errorf("compare --json: pass %t, noise %q, runs %v/%v, regressions %v", c.Pass, c.Noise, c.Baseline.Runs, c.Current.Runs, c.Regressions)
	}

	// One run per side: the noise is unknown, and said so; the doubling still shows.
	r = fbench(t, hang, "compare", filepath.Join(base, "run-1"), filepath.Join(slow, "run-2"))
	expectExit(t, r, exitFailed)
	if !strings.Contains(r.stdout, "note: noise unknown: one run per side") || !rowHas(r.stdout, "rtt.p50", "REGRESSED") {
		t.Errorf("single runs:\n%s", r.stdout)
	}

	// Incompatible runs (another function), a crashed run, an invalid one: a clear line and
	// the documented code.
	variant := func(name string, change func(*report.Summary)) string {
		s := loadSummary(t, filepath.Join(slow, "run-1"))
		change(s)
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := report.WriteSummaryFile(filepath.Join(d, report.SummaryFile), s); err != nil {
			t.Fatal(err)
		}
		return d
	}
	echo := variant("echo", func(s *report.Summary) { s.Config["targets"] = []string{"echo"}; s.Config["function"] = "echo" })
	r = fbench(t, hang, "compare", base, echo)
	expectExit(t, r, exitError)
	expectLine(t, errorLine(t, r), "fbench: compare: cannot compare: current run invoked functions [echo], baseline run-1 [work]")
	if !strings.Contains(r.stdout, "incompatible: current run invoked functions [echo], baseline run-1 [work]") {
		t.Errorf("no incompatible line:\n%s", r.stdout)
	}
	expectExit(t, fbench(t, hang, "compare", "--force", base, echo), exitFailed)
	crashed := variant("crashed", func(s *report.Summary) { s.Worker.Crashed = true })
	r = fbench(t, hang, "compare", base, crashed)
	expectExit(t, r, exitCrashed)
	expectLine(t, errorLine(t, r), "a crashed or invalid run cannot pass (current run: crashed)")
	invalid := variant("invalid", func(s *report.Summary) { s.Harness.Valid = false; s.Harness.InvalidReason = "lag" })
	expectExit(t, fbench(t, hang, "compare", invalid, same), exitInvalid)

	// Bad input.
	r = fbench(t, hang, "compare", base)
	expectExit(t, r, exitError)
	expectLine(t, errorLine(t, r), "compare takes two run directories")
	r = fbench(t, hang, "compare", "--max-regression", "rtt.p99=ten", base, same)
	expectExit(t, r, exitError)
	expectLine(t, errorLine(t, r), `invalid --max-regression "rtt.p99=ten"`)
}

// rowHas reports whether the table row of metric contains s.
func rowHas(out, metric, s string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, metric+" ") && strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

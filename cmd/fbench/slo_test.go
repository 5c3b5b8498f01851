package main

// End-to-end tests of SLOs on fbench run and fbench report: exit code 2 when one fails, after
// everything was written; the crash and invalid-harness codes keep priority; bad expressions are
// bad input (exit 1) found before anything starts.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSLOExitCodes(t *testing.T) {
	dir := t.TempDir()

	// Passing objectives, on the run and on every 1 s window: exit 0, the summary lists them.
	pass := filepath.Join(dir, "pass")
	r := fbench(t, hang, "--out", pass, "--lag-budget", "10s", "-rps", "500", "-d", "2s",
		"--slo", "rtt.p99<10s", "--slo", "error_rate<=1%", "--slo", "rtt.p99{fn=echo}<10s", "--slo-window", "1s")
	expectExit(t, r, 0)
	if !strings.Contains(r.stdout, "\nSLOs:\n  pass rtt.p99<10s (observed ") ||
		!strings.Contains(r.stdout, "  pass rtt.p99<10s in every 1 s window (observed worst ") {
		t.Errorf("the text summary does not list the SLOs:\n%s", r.stdout)
	}
	s := loadSummary(t, pass)
	if len(s.SLOs) != 6 {
		t.Fatalf("summary.json has %d SLO results, want 6 (3 objectives × run and windows): %+v", len(s.SLOs), s.SLOs)
	}
	for _, o := range s.SLOs {
		if !o.Pass || o.Value == nil || o.Observed == "" {
			t.Errorf("SLO result %+v: want a pass with a value", o)
		}
		if o.WindowS == 1 && (o.Windows < 1 || o.WindowStartS == nil) {
			t.Errorf("windowed result %+v lacks its windows", o)
		}
	}

	// A failing objective: exit 2 with one line naming it, after the reports were written.
	fail := filepath.Join(dir, "fail")
	r = fbench(t, hang, runArgs(fail, "-rps", "500", "-d", "2s", "--slo", "rtt.p99<1us", "--slo", "rtt.p99<10s")...)
	expectExit(t, r, exitFailed)
	expectLine(t, errorLine(t, r), "fbench: 1 of 2 SLOs failed: rtt.p99<1us (observed ")
	s = loadSummary(t, fail)
	if len(s.SLOs) != 2 || s.SLOs[0].Pass || !s.SLOs[1].Pass {
		t.Errorf("summary.json SLOs %+v, want rtt.p99<1us failed and rtt.p99<10s passed", s.SLOs)
	}

	// fbench report checks the run's own SLOs again, or those given instead.
	r = fbench(t, hang, "report", "-quiet", pass, "--slo", "rtt.p99<1us", "--slo-window", "1s")
	expectExit(t, r, exitFailed)
	expectLine(t, errorLine(t, r), "fbench: 2 of 2 SLOs failed: rtt.p99<1us (observed ", "rtt.p99<1us in every 1 s window (observed worst ")
	r = fbench(t, hang, "report", "-quiet", fail, "--slo", "lost==0")
	expectExit(t, r, 0)
	r = fbench(t, hang, "report", "-quiet", fail)
	expectExit(t, r, exitFailed)

	// A crashed run or an invalid one cannot pass: their codes win over a failed SLO.
	crash := filepath.Join(dir, "crash")
	r = fbench(t, hang, runArgs(crash, "-rps", "500", "-d", "2s", "--ref", "fault=crash-after=100", "--slo", "rtt.p99<1us")...)
	expectExit(t, r, exitCrashed)
	invalid := filepath.Join(dir, "invalid")
	r = fbench(t, hang, "-q", "--out", invalid, "--lag-budget", "1us", "-rps", "500", "-d", "1s", "--slo", "rtt.p99<1us")
	expectExit(t, r, exitInvalid)
	if s := loadSummary(t, invalid); len(s.SLOs) != 1 || s.SLOs[0].Pass {
		t.Errorf("an invalid run's summary.json should still carry its failed SLO: %+v", s.SLOs)
	}

	// Bad expressions and windows are bad input, found before anything starts.
	for _, tc := range []struct {
		args []string
		line string
	}{
		{[]string{"--slo", "rtt.p99<50"}, `fbench: invalid SLO "rtt.p99<50" at position 11: latency 50 needs a unit (µs, us, ms or s)`},
		{[]string{"--slo", "p99<5ms"}, `fbench: invalid SLO "p99<5ms" at position 1: unknown metric "p99"`},
		{[]string{"--slo", "rtt.p99<5ms", "--slo-window", "1500ms"}, "fbench: invalid --slo-window 1.5s: must be a multiple of the interval (1s)"},
		{[]string{"--slo-window", "2s"}, "fbench: --slo-window needs at least one --slo"},
	} {
		out := filepath.Join(dir, "bad")
		r := fbench(t, hang, runArgs(out, tc.args...)...)
		expectExit(t, r, exitError)
		if line := errorLine(t, r); !strings.HasPrefix(line, tc.line) {
			t.Errorf("%v: error line\n %s\nwant prefix\n %s", tc.args, line, tc.line)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: the run directory was created for bad input", tc.args)
		}
	}
}

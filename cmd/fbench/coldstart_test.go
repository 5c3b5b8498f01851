package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/compare"
)

// coldstartRun runs fbench coldstart -q into a fresh directory and returns the result and the
// directory. fbench's share has no budget unless args give one: a neighbour's burst on a busy
// machine must not make these runs invalid (TestColdstartShareBudget judges the budget).
func coldstartRun(t *testing.T, args ...string) (cliResult, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cs")
	r := fbench(t, 2*time.Minute, append([]string{"coldstart", "-q", "--share-budget", "0", "--out", dir}, args...)...)
	return r, dir
}

func loadColdstart(t *testing.T, dir string) *report.ColdstartReport {
	t.Helper()
	r, err := report.LoadColdstart(filepath.Join(dir, report.ColdstartFile))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkPhasesAddUp checks every succeeded start: its phases are contiguous, so they add up to its
// total, and fbench's share of a phase lies within it.
func checkPhasesAddUp(t *testing.T, r *report.ColdstartReport) {
	t.Helper()
	head := r.Headline()
	for _, s := range r.Runs {
		if s.Failed {
			continue
		}
		var sum, total time.Duration
		seen := false
		for _, p := range s.Phases {
			if p.Share != nil && (*p.Share < 0 || *p.Share > p.Dur) {
				t.Errorf("start %d phase %s: fbench share %s outside the phase's %s", s.Index, p.Name, *p.Share, p.Dur)
			}
			switch {
			case p.Name == head:
				total = p.Dur
			case r.Mode == report.ColdstartPlaceholder && !seen && p.Name != "specialize":
				// before specialization: not part of total_after_specialize
			default:
				seen = true
				sum += p.Dur
			}
		}
		if total == 0 || sum != total {
			t.Errorf("start %d: phases add up to %s, %s is %s", s.Index, sum, head, total)
		}
	}
}

// The injected start and load costs land in their phases: each phase's median is at least the
// delay injected into it (sleeps) and at most twice the delay plus three times the same phase's
// median without delays, measured in the same test on the same machine.
func TestColdstartPhasesReflectDelays(t *testing.T) {
	const startDelay, loadDelay = 80 * time.Millisecond, 10 * time.Millisecond
	base, baseDir := coldstartRun(t, "-n", "5")
	expectExit(t, base, 0)
	r, dir := coldstartRun(t, "-n", "5", "--invocations", "3",
		"--ref", "start-delay="+startDelay.String(), "--ref", "load-delay="+loadDelay.String())
	expectExit(t, r, 0)
	b, d := loadColdstart(t, baseDir), loadColdstart(t, dir)
	if d.Starts != 5 || d.Succeeded != 5 || d.Failed != 0 || d.Schema != report.ColdstartSchema || d.Mode != report.ColdstartDirect {
		t.Fatalf("starts %d succeeded %d failed %d schema %s mode %s", d.Starts, d.Succeeded, d.Failed, d.Schema, d.Mode)
	}
	checkPhasesAddUp(t, b)
	checkPhasesAddUp(t, d)
	us := func(x time.Duration) int64 { return x.Microseconds() }
	for _, tc := range []struct {
		phase    string
		injected time.Duration
	}{
		{"start_stream", startDelay},
		{"load", 4 * loadDelay}, // the reference worker loads its 4 functions one at a time
		{"total", startDelay + 4*loadDelay},
	} {
		got, without := d.Stats[tc.phase].P50, b.Stats[tc.phase].P50
		if upper := 2*us(tc.injected) + 3*without; got < us(tc.injected) || got > upper {
			t.Errorf("%s p50 %dµs with %s injected (%dµs without): want within [%d, %d]", tc.phase, got, tc.injected, without,
				us(tc.injected), upper)
		}
	}
	// The delays do not leak into the other phases.
	for _, phase := range []string{"init", "metadata", "first_invocation"} {
		if got := d.Stats[phase].P50; got >= us(loadDelay)*4 {
			t.Errorf("%s p50 %dµs: a delay leaked into it", phase, got)
		}
	}
	if st := d.Stats["next_invocations"]; st.Count != 15 {
		t.Errorf("next_invocations count %d, want 5 starts × 3", st.Count)
	}
	if len(d.FirstK) != 4 || d.FirstK[0].Count != 5 {
		t.Errorf("first_k %+v, want 4 points of 5 starts", d.FirstK)
	}
	for _, phase := range []string{"init", "metadata", "load", "first_invocation"} {
		if sh := d.FbenchShare[phase]; sh.Count != 5 {
			t.Errorf("fbench share of %s measured %d times, want 5", phase, sh.Count)
		}
	}
	if d.Resources.PeakRSSMax <= 0 || d.Resources.CPUMax <= 0 || d.MedianStart == 0 {
		t.Errorf("resources %+v, median start %d", d.Resources, d.MedianStart)
	}
	// The other files: one CSV row per start, one hlog tag per phase.
	f, err := os.Open(filepath.Join(dir, report.ColdstartCSV))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 6 || rows[0][0] != "index" {
		t.Errorf("coldstart.csv: %d rows, %v", len(rows), err)
	}
	hlog, _ := os.ReadFile(filepath.Join(dir, report.ColdstartHlog))
	for _, phase := range compare.ColdstartMetrics(report.ColdstartDirect)[3:9] {
		tag := "Tag=" + strings.TrimSuffix(strings.TrimPrefix(phase, "coldstart."), ".p50") + ","
		if !strings.Contains(string(hlog), tag) {
			t.Errorf("coldstart.hlog lacks %s", tag)
		}
	}
	if html, _ := os.ReadFile(filepath.Join(dir, report.HTMLFile)); !strings.Contains(string(html), `data-chart="waterfall"`) {
		t.Error("report.html has no waterfall")
	}
}

// A placeholder start: the worker starts in the standby directory with WEBSITE_PLACEHOLDER_MODE=1,
// is initialized there, warmed up (java advertises HandlesWorkerWarmupMessage), specialized with
// the app's directory and environment, and only then asked for metadata and loads. The order is
// read from the worker's own log of what it received.
func TestColdstartPlaceholderOrder(t *testing.T) {
	const reloadDelay = 30 * time.Millisecond
	standby := filepath.Join(t.TempDir(), `functions\standby\wwwroot`)
	app := t.TempDir()
	r, dir := coldstartRun(t, "-n", "3", "--placeholder", "--warmup-request", "--specialize-after", "50ms", "--standby-dir", standby,
		"--app", app, "--ref", "mimic=java", "--ref", "reload-delay="+reloadDelay.String())
	expectExit(t, r, 0)
	d := loadColdstart(t, dir)
	if d.Mode != report.ColdstartPlaceholder || d.Succeeded != 3 {
		t.Fatalf("mode %s, %d succeeded", d.Mode, d.Succeeded)
	}
	checkPhasesAddUp(t, d)
	for _, s := range d.Runs {
		var names []string
		for _, p := range s.Phases {
			names = append(names, p.Name)
		}
		want := "placeholder_ready warmup specialize metadata load first_invocation total_after_specialize"
		if strings.Join(names, " ") != want {
			t.Errorf("start %d phases %v, want %s", s.Index, names, want)
		}
		if s.Warmup != "sent" || !strings.HasPrefix(s.Capabilities, "merge:") {
			t.Errorf("start %d warm-up %q, capabilities %q", s.Index, s.Warmup, s.Capabilities)
		}
	}
	if got := d.Stats["specialize"].P50; got < reloadDelay.Microseconds() {
		t.Errorf("specialize p50 %dµs, below the %s reload delay", got, reloadDelay)
	}
	// The standby wait is in no phase.
	if got := d.Stats["placeholder_ready"].P50 + d.Stats["warmup"].P50; got <= 0 {
		t.Error("no placeholder_ready or warmup measured")
	}
	log, err := os.ReadFile(filepath.Join(dir, "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	starts := strings.Split(string(log), "=== fbench: start ")[1:]
	if len(starts) != 3 {
		t.Fatalf("worker.log has %d starts", len(starts))
	}
	step := regexp.MustCompile(`fbench-worker: (placeholder mode|received \w+)(.*)`)
	for i, s := range starts {
		var order []string
		for _, m := range step.FindAllStringSubmatch(s, -1) {
			order = append(order, strings.TrimPrefix(m[1], "received "))
			switch m[1] {
			case "placeholder mode":
				if !strings.Contains(m[2], "cwd="+standby) {
					t.Errorf("start %d: the worker started in %s", i+1, m[2])
				}
			case "received WorkerInitRequest":
				if !strings.Contains(m[2], "function_app_directory="+standby) {
					t.Errorf("start %d: init %s", i+1, m[2])
				}
			case "received FunctionEnvironmentReloadRequest", "received FunctionsMetadataRequest":
				if !strings.Contains(m[2], "function_app_directory="+app) {
					t.Errorf("start %d: %s %s", i+1, m[1], m[2])
				}
			}
			if m[1] == "received FunctionEnvironmentReloadRequest" && !strings.Contains(m[2], `WEBSITE_PLACEHOLDER_MODE="0"`) {
				t.Errorf("start %d: reload environment %s", i+1, m[2])
			}
		}
		// One FunctionLoadRequest per built-in function of the reference worker (six).
		want := "placeholder mode WorkerInitRequest WorkerWarmupRequest FunctionEnvironmentReloadRequest FunctionsMetadataRequest " +
			strings.TrimSpace(strings.Repeat("FunctionLoadRequest ", 6))
		if got := strings.Join(order, " "); got != want {
			t.Errorf("start %d: the worker received\n  %s\nwant\n  %s", i+1, got, want)
		}
	}
}

// Each mimic answers the reload as its real worker does, and fbench applies the capabilities by
// the answer's strategy: Node replaces (its full set), Python and .NET merge (no strategy field).
func TestColdstartPlaceholderMimics(t *testing.T) {
	for _, tc := range []struct{ mimic, want string }{
		{"node", "replace: 8 → 8"},
		{"python", "merge: 6 → 6"},
		{"dotnet", "merge: 10 → 10"},
	} {
		t.Run(tc.mimic, func(t *testing.T) {
			r, dir := coldstartRun(t, "-n", "1", "--placeholder", "--specialize-after", "0", "--ref", "mimic="+tc.mimic,
				"--warmup-request")
			expectExit(t, r, 0)
			d := loadColdstart(t, dir)
			s := d.Runs[0]
			if s.Capabilities != tc.want || s.Warmup != "not advertised" {
				t.Errorf("capabilities %q warm-up %q, want %q and not advertised", s.Capabilities, s.Warmup, tc.want)
			}
			if len(d.Notices) != 1 || !strings.Contains(d.Notices[0], "does not advertise HandlesWorkerWarmupMessage") {
				t.Errorf("notices %q", d.Notices)
			}
		})
	}
}

// A start that fails is recorded with its phase and reason, the others go on, and the failures
// are counted: coldstart.failed==0 fails (exit 2), a bound they meet passes.
func TestColdstartFailedStartCounted(t *testing.T) {
	for _, tc := range []struct {
		slo  string
		code int
	}{
		{"coldstart.failed==0", exitFailed},
		{"coldstart.failed<=2", exitOK},
	} {
		t.Run(tc.slo, func(t *testing.T) {
			counter := filepath.Join(t.TempDir(), "starts")
			r, dir := coldstartRun(t, "-n", "4", "--slo", tc.slo, "--ref", "fault=fail-init-every=2:"+counter)
			expectExit(t, r, tc.code)
			line := errorLine(t, r)
			if tc.code != 0 {
				expectLine(t, line, "1 of 1 SLOs failed", "coldstart.failed==0", "observed 2")
			}
			d := loadColdstart(t, dir)
			if d.Starts != 4 || d.Failed != 2 || d.Succeeded != 2 || d.FailedBy["init"] != 2 {
				t.Fatalf("starts %d failed %d succeeded %d by phase %v", d.Starts, d.Failed, d.Succeeded, d.FailedBy)
			}
			for _, s := range d.Runs {
				if s.Failed != (s.Index%2 == 0) {
					t.Errorf("start %d failed=%v", s.Index, s.Failed)
				}
				if s.Failed && (s.FailedPhase != "init" || !strings.Contains(s.Reason, "fails on purpose")) {
					t.Errorf("start %d: phase %q reason %q", s.Index, s.FailedPhase, s.Reason)
				}
			}
			if st := d.Stats["total"]; st.Count != 2 {
				t.Errorf("total counts %d starts, want the 2 that succeeded", st.Count)
			}
			if len(d.SLOs) != 1 || d.SLOs[0].Pass != (tc.code == 0) {
				t.Errorf("SLO results %+v", d.SLOs)
			}
			// fbench report checks the recorded objective again, or the one given instead.
			expectExit(t, fbench(t, time.Minute, "report", "--quiet", dir), tc.code)
			expectExit(t, fbench(t, time.Minute, "report", "--quiet", "--slo", "coldstart.succeeded==2", dir), exitOK)
			expectExit(t, fbench(t, time.Minute, "report", "--quiet", "--slo", "coldstart.succeeded==3", dir), exitFailed)
		})
	}
}

// Exit codes: a latency objective missed exits 2; a malformed objective is bad input (1, before
// anything starts); no start succeeding exits 1; a worker that rejects the reload gets one line
// saying it does not support specialization.
func TestColdstartExitCodes(t *testing.T) {
	t.Run("latency objective", func(t *testing.T) {
		r, _ := coldstartRun(t, "-n", "2", "--slo", "coldstart.total.p99<1us", "--slo", "init.p50<1s")
		expectExit(t, r, exitFailed)
		expectLine(t, errorLine(t, r), "1 of 2 SLOs failed", "coldstart.total.p99<1us")
	})
	t.Run("malformed objective", func(t *testing.T) {
		r, dir := coldstartRun(t, "-n", "2", "--slo", "coldstart.totl.p99<2s")
		expectExit(t, r, exitError)
		expectLine(t, errorLine(t, r), "unknown cold-start metric", "coldstart.totl.p99")
		if _, err := os.Stat(dir); err == nil {
			t.Error("a run directory was created for bad input")
		}
	})
	t.Run("no start succeeds", func(t *testing.T) {
		r, dir := coldstartRun(t, "-n", "2", "--ref", "fault=fail-init")
		expectExit(t, r, exitError)
		expectLine(t, errorLine(t, r), "no start succeeded", "2 failed")
		if d := loadColdstart(t, dir); d.Failed != 2 {
			t.Errorf("failed %d", d.Failed)
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		r, dir := coldstartRun(t, "-n", "5", "--function", "nosuch")
		expectExit(t, r, exitError)
		expectLine(t, errorLine(t, r), "--function: unknown function \"nosuch\"", "echo")
		if d := loadColdstart(t, dir); d.Starts != 1 {
			t.Errorf("%d starts made for an unknown function", d.Starts)
		}
	})
	t.Run("reload rejected", func(t *testing.T) {
		r, dir := coldstartRun(t, "-n", "3", "--placeholder", "--specialize-after", "0", "--ref", "fault=fail-reload")
		expectExit(t, r, exitError)
		expectLine(t, errorLine(t, r), "does not support placeholder specialization", "fail-reload")
		d := loadColdstart(t, dir)
		if d.Starts != 1 || d.Runs[0].FailedPhase != "specialize" {
			t.Errorf("starts %d, first failed in %q", d.Starts, d.Runs[0].FailedPhase)
		}
	})
}

// fbench compare takes cold-start directories: a start delay regresses the totals (exit 2), the
// same directory against itself passes.
func TestColdstartCompare(t *testing.T) {
	r, base := coldstartRun(t, "-n", "3")
	expectExit(t, r, 0)
	r, slow := coldstartRun(t, "-n", "3", "--ref", "start-delay=60ms")
	expectExit(t, r, 0)
	c := fbench(t, time.Minute, "compare", base, slow)
	expectExit(t, c, exitFailed)
	if !strings.Contains(c.stdout, "coldstart.total.p50") || !strings.Contains(c.stderr, "coldstart.total.p50") {
		t.Errorf("compare output lacks the total's regression:\n%s\n%s", c.stdout, c.stderr)
	}
	expectExit(t, fbench(t, time.Minute, "compare", base, base), exitOK)
	// A cold-start run and a load run measure different things.
	run := filepath.Join(t.TempDir(), "run")
	expectExit(t, fbench(t, time.Minute, "run", "-q", "-rps", "200", "-d", "1s", "--lag-budget", "10s", "--cpu-budget", "0", "--out", run), exitOK)
	expectExit(t, fbench(t, time.Minute, "compare", base, run), exitError)
}

// An interrupted run writes the starts it measured and exits 130; the start cut short is not
// counted as a failure of the worker.
func TestColdstartInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cs")
	p := startFbench(t, "", "coldstart", "-n", "1000", "--pause", "20ms", "--ref", "start-delay=20ms", "--out", dir)
	started := func() bool { // the log marks each start as it begins
		b, _ := os.ReadFile(filepath.Join(dir, "worker.log"))
		return strings.Contains(string(b), "=== fbench: start 4 ===")
	}
	if !waitFor(time.Minute, started) {
		t.Fatal("three starts did not finish within a minute")
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	r := p.wait(time.Minute)
	expectExit(t, r, 130)
	d := loadColdstart(t, dir)
	if d.Interrupted != "signal" || d.Starts < 3 || d.Failed != 0 || d.Starts >= 1000 {
		t.Errorf("interrupted %q, %d starts, %d failed", d.Interrupted, d.Starts, d.Failed)
	}
}

// fbench's own share over its budget makes the run invalid: exit 3, the reason in the line and in
// coldstart.json, the reports written.
func TestColdstartShareBudget(t *testing.T) {
	r, dir := coldstartRun(t, "-n", "2", "--share-budget", "1us")
	expectExit(t, r, exitInvalid)
	expectLine(t, errorLine(t, r), "run invalid: fbench's own share of phase", "over its budget of 1µs")
	if d := loadColdstart(t, dir); d.Valid || d.ShareBudgetUS != 1 || d.Succeeded != 2 {
		t.Errorf("valid %v budget %d succeeded %d", d.Valid, d.ShareBudgetUS, d.Succeeded)
	}
}

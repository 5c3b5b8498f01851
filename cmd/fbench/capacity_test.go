package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/report"
)

// capWorkerEnv makes this test binary act as fbench's reference worker when fbench (called
// in-process by the tests) launches os.Executable() with the verb "worker".
const capWorkerEnv = "FBENCH_CAPACITY_TEST_WORKER"

func init() {
	if os.Getenv(capWorkerEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(run(crashOneWorker(os.Args[1:]), os.Stdout, os.Stderr))
	}
}

// capFakeWorker is a deterministic step outcome: a step at rate r passes when r < knee (and, for a
// confirmation, r < confirmKnee when that is set), unless the harness or the worker give out first.
type capFakeWorker struct {
	knee        float64
	confirmKnee float64 // 0: same as knee
	harnessAt   float64 // the harness falls behind from this rate (0: never)
	harnessOnce bool    // ... only the first time a rate is stepped (a neighbour's burst)
	crashAt     float64 // the worker crashes from this rate (0: never)
	errAt       int     // the probe errors at this step number (0: never)
}

func (fw capFakeWorker) probe(steps *[]*capStep) capProbe {
	return func(stage string, rate float64, d time.Duration) (*capStep, error) {
		st := &capStep{N: len(*steps) + 1, Stage: stage, Rate: rate, DurationS: d.Seconds(), Pass: true}
		if fw.errAt == st.N {
			return nil, errors.New("interrupted")
		}
		*steps = append(*steps, st)
		knee := fw.knee
		if stage == "confirm" && fw.confirmKnee > 0 {
			knee = fw.confirmKnee
		}
		fail := func(cause, why string) { st.Pass, st.Cause, st.Reasons = false, cause, []string{why} }
		again := false
		for _, prev := range (*steps)[:len(*steps)-1] {
			again = again || prev.Rate == rate
		}
		switch {
		case fw.crashAt > 0 && rate >= fw.crashAt:
			fail(capCauseCrash, "stream ended")
		case fw.harnessAt > 0 && rate >= fw.harnessAt && !(fw.harnessOnce && again):
			fail(capCauseHarness, "lag p99 9ms > 5ms")
		case rate >= knee:
			fail(capCauseGrowth, "in flight grew 8 → 90")
		}
		return st, nil
	}
}

func TestCapacitySearch(t *testing.T) {
	const step, confirm = 10 * time.Second, 20 * time.Second
	base := capSearch{start: 100, maxRate: 1_000_000, precision: 0.05, step: step, confirm: confirm, retries: 3, harnessRetries: 1}
	tests := []struct {
		name       string
		search     func(capSearch) capSearch
		worker     capFakeWorker
		status     string
		exit       int
		wantErr    bool
		sustain    [2]float64 // the sustainable rate lies within [lo, hi]
		brokeCause string
		maxSteps   int
		stages     string // the stages in order, when it matters
	}{
		{name: "knee 800", worker: capFakeWorker{knee: 800}, status: capFound, exit: exitOK,
			sustain: [2]float64{760, 799}, brokeCause: capCauseGrowth, maxSteps: 12},
		{name: "knee 1234.5", worker: capFakeWorker{knee: 1234.5}, status: capFound, exit: exitOK,
			sustain: [2]float64{1234.5 * 0.95, 1234}, brokeCause: capCauseGrowth, maxSteps: 14},
		{name: "knee exactly at the start: descend", worker: capFakeWorker{knee: 100}, status: capFound, exit: exitOK,
			sustain: [2]float64{95, 99.99}, brokeCause: capCauseGrowth, maxSteps: 10, stages: "climb descend search search search search confirm"},
		{name: "knee far below the start", worker: capFakeWorker{knee: 7}, status: capFound, exit: exitOK,
			sustain: [2]float64{6.65, 6.99}, brokeCause: capCauseGrowth, maxSteps: 14},
		{name: "never breaks up to max-rate", search: func(s capSearch) capSearch { s.maxRate = 1000; return s },
			worker: capFakeWorker{knee: math.Inf(1)}, status: capFound, exit: exitOK, sustain: [2]float64{1000, 1000}, maxSteps: 6,
			stages: "climb climb climb climb climb confirm"},
		{name: "nothing holds", worker: capFakeWorker{knee: 0}, status: capNotFound, exit: exitFailed, brokeCause: capCauseGrowth,
			maxSteps: 11},
		{name: "confirmation fails once, steps down", worker: capFakeWorker{knee: 800, confirmKnee: 770}, status: capFound, exit: exitOK,
			sustain: [2]float64{700, 769}, brokeCause: capCauseGrowth, maxSteps: 14},
		{name: "confirmation never holds", worker: capFakeWorker{knee: 800, confirmKnee: 1}, status: capUnconfirmed, exit: exitFailed,
			brokeCause: capCauseGrowth, maxSteps: 15},
		{name: "harness is the limit", worker: capFakeWorker{knee: 800, harnessAt: 500}, status: capHarness, exit: exitInvalid,
			brokeCause: capCauseHarness, maxSteps: 5, stages: "climb climb climb climb climb"},
		{name: "harness is the limit, no retry", search: func(s capSearch) capSearch { s.harnessRetries = 0; return s },
			worker: capFakeWorker{knee: 800, harnessAt: 500}, status: capHarness, exit: exitInvalid,
			brokeCause: capCauseHarness, maxSteps: 4, stages: "climb climb climb climb"},
		{name: "harness falls behind once: the step runs again", worker: capFakeWorker{knee: 800, harnessAt: 500, harnessOnce: true},
			status: capFound, exit: exitOK, sustain: [2]float64{760, 799}, brokeCause: capCauseGrowth, maxSteps: 14},
		{name: "worker crashes", worker: capFakeWorker{knee: 800, crashAt: 350}, status: capCrashed, exit: exitCrashed,
			brokeCause: capCauseCrash, maxSteps: 3},
		{name: "probe error stops the search", worker: capFakeWorker{knee: 800, errAt: 3}, wantErr: true, maxSteps: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := base
			if tc.search != nil {
				cs = tc.search(cs)
			}
			var steps []*capStep
			res, err := cs.run(tc.worker.probe(&steps))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if len(steps) > tc.maxSteps {
				t.Errorf("%d steps, want at most %d", len(steps), tc.maxSteps)
			}
			var stages []string
			for _, st := range steps {
				stages = append(stages, st.Stage)
				if st.Rate > cs.maxRate || st.Rate <= 0 {
					t.Errorf("step %d at %v/s: outside (0, max-rate]", st.N, st.Rate)
				}
				want := step
				if st.Stage == "confirm" {
					want = confirm
				}
				if st.DurationS != want.Seconds() {
					t.Errorf("step %d (%s): %vs, want %v", st.N, st.Stage, st.DurationS, want)
				}
			}
			if tc.stages != "" && strings.Join(stages, " ") != tc.stages {
				t.Errorf("stages %q, want %q", strings.Join(stages, " "), tc.stages)
			}
			if tc.wantErr {
				return
			}
			if res.Status != tc.status || res.ExitCode != tc.exit {
				t.Fatalf("status %s exit %d (%s), want %s exit %d", res.Status, res.ExitCode, res.Message, tc.status, tc.exit)
			}
			if res.BrokeCause != tc.brokeCause {
				t.Errorf("broke cause %q, want %q", res.BrokeCause, tc.brokeCause)
			}
			if tc.status == capFound {
				if !res.Confirmed || res.SustainableRPS < tc.sustain[0] || res.SustainableRPS > tc.sustain[1] {
					t.Errorf("sustainable %v (confirmed %v), want within %v", res.SustainableRPS, res.Confirmed, tc.sustain)
				}
				last := steps[len(steps)-1]
				if last.Stage != "confirm" || !last.Pass || last.Rate != res.SustainableRPS {
					t.Errorf("last step %+v: want the passing confirmation at %v", last, res.SustainableRPS)
				}
				if res.BrokeAtRPS > 0 && (res.BrokeAtRPS-res.SustainableRPS)/res.SustainableRPS > 0.05+0.05 {
					t.Errorf("broke at %v, sustainable %v: further apart than the precision allows", res.BrokeAtRPS, res.SustainableRPS)
				}
			} else if res.Confirmed || res.SustainableRPS != 0 {
				t.Errorf("sustainable %v confirmed %v for status %s", res.SustainableRPS, res.Confirmed, res.Status)
			}
			if tc.worker.knee > 0 && !math.IsInf(tc.worker.knee, 1) && res.BrokeAtRPS > 0 && tc.worker.harnessAt == 0 && tc.worker.crashAt == 0 {
				k := tc.worker.knee
				if tc.worker.confirmKnee > 0 {
					k = min(k, tc.worker.confirmKnee)
				}
				if res.BrokeAtRPS < k && tc.worker.confirmKnee == 0 {
					t.Errorf("broke at %v below the knee %v", res.BrokeAtRPS, k)
				}
			}
		})
	}
}

func TestCapRound(t *testing.T) {
	for in, want := range map[float64]float64{787.5: 788, 100: 100, 99.96: 100, 12.345: 12.3, 6.25: 6.25, 0.1234: 0.123, 1e6: 1e6} {
		if got := capRound(in); got != want {
			t.Errorf("capRound(%v) = %v, want %v", in, got, want)
		}
	}
}

// capSummary is a summary with the figures capAssess reads.
func capSummary(p50, p99 int64, c report.Counts, valid bool) *report.Summary {
	s := &report.Summary{Counts: c, Latency: map[string]report.Stats{report.MetricRTT: {P50: p50, P99: p99, Count: 1}}}
	s.Harness.Valid = valid
	if !valid {
		s.Harness.InvalidReason = "lag p99 9ms exceeds the lag budget 5ms: fbench, not the worker, fell behind"
	}
	return s
}

// capIntervals are a warm-up interval and n measured 1 s intervals at rate, answering answered of
// every second's arrivals, with in flight going from start to end.
func capIntervals(rate float64, n int, answered float64, start, end int64, bad report.Counts) []capInterval {
	ivs := []capInterval{{warmup: true, length: time.Second, offered: rate, inFlight: start}}
	for i := 1; i <= n; i++ {
		c := report.Counts{Succeeded: int64(math.Round(answered))}
		if i == n {
			c.TimedOut, c.Dropped = bad.TimedOut, bad.Dropped
		}
		ivs = append(ivs, capInterval{length: time.Second, offered: rate, counts: c,
			inFlight: start + (end-start)*int64(i)/int64(n)})
	}
	ivs = append(ivs, capInterval{drain: true, length: 50 * time.Millisecond, counts: report.Counts{Lost: bad.Lost}})
	return ivs
}

func TestCapAssess(t *testing.T) {
	okJudge := func(*report.Summary) (bool, string) { return true, "" }
	slowJudge := func(*report.Summary) (bool, string) { return false, "rtt p99 80ms > 50ms" }
	errJudge := func(*report.Summary) (bool, string) { return false, "error rate 2% > 0.1% (40 failed)" }
	tests := []struct {
		name      string
		rate      float64
		ivs       []capInterval
		sum       *report.Summary
		judge     stepJudge
		maxIn     int
		pass      bool
		cause     string
		inReasons string
	}{
		{name: "steady", rate: 800, ivs: capIntervals(800, 2, 800, 8, 9, report.Counts{}), sum: capSummary(10500, 12000, report.Counts{}, true), judge: okJudge, pass: true},
		{name: "low rate rounding", rate: 10, ivs: capIntervals(10, 2, 9.4, 0, 1, report.Counts{}), sum: capSummary(10500, 12000, report.Counts{}, true), judge: okJudge, pass: true},
		{name: "in flight grows", rate: 820, ivs: capIntervals(820, 2, 800, 8, 48, report.Counts{}), sum: capSummary(30000, 60000, report.Counts{}, true), judge: okJudge,
			cause: capCauseGrowth, inReasons: "8 → 48"},
		{name: "growth below the floor", rate: 100, ivs: capIntervals(100, 2, 100, 2, 9, report.Counts{}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: okJudge, pass: true},
		{name: "achieved short", rate: 1000, ivs: capIntervals(1000, 2, 900, 8, 8, report.Counts{}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: okJudge,
			cause: capCauseRate, inReasons: "achieved 900/s < 98% of offered 1000/s"},
		{name: "timeouts", rate: 800, ivs: capIntervals(800, 2, 800, 8, 8, report.Counts{TimedOut: 3}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: okJudge,
			cause: capCauseErrors, inReasons: "3 timed out"},
		{name: "never answered in the drain", rate: 800, ivs: capIntervals(800, 2, 800, 8, 8, report.Counts{Lost: 2}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: okJudge,
			cause: capCauseErrors, inReasons: "2 never answered"},
		{name: "latency objective", rate: 800, ivs: capIntervals(800, 2, 800, 8, 8, report.Counts{}), sum: capSummary(10000, 80000, report.Counts{}, true), judge: slowJudge,
			cause: capCauseLatency, inReasons: "rtt p99 80ms > 50ms"},
		{name: "error objective", rate: 800, ivs: capIntervals(800, 2, 800, 8, 8, report.Counts{}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: errJudge,
			cause: capCauseErrors, inReasons: "error rate"},
		{name: "harness behind, worker keeping up", rate: 50000, ivs: capIntervals(50000, 2, 50000, 8, 8, report.Counts{}), sum: capSummary(300, 9000, report.Counts{}, false), judge: okJudge,
			cause: capCauseHarness, inReasons: "harness fell behind: lag p99 9ms exceeds the lag budget 5ms"},
		{name: "harness behind, sending late", rate: 5000, ivs: capIntervals(5000, 2, 4500, 8, 8, report.Counts{}), sum: capSummary(300, 90000, report.Counts{}, false), judge: slowJudge,
			cause: capCauseHarness, inReasons: "achieved 4500/s"},
		{name: "harness behind, worker piling up", rate: 1600, ivs: capIntervals(1600, 2, 800, 8, 1600, report.Counts{}), sum: capSummary(900000, 1900000, report.Counts{}, false), judge: okJudge,
			cause: capCauseGrowth, inReasons: "also harness fell behind"},
		{name: "harness behind at --max-inflight", rate: 1600, ivs: capIntervals(1600, 2, 1600, 100, 100, report.Counts{}), sum: capSummary(10000, 12000, report.Counts{}, false), judge: okJudge,
			maxIn: 100, cause: capCauseGrowth, inReasons: "in flight reached --max-inflight 100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &capStep{Rate: tc.rate}
			capAssess(st, tc.sum, tc.ivs, tc.judge, tc.maxIn, nil)
			if st.Pass != tc.pass || st.Cause != tc.cause {
				t.Fatalf("pass %v cause %q (%v), want pass %v cause %q", st.Pass, st.Cause, st.Reasons, tc.pass, tc.cause)
			}
			if tc.inReasons != "" && !strings.Contains(strings.Join(st.Reasons, "; "), tc.inReasons) {
				t.Errorf("reasons %q do not mention %q", st.Reasons, tc.inReasons)
			}
			if tc.pass && (st.AchievedRPS < 0.9*tc.rate || st.OfferedRPS != tc.rate) {
				t.Errorf("offered %v achieved %v at rate %v", st.OfferedRPS, st.AchievedRPS, tc.rate)
			}
		})
	}
}

func TestCapObjectives(t *testing.T) {
	o := &capObjectives{relative: true, maxErrors: 0.001}
	if ok, why := o.judge(capSummary(10000, 900000, report.Counts{}, true)); !ok {
		t.Fatalf("no baseline yet: the relative bound must not fail (%s)", why)
	}
	o.observe(capSummary(10500, 11000, report.Counts{}, true))
	o.observe(capSummary(99999, 99999, report.Counts{}, true)) // only the first healthy step counts
	if got := o.limitUS(); got != 105000 {
		t.Fatalf("relative limit %dµs, want 10 × 10.5ms", got)
	}
	if ok, _ := o.judge(capSummary(10500, 100000, report.Counts{Due: 1000, Succeeded: 1000}, true)); !ok {
		t.Error("p99 100ms within 105ms failed")
	}
	if ok, why := o.judge(capSummary(10500, 110000, report.Counts{Due: 1000, Succeeded: 1000}, true)); ok || !strings.Contains(why, "rtt p99 110ms > 105ms") {
		t.Errorf("p99 110ms: ok %v why %q", ok, why)
	}
	if ok, why := o.judge(capSummary(10500, 11000, report.Counts{Due: 1000, Succeeded: 990, Failed: 10}, true)); ok || !strings.Contains(why, "error rate 1%") {
		t.Errorf("1%% errors: ok %v why %q", ok, why)
	}
	fast := &capObjectives{relative: true, maxErrors: -1}
	fast.observe(capSummary(40, 60, report.Counts{}, true))
	if got := fast.limitUS(); got != 5000 {
		t.Errorf("relative limit for a 40µs p50: %dµs, want the 5ms floor", got)
	}
	fixed := &capObjectives{p99: 50 * time.Millisecond, maxErrors: -1}
	if ok, _ := fixed.judge(capSummary(1000, 60000, report.Counts{Failed: 100}, true)); ok {
		t.Error("p99 60ms passed a 50ms objective")
	}
	if len(fixed.describe()) != 1 || len(o.describe()) != 2 {
		t.Errorf("describe: %q, %q", fixed.describe(), o.describe())
	}
}

func TestCapacityBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-rps", "100"},
		{"-d", "5s"},
		{"--profile", "ramp"},
		{"--precision", "0"},
		{"--precision", "60%"},
		{"--precision", "five"},
		{"--start", "0"},
		{"--start", "100", "--max-rate", "50"},
		{"--step", "10ms"},
		{"--max-error-rate", "2"},
		{"--harness-retries", "-1"},
		{"--slo", "rtt.p99<<50ms"},
		{"--repeat", "3"},
		{"--function", "work", "/nonexistent/worker"},
		{"--bogus"},
	} {
		var out, errb bytes.Buffer
		full := append([]string{"capacity", "--out", filepath.Join(dir, "x")}, args...)
		if code := run(full, &out, &errb); code != exitError {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitError, errb.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
			t.Errorf("%q: created the output directory on bad input", args)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"capacity", "--help"}, &out, &errb); code != exitOK || !strings.Contains(errb.String(), "--step-warmup") || strings.Contains(errb.String(), "--rps") {
		t.Errorf("capacity --help: exit %d, usage %q", code, errb.String())
	}
}

// TestCapacityReferenceWorker searches the reference worker's capacity end to end. Theory: with
// --max-concurrency=8 the worker runs at most 8 invocations at once and each sleeps 10 ms (sleep,
// not CPU, so the machine's cores do not matter), so it completes at most slots ÷ service time =
// 8 ÷ 10 ms = 800 invocations/s; above that its queue grows without bound. The search must find
// a rate within 10% of 800/s. In practice a sleep overshoots by a few hundred µs, so the real
// knee is near 8 ÷ 10.4 ms ≈ 770/s: --precision 2% keeps the rate found (within 2% below the
// knee) clear of the 720/s bound, where 5% could land on it. The latency objective is loose and
// the lag budget wide so that the knee the test checks is the throughput one, not scheduling
// noise on a busy CI machine.
func TestCapacityReferenceWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: runs about a dozen 3 s steps")
	}
	var out string
	for attempt := 1; ; attempt++ {
		out = filepath.Join(t.TempDir(), "cap")
		args := []string{"capacity", "--function", "work", "--ref", "service-time=10ms", "--ref", "max-concurrency=8",
			"--env", capWorkerEnv + "=1", "--start", "200", "--step", "2s", "--step-warmup", "1s", "--precision", "2%",
			"--confirm", "2s", "--p99", "500ms", "--lag-budget", "50ms", "--out", out}
		var stdout, stderr bytes.Buffer
		t0 := time.Now()
		code := run(args, &stdout, &stderr)
		t.Logf("%s in %s:\n%s%s", strings.Join(args, " "), time.Since(t0).Round(time.Second), stdout.String(), stderr.String())
		if code == exitInvalid {
			// The harness fell behind: the machine is too busy to measure anything (a neighbour
			// hogging the cores). That is the harness validity gate working, not the search failing.
			if attempt < 2 {
				continue
			}
			t.Skip("the harness fell behind twice: this machine is too busy to measure the worker")
		}
		if code != exitOK {
			t.Fatalf("exit %d, want 0", code)
		}
		if !strings.Contains(stdout.String(), "sustainable: ") || !strings.Contains(stdout.String(), "(confirmed)") {
			t.Errorf("stdout lacks the result line")
		}
		break
	}
	rep := loadCapReport(t, out)
	r := rep.Result
	if r == nil || r.Status != capFound || !r.Confirmed {
		t.Fatalf("result %+v, want a confirmed rate", r)
	}
	if r.BrokeAtRPS <= r.SustainableRPS || r.BrokeCause == "" {
		t.Errorf("broke at %v/s (%s), sustainable %v/s", r.BrokeAtRPS, r.BrokeCause, r.SustainableRPS)
	}
	if rep.Schema != capSchema || len(rep.Steps) < 4 || rep.Steps[0].Rate != 200 || rep.Steps[len(rep.Steps)-1].Stage != "confirm" {
		t.Errorf("capacity.json: schema %q, %d steps", rep.Schema, len(rep.Steps))
	}
	var firstService int64 // µs
	for _, st := range rep.Steps {
		sum := loadSummary(t, filepath.Join(out, st.Dir))
		var v *report.Verdict
		for i := range sum.Verdicts {
			if strings.HasPrefix(sum.Verdicts[i].Name, "capacity step") {
				v = &sum.Verdicts[i]
			}
		}
		if v == nil || (v.Status == report.VerdictPass) != st.Pass {
			t.Errorf("step %d (pass %v): capacity verdict %+v", st.N, st.Pass, v)
		}
		if st.Pass && (st.AchievedRPS < 0.98*st.Rate || st.P50US < 10000) {
			t.Errorf("step %d passed with achieved %v/s at %v/s, p50 %dµs", st.N, st.AchievedRPS, st.Rate, st.P50US)
		}
		if st.N == 1 {
			firstService = sum.Latency[report.MetricService].P50
		}
	}
	// 8 slots each held for the 10 ms sleep: at most 800/s, less on a machine whose sleeps
	// overshoot. The first step (200/s, a quarter of the slots) measures the service time, which
	// holds a slot and a little more (the answer's trip): 8 ÷ it is a floor of what the worker allows.
	floor := 8 / (float64(firstService) / 1e6)
	if firstService < 10_000 || r.SustainableRPS < 0.85*floor || r.SustainableRPS > 880 {
		t.Errorf("sustainable %v/s, want from 85%% of %.0f/s (8 slots at the measured %dµs service) to 880/s (10%% over 8 slots at 10 ms)",
			r.SustainableRPS, floor, firstService)
	}
	html, err := os.ReadFile(filepath.Join(out, capHTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-chart="knee"`, `data-chart="throughput"`, "sustainable " + capFmtRate(r.SustainableRPS) + "/s", "<table", "steps/0001-200/report.html"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("capacity.html lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", `src="http`, `href="http`, "url(", "<link"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("capacity.html is not self-contained: %q", bad)
		}
	}
}

func TestCapSLOJudge(t *testing.T) {
	j := capSLOJudge()
	s := &report.Summary{SLOs: []report.SLOResult{
		{Expression: "rtt.p99<50ms", Observed: "12ms", Pass: true},
		{Expression: "error_rate<0.1%", Observed: "2%", Pass: false},
	}}
	ok, why := j(s)
	if ok || why != "error_rate<0.1% (observed 2%)" || capCause(why) != capCauseErrors {
		t.Errorf("ok %v why %q cause %q", ok, why, capCause(why))
	}
	s.SLOs[1].Pass = true
	if ok, why := j(s); !ok {
		t.Errorf("all SLOs passed, judge says %q", why)
	}
	for why, want := range map[string]string{
		"rtt.p99<50ms (observed 61ms)":                        capCauseLatency,
		"achieved_rps>=4900 (observed 4100/s)":                capCauseRate,
		"rtt p99 61ms > 50ms; error rate 2% > 0.1%":           capCauseLatency,
		"timed_out==0 (observed 3)":                           capCauseErrors,
		"service.p50<=2ms in every 5 s window (observed 3ms)": capCauseLatency,
	} {
		if got := capCause(why); got != want {
			t.Errorf("capCause(%q) = %q, want %q", why, got, want)
		}
	}
}

// TestCapacityWorkerCrash: a worker that crashes mid-step ends the search with exit 4, naming the rate.
func TestCapacityWorkerCrash(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cap")
	var stdout, stderr bytes.Buffer
	code := run([]string{"capacity", "--function", "work", "--ref", "service-time=1ms", "--ref", "fault=crash-after=150",
		"--env", capWorkerEnv + "=1", "--step", "1s", "--step-warmup", "0s", "--p99", "1s", "--lag-budget", "1s", "--out", out}, &stdout, &stderr)
	if code != exitCrashed {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitCrashed, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "the worker crashed at 200/s (step 2)") || !strings.Contains(stderr.String(), "crash-after=150") {
		t.Errorf("stderr %q does not say where and why the worker crashed", stderr.String())
	}
	rep := loadCapReport(t, out)
	if r := rep.Result; r == nil || r.Status != capCrashed || r.BrokeAtRPS != 200 || r.BrokeCause != capCauseCrash || r.BestPassRPS != 100 {
		t.Errorf("result %+v", rep.Result)
	}
}

// TestCapacityWorkerFailsToStart: a worker that never completes its handshake is exit 1.
func TestCapacityWorkerFailsToStart(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cap")
	var stdout, stderr bytes.Buffer
	code := run([]string{"capacity", "--ref", "fault=exit-at-start", "--env", capWorkerEnv + "=1", "--step", "1s", "--out", out}, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "step 1 (100/s)") {
		t.Fatalf("exit %d, stderr %q; want 1 naming the step", code, stderr.String())
	}
	rep := loadCapReport(t, out)
	if rep.Result == nil || rep.Result.Status != "error" || len(rep.Steps) != 1 || rep.Steps[0].Cause != capCauseStartErr {
		t.Errorf("capacity.json: result %+v, steps %d", rep.Result, len(rep.Steps))
	}
}

// loadCapReport reads the capacity.json a search wrote to dir.
func loadCapReport(t testing.TB, dir string) capReport {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, capJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var rep capReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", capJSONFile, err)
	}
	return rep
}

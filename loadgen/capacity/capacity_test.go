package capacity

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/report"
)

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

func (fw capFakeWorker) probe(steps *[]*Step) Probe {
	return func(stage string, rate float64, d time.Duration) (*Step, error) {
		st := &Step{N: len(*steps) + 1, Stage: stage, Rate: rate, DurationS: d.Seconds(), Pass: true}
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
			fail(CauseCrash, "stream ended")
		case fw.harnessAt > 0 && rate >= fw.harnessAt && !(fw.harnessOnce && again):
			fail(CauseHarness, "lag p99 9ms > 5ms")
		case rate >= knee:
			fail(CauseGrowth, "in flight grew 8 → 90")
		}
		return st, nil
	}
}

func TestCapacitySearch(t *testing.T) {
	const step, confirm = 10 * time.Second, 20 * time.Second
	base := Search{start: 100, maxRate: 1_000_000, precision: 0.05, step: step, confirm: confirm, retries: 3, harnessRetries: 1}
	tests := []struct {
		name       string
		search     func(Search) Search
		worker     capFakeWorker
		status     string
		exit       int
		wantErr    bool
		sustain    [2]float64 // the sustainable rate lies within [lo, hi]
		brokeCause string
		maxSteps   int
		stages     string // the stages in order, when it matters
	}{
		{name: "knee 800", worker: capFakeWorker{knee: 800}, status: Found, exit: ExitOK,
			sustain: [2]float64{760, 799}, brokeCause: CauseGrowth, maxSteps: 12},
		{name: "knee 1234.5", worker: capFakeWorker{knee: 1234.5}, status: Found, exit: ExitOK,
			sustain: [2]float64{1234.5 * 0.95, 1234}, brokeCause: CauseGrowth, maxSteps: 14},
		{name: "knee exactly at the start: descend", worker: capFakeWorker{knee: 100}, status: Found, exit: ExitOK,
			sustain: [2]float64{95, 99.99}, brokeCause: CauseGrowth, maxSteps: 10, stages: "climb descend search search search search confirm"},
		{name: "knee far below the start", worker: capFakeWorker{knee: 7}, status: Found, exit: ExitOK,
			sustain: [2]float64{6.65, 6.99}, brokeCause: CauseGrowth, maxSteps: 14},
		{name: "never breaks up to max-rate", search: func(s Search) Search { s.maxRate = 1000; return s },
			worker: capFakeWorker{knee: math.Inf(1)}, status: Found, exit: ExitOK, sustain: [2]float64{1000, 1000}, maxSteps: 6,
			stages: "climb climb climb climb climb confirm"},
		{name: "nothing holds", worker: capFakeWorker{knee: 0}, status: NotFound, exit: ExitFailed, brokeCause: CauseGrowth,
			maxSteps: 11},
		{name: "confirmation fails once, steps down", worker: capFakeWorker{knee: 800, confirmKnee: 770}, status: Found, exit: ExitOK,
			sustain: [2]float64{700, 769}, brokeCause: CauseGrowth, maxSteps: 14},
		{name: "confirmation never holds", worker: capFakeWorker{knee: 800, confirmKnee: 1}, status: Unconfirmed, exit: ExitFailed,
			brokeCause: CauseGrowth, maxSteps: 15},
		{name: "harness is the limit", worker: capFakeWorker{knee: 800, harnessAt: 500}, status: HarnessLimit, exit: ExitInvalid,
			brokeCause: CauseHarness, maxSteps: 5, stages: "climb climb climb climb climb"},
		{name: "harness is the limit, no retry", search: func(s Search) Search { s.harnessRetries = 0; return s },
			worker: capFakeWorker{knee: 800, harnessAt: 500}, status: HarnessLimit, exit: ExitInvalid,
			brokeCause: CauseHarness, maxSteps: 4, stages: "climb climb climb climb"},
		{name: "harness falls behind once: the step runs again", worker: capFakeWorker{knee: 800, harnessAt: 500, harnessOnce: true},
			status: Found, exit: ExitOK, sustain: [2]float64{760, 799}, brokeCause: CauseGrowth, maxSteps: 14},
		{name: "worker crashes", worker: capFakeWorker{knee: 800, crashAt: 350}, status: Crashed, exit: ExitCrashed,
			brokeCause: CauseCrash, maxSteps: 3},
		{name: "probe error stops the search", worker: capFakeWorker{knee: 800, errAt: 3}, wantErr: true, maxSteps: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := base
			if tc.search != nil {
				cs = tc.search(cs)
			}
			var steps []*Step
			res, err := cs.Run(tc.worker.probe(&steps))
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
			if tc.status == Found {
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
		if got := Round(in); got != want {
			t.Errorf("Round(%v) = %v, want %v", in, got, want)
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
func capIntervals(rate float64, n int, answered float64, start, end int64, bad report.Counts) []interval {
	ivs := []interval{{warmup: true, length: time.Second, offered: rate, inFlight: start}}
	for i := 1; i <= n; i++ {
		c := report.Counts{Succeeded: int64(math.Round(answered))}
		if i == n {
			c.TimedOut, c.Dropped = bad.TimedOut, bad.Dropped
		}
		ivs = append(ivs, interval{length: time.Second, offered: rate, counts: c,
			inFlight: start + (end-start)*int64(i)/int64(n)})
	}
	ivs = append(ivs, interval{drain: true, length: 50 * time.Millisecond, counts: report.Counts{Lost: bad.Lost}})
	return ivs
}

func TestCapAssess(t *testing.T) {
	okJudge := func(*report.Summary) (bool, string) { return true, "" }
	slowJudge := func(*report.Summary) (bool, string) { return false, "rtt p99 80ms > 50ms" }
	errJudge := func(*report.Summary) (bool, string) { return false, "error rate 2% > 0.1% (40 failed)" }
	tests := []struct {
		name      string
		rate      float64
		ivs       []interval
		sum       *report.Summary
		judge     Judge
		maxIn     int
		pass      bool
		cause     string
		inReasons string
	}{
		{name: "steady", rate: 800, ivs: capIntervals(800, 2, 800, 8, 9, report.Counts{}), sum: capSummary(10500, 12000, report.Counts{}, true), judge: okJudge, pass: true},
		{name: "low rate rounding", rate: 10, ivs: capIntervals(10, 2, 9.4, 0, 1, report.Counts{}), sum: capSummary(10500, 12000, report.Counts{}, true), judge: okJudge, pass: true},
		{name: "in flight grows", rate: 820, ivs: capIntervals(820, 2, 800, 8, 48, report.Counts{}), sum: capSummary(30000, 60000, report.Counts{}, true), judge: okJudge,
			cause: CauseGrowth, inReasons: "8 → 48"},
		{name: "growth below the floor", rate: 100, ivs: capIntervals(100, 2, 100, 2, 9, report.Counts{}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: okJudge, pass: true},
		{name: "achieved short", rate: 1000, ivs: capIntervals(1000, 2, 900, 8, 8, report.Counts{}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: okJudge,
			cause: CauseRate, inReasons: "achieved 900/s < 98% of offered 1000/s"},
		{name: "timeouts", rate: 800, ivs: capIntervals(800, 2, 800, 8, 8, report.Counts{TimedOut: 3}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: okJudge,
			cause: CauseErrors, inReasons: "3 timed out"},
		{name: "never answered in the drain", rate: 800, ivs: capIntervals(800, 2, 800, 8, 8, report.Counts{Lost: 2}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: okJudge,
			cause: CauseErrors, inReasons: "2 never answered"},
		{name: "latency objective", rate: 800, ivs: capIntervals(800, 2, 800, 8, 8, report.Counts{}), sum: capSummary(10000, 80000, report.Counts{}, true), judge: slowJudge,
			cause: CauseLatency, inReasons: "rtt p99 80ms > 50ms"},
		{name: "error objective", rate: 800, ivs: capIntervals(800, 2, 800, 8, 8, report.Counts{}), sum: capSummary(10000, 12000, report.Counts{}, true), judge: errJudge,
			cause: CauseErrors, inReasons: "error rate"},
		{name: "harness behind, worker keeping up", rate: 50000, ivs: capIntervals(50000, 2, 50000, 8, 8, report.Counts{}), sum: capSummary(300, 9000, report.Counts{}, false), judge: okJudge,
			cause: CauseHarness, inReasons: "harness fell behind: lag p99 9ms exceeds the lag budget 5ms"},
		{name: "harness behind, sending late", rate: 5000, ivs: capIntervals(5000, 2, 4500, 8, 8, report.Counts{}), sum: capSummary(300, 90000, report.Counts{}, false), judge: slowJudge,
			cause: CauseHarness, inReasons: "achieved 4500/s"},
		{name: "harness behind, worker piling up", rate: 1600, ivs: capIntervals(1600, 2, 800, 8, 1600, report.Counts{}), sum: capSummary(900000, 1900000, report.Counts{}, false), judge: okJudge,
			cause: CauseGrowth, inReasons: "also harness fell behind"},
		{name: "harness behind at --max-inflight", rate: 1600, ivs: capIntervals(1600, 2, 1600, 100, 100, report.Counts{}), sum: capSummary(10000, 12000, report.Counts{}, false), judge: okJudge,
			maxIn: 100, cause: CauseGrowth, inReasons: "in flight reached --max-inflight 100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &Step{Rate: tc.rate}
			Assess(st, tc.sum, tc.ivs, tc.judge, tc.maxIn, nil)
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
	o := &Objectives{relative: true, maxErrors: 0.001}
	if ok, why := o.Judge(capSummary(10000, 900000, report.Counts{}, true)); !ok {
		t.Fatalf("no baseline yet: the relative bound must not fail (%s)", why)
	}
	o.Observe(capSummary(10500, 11000, report.Counts{}, true))
	o.Observe(capSummary(99999, 99999, report.Counts{}, true)) // only the first healthy step counts
	if got := o.LimitUS(); got != 105000 {
		t.Fatalf("relative limit %dµs, want 10 × 10.5ms", got)
	}
	if ok, _ := o.Judge(capSummary(10500, 100000, report.Counts{Due: 1000, Succeeded: 1000}, true)); !ok {
		t.Error("p99 100ms within 105ms failed")
	}
	if ok, why := o.Judge(capSummary(10500, 110000, report.Counts{Due: 1000, Succeeded: 1000}, true)); ok || !strings.Contains(why, "rtt p99 110ms > 105ms") {
		t.Errorf("p99 110ms: ok %v why %q", ok, why)
	}
	if ok, why := o.Judge(capSummary(10500, 11000, report.Counts{Due: 1000, Succeeded: 990, Failed: 10}, true)); ok || !strings.Contains(why, "error rate 1%") {
		t.Errorf("1%% errors: ok %v why %q", ok, why)
	}
	fast := &Objectives{relative: true, maxErrors: -1}
	fast.Observe(capSummary(40, 60, report.Counts{}, true))
	if got := fast.LimitUS(); got != 5000 {
		t.Errorf("relative limit for a 40µs p50: %dµs, want the 5ms floor", got)
	}
	fixed := &Objectives{p99: 50 * time.Millisecond, maxErrors: -1}
	if ok, _ := fixed.Judge(capSummary(1000, 60000, report.Counts{Failed: 100}, true)); ok {
		t.Error("p99 60ms passed a 50ms objective")
	}
	if len(fixed.Describe()) != 1 || len(o.Describe()) != 2 {
		t.Errorf("describe: %q, %q", fixed.Describe(), o.Describe())
	}
}

func TestCapSLOJudge(t *testing.T) {
	j := SLOJudge()
	s := &report.Summary{SLOs: []report.SLOResult{
		{Expression: "rtt.p99<50ms", Observed: "12ms", Pass: true},
		{Expression: "error_rate<0.1%", Observed: "2%", Pass: false},
	}}
	ok, why := j(s)
	if ok || why != "error_rate<0.1% (observed 2%)" || Cause(why) != CauseErrors {
		t.Errorf("ok %v why %q cause %q", ok, why, Cause(why))
	}
	s.SLOs[1].Pass = true
	if ok, why := j(s); !ok {
		t.Errorf("all SLOs passed, judge says %q", why)
	}
	for why, want := range map[string]string{
		"rtt.p99<50ms (observed 61ms)":                        CauseLatency,
		"achieved_rps>=4900 (observed 4100/s)":                CauseRate,
		"rtt p99 61ms > 50ms; error rate 2% > 0.1%":           CauseLatency,
		"timed_out==0 (observed 3)":                           CauseErrors,
		"service.p50<=2ms in every 5 s window (observed 3ms)": CauseLatency,
	} {
		if got := Cause(why); got != want {
			t.Errorf("Cause(%q) = %q, want %q", why, got, want)
		}
	}
}

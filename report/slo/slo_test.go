package slo

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/internal/goldenfile"
)

func TestParseSLO(t *testing.T) {
	valid := []struct {
		in   string
		want Objective
		str  string // String()
	}{
		{"rtt.p99<50ms", Objective{Metric: "rtt.p99", Kind: Latency, Clock: "rtt", Stat: "p99", Op: "<", Value: 50000}, "rtt.p99<50ms"},
		{" rtt.p999 < 200 ms ", Objective{Metric: "rtt.p999", Kind: Latency, Clock: "rtt", Stat: "p999", Op: "<", Value: 200000}, "rtt.p999<200ms"},
		{"service.p50<=5ms", Objective{Metric: "service.p50", Kind: Latency, Clock: "service", Stat: "p50", Op: "<=", Value: 5000}, "service.p50<=5ms"},
		{"lag.max<10ms", Objective{Metric: "lag.max", Kind: Latency, Clock: "lag", Stat: "max", Op: "<", Value: 10000}, "lag.max<10ms"},
		{"cancel_settle.mean<800us", Objective{Metric: "cancel_settle.mean", Kind: Latency, Clock: "cancel_settle", Stat: "mean", Op: "<", Value: 800}, "cancel_settle.mean<800µs"},
		{"status_rtt.p90<1.5µs", Objective{Metric: "status_rtt.p90", Kind: Latency, Clock: "status_rtt", Stat: "p90", Op: "<", Value: 1.5}, "status_rtt.p90<1.5µs"},
		{"rtt.min>=0", Objective{Metric: "rtt.min", Kind: Latency, Clock: "rtt", Stat: "min", Op: ">=", Value: 0}, "rtt.min>=0µs"},
		{"rtt.p99<2s", Objective{Metric: "rtt.p99", Kind: Latency, Clock: "rtt", Stat: "p99", Op: "<", Value: 2e6}, "rtt.p99<2s"},
		{"RTT.P99<1ms", Objective{Metric: "rtt.p99", Kind: Latency, Clock: "rtt", Stat: "p99", Op: "<", Value: 1000}, "rtt.p99<1ms"},
		{"rtt.p99{fn=echo}<20ms", Objective{Metric: "rtt.p99{fn=echo}", Kind: Latency, Clock: "rtt", Stat: "p99", Function: "echo", Op: "<", Value: 20000}, "rtt.p99{fn=echo}<20ms"},
		{"service.p50{ fn = slow work }<5ms", Objective{Metric: "service.p50{fn=slow work}", Kind: Latency, Clock: "service", Stat: "p50", Function: "slow work", Op: "<", Value: 5000}, "service.p50{fn=slow work}<5ms"},
		{"error_rate<0.1%", Objective{Metric: "error_rate", Kind: Ratio, Op: "<", Value: 0.001}, "error_rate<0.1%"},
		{"error_rate<0.001", Objective{Metric: "error_rate", Kind: Ratio, Op: "<", Value: 0.001}, "error_rate<0.1%"},
		{"cancelled_ratio>0.9", Objective{Metric: "cancelled_ratio", Kind: Ratio, Op: ">", Value: 0.9}, "cancelled_ratio>90%"},
		{"timeout_rate==0", Objective{Metric: "timeout_rate", Kind: Ratio, Op: "==", Value: 0}, "timeout_rate==0%"},
		{"success_rate!=100%", Objective{Metric: "success_rate", Kind: Ratio, Op: "!=", Value: 1}, "success_rate!=100%"},
		{"achieved_rps>=4900", Objective{Metric: "achieved_rps", Kind: Rate, Op: ">=", Value: 4900}, "achieved_rps>=4900"},
		{"achieved_rps>=98%", Objective{Metric: "achieved_rps", Kind: Rate, Op: ">=", Value: 0.98, Relative: true}, "achieved_rps>=98%"},
		{"offered_rps>100rps", Objective{Metric: "offered_rps", Kind: Rate, Op: ">", Value: 100}, "offered_rps>100"},
		{"lost==0", Objective{Metric: "lost", Kind: Count, Op: "==", Value: 0}, "lost==0"},
		{"unmatched <= 3", Objective{Metric: "unmatched", Kind: Count, Op: "<=", Value: 3}, "unmatched<=3"},
	}
	for _, tc := range valid {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("ParseSLO(%q): %v", tc.in, err)
			continue
		}
		tc.want.Expr = strings.TrimSpace(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSLO(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("ParseSLO(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
	}

	invalid := []struct{ in, msg string }{
		{"", `invalid SLO "" at position 1: empty expression; want METRIC OP VALUE, e.g. rtt.p99<50ms`},
		{"foo<1", `invalid SLO "foo<1" at position 1: unknown metric "foo" (want CLOCK.STAT such as rtt.p99, a ratio such as error_rate, a rate such as achieved_rps, or a count such as lost)`},
		{"<5ms", `invalid SLO "<5ms" at position 1: want a metric name (e.g. rtt.p99, error_rate, achieved_rps), found "<"`},
		{"xyz.p99<1ms", `invalid SLO "xyz.p99<1ms" at position 1: unknown latency clock "xyz" (want ` + strings.Join(report.Metrics, ", ") + `)`},
		{"rtt.p98<1ms", `invalid SLO "rtt.p98<1ms" at position 5: unknown statistic "p98" (want min, mean, p50, p90, p99, p999, max)`},
		{"rtt<1ms", `invalid SLO "rtt<1ms" at position 4: rtt needs a statistic, e.g. rtt.p99`},
		{"rtt.p99", `invalid SLO "rtt.p99" at position 8: missing operator after rtt.p99 (want <, <=, >, >=, == or !=)`},
		{"rtt.p99 50ms", `invalid SLO "rtt.p99 50ms" at position 9: want an operator (<, <=, >, >=, == or !=), found "50ms"`},
		{"rtt.p99=50ms", `invalid SLO "rtt.p99=50ms" at position 8: unknown operator "=" (want == for equality)`},
		{"rtt.p99<<50ms", `invalid SLO "rtt.p99<<50ms" at position 8: unknown operator "<<"`},
		{"rtt.p99<", `invalid SLO "rtt.p99<" at position 9: missing value after <`},
		{"rtt.p99<abc", `invalid SLO "rtt.p99<abc" at position 9: want a number, found "abc"`},
		{"rtt.p99<-1ms", `invalid SLO "rtt.p99<-1ms" at position 9: the value must not be negative`},
		{"rtt.p99<50", `invalid SLO "rtt.p99<50" at position 11: latency 50 needs a unit (µs, us, ms or s)`},
		{"rtt.p99<50m", `invalid SLO "rtt.p99<50m" at position 11: unknown unit "m" for a latency (want µs, us, ms or s)`},
		{"rtt.p99<5 min", `invalid SLO "rtt.p99<5 min" at position 11: unknown unit "min" for a latency (want µs, us, ms or s)`},
		{"rtt.p99{fn=}<1ms", `invalid SLO "rtt.p99{fn=}<1ms" at position 9: want {fn=NAME}, found {fn=}`},
		{"rtt.p99{status=ok}<1ms", `invalid SLO "rtt.p99{status=ok}<1ms" at position 9: want {fn=NAME}, found {status=ok}`},
		{"rtt.p99{fn=echo<1ms", `invalid SLO "rtt.p99{fn=echo<1ms" at position 8: unclosed {`},
		{"error_rate{fn=a}<1%", `invalid SLO "error_rate{fn=a}<1%" at position 11: only latency metrics take a {fn=NAME} selector`},
		{"error_rate<5ms", `invalid SLO "error_rate<5ms" at position 13: unknown unit "ms" for a ratio (want a fraction such as 0.001 or a percentage such as 0.1%)`},
		{"error_rate<150%", `invalid SLO "error_rate<150%" at position 12: a ratio is at most 1 (100%), found 150%`},
		{"error_rate<2", `invalid SLO "error_rate<2" at position 12: a ratio is at most 1 (100%), found 2`},
		{"offered_rps>=9%", `invalid SLO "offered_rps>=9%" at position 15: only achieved_rps takes a percentage (of offered_rps)`},
		{"achieved_rps>=5k", `invalid SLO "achieved_rps>=5k" at position 16: unknown unit "k" for a rate (want a number of invocations per second, or a percentage of offered_rps)`},
		{"lost==1.5", `invalid SLO "lost==1.5" at position 7: a count is a whole number, found 1.5`},
		{"lost==1e3", `invalid SLO "lost==1e3" at position 8: a count takes no unit, found "e3"`},
		{"µs<1", `invalid SLO "µs<1" at position 1: want a metric name (e.g. rtt.p99, error_rate, achieved_rps), found "µ"`},
		{"rtt.p99{fn=é}<1µx", `invalid SLO "rtt.p99{fn=é}<1µx" at position 16: unknown unit "µx" for a latency (want µs, us, ms or s)`},
	}
	for _, tc := range invalid {
		_, err := Parse(tc.in)
		if err == nil {
			t.Errorf("ParseSLO(%q): no error, want %s", tc.in, tc.msg)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("ParseSLO(%q):\n got: %s\nwant: %s", tc.in, err, tc.msg)
		}
		var se *SyntaxError
		if !asSyntax(err, &se) || se.Expr != strings.TrimSpace(tc.in) {
			t.Errorf("ParseSLO(%q): error %T is not an *SLOSyntaxError naming the expression", tc.in, err)
		}
	}

	if _, err := ParseAll([]string{"rtt.p99<1ms", "bogus<1"}); err == nil || !strings.Contains(err.Error(), `"bogus<1"`) {
		t.Errorf("ParseSLOs: %v, want the error of the second expression", err)
	}
}

func asSyntax(err error, target **SyntaxError) bool {
	se, ok := err.(*SyntaxError)
	*target = se
	return ok
}

// sloSummary is a summary with round figures to check objectives against.
func sloSummary() *report.Summary {
	return &report.Summary{
		Schema: report.SummarySchema, DurationS: 10, OfferedRPS: 1000, AchievedRPS: 990,
		Counts: report.Counts{Due: 10000, Sent: 9990, Succeeded: 9900, Failed: 50, TimedOut: 20, Lost: 5, Dropped: 5,
			CancelSent: 100, Cancelled: 90, CompletedAfterCancel: 10, StatusSent: 10, StatusAnswered: 10},
		Latency: map[string]report.Stats{
			report.MetricRTT:          {Count: 9990, Min: 100, Mean: 2500.5, P50: 2000, P90: 5000, P99: 40000, P999: 90000, Max: 120000},
			report.MetricService:      {Count: 9990, Min: 80, Mean: 2000, P50: 1500, P90: 4500, P99: 30000, P999: 80000, Max: 110000},
			report.MetricLag:          {Count: 9990, Min: 1, Mean: 50, P50: 40, P90: 100, P99: 900, P999: 5000, Max: 12000},
			report.MetricCancelSettle: {},
		},
		Functions: map[string]map[string]report.Stats{
			"echo":      {report.MetricRTT: {Count: 5000, P99: 15000}},
			"slow work": {report.MetricRTT: {Count: 4990, P99: 60000}},
		},
		Config: map[string]any{},
	}
}

func TestEvaluateSLOs(t *testing.T) {
	s := sloSummary()
	for _, tc := range []struct {
		expr     string
		pass     bool
		observed string
		value    float64 // -1: null
	}{
		{"rtt.p99<50ms", true, "40ms", 40000},
		{"rtt.p99<40ms", false, "40ms", 40000},
		{"rtt.p99<=40ms", true, "40ms", 40000},
		{"rtt.p999<200ms", true, "90ms", 90000},
		{"rtt.mean<2.5ms", false, "2.5005ms", 2500.5},
		{"service.p50<=5ms", true, "1.5ms", 1500},
		{"lag.max<10ms", false, "12ms", 12000},
		{"rtt.min>=100us", true, "100µs", 100},
		{"rtt.p99{fn=echo}<20ms", true, "15ms", 15000},
		{"rtt.p99{fn=slow work}<20ms", false, "60ms", 60000},
		{"rtt.p99{fn=slow_work}<80ms", true, "60ms", 60000}, // the hlog tag's (sanitized) name works too
		{"rtt.p99{fn=nope}<20ms", false, "no data (no rtt of function nope recorded)", -1},
		{"cancel_settle.p99<1ms", false, "no data (no cancel_settle recorded)", -1},
		{"error_rate<1%", true, "0.8% (80 of 10000)", 0.008},
		{"error_rate<0.1%", false, "0.8% (80 of 10000)", 0.008},
		{"failure_rate<=0.5%", true, "0.5% (50 of 10000)", 0.005},
		{"timeout_rate==0", false, "0.2% (20 of 10000)", 0.002},
		{"lost_rate<0.1%", true, "0.05% (5 of 10000)", 0.0005},
		{"drop_rate!=0", true, "0.05% (5 of 10000)", 0.0005},
		{"success_rate>=99%", true, "99% (9900 of 10000)", 0.99},
		{"cancelled_ratio>0.9", false, "90% (90 of 100)", 0.9},
		{"completed_after_cancel_ratio<20%", true, "10% (10 of 100)", 0.1},
		{"status_answered_ratio==1", true, "100% (10 of 10)", 1},
		{"achieved_rps>=990", true, "990 rps", 990},
		{"achieved_rps>=4900", false, "990 rps", 990},
		{"achieved_rps>=99%", true, "99% of offered (990 of 1000 rps)", 0.99},
		{"achieved_rps>99%", false, "99% of offered (990 of 1000 rps)", 0.99},
		{"offered_rps==1000", true, "1000 rps", 1000},
		{"lost==0", false, "5", 5},
		{"unmatched==0", true, "0", 0},
	} {
		o, err := Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		r := o.Check(s)
		if r.Pass != tc.pass || r.Observed != tc.observed {
			t.Errorf("%s: pass %t observed %q, want %t %q", tc.expr, r.Pass, r.Observed, tc.pass, tc.observed)
		}
		switch {
		case tc.value < 0 && r.Value != nil:
			t.Errorf("%s: value %v, want null", tc.expr, *r.Value)
		case tc.value >= 0 && (r.Value == nil || *r.Value != tc.value):
			t.Errorf("%s: value %v, want %v", tc.expr, r.Value, tc.value)
		}
		if r.Expression != tc.expr || r.Metric != o.Metric || r.Op != o.Op || r.Threshold != o.Value || r.WindowS != 0 {
			t.Errorf("%s: result %+v does not describe the objective", tc.expr, r)
		}
	}

	// A run of one function has no per-function figures: {fn=NAME} of that function reads the run's.
	one := sloSummary()
	one.Functions = map[string]map[string]report.Stats{}
	one.Config = map[string]any{"targets": []any{"echo"}}
	for expr, want := range map[string]string{"rtt.p99{fn=echo}<50ms": "40ms", "rtt.p99{fn=work}<50ms": "no data (no rtt of function work recorded)"} {
		o, _ := Parse(expr)
		if r := o.Check(one); r.Observed != want {
			t.Errorf("one function: %s observed %q, want %q", expr, r.Observed, want)
		}
	}
	for _, tc := range []struct {
		config map[string]any
		fns    []report.FunctionInfo
		want   string
	}{
		{map[string]any{"targets": []any{"a", "b"}, "function": "a"}, nil, ""},
		{map[string]any{"function": "a"}, nil, "a"},
		{map[string]any{"mix": "b=3"}, nil, "b"},
		{map[string]any{"mix": "b=3,c=1"}, nil, ""},
		{map[string]any{}, []report.FunctionInfo{{Name: "only"}}, "only"},
		{map[string]any{}, []report.FunctionInfo{{Name: "x"}, {Name: "y"}}, ""},
	} {
		s := &report.Summary{Config: tc.config, Worker: report.WorkerInfo{Functions: tc.fns}}
		if got := report.SingleFunction(s); got != tc.want {
			t.Errorf("SingleFunction(%v, %v) = %q, want %q", tc.config, tc.fns, got, tc.want)
		}
	}

	results := Evaluate(s, mustSLOs(t, "rtt.p99<50ms", "error_rate<1%"))
	if len(results) != 2 || !Pass(results) {
		t.Errorf("EvaluateSLOs: %+v, want two passing results", results)
	}
	if Pass(Evaluate(s, mustSLOs(t, "rtt.p99<50ms", "lost==0"))) {
		t.Error("SLOsPass: true with a failing objective")
	}
}

func mustSLOs(t testing.TB, exprs ...string) []Objective {
	t.Helper()
	slos, err := ParseAll(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return slos
}

// spikeIntervals are n one-second intervals of 1000 invocations each at 1–2 ms (rtt), except
// interval spike, where 50 take 100 ms and 30 fail; the first warm intervals are warm-up with 500 ms
// latencies (excluded).
func spikeIntervals(t testing.TB, n, spike, warm int) []*report.IntervalRecord {
	var recs []*report.IntervalRecord
	for i := 0; i < n; i++ {
		h, svc := report.NewHistogram(), report.NewHistogram()
		c := report.Counts{Due: 1000, Sent: 1000, Succeeded: 1000, StatusSent: 1, StatusAnswered: 1}
		for j := 0; j < 1000; j++ {
			v := int64(1000 + j)
			switch {
			case i < warm:
				v = 500_000
			case i == spike && j < 50:
				v = 100_000
			}
			if err := h.RecordValue(v); err != nil {
				t.Fatal(err)
			}
			_ = svc.RecordValue(v / 2)
		}
		if i == spike {
			c.Succeeded, c.Failed = 970, 30
		}
		recs = append(recs, &report.IntervalRecord{
			Index: i, Start: time.Duration(i) * time.Second, Length: time.Second, Warmup: i < warm,
			OfferedRPS: 1000, Counts: c,
			Histograms: map[string]*hdrhistogram.Histogram{report.MetricRTT: h, report.MetricService: svc, report.FunctionTag(report.MetricRTT, "echo"): h},
		})
	}
	return recs
}

func TestSLOWindows(t *testing.T) {
	exprs := []string{"rtt.p99<50ms", "error_rate<1%", "achieved_rps>=99%", "rtt.p99{fn=echo}<50ms", "service.max<=60ms", "cancel_settle.p99<1ms"}
	type want struct {
		pass          bool
		value         float64
		start         float64
		windows       int
		failedWindows int
	}
	for _, tc := range []struct {
		name   string
		window time.Duration
		recs   func() []*report.IntervalRecord
		total  []bool // per objective, on the whole run
		win    []want // per objective, over windows
	}{
		{
			// 12 intervals, 2 of them warm-up; the spike is at 6 s: rtt p99 over the run is 2 ms, over
			// a 2 s window 100 ms; errors over the run 0.3%, over a window 1.5%.
			name: "spike in one window", window: 2 * time.Second,
			recs:  func() []*report.IntervalRecord { return spikeIntervals(t, 12, 6, 2) },
			total: []bool{true, true, true, true, true, false},
			win: []want{
				{false, 100031, 5, 9, 2}, // windows at 2..10 s; those at 5 and 6 s hold the spike
				{false, 0.015, 5, 9, 2},
				{true, 1, 2, 9, 0}, // achieved = offered everywhere: the first window is the worst
				{false, 100031, 5, 9, 2},
				{true, 50015, 5, 9, 0},
				{false, 0, 0, 0, 0}, // no data anywhere
			},
		},
		{
			name: "window longer than the run", window: 30 * time.Second,
			recs:  func() []*report.IntervalRecord { return spikeIntervals(t, 5, 3, 0) },
			total: []bool{true, true, true, true, true, false},
			win: []want{
				{true, 1999, 0, 1, 0},
				{true, 0.006, 0, 1, 0},
				{true, 1, 0, 1, 0},
				{true, 1999, 0, 1, 0},
				{true, 50015, 0, 1, 0},
				{false, 0, 0, 0, 0},
			},
		},
		{
			// A gap (interval 7 missing) restarts the windows: no window spans it.
			name: "gap", window: 3 * time.Second,
			recs: func() []*report.IntervalRecord {
				r := spikeIntervals(t, 10, 8, 0)
				return append(r[:7], r[8:]...)
			},
			total: []bool{true, true, true, true, true, false},
			win: []want{
				// Windows at 0..4 s, then the stretch 8–10 s, too short for a window, is checked as
				// one partial window: it holds the spike.
				{false, 100031, 8, 6, 1},
				{false, 0.015, 8, 6, 1},
				{true, 1, 0, 6, 0},
				{false, 100031, 8, 6, 1},
				{true, 50015, 8, 6, 0},
				{false, 0, 0, 0, 0},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slos := mustSLOs(t, exprs...)
			// Live: through a RunWriter.
			dir := filepath.Join(t.TempDir(), "run")
			meta := windowMeta()
			rw, err := report.CreateRun(dir, meta)
			if err != nil {
				t.Fatal(err)
			}
			ev := NewEvaluator(slos, tc.window)
			rw.Observe(ev)
			rw.SetEvaluator(ev.Evaluate)
			for _, rec := range tc.recs() {
				if err := rw.WriteInterval(rec); err != nil {
					t.Fatal(err)
				}
			}
			s, err := rw.Finish(meta)
			if err != nil {
				t.Fatal(err)
			}
			if ev.k > 0 && len(ev.ring) != ev.k {
				t.Errorf("the window ring holds %d intervals, want %d", len(ev.ring), ev.k)
			}
			if len(s.SLOs) != 2*len(slos) {
				t.Fatalf("%d results, want %d: %+v", len(s.SLOs), 2*len(slos), s.SLOs)
			}
			for i := range slos {
				tot, win := s.SLOs[2*i], s.SLOs[2*i+1]
				if tot.Pass != tc.total[i] || tot.WindowS != 0 {
					t.Errorf("%s over the run: pass %t (%s), want %t", exprs[i], tot.Pass, tot.Observed, tc.total[i])
				}
				w := tc.win[i]
				if win.WindowS != tc.window.Seconds() || win.Pass != w.pass || win.Windows != w.windows || win.FailedWindows != w.failedWindows {
					t.Errorf("%s over windows: pass %t, %d windows, %d failed (%s); want %t, %d, %d",
						exprs[i], win.Pass, win.Windows, win.FailedWindows, win.Observed, w.pass, w.windows, w.failedWindows)
				}
				if w.windows == 0 {
					if win.Value != nil || win.WindowStartS != nil {
						t.Errorf("%s: a value without data: %+v", exprs[i], win)
					}
					continue
				}
				if win.Value == nil || *win.Value != w.value || win.WindowStartS == nil || *win.WindowStartS != w.start {
					t.Errorf("%s: worst window value %v at %v s, want %v at %v s (%s)", exprs[i], ptr(win.Value), ptr(win.WindowStartS), w.value, w.start, win.Observed)
				}
			}
			// Rebuilt: the same results from the files.
			ev2 := NewEvaluator(slos, tc.window)
			s2, err := report.RebuildWith(dir, report.RebuildOptions{Evaluate: ev2.Evaluate, Observers: []report.IntervalObserver{ev2}})
			if err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(s.SLOs)
			b, _ := json.Marshal(s2.SLOs)
			if a, b := string(a), string(b); a != b {
				t.Errorf("rebuilt SLO results differ from the live ones:\nlive:    %s\nrebuilt: %s", a, b)
			}
			// summary.json carries them.
			f, err := report.LoadSummary(filepath.Join(dir, report.SummaryFile))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.SLOs, s2.SLOs) {
				t.Errorf("summary.json SLOs differ from the rebuild's")
			}
		})
	}
}

// windowMeta is the plan of an open-loop run of one-second intervals without warm-up.
func windowMeta() report.Meta {
	return report.Meta{Mode: "open", Interval: time.Second}
}

func ptr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestSLOWindowObservedText(t *testing.T) {
	slos := mustSLOs(t, "rtt.p99<50ms", "error_rate<1%")
	ev := NewEvaluator(slos, 2*time.Second)
	meta := windowMeta()
	rw, err := report.CreateRun(filepath.Join(t.TempDir(), "run"), meta)
	if err != nil {
		t.Fatal(err)
	}
	rw.Observe(ev)
	for _, rec := range spikeIntervals(t, 8, 4, 0) {
		if err := rw.WriteInterval(rec); err != nil {
			t.Fatal(err)
		}
	}
	s, err := rw.Finish(meta)
	if err != nil {
		t.Fatal(err)
	}
	ev.Evaluate(s)
	var buf bytes.Buffer
	if err := report.WriteText(&buf, s); err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(buf.String(), "SLOs:\n")
	section, _, _ = strings.Cut(section, "\n\n")
	goldenfile.Check(t, "slo_section.txt", []byte(section+"\n"))

	// The JSON of a windowed result.
	b, _ := json.Marshal(s.SLOs[1])
	want := `{"expression":"rtt.p99\u003c50ms","metric":"rtt.p99","op":"\u003c","threshold":50000,"unit":"us","value":100031,"observed":"worst 100.031ms in the 2 s window at 3 s; 2 of 7 windows failed","pass":false,"window_s":2,"window_start_s":3,"windows":7,"failed_windows":2}`
	if string(b) != want {
		t.Errorf("windowed result JSON:\n got: %s\nwant: %s", b, want)
	}
}

package compare

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/internal/goldenfile"
)

// cmpRun is a synthetic run: rtt percentiles from p50 (µs; p90 = 1.5×, p99 = 3×, p999 = 5×),
// service = 0.9 × rtt, the given achieved rate and failures out of 10000.
func cmpRun(name string, p50 float64, rps float64, failed int64) RunEntry {
	lat := func(f float64) report.Stats {
		return report.Stats{Count: 10000, Min: int64(f / 4), Mean: f * 1.2, P50: int64(f), P90: int64(1.5 * f), P99: int64(3 * f), P999: int64(5 * f), Max: int64(6 * f)}
	}
	s := &report.Summary{
		Schema: report.SummarySchema, FbenchVersion: "test", Mode: "open", Intervals: 10, DurationS: 10,
		OfferedRPS: 1000, AchievedRPS: rps,
		Counts: report.Counts{Due: 10000, Sent: 10000, Succeeded: 10000 - failed, Failed: failed},
		Latency: map[string]report.Stats{report.MetricRTT: lat(p50), report.MetricService: lat(0.9 * p50),
			report.MetricLag: {Count: 10000, P50: 20, P90: 40, P99: 100, P999: 300, Max: 500}},
		Functions: map[string]map[string]report.Stats{},
		Config:    map[string]any{"rps": 1000.0, "targets": []any{"work"}},
		Harness:   report.HarnessSummary{Valid: true},
	}
	return RunEntry{Name: name, Dir: name, Summary: s}
}

func runSet(dir string, runs ...RunEntry) *RunSet {
	for i := range runs {
		runs[i].Dir = filepath.Join(dir, runs[i].Name)
	}
	return &RunSet{Dir: dir, Runs: runs}
}

func statusOf(c *Comparison) map[string]string {
	m := map[string]string{}
	for _, mc := range c.Metrics {
		m[mc.Metric] = mc.Status
	}
	return m
}

func TestParseTolerance(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		tol      Tolerance
		err      string
	}{
		{in: "rtt.p99=10%", name: "rtt.p99", tol: Tolerance{Value: 0.10}},
		{in: " rtt.p999 = 25% ", name: "rtt.p999", tol: Tolerance{Value: 0.25}},
		{in: "rtt=15%", name: "rtt", tol: Tolerance{Value: 0.15}},
		{in: "achieved_rps=5%", name: "achieved_rps", tol: Tolerance{Value: 0.05}},
		{in: "error_rate=0.1pp", name: "error_rate", tol: Tolerance{Value: 0.001, Absolute: true}},
		{in: "error_rate=0.5%", name: "error_rate", tol: Tolerance{Value: 0.005, Absolute: true}},
		{in: "lag.p99=off", name: "lag.p99", tol: Tolerance{Off: true}},
		{in: "rtt.p99{fn=echo}=20%", name: "rtt.p99{fn=echo}", tol: Tolerance{Value: 0.2}},
		{in: "rtt.p99", err: `invalid --max-regression "rtt.p99": want METRIC=VALUE, e.g. rtt.p99=10%`},
		{in: "rtt.p98=10%", err: `invalid --max-regression "rtt.p98=10%": unknown metric "rtt.p98": unknown statistic "p98" (want min, mean, p50, p90, p99, p999, max)`},
		{in: "lost=10%", err: `invalid --max-regression "lost=10%": metric "lost" is a count: compare takes latencies, ratios and rates`},
		{in: "rtt.p99=10", err: `invalid --max-regression "rtt.p99=10": want a percentage, e.g. rtt.p99=10%`},
		{in: "rtt.p99=-5%", err: `invalid --max-regression "rtt.p99=-5%": want a non-negative percentage such as 10%`},
		{in: "error_rate=0.1", err: `invalid --max-regression "error_rate=0.1": a ratio's tolerance is in percentage points, e.g. error_rate=0.1pp`},
	} {
		name, tol, err := ParseTolerance(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseTolerance(%q): error %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || name != tc.name || tol != tc.tol {
			t.Errorf("ParseTolerance(%q) = %q, %+v, %v; want %q, %+v", tc.in, name, tol, err, tc.name, tc.tol)
		}
	}
	for metric, want := range map[string]string{"rtt.p50": "10%", "service.p99": "10%", "rtt.p999": "20%",
		"achieved_rps": "5%", "error_rate": "0.1pp", "lag.p99": "off", "rtt.mean": "off", "bogus": "off"} {
		if got := DefaultTolerance(metric).String(); got != want {
			t.Errorf("DefaultTolerance(%s) = %s, want %s", metric, got, want)
		}
	}
}

func TestCompare(t *testing.T) {
	base := runSet("base", cmpRun("run-1", 10000, 1000, 0), cmpRun("run-2", 10300, 998, 0), cmpRun("run-3", 9800, 1001, 1))
	for _, tc := range []struct {
		name  string
		cur   *RunSet
		opt   Options
		pass  bool
		noise string
		want  map[string]string // metric → status (others: ok or info)
	}{
		{
			name:  "same worker",
			cur:   runSet("cur", cmpRun("run-1", 10100, 999, 0), cmpRun("run-2", 9900, 1000, 1), cmpRun("run-3", 10200, 1000, 0)),
			pass:  true,
			noise: "measured",
			want:  map[string]string{},
		},
		{
			name:  "double service time",
			cur:   runSet("cur", cmpRun("run-1", 20100, 999, 0), cmpRun("run-2", 19800, 1000, 0), cmpRun("run-3", 20500, 1000, 0)),
			noise: "measured",
			want: map[string]string{"rtt.p50": StatusRegressed, "rtt.p90": StatusRegressed, "rtt.p99": StatusRegressed, "rtt.p999": StatusRegressed,
				"service.p50": StatusRegressed, "service.p90": StatusRegressed, "service.p99": StatusRegressed, "service.p999": StatusRegressed},
		},
		{
			// +15% > 10%, but one current run overlaps the baseline: not beyond the noise.
			name:  "within noise",
			cur:   runSet("cur", cmpRun("run-1", 11500, 1000, 0), cmpRun("run-2", 10200, 1000, 0), cmpRun("run-3", 11600, 1000, 0)),
			pass:  true,
			noise: "measured",
			want:  map[string]string{"rtt.p50": StatusNoisy, "rtt.p90": StatusNoisy, "rtt.p99": StatusNoisy, "service.p50": StatusNoisy, "service.p90": StatusNoisy, "service.p99": StatusNoisy},
		},
		{
			name: "faster, fewer rps, more errors",
			cur:  runSet("cur", cmpRun("run-1", 5000, 900, 40), cmpRun("run-2", 5100, 905, 45), cmpRun("run-3", 4950, 899, 50)),
			want: map[string]string{"rtt.p50": StatusImproved, "rtt.p90": StatusImproved, "rtt.p99": StatusImproved, "rtt.p999": StatusImproved,
				"service.p50": StatusImproved, "service.p90": StatusImproved, "service.p99": StatusImproved, "service.p999": StatusImproved,
				"achieved_rps": StatusRegressed, "error_rate": StatusRegressed},
			noise: "measured",
		},
		{
			name: "tolerances",
			cur:  runSet("cur", cmpRun("run-1", 20100, 999, 0), cmpRun("run-2", 19800, 1000, 0), cmpRun("run-3", 20500, 1000, 0)),
			opt: Options{Tolerances: map[string]Tolerance{"rtt": {Value: 1.5}, "service": {Off: true}, "rtt.p50": {Value: 0.5}},
				Metrics: []string{"rtt.p50", "rtt.p99", "service.p99"}},
			want:  map[string]string{"rtt.p50": StatusRegressed, "rtt.p99": StatusOK, "service.p99": StatusInfo},
			noise: "measured",
		},
		{
			name:  "one current run",
			cur:   runSet("cur", cmpRun(".", 10500, 1000, 0)),
			pass:  true,
			noise: "baseline only",
			want:  map[string]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Runs(base, tc.cur, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if c.Pass != tc.pass || c.Noise != tc.noise {
				t.Errorf("pass %t noise %q, want %t %q (%s)", c.Pass, c.Noise, tc.pass, tc.noise, c.Verdict())
			}
			for m, st := range statusOf(c) {
				want := tc.want[m]
				if want == "" {
					want = StatusOK
					if DefaultTolerance(m).Off {
						want = StatusInfo
					}
				}
				if st != want {
					t.Errorf("%s: %s, want %s", m, st, want)
				}
			}
		})
	}
}

func TestCompareSingleRuns(t *testing.T) {
	base := runSet("base", cmpRun(".", 10000, 1000, 0))
	for _, tc := range []struct {
		p50  float64
		want string
	}{
		{10900, StatusOK},        // +9%: within the tolerance
		{11015, StatusNoisy},     // +10.15%: beyond the tolerance, within the histograms' resolution
		{11030, StatusRegressed}, // +10.3%: beyond both
		{8970, StatusImproved},
	} {
		c, err := Runs(base, runSet("cur", cmpRun(".", tc.p50, 1000, 0)), Options{Metrics: []string{"rtt.p50"}})
		if err != nil {
			t.Fatal(err)
		}
		mc := c.Metrics[0]
		if mc.Status != tc.want || mc.CILow != nil || mc.Margin != 0.002 || c.Noise != "unknown" {
			t.Errorf("p50 %v: %+v, want %s with a 0.2%% margin and no interval", tc.p50, mc, tc.want)
		}
		if !strings.Contains(strings.Join(c.Notes, "\n"), "noise unknown") {
			t.Errorf("no note on the unknown noise: %q", c.Notes)
		}
	}
}

// With three runs per side the 95% interval's worse end is the extreme pair: every current run
// must beat every baseline run by more than the tolerance.
func TestBootstrapThreeRuns(t *testing.T) {
	b, c := []float64{100, 104, 98}, []float64{120, 115, 130}
	lo, hi := bootstrapCI(b, c, func(b, c float64) float64 { return c/b - 1 }, 1)
	if want := 115.0/104 - 1; math.Abs(lo-want) > 1e-12 {
		t.Errorf("lower end %v, want min(current)/max(baseline) − 1 = %v", lo, want)
	}
	if want := 130.0/98 - 1; math.Abs(hi-want) > 1e-12 {
		t.Errorf("upper end %v, want max(current)/min(baseline) − 1 = %v", hi, want)
	}
	lo2, hi2 := bootstrapCI(b, c, func(b, c float64) float64 { return c/b - 1 }, 1)
	if lo2 != lo || hi2 != hi {
		t.Error("the bootstrap is not deterministic")
	}
}

func TestCompareIncompatible(t *testing.T) {
	base := runSet("base", cmpRun("run-1", 10000, 1000, 0), cmpRun("run-2", 10000, 1000, 0))
	other := cmpRun("run-1", 10000, 1000, 0)
	other.Summary.Config["targets"] = []any{"echo"}
	closed := cmpRun("run-2", 10000, 1000, 0)
	closed.Summary.Mode = "closed"
	c, _ := Runs(base, runSet("cur", other, closed), Options{})
	want := []string{
		"current run-1 invoked functions [echo], baseline run-1 [work]",
		"current run-2 runs a closed loop, baseline run-1 a open loop",
	}
	if !reflect.DeepEqual(c.Incompatible, want) || c.Pass || len(c.Metrics) != 0 {
		t.Errorf("incompatible %q (pass %t, %d metrics), want %q", c.Incompatible, c.Pass, len(c.Metrics), want)
	}
	if !strings.HasPrefix(c.Verdict(), "cannot compare: current run-1 invoked functions") {
		t.Errorf("verdict %q", c.Verdict())
	}
	c, _ = Runs(base, runSet("cur", other, closed), Options{Force: true})
	if len(c.Metrics) == 0 || !c.Pass {
		t.Errorf("--force: %d metrics, pass %t; want a comparison", len(c.Metrics), c.Pass)
	}

	// Crashed and invalid runs are left out, and fail the comparison.
	crashed := cmpRun("run-1", 10000, 1000, 0)
	crashed.Problem, crashed.Detail = ProblemCrashed, "the worker crashed"
	invalid := cmpRun("run-3", 10000, 1000, 0)
	invalid.Problem, invalid.Detail = ProblemInvalid, "run invalid: lag"
	c, _ = Runs(base, runSet("cur", crashed, cmpRun("run-2", 10000, 1000, 0), invalid), Options{})
	if c.Pass || c.CrashedRuns != 1 || c.InvalidRuns != 1 || len(c.Metrics) == 0 || !reflect.DeepEqual(c.Current.Runs, []string{"run-2"}) {
		t.Errorf("crashed+invalid: pass %t, crashed %d, invalid %d, %d metrics, runs %v", c.Pass, c.CrashedRuns, c.InvalidRuns, len(c.Metrics), c.Current.Runs)
	}
	if v := c.Verdict(); v != "FAIL: a crashed or invalid run cannot pass (current run-1: crashed; current run-3: invalid)" {
		t.Errorf("verdict %q", v)
	}
	c, _ = Runs(base, runSet("cur", crashed), Options{})
	if c.Pass || len(c.Metrics) != 0 || c.Incompatible[0] != "the current has no usable run" {
		t.Errorf("nothing usable: %+v", c)
	}
}

func TestLoadRunSet(t *testing.T) {
	dir := t.TempDir()
	write := func(sub string, e RunEntry) {
		d := filepath.Join(dir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if e.Summary != nil {
			if err := report.WriteSummaryFile(filepath.Join(d, report.SummaryFile), e.Summary); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("run-2", cmpRun("", 10000, 1000, 0))
	write("run-10", cmpRun("", 10000, 1000, 0))
	crashed := cmpRun("", 1, 1, 0)
	crashed.Summary.Worker.Crashed = true
	write("run-1", crashed)
	invalid := cmpRun("", 1, 1, 0)
	invalid.Summary.Harness = report.HarnessSummary{Valid: false, InvalidReason: "lag p99 too high"}
	write("run-3", invalid)
	intr := cmpRun("", 1, 1, 0)
	intr.Summary.Interrupted = "signal"
	write("run-4", intr)
	empty := cmpRun("", 1, 1, 0)
	empty.Summary.Intervals = 0
	write("run-5", empty)
	write("run-6", RunEntry{}) // no summary.json
	write("notes", RunEntry{}) // ignored
	write("extra", cmpRun("", 10000, 1000, 0))

	rs, err := LoadRunSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs.Runs {
		got = append(got, r.Name+":"+r.Problem)
	}
	want := []string{"run-1:crashed", "run-2:", "run-3:invalid", "run-4:interrupted", "run-5:empty", "run-6:missing", "run-10:", "extra:"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runs %q, want %q", got, want)
	}
	if n := len(rs.Usable()); n != 3 {
		t.Errorf("%d usable runs, want 3", n)
	}
	single, err := LoadRunSet(filepath.Join(dir, "run-2"))
	if err != nil || len(single.Runs) != 1 || single.Runs[0].Name != "." || single.Runs[0].Problem != "" {
		t.Errorf("a run directory: %+v, %v", single, err)
	}
	if _, err := LoadRunSet(filepath.Join(dir, "notes")); err == nil || !strings.Contains(err.Error(), "no summary.json and no run-N/ directories") {
		t.Errorf("an empty directory: %v", err)
	}
}

// The outputs, golden: text, Markdown and JSON of a regression and of single runs.
func TestCompareOutputs(t *testing.T) {
	base := runSet("base", cmpRun("run-1", 10000, 1000, 0), cmpRun("run-2", 10300, 998, 0), cmpRun("run-3", 9800, 1001, 1))
	cur := runSet("cur", cmpRun("run-1", 20100, 999, 0), cmpRun("run-2", 19800, 1000, 0), cmpRun("run-3", 10200, 1000, 3), cmpRun("run-4", 20500, 990, 0))
	cur.Runs[2].Problem, cur.Runs[2].Detail = ProblemInterrupted, "interrupted (signal)"
	c, err := Runs(base, cur, Options{Metrics: append(DefaultMetrics, "timeout_rate")})
	if err != nil {
		t.Fatal(err)
	}
	var text, md bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, "compare.txt", text.Bytes())
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, "compare.md", md.Bytes())
	js, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, "compare.json", append(js, '\n'))
	var back Comparison
	if err := json.Unmarshal(js, &back); err != nil || back.Schema != Schema || len(back.Metrics) != len(c.Metrics) {
		t.Errorf("the JSON does not read back: %v", err)
	}

	single, err := Runs(runSet("base", cmpRun(".", 10000, 1000, 0)), runSet("cur", cmpRun(".", 10500, 1000, 0)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	text.Reset()
	_ = single.WriteText(&text)
	goldenfile.Check(t, "compare_single.txt", text.Bytes())

	var rs bytes.Buffer
	if err := WriteRunSetText(&rs, cur, nil); err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, "repeat.txt", rs.Bytes())
}

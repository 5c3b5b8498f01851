package compare

import (
	"testing"
	"time"

	"github.com/fbench/fbench/report"
)

// Two cold-start runs compare start by start: a shift of the totals beyond the tolerance and the
// start-to-start noise regresses, the same starts do not, and a noisy shift is within the noise.
func TestCompareColdstartStarts(t *testing.T) {
	mk := func(scale float64, spread float64) *report.ColdstartReport {
		r := report.NewColdstartReport(report.ColdstartDirect, []string{"init", report.ColdPhaseTotal}, "test", map[string]any{}, report.Environment{}, 0)
		for i := range 20 {
			ms := scale * (100 + spread*float64(i%5-2))
			d := time.Duration(ms * float64(time.Millisecond))
			r.Add(&report.ColdStart{Index: i + 1, Phases: []report.ColdPhase{{Name: "init", Dur: d / 10}, {Name: report.ColdPhaseTotal, Dur: d}}})
		}
		r.Finish()
		return r
	}
	set := func(r *report.ColdstartReport) *RunSet {
		return &RunSet{Dir: "x", Runs: []RunEntry{{Name: ".", Dir: "x", Coldstart: r}}}
	}
	for _, tc := range []struct {
		name   string
		cur    *report.ColdstartReport
		pass   *bool // nil: not checked (a noisy p50 does not say what p90 does)
		status string
	}{
		{"same", mk(1, 5), boolPtr(true), StatusOK},
		{"30% slower", mk(1.3, 5), boolPtr(false), StatusRegressed},
		{"15% slower, very noisy", mk(1.15, 40), nil, StatusNoisy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Runs(set(mk(1, 5)), set(tc.cur), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Noise != NoiseStarts || c.Metrics[0].Metric != "coldstart.total.p50" || c.Metrics[0].CILow == nil {
				t.Fatalf("noise %s, first metric %+v", c.Noise, c.Metrics[0])
			}
			if got := c.Metrics[0].Status; got != tc.status || tc.pass != nil && c.Pass != *tc.pass {
				t.Errorf("total p50 %s (change %.3f, CI %.3f…%.3f), pass %v", got, c.Metrics[0].Change, *c.Metrics[0].CILow, *c.Metrics[0].CIHigh, c.Pass)
			}
		})
	}
}

func boolPtr(v bool) *bool { return &v }

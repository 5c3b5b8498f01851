package compare

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/slo"
)

// ColdstartMetrics are the metrics compare reports for cold-start runs of a mode.
func ColdstartMetrics(mode string) []string {
	head := report.ColdPhaseTotal
	phases := []string{"spawn", "start_stream", "init", "metadata", "load", "first_invocation"}
	if mode == report.ColdstartPlaceholder {
		head = report.ColdPhaseTotalAfterSpecialize
		phases = []string{"placeholder_ready", "specialize", "metadata", "load", "first_invocation"}
	}
	out := []string{slo.ColdstartPrefix + head + ".p50", slo.ColdstartPrefix + head + ".p90", slo.ColdstartPrefix + head + ".p99"}
	for _, p := range phases {
		out = append(out, slo.ColdstartPrefix+p+".p50")
	}
	return append(out, slo.ColdstartPrefix+"failure_rate")
}

// coldstartTolerance is the default tolerance of a cold-start metric: the headline totals' p50
// and p90 10%, their p99 and above 20% (a few starts decide it), the failure rate 0.1 percentage
// points (one more failed start regresses); the phases are shown, not judged (sub-millisecond
// phases move more than 10% with the machine's load; their sum, the total, is judged).
func coldstartTolerance(m slo.Objective) Tolerance {
	switch m.Kind {
	case slo.Ratio:
		return Tolerance{Value: 0.001, Absolute: true}
	case slo.Latency:
		if m.Clock != report.ColdPhaseTotal && m.Clock != report.ColdPhaseTotalAfterSpecialize {
			return Tolerance{Off: true}
		}
		switch m.Stat {
		case "p50", "p90":
			return Tolerance{Value: 0.10}
		case "p99", "p999", "max":
			return Tolerance{Value: 0.20}
		}
	}
	return Tolerance{Off: true}
}

// NoiseStarts is Comparison.Noise when one cold-start run is compared with another: the
// uncertainty comes from resampling their starts.
const NoiseStarts = "starts"

const coldstartMethodText = "one cold-start run per side: each latency's change (current ÷ baseline − 1 of the statistic over the succeeded starts) has a 95% percentile bootstrap confidence interval from resampling each side's starts with replacement (10000 resamples); a regression is a change beyond the tolerance whose whole interval is beyond it too"

// compareStarts compares a latency of two cold-start runs start by start: the change of the
// statistic, with a bootstrap interval over the starts (the start-to-start noise).
func compareStarts(m slo.Objective, base, cur *report.ColdstartReport, tol Tolerance, seed uint64) MetricComparison {
	mc := MetricComparison{Metric: m.Metric, Unit: m.Kind.Unit(), Better: "lower", Tolerance: tol}
	side := func(r *report.ColdstartReport) SideStats {
		st := SideStats{Values: startValues(r, m.Clock)}
		st.N = len(st.Values)
		if v, _, ok := m.MeasureColdstart(r); ok && st.N > 0 {
			st.Median, st.Min, st.Max = v, slices.Min(st.Values), slices.Max(st.Values)
		}
		return st
	}
	mc.Baseline, mc.Current = side(base), side(cur)
	if mc.Baseline.N == 0 || mc.Current.N == 0 || mc.Baseline.Median == 0 {
		mc.Status = StatusNoData
		return mc
	}
	mc.Change = mc.Current.Median/mc.Baseline.Median - 1
	rng := rand.New(rand.NewPCG(0x636f6c64, seed))
	bs, cs := make([]float64, mc.Baseline.N), make([]float64, mc.Current.N)
	out := make([]float64, bootstrapResamples)
	for i := range out {
		for j := range bs {
			bs[j] = mc.Baseline.Values[rng.IntN(len(bs))]
		}
		for j := range cs {
			cs[j] = mc.Current.Values[rng.IntN(len(cs))]
		}
		b := statOf(m.Stat, bs)
		if b == 0 {
			b = 1
		}
		out[i] = statOf(m.Stat, cs)/b - 1
	}
	slices.Sort(out)
	alpha := (1 - bootstrapLevel) / 2
	lo, hi := out[int(math.Floor(alpha*float64(len(out)-1)))], out[int(math.Ceil((1-alpha)*float64(len(out)-1)))]
	mc.CILow, mc.CIHigh = &lo, &hi
	t := tol.Value
	switch {
	case tol.Off:
		mc.Status = StatusInfo
	case mc.Change > t && lo > t:
		mc.Status = StatusRegressed
	case mc.Change < -t && hi < -t:
		mc.Status = StatusImproved
	case math.Abs(mc.Change) > t:
		mc.Status = StatusNoisy
	default:
		mc.Status = StatusOK
	}
	return mc
}

// startValues are a phase's durations (µs) over the succeeded starts of r, in start order.
func startValues(r *report.ColdstartReport, phase string) []float64 {
	var out []float64
	for _, s := range r.Runs {
		if s.Failed {
			continue
		}
		if phase == report.ColdPhaseNextInvocations {
			for _, d := range s.Invocations[min(1, len(s.Invocations)):] {
				out = append(out, float64(report.PhaseMicros(d)))
			}
			continue
		}
		if p, ok := s.Phase(phase); ok {
			out = append(out, float64(report.PhaseMicros(p.Dur)))
		}
	}
	return out
}

// statOf is a statistic of values (sorted in place): min, mean, max, or a nearest-rank percentile.
func statOf(stat string, v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	switch stat {
	case "min":
		return v[0]
	case "max":
		return v[n-1]
	case "mean":
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		return sum / float64(n)
	}
	q := map[string]float64{"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999}[stat]
	return v[max(0, int(math.Ceil(q*float64(n)))-1)]
}

// loadColdstartEntry reads a cold-start run directory for compare.
func loadColdstartEntry(e RunEntry) RunEntry {
	r, err := report.LoadColdstart(filepath.Join(e.Dir, report.ColdstartFile))
	if err != nil {
		e.Problem, e.Detail = ProblemMissing, err.Error()
		return e
	}
	e.Coldstart = r
	switch {
	case !r.Valid:
		e.Problem, e.Detail = ProblemInvalid, "run invalid: "+r.InvalidReason
	case r.Interrupted != "":
		e.Problem, e.Detail = ProblemInterrupted, "interrupted ("+r.Interrupted+")"
	case r.Succeeded == 0:
		e.Problem, e.Detail = ProblemEmpty, "no start succeeded"
	}
	return e
}

// isRunDir reports whether dir holds a run: summary.json or coldstart.json.
func isRunDir(dir string) bool {
	for _, f := range []string{report.SummaryFile, report.ColdstartFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// coldstartIncompatibilities are the reasons cold-start runs measure different things: a load
// run against a cold-start run, different modes or different functions invoked.
func coldstartIncompatibilities(base, cur []RunEntry) ([]string, bool) {
	all := append(slices.Clone(base), cur...)
	anyCold := slices.ContainsFunc(all, func(r RunEntry) bool { return r.Coldstart != nil })
	if !anyCold {
		return nil, false
	}
	var out []string
	ref := all[0]
	for _, r := range all[1:] {
		switch {
		case (r.Coldstart == nil) != (ref.Coldstart == nil):
			out = append(out, fmt.Sprintf("%s is a cold-start run and %s a load run", coldOrLoad(r, ref)[0], coldOrLoad(r, ref)[1]))
		case r.Coldstart.Mode != ref.Coldstart.Mode:
			out = append(out, fmt.Sprintf("%s measured %s starts, %s %s starts", r.Dir, r.Coldstart.Mode, ref.Dir, ref.Coldstart.Mode))
		case fmt.Sprint(r.Coldstart.Config["function"]) != fmt.Sprint(ref.Coldstart.Config["function"]):
			out = append(out, fmt.Sprintf("%s invoked function %v first, %s %v", r.Dir, r.Coldstart.Config["function"], ref.Dir, ref.Coldstart.Config["function"]))
		}
	}
	return dedupe(out), true
}

func coldOrLoad(a, b RunEntry) [2]string {
	if a.Coldstart != nil {
		return [2]string{a.Dir, b.Dir}
	}
	return [2]string{b.Dir, a.Dir}
}

package report

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Objectives and comparisons of cold-start runs. The metrics:
//
//   - coldstart.PHASE.STAT (or PHASE.STAT): a phase's duration over the succeeded starts; PHASE is
//     one of ColdPhaseNames, STAT one of SLOStats. E.g. coldstart.total.p99<2s, specialize.p50<200ms.
//   - coldstart.failed, coldstart.succeeded, coldstart.starts: counts, e.g. coldstart.failed==0.
//   - coldstart.failure_rate: failed ÷ starts, a ratio.
//
// VALUE and OP are as for fbench run's objectives (ParseSLO).

// ColdPhaseNames are the phases a cold-start run can measure.
var ColdPhaseNames = []string{"spawn", "start_stream", "init", "placeholder_ready", "warmup", "specialize", "metadata", "load",
	"first_invocation", ColdPhaseTotal, ColdPhaseTotalAfterSpecialize, ColdPhaseNextInvocations}

const coldPrefix = "coldstart."

var coldCounts = map[string]func(r *ColdstartReport) int{
	"failed":    func(r *ColdstartReport) int { return r.Failed },
	"succeeded": func(r *ColdstartReport) int { return r.Succeeded },
	"starts":    func(r *ColdstartReport) int { return r.Starts },
}

// IsColdstartMetric reports whether an SLO expression names a cold-start metric.
func IsColdstartMetric(expr string) bool {
	name := strings.ToLower(strings.TrimSpace(expr))
	if strings.HasPrefix(name, coldPrefix) {
		return true
	}
	phase, _, ok := strings.Cut(name, ".")
	return ok && slices.Contains(ColdPhaseNames, phase)
}

// ParseColdstartSLO parses a cold-start objective, e.g. "coldstart.total.p99<2s",
// "specialize.p50<200ms", "coldstart.failed==0". Errors are *SLOSyntaxError.
func ParseColdstartSLO(s string) (SLO, error) {
	expr := strings.TrimSpace(s)
	r := []rune(expr)
	i := 0
	for i < len(r) && (r[i] == '_' || r[i] == '.' || unicode.IsLetter(r[i]) || unicode.IsDigit(r[i])) {
		i++
	}
	written := string(r[:i])
	name := strings.TrimPrefix(strings.ToLower(written), coldPrefix)
	fail := func(format string, args ...any) (SLO, error) {
		return SLO{}, &SLOSyntaxError{Expr: expr, Pos: 1, Msg: fmt.Sprintf(format, args...)}
	}
	var sub, phase, stat string
	kind := SLOLatency
	switch {
	case name == "":
		return fail("want a cold-start metric such as coldstart.total.p99, specialize.p50 or coldstart.failed")
	case coldCounts[name] != nil:
		sub, kind = "failed", SLOCount
	case name == "failure_rate":
		sub, kind = "failure_rate", SLORatio
	default:
		var ok bool
		phase, stat, ok = strings.Cut(name, ".")
		if !ok || !slices.Contains(ColdPhaseNames, phase) {
			return fail("unknown cold-start metric %q (want coldstart.PHASE.STAT with PHASE one of %s; or coldstart.failed, coldstart.succeeded, coldstart.starts, coldstart.failure_rate)",
				written, strings.Join(ColdPhaseNames, ", "))
		}
		if !slices.Contains(SLOStats, stat) {
			return SLO{}, &SLOSyntaxError{Expr: expr, Pos: len([]rune(written)) - len(stat) + 1,
				Msg: fmt.Sprintf("unknown statistic %q (want %s)", stat, strings.Join(SLOStats, ", "))}
		}
		sub = MetricRTT + "." + stat
	}
	// The operator and the value are parsed as for any objective, on the same kind of metric.
	o, err := ParseSLO(sub + string(r[i:]))
	if err != nil {
		var se *SLOSyntaxError
		if errors.As(err, &se) {
			se.Expr = expr
			se.Pos += len([]rune(written)) - len([]rune(sub))
		}
		return SLO{}, err
	}
	o.Expr, o.Kind, o.Metric = expr, kind, coldPrefix+name
	o.Clock, o.Stat = phase, stat
	return o, nil
}

// ParseColdstartSLOs parses several cold-start objectives; the first error is returned.
func ParseColdstartSLOs(exprs []string) ([]SLO, error) {
	out := make([]SLO, 0, len(exprs))
	for _, e := range exprs {
		o, err := ParseColdstartSLO(e)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// measureColdstart is an objective's metric in r.
func measureColdstart(o SLO, r *ColdstartReport) (float64, string, bool) {
	name := strings.TrimPrefix(o.Metric, coldPrefix)
	switch o.Kind {
	case SLOCount:
		v := float64(coldCounts[name](r))
		return v, strconv.FormatFloat(v, 'f', -1, 64), true
	case SLORatio:
		if r.Starts == 0 {
			return 0, "no data (no start)", false
		}
		v := float64(r.Failed) / float64(r.Starts)
		return v, fmt.Sprintf("%s%% (%d of %d)", trimFloat4(100*v), r.Failed, r.Starts), true
	}
	d := sloData{latency: func(tag string) (Stats, bool) {
		st := r.Stats[tag]
		return st, st.Count > 0
	}}
	v, desc, ok := o.measure(d)
	if !ok {
		desc = "no data (no start measured " + o.Clock + ")"
	}
	return v, desc, ok
}

// EvaluateColdstartSLOs checks the objectives on r and stores the results in r.SLOs.
func (r *ColdstartReport) EvaluateColdstartSLOs(slos []SLO) {
	r.SLOs = make([]SLOResult, 0, len(slos))
	for _, o := range slos {
		res := o.result()
		v, desc, ok := measureColdstart(o, r)
		res.Observed = desc
		if ok {
			res.Value = &v
			res.Pass = o.compare(v)
		}
		r.SLOs = append(r.SLOs, res)
	}
}

// ColdstartCompareMetrics are the metrics compare reports for cold-start runs of a mode.
func ColdstartCompareMetrics(mode string) []string {
	head := ColdPhaseTotal
	phases := []string{"spawn", "start_stream", "init", "metadata", "load", "first_invocation"}
	if mode == ColdstartPlaceholder {
		head = ColdPhaseTotalAfterSpecialize
		phases = []string{"placeholder_ready", "specialize", "metadata", "load", "first_invocation"}
	}
	out := []string{coldPrefix + head + ".p50", coldPrefix + head + ".p90", coldPrefix + head + ".p99"}
	for _, p := range phases {
		out = append(out, coldPrefix+p+".p50")
	}
	return append(out, coldPrefix+"failure_rate")
}

// coldstartTolerance is the default tolerance of a cold-start metric: the headline totals' p50
// and p90 10%, their p99 and above 20% (a few starts decide it), the failure rate 0.1 percentage
// points (one more failed start regresses); the phases are shown, not judged (sub-millisecond
// phases move more than 10% with the machine's load; their sum, the total, is judged).
func coldstartTolerance(m SLO) Tolerance {
	switch m.Kind {
	case SLORatio:
		return Tolerance{Value: 0.001, Absolute: true}
	case SLOLatency:
		if m.Clock != ColdPhaseTotal && m.Clock != ColdPhaseTotalAfterSpecialize {
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
func compareStarts(m SLO, base, cur *ColdstartReport, tol Tolerance, seed uint64) MetricComparison {
	mc := MetricComparison{Metric: m.Metric, Unit: m.Kind.Unit(), Better: "lower", Tolerance: tol}
	side := func(r *ColdstartReport) SideStats {
		st := SideStats{Values: startValues(r, m.Clock)}
		st.N = len(st.Values)
		if v, _, ok := measureColdstart(m, r); ok && st.N > 0 {
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
func startValues(r *ColdstartReport, phase string) []float64 {
	var out []float64
	for _, s := range r.Runs {
		if s.Failed {
			continue
		}
		if phase == ColdPhaseNextInvocations {
			for _, d := range s.Invocations[min(1, len(s.Invocations)):] {
				out = append(out, float64(durUS(d)))
			}
			continue
		}
		if p, ok := s.Phase(phase); ok {
			out = append(out, float64(durUS(p.Dur)))
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
	r, err := LoadColdstart(filepath.Join(e.Dir, ColdstartFile))
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
	for _, f := range []string{SummaryFile, ColdstartFile} {
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

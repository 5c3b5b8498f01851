package slo

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/fbench/fbench/report"
)

// Objectives of cold-start runs. The metrics:
//
//   - coldstart.PHASE.STAT (or PHASE.STAT): a phase's duration over the succeeded starts; PHASE is
//     one of report.ColdPhaseNames, STAT one of Statistics. E.g. coldstart.total.p99<2s, specialize.p50<200ms.
//   - coldstart.failed, coldstart.succeeded, coldstart.starts: counts, e.g. coldstart.failed==0.
//   - coldstart.failure_rate: failed ÷ starts, a ratio.
//
// VALUE and OP are as for fbench run's objectives (Parse).

// ColdstartPrefix starts the canonical name of every cold-start metric.
const ColdstartPrefix = "coldstart."

var coldCounts = map[string]func(r *report.ColdstartReport) int{
	"failed":    func(r *report.ColdstartReport) int { return r.Failed },
	"succeeded": func(r *report.ColdstartReport) int { return r.Succeeded },
	"starts":    func(r *report.ColdstartReport) int { return r.Starts },
}

// IsColdstart reports whether an SLO expression names a cold-start metric.
func IsColdstart(expr string) bool {
	name := strings.ToLower(strings.TrimSpace(expr))
	if strings.HasPrefix(name, ColdstartPrefix) {
		return true
	}
	phase, _, ok := strings.Cut(name, ".")
	return ok && slices.Contains(report.ColdPhaseNames, phase)
}

// ParseColdstart parses a cold-start objective, e.g. "coldstart.total.p99<2s",
// "specialize.p50<200ms", "coldstart.failed==0". Errors are *SyntaxError.
func ParseColdstart(s string) (Objective, error) {
	expr := strings.TrimSpace(s)
	r := []rune(expr)
	i := 0
	for i < len(r) && (r[i] == '_' || r[i] == '.' || unicode.IsLetter(r[i]) || unicode.IsDigit(r[i])) {
		i++
	}
	written := string(r[:i])
	name := strings.TrimPrefix(strings.ToLower(written), ColdstartPrefix)
	fail := func(format string, args ...any) (Objective, error) {
		return Objective{}, &SyntaxError{Expr: expr, Pos: 1, Msg: fmt.Sprintf(format, args...)}
	}
	var sub, phase, stat string
	kind := Latency
	switch {
	case name == "":
		return fail("want a cold-start metric such as coldstart.total.p99, specialize.p50 or coldstart.failed")
	case coldCounts[name] != nil:
		sub, kind = "failed", Count
	case name == "failure_rate":
		sub, kind = "failure_rate", Ratio
	default:
		var ok bool
		phase, stat, ok = strings.Cut(name, ".")
		if !ok || !slices.Contains(report.ColdPhaseNames, phase) {
			return fail("unknown cold-start metric %q (want coldstart.PHASE.STAT with PHASE one of %s; or coldstart.failed, coldstart.succeeded, coldstart.starts, coldstart.failure_rate)",
				written, strings.Join(report.ColdPhaseNames, ", "))
		}
		if !slices.Contains(Statistics, stat) {
			return Objective{}, &SyntaxError{Expr: expr, Pos: len([]rune(written)) - len(stat) + 1,
				Msg: fmt.Sprintf("unknown statistic %q (want %s)", stat, strings.Join(Statistics, ", "))}
		}
		sub = report.MetricRTT + "." + stat
	}
	// The operator and the value are parsed as for any objective, on the same kind of metric.
	o, err := Parse(sub + string(r[i:]))
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			se.Expr = expr
			se.Pos += len([]rune(written)) - len([]rune(sub))
		}
		return Objective{}, err
	}
	o.Expr, o.Kind, o.Metric = expr, kind, ColdstartPrefix+name
	o.Clock, o.Stat = phase, stat
	return o, nil
}

// ParseColdstartAll parses several cold-start objectives; the first error is returned.
func ParseColdstartAll(exprs []string) ([]Objective, error) { return parseEach(exprs, ParseColdstart) }

// MeasureColdstart returns the cold-start objective's metric in r, a description for people, and
// false when r has no data for it.
func (o Objective) MeasureColdstart(r *report.ColdstartReport) (float64, string, bool) {
	name := strings.TrimPrefix(o.Metric, ColdstartPrefix)
	switch o.Kind {
	case Count:
		v := float64(coldCounts[name](r))
		return v, strconv.FormatFloat(v, 'f', -1, 64), true
	case Ratio:
		if r.Starts == 0 {
			return 0, "no data (no start)", false
		}
		v := float64(r.Failed) / float64(r.Starts)
		return v, fmt.Sprintf("%s%% (%d of %d)", Percent(v), r.Failed, r.Starts), true
	}
	d := data{latency: func(tag string) (report.Stats, bool) {
		st := r.Stats[tag]
		return st, st.Count > 0
	}}
	v, desc, ok := o.measure(d)
	if !ok {
		desc = "no data (no start measured " + o.Clock + ")"
	}
	return v, desc, ok
}

// EvaluateColdstart checks the objectives on r and stores the results in r.SLOs.
func EvaluateColdstart(r *report.ColdstartReport, slos []Objective) {
	r.SLOs = make([]report.SLOResult, 0, len(slos))
	for _, o := range slos {
		res := o.result()
		v, desc, ok := o.MeasureColdstart(r)
		res.Observed = desc
		if ok {
			res.Value = &v
			res.Pass = o.compare(v)
		}
		r.SLOs = append(r.SLOs, res)
	}
}

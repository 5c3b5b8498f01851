package capacity

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fbench/fbench/report"
)

// Judge decides whether one step's summary meets the service-level objectives; why says what
// failed and by how much ("rtt p99 61ms > 50ms"). It sees only the summary: the checks that are
// not objectives (achieved rate, in-flight growth, timeouts, drops, harness lag) are made apart,
// whatever the judge.
type Judge func(s *report.Summary) (ok bool, why string)

// SLOJudge is the judge of `--slo EXPR`. The step runner attaches the objectives' evaluator to
// every step's run writer, so each step's summary.json and report.html carry the SLO results in
// Summary.SLOs; this judge only reads those results. The text of a failure names its metric:
// Cause reads error_rate and friends as an errors cause, rates as throughput, anything else as
// latency.
func SLOJudge() Judge {
	return func(s *report.Summary) (bool, string) {
		failed := report.FailedSLOs(s)
		return len(failed) == 0, strings.Join(failed, "; ")
	}
}

// Cause names the cause of an objective's failure from the judge's text (its first failure).
func Cause(why string) string {
	first, _, _ := strings.Cut(strings.ToLower(why), "; ")
	switch {
	case strings.Contains(first, "error") || strings.Contains(first, "fail") || strings.Contains(first, "timed_out") ||
		strings.Contains(first, "dropped") || strings.Contains(first, "lost"):
		return CauseErrors
	case strings.Contains(first, "rps") || strings.Contains(first, "achieved") || strings.Contains(first, "throughput"):
		return CauseRate
	}
	return CauseLatency
}

// allOf is the judge that passes when every judge passes, and names every failure.
func allOf(judges []Judge) Judge {
	return func(sum *report.Summary) (bool, string) {
		var whys []string
		for _, j := range judges {
			if ok, why := j(sum); !ok {
				whys = append(whys, why)
			}
		}
		return len(whys) == 0, strings.Join(whys, "; ")
	}
}

// Objectives are the built-in objectives: rtt p99 and error rate.
type Objectives struct {
	p99       time.Duration // fixed bound; 0: relative to the low-load p50 (see baseline)
	relative  bool          // the p99 bound is defaultFactor × baseline (at least defaultFloor)
	maxErrors float64       // fraction of responses that failed; < 0: not checked
	baseline  int64         // µs: rtt p50 of the first step that passed the other checks
}

// LimitUS is the p99 bound in µs (0: none yet).
func (o *Objectives) LimitUS() int64 {
	switch {
	case o.p99 > 0:
		return o.p99.Microseconds()
	case o.relative && o.baseline > 0:
		return max(int64(defaultFactor*float64(o.baseline)), defaultFloor.Microseconds())
	}
	return 0
}

// Describe says the objectives in force, one line each.
func (o *Objectives) Describe() []string {
	var out []string
	switch {
	case o.p99 > 0:
		out = append(out, "rtt p99 ≤ "+o.p99.String())
	case o.relative && o.baseline > 0:
		out = append(out, fmt.Sprintf("rtt p99 ≤ %s (%g × the low-load rtt p50 %s, at least %s)",
			fmtDur(time.Duration(o.LimitUS())*time.Microsecond), defaultFactor, fmtDur(time.Duration(o.baseline)*time.Microsecond), defaultFloor))
	case o.relative:
		out = append(out, fmt.Sprintf("rtt p99 ≤ %g × the low-load rtt p50 (at least %s)", defaultFactor, defaultFloor))
	}
	if o.maxErrors >= 0 {
		out = append(out, "error rate ≤ "+strconv.FormatFloat(100*o.maxErrors, 'g', 4, 64)+"%")
	}
	return out
}

// Observe sets the relative bound's baseline from the first healthy step.
func (o *Objectives) Observe(s *report.Summary) {
	if o.relative && o.baseline == 0 {
		o.baseline = s.Latency[report.MetricRTT].P50
	}
}

// Judge checks s against the objectives.
func (o *Objectives) Judge(s *report.Summary) (bool, string) {
	var failed []string
	if lim := o.LimitUS(); lim > 0 {
		if p99 := s.Latency[report.MetricRTT].P99; p99 > lim {
			failed = append(failed, fmt.Sprintf("rtt p99 %s > %s", fmtUS(p99), fmtUS(lim)))
		}
	}
	if o.maxErrors >= 0 {
		// As the SLO error_rate: (failed + timed out + lost + dropped) ÷ due.
		c := s.Counts
		if bad := c.Failed + c.TimedOut + c.Lost + c.Dropped; c.Due > 0 {
			if r := float64(bad) / float64(c.Due); r > o.maxErrors {
				failed = append(failed, fmt.Sprintf("error rate %.3g%% > %.3g%% (%d of %d)", 100*r, 100*o.maxErrors, bad, c.Due))
			}
		}
	}
	return len(failed) == 0, strings.Join(failed, "; ")
}

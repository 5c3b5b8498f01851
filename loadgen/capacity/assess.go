package capacity

import (
	"fmt"
	"strings"
	"time"

	"github.com/fbench/fbench/report"
)

// Step is one step of the search as capacity.json records it. Latencies are in µs; the rates
// and in-flight figures cover the measured window only (warm-up and drain excluded).
type Step struct {
	N             int           `json:"n"`
	Stage         string        `json:"stage"` // climb, descend, search or confirm
	Rate          float64       `json:"rate"`
	DurationS     float64       `json:"duration_s"`
	WarmupS       float64       `json:"warmup_s"`
	Dir           string        `json:"dir"` // relative to the capacity directory
	OfferedRPS    float64       `json:"offered_rps"`
	AchievedRPS   float64       `json:"achieved_rps"`
	P50US         int64         `json:"rtt_p50_us"`
	P90US         int64         `json:"rtt_p90_us"`
	P99US         int64         `json:"rtt_p99_us"`
	MaxUS         int64         `json:"rtt_max_us"`
	LagP99US      int64         `json:"lag_p99_us"`
	InFlightStart int64         `json:"in_flight_start"`
	InFlightEnd   int64         `json:"in_flight_end"`
	Counts        report.Counts `json:"counts"`
	HarnessValid  bool          `json:"harness_valid"`
	Pass          bool          `json:"pass"`
	Cause         string        `json:"cause,omitempty"`   // why it failed: the first of crash, harness, in-flight growth, errors, throughput, latency
	Reasons       []string      `json:"reasons,omitempty"` // every failed check
	ElapsedS      float64       `json:"elapsed_s"`         // wall time of the step, launch to shutdown
}

// interval is what a step keeps of an interval record.
type interval struct {
	warmup, drain bool
	length        time.Duration
	offered       float64
	inFlight      int64
	counts        report.Counts
}

func intervalOf(rec *report.IntervalRecord) interval {
	return interval{warmup: rec.Warmup, drain: rec.Phase == report.PhaseDrain, length: rec.Length,
		offered: rec.OfferedRPS, inFlight: rec.InFlight, counts: rec.Counts}
}

// window is a step's measured window, summed from its intervals.
type window struct {
	secs, expected, responses float64
	saturated                 bool          // in flight reached the cap in some interval
	bad                       report.Counts // every interval's counts but the warm-up's, drain included
}

// measure fills the measured-window figures of st from its intervals.
func (st *Step) measure(ivs []interval, maxInFlight int) window {
	var w window
	first := true
	for _, iv := range ivs {
		if maxInFlight > 0 && iv.inFlight >= int64(maxInFlight) {
			w.saturated = true
		}
		if iv.warmup {
			st.InFlightStart = iv.inFlight
			first = false
			continue
		}
		w.bad.Add(iv.counts)
		if iv.drain {
			continue
		}
		if first {
			// No warm-up: the first measured interval's end stands for the start.
			st.InFlightStart = iv.inFlight
			first = false
		}
		w.secs += iv.length.Seconds()
		w.expected += iv.offered * iv.length.Seconds()
		c := iv.counts
		w.responses += float64(c.Succeeded + c.Failed + c.Cancelled + c.CompletedAfterCancel)
		st.InFlightEnd = iv.inFlight
	}
	if w.secs > 0 {
		st.OfferedRPS = round2(w.expected / w.secs)
		st.AchievedRPS = round2(w.responses / w.secs)
	}
	return w
}

type failure struct{ cause, why string }

// engineChecks are the checks that are not objectives: answers lost, in flight piling up or at
// the cap, throughput short. behind is true when the worker, not the harness, fell behind.
func (st *Step) engineChecks(w window, maxInFlight int) (fails []failure, behind bool) {
	bad := w.bad
	if n := bad.TimedOut + bad.Dropped + bad.Lost; n > 0 {
		var parts []string
		for _, x := range []struct {
			n    int64
			what string
		}{{bad.TimedOut, "timed out"}, {bad.Dropped, "dropped"}, {bad.Lost, "never answered"}} {
			if x.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
			}
		}
		fails = append(fails, failure{CauseErrors, strings.Join(parts, ", ")})
	}
	floor := max(float64(growthFloor), st.Rate*growthWindow.Seconds())
	growth := float64(st.InFlightEnd) > growthFactor*float64(st.InFlightStart) && float64(st.InFlightEnd) > floor
	if growth {
		fails = append(fails, failure{CauseGrowth, fmt.Sprintf("in flight grew %d → %d (the worker fell behind)", st.InFlightStart, st.InFlightEnd)})
	}
	if w.saturated && !growth {
		fails = append(fails, failure{CauseGrowth, fmt.Sprintf("in flight reached --max-inflight %d (arrivals queued: the worker fell behind)", maxInFlight)})
	}
	if w.secs > 0 && w.responses < MinAchieved*w.expected && w.expected-w.responses > 5 {
		fails = append(fails, failure{CauseRate, fmt.Sprintf("achieved %s/s < %g%% of offered %s/s", FormatRate(st.AchievedRPS), 100*MinAchieved, FormatRate(st.OfferedRPS))})
	}
	if w.secs == 0 {
		fails = append(fails, failure{CauseRate, "no measured interval"})
	}
	// Evidence that the worker, not the harness, fell behind: piling up, at the cap, or losing
	// invocations. A throughput shortfall alone is not: a harness behind its schedule sends late.
	return fails, growth || w.saturated || bad.TimedOut+bad.Dropped+bad.Lost > 0
}

// Assess makes a step's checks from its intervals and summary: it sets Pass, Cause, Reasons and
// the measured-window figures of st. observe, when set, gets the summary of a step whose checks
// that are not objectives passed (the relative p99 objective takes its baseline from the first).
func Assess(st *Step, s *report.Summary, ivs []interval, judge Judge, maxInFlight int, observe func(*report.Summary)) {
	w := st.measure(ivs, maxInFlight)
	if s != nil {
		rtt := s.Latency[report.MetricRTT]
		st.P50US, st.P90US, st.P99US, st.MaxUS = rtt.P50, rtt.P90, rtt.P99, rtt.Max
		st.LagP99US = s.Harness.LagP99US
		st.Counts = s.Counts
		st.HarnessValid = s.Harness.Valid
	}
	fails, workerBehind := st.engineChecks(w, maxInFlight)
	if s != nil && len(fails) == 0 && observe != nil {
		observe(s)
	}
	if s != nil && judge != nil {
		if ok, why := judge(s); !ok {
			fails = append(fails, failure{Cause(why), why})
		}
	}
	if s != nil && !s.Harness.Valid {
		// Lag over budget while the worker kept up: the harness is the limit. With the worker
		// behind too, the step fails for the worker's reason (its back-pressure may be the lag).
		why, _, _ := strings.Cut(s.Harness.InvalidReason, ":")
		why = "harness fell behind: " + why
		if !workerBehind {
			fails = append([]failure{{CauseHarness, why}}, fails...)
		} else {
			fails = append(fails, failure{"", "also " + why})
		}
	}
	st.Pass = len(fails) == 0
	st.Cause, st.Reasons = "", nil
	// Piling up comes before errors: the invocations a backlog leaves unanswered when the drain
	// ends (or times out) are its consequence.
	for _, want := range []string{CauseHarness, CauseGrowth, CauseErrors, CauseRate, CauseLatency} {
		for _, f := range fails {
			if f.cause == want && st.Cause == "" {
				st.Cause = want
			}
		}
	}
	for _, f := range fails {
		st.Reasons = append(st.Reasons, f.why)
	}
}

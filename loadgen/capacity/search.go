package capacity

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fbench/fbench/report"
)

// Step checks that are not objectives, and the search's defaults.
const (
	MinAchieved    = 0.98                  // achieved ÷ offered below this fails the step
	growthFactor   = 2.0                   // in flight at the end > factor × at the start ...
	growthFloor    = 16                    // ... and > this ...
	growthWindow   = 20 * time.Millisecond // ... and > this much worth of arrivals
	defaultFactor  = 10.0                  // default p99 objective: factor × low-load p50 ...
	defaultFloor   = 5 * time.Millisecond  // ... but at least this (fbench run's default lag budget)
	DefaultDrain   = 2 * time.Second       // a failing step's backlog need not drain for long
	maxDescent     = 10                    // halvings below the start when the first step fails
	Schema         = "fbench.capacity/v1"
	JSONFile       = "capacity.json"
	HTMLFile       = "capacity.html"
	DefaultMaxRate = 1_000_000
	DefaultStep    = 10 * time.Second
)

// Why a step failed (Assess picks a failing step's cause in the order crash, harness, in-flight
// growth, errors, throughput, latency).
const (
	CauseCrash    = "crash"
	CauseHarness  = "harness"
	CauseErrors   = "errors"
	CauseGrowth   = "in-flight growth"
	CauseRate     = "throughput"
	CauseLatency  = "latency"
	CauseStartErr = "worker failed to start"
)

// Search outcomes.
const (
	Found        = "found"
	NotFound     = "not_found"   // every step failed, down to start ÷ 1024
	Unconfirmed  = "unconfirmed" // the confirmation never passed
	HarnessLimit = "harness_limit"
	Crashed      = "worker_crashed"
)

// Exit codes of a search, as fbench documents them (Result.ExitCode).
const (
	ExitOK          = 0   // a sustainable rate was found
	ExitError       = 1   // bad input or the worker failed to start
	ExitFailed      = 2   // no rate held
	ExitInvalid     = 3   // the harness was the limit
	ExitCrashed     = 4   // the worker crashed
	ExitInterrupted = 130 // interrupted
)

// Probe runs one step at rate for d; stage names it. An error stops the search.
type Probe func(stage string, rate float64, d time.Duration) (*Step, error)

// Search is the search: climb, bisect, confirm.
type Search struct {
	start, maxRate float64
	precision      float64
	step, confirm  time.Duration
	retries        int // confirmation step-downs
	harnessRetries int // runs of a step again when the harness fell behind (a neighbour's burst)
}

// Result is the outcome of a search.
type Result struct {
	Status         string  `json:"status"`          // found, not_found, unconfirmed, harness_limit, worker_crashed, interrupted, error
	SustainableRPS float64 `json:"sustainable_rps"` // the confirmed rate (0: none)
	Confirmed      bool    `json:"confirmed"`
	BestPassRPS    float64 `json:"best_pass_rps"`          // the highest rate whose step passed, confirmed or not
	BrokeAtRPS     float64 `json:"broke_at_rps,omitempty"` // the lowest rate whose step failed
	BrokeCause     string  `json:"broke_cause,omitempty"`
	BrokeReason    string  `json:"broke_reason,omitempty"`
	BrokeStep      int     `json:"broke_step,omitempty"`
	MaxRateReached bool    `json:"max_rate_reached,omitempty"` // no step failed up to the highest rate
	Message        string  `json:"message"`
	ExitCode       int     `json:"exit_code"`
}

// searchState is what a search knows so far: the rates that passed and failed.
type searchState struct {
	cs     Search
	probe  Probe
	res    Result
	best   float64 // the highest rate that passed
	fail   float64 // the lowest rate that failed
	failSt *Step
}

func (s *searchState) noteFail(st *Step) {
	if s.fail == 0 || st.Rate < s.fail {
		s.fail, s.failSt = st.Rate, st
	}
}

func (s *searchState) finish() Result {
	s.res.BestPassRPS = s.best
	if st := s.failSt; st != nil {
		s.res.BrokeAtRPS, s.res.BrokeCause, s.res.BrokeStep = st.Rate, st.Cause, st.N
		s.res.BrokeReason = strings.Join(st.Reasons, "; ")
	}
	return s.res
}

// try runs a step (again, when the harness fell behind); stop is true when the search must end
// (harness, crash, error).
func (s *searchState) try(stage string, rate float64, d time.Duration) (*Step, bool, error) {
	st, err := s.probe(stage, rate, d)
	for i := 0; i < s.cs.harnessRetries && err == nil && st.Cause == CauseHarness; i++ {
		st, err = s.probe(stage, rate, d)
	}
	if err != nil {
		return st, true, err
	}
	switch {
	case st.Pass:
		s.best = max(s.best, rate)
		return st, false, nil
	case st.Cause == CauseCrash:
		s.noteFail(st)
		s.res.Status, s.res.ExitCode = Crashed, ExitCrashed
		s.res.Message = fmt.Sprintf("the worker crashed at %s/s (step %d): %s", FormatRate(rate), st.N, strings.Join(st.Reasons, "; "))
		return st, true, nil
	case st.Cause == CauseHarness:
		s.noteFail(st)
		s.res.Status, s.res.ExitCode = HarnessLimit, ExitInvalid
		s.res.Message = fmt.Sprintf("the harness, not the worker, is the limit at %s/s (step %d): %s", FormatRate(rate), st.N, strings.Join(st.Reasons, "; "))
		if s.best > 0 {
			s.res.Message += fmt.Sprintf("; the worker sustained at least %s/s", FormatRate(s.best))
		}
		return st, true, nil
	}
	s.noteFail(st)
	return st, false, nil
}

// Run searches with probe. Every step is probe's business (and the caller's record); Run decides
// the rates and the outcome. An error from probe (interrupt, worker failed to start) ends the
// search with the result so far and that error.
func (cs Search) Run(probe Probe) (Result, error) {
	s := &searchState{cs: cs, probe: probe}
	pass, stop, err := s.climb()
	if stop || pass == 0 {
		return s.finish(), err
	}
	if pass, stop, err = s.bisect(pass); stop {
		return s.finish(), err
	}
	return s.confirm(pass)
}

// climb doubles the rate from the start until a step fails or the highest rate passes; when the
// first step fails, it halves until one passes. pass is the last rate that passed (0: none held).
func (s *searchState) climb() (pass float64, stop bool, err error) {
	cs := s.cs
	rate := cs.start
	for {
		st, stop, err := s.try("climb", rate, cs.step)
		if stop {
			return 0, true, err
		}
		if !st.Pass {
			break
		}
		pass = rate
		if rate >= cs.maxRate {
			s.res.MaxRateReached = true
			break
		}
		rate = min(Round(rate*2), cs.maxRate)
	}
	if pass > 0 {
		return pass, false, nil
	}
	for i, r := 0, Round(cs.start/2); i < maxDescent && r > 0; i, r = i+1, Round(r/2) {
		st, stop, err := s.try("descend", r, cs.step)
		if stop {
			return 0, true, err
		}
		if st.Pass {
			return r, false, nil
		}
	}
	s.res.Status, s.res.ExitCode = NotFound, ExitFailed
	s.res.Message = fmt.Sprintf("no rate held: every step failed, down to %s/s", FormatRate(s.fail))
	return 0, false, nil
}

// bisect narrows the gap until the first fail is within the precision of the last pass.
func (s *searchState) bisect(pass float64) (float64, bool, error) {
	for s.fail > 0 && (s.fail-pass)/pass >= s.cs.precision {
		mid := Round((pass + s.fail) / 2)
		if mid <= pass || mid >= s.fail {
			break
		}
		st, stop, err := s.try("search", mid, s.cs.step)
		if stop {
			return pass, true, err
		}
		if st.Pass {
			pass = mid
		}
	}
	return pass, false, nil
}

// confirm checks the rate found with a longer run, stepping down by the precision when it fails.
func (s *searchState) confirm(cand float64) (Result, error) {
	cs := s.cs
	for i := 0; i <= cs.retries && cand > 0; i++ {
		st, stop, err := s.try("confirm", cand, cs.confirm)
		if stop {
			return s.finish(), err
		}
		if st.Pass {
			s.res.Status, s.res.ExitCode = Found, ExitOK
			s.res.SustainableRPS, s.res.Confirmed = cand, true
			s.res.Message = fmt.Sprintf("sustainable rate %s/s (confirmed over %s)", FormatRate(cand), cs.confirm)
			if s.res.MaxRateReached && cand == cs.maxRate {
				s.res.Message += "; no step failed up to --max-rate"
			}
			return s.finish(), nil
		}
		cand = Round(cand * (1 - cs.precision))
	}
	s.res.Status, s.res.ExitCode = Unconfirmed, ExitFailed
	s.res.Message = fmt.Sprintf("no rate held through the confirmation run (best short step: %s/s)", FormatRate(s.best))
	return s.finish(), nil
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// FormatRate prints a rate: integers as such, else up to two decimals.
func FormatRate(r float64) string { return strconv.FormatFloat(round2(r), 'f', -1, 64) }

// Round rounds a rate to what a step is labelled with: whole numbers from 100/s, else 3
// significant digits.
func Round(r float64) float64 {
	if r >= 100 {
		return math.Round(r)
	}
	if r <= 0 {
		return r
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(r)))
	return math.Round(r*p) / p
}

func fmtDur(d time.Duration) string { return report.FormatDuration(d) }

func fmtUS(us int64) string { return fmtDur(time.Duration(us) * time.Microsecond) }

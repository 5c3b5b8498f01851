package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
)

// fbench capacity: the highest arrival rate a worker sustains while its objectives hold and the
// harness stays valid. Every step is a fresh `fbench run` (a newly launched worker, the same
// launch, handshake and engine code, its own run directory) at one constant rate; the search
// climbs ×2 from --start until a step fails, bisects between the last pass and the first fail
// until they are within --precision, then confirms the result with a longer run.

const capacityUsage = `Usage: fbench capacity [flags] [WORKER [-- ARGS...]]

Searches the highest arrival rate WORKER (default: the built-in reference worker) sustains. Every
step launches a fresh worker and drives it at one constant rate for --step after --step-warmup
(excluded). The rate doubles from --start until a step fails (at most --max-rate), then a binary
search between the last pass and the first fail stops when they are within --precision, and a
confirmation run of --confirm checks the rate found (stepping down by --precision, at most
--confirm-retries times, when it fails).

A step fails when:
  - an objective fails: rtt p99 over --p99 (default: 10x the rtt p50 of the first healthy step,
    at least 5ms) or error rate over --max-error-rate; with --slo, the SLOs instead;
  - the achieved rate (responses) is below 98% of the offered rate;
  - invocations pile up: in flight at the end of the step > 2x at its start and > max(16, 20ms
    of arrivals), or in flight reached --max-inflight;
  - any invocation timed out, was dropped or was never answered;
  - the harness fell behind (lag p99 over --lag-budget) while the worker kept up: the step runs
    again (--harness-retries), and if it falls behind again the search stops, because the
    harness, not the worker, is the limit (exit 3).

Writes OUT/capacity.json, OUT/capacity.html (latency-vs-load knee chart) and every step's run
directory under OUT/steps/NNNN-RATE/. The run flags (--function, --ref, --body, --timeout,
--max-inflight, --lag-budget, ...) apply to every step.

--processes 1,2,4 runs one search per number of worker processes, in OUT/processes-N/, and writes
OUT/processes.json and OUT/processes.html: the sustainable rate against the number of processes,
beside the ideal linear line (the first size's rate per process, times N).

Examples:
  fbench capacity --function work --ref service-time=10ms --ref max-concurrency=8
  fbench capacity --p99 50ms --step 30s --start 500 --out cap ./worker
`

const capacityExitMsg = `Exit codes: 0 a sustainable rate was found; 1 bad input or the worker failed to start; 2 no rate
held (every step failed, or the confirmation never passed); 3 the harness was the limit; 4 the worker
crashed; 130 interrupted.`

// Step checks that are not objectives.
const (
	capMinAchieved     = 0.98                  // achieved ÷ offered below this fails the step
	capGrowthFactor    = 2.0                   // in flight at the end > factor × at the start ...
	capGrowthFloor     = 16                    // ... and > this ...
	capGrowthWindow    = 20 * time.Millisecond // ... and > this much worth of arrivals
	capDefaultFactor   = 10.0                  // default p99 objective: factor × low-load p50 ...
	capDefaultFloor    = 5 * time.Millisecond  // ... but at least this (fbench run's default lag budget)
	capDefaultDrain    = 2 * time.Second       // a failing step's backlog need not drain for long
	capMaxDescent      = 10                    // halvings below --start when the first step fails
	capSchema          = "fbench.capacity/v1"
	capJSONFile        = "capacity.json"
	capHTMLFile        = "capacity.html"
	capDefaultMaxRate  = 1_000_000
	capDefaultStepSize = 10 * time.Second
)

// Why a step failed (capAssess picks a failing step's cause in the order crash, harness, in-flight
// growth, errors, throughput, latency).
const (
	capCauseCrash    = "crash"
	capCauseHarness  = "harness"
	capCauseErrors   = "errors"
	capCauseGrowth   = "in-flight growth"
	capCauseRate     = "throughput"
	capCauseLatency  = "latency"
	capCauseStartErr = "worker failed to start"
)

// stepJudge decides whether one step's summary meets the service-level objectives; why says what
// failed and by how much ("rtt p99 61ms > 50ms"). It sees only the summary: the checks that are not
// objectives (achieved rate, in-flight growth, timeouts, drops, harness lag) are made apart,
// whatever the judge.
type stepJudge func(s *report.Summary) (ok bool, why string)

// ---------------------------------------------------------------------------------------------
// SLO ADAPTER: the one place where `--slo EXPR` (report/slo.go) becomes a step judge.
//
// The expressions are parsed by runFlags.plan (Plan.Objectives) like fbench run's; capRunStep attaches
// their evaluator (report.NewSLOEvaluator, --slo-window included) to every step's run writer, so
// each step's summary.json and report.html carry the SLO results in Summary.SLOs. This judge only
// reads those results. The text of a failure names its metric: capCause reads error_rate and
// friends as an errors cause, rates as throughput, anything else as latency.
func capSLOJudge() stepJudge {
	return func(s *report.Summary) (bool, string) {
		failed := failedSLOs(s)
		return len(failed) == 0, strings.Join(failed, "; ")
	}
}

// capCause names the cause of an objective's failure from the judge's text (its first failure).
func capCause(why string) string {
	first, _, _ := strings.Cut(strings.ToLower(why), "; ")
	switch {
	case strings.Contains(first, "error") || strings.Contains(first, "fail") || strings.Contains(first, "timed_out") ||
		strings.Contains(first, "dropped") || strings.Contains(first, "lost"):
		return capCauseErrors
	case strings.Contains(first, "rps") || strings.Contains(first, "achieved") || strings.Contains(first, "throughput"):
		return capCauseRate
	}
	return capCauseLatency
}

// ---------------------------------------------------------------------------------------------

// capObjectives are the built-in objectives: rtt p99 and error rate.
type capObjectives struct {
	p99       time.Duration // fixed bound; 0: relative to the low-load p50 (see baseline)
	relative  bool          // the p99 bound is capDefaultFactor × baseline (at least capDefaultFloor)
	maxErrors float64       // fraction of responses that failed; < 0: not checked
	baseline  int64         // µs: rtt p50 of the first step that passed the other checks
}

// limitUS is the p99 bound in µs (0: none yet).
func (o *capObjectives) limitUS() int64 {
	switch {
	case o.p99 > 0:
		return o.p99.Microseconds()
	case o.relative && o.baseline > 0:
		return max(int64(capDefaultFactor*float64(o.baseline)), capDefaultFloor.Microseconds())
	}
	return 0
}

func (o *capObjectives) describe() []string {
	var out []string
	switch {
	case o.p99 > 0:
		out = append(out, "rtt p99 ≤ "+o.p99.String())
	case o.relative && o.baseline > 0:
		out = append(out, fmt.Sprintf("rtt p99 ≤ %s (%g × the low-load rtt p50 %s, at least %s)",
			fmtDur(time.Duration(o.limitUS())*time.Microsecond), capDefaultFactor, fmtDur(time.Duration(o.baseline)*time.Microsecond), capDefaultFloor))
	case o.relative:
		out = append(out, fmt.Sprintf("rtt p99 ≤ %g × the low-load rtt p50 (at least %s)", capDefaultFactor, capDefaultFloor))
	}
	if o.maxErrors >= 0 {
		out = append(out, "error rate ≤ "+strconv.FormatFloat(100*o.maxErrors, 'g', 4, 64)+"%")
	}
	return out
}

// observe sets the relative bound's baseline from the first healthy step.
func (o *capObjectives) observe(s *report.Summary) {
	if o.relative && o.baseline == 0 {
		o.baseline = s.Latency[report.MetricRTT].P50
	}
}

func (o *capObjectives) judge(s *report.Summary) (bool, string) {
	var failed []string
	if lim := o.limitUS(); lim > 0 {
		if p99 := s.Latency[report.MetricRTT].P99; p99 > lim {
			failed = append(failed, fmt.Sprintf("rtt p99 %s > %s", capFmtUS(p99), capFmtUS(lim)))
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

func capFmtUS(us int64) string { return fmtDur(time.Duration(us) * time.Microsecond) }

// capacityFlags are the flags of fbench capacity: the run flags (minus the ones a step sets) and
// the search's own.
type capacityFlags struct {
	runFlags
	start          float64
	maxRate        float64
	step           time.Duration
	stepWarmup     time.Duration
	precision      string
	confirm        time.Duration
	confirmRetries int
	harnessRetries int
	p99            time.Duration
	maxErrors      string
}

// capStepFlags are run flags that every step sets itself: hidden from capacity's help, refused.
var capStepFlags = []string{"rps", "duration", "count", "warmup", "profile", "concurrency", "restart-worker", "max-restarts", "repeat", "gate-verdicts", "start-at"}

func (c *capacityFlags) register(fs *pflag.FlagSet) {
	fs.Float64Var(&c.start, "start", 100, "first step's rate, invocations per second")
	fs.Float64Var(&c.maxRate, "max-rate", capDefaultMaxRate, "highest rate to try")
	fs.DurationVar(&c.step, "step", capDefaultStepSize, "measured duration of every step")
	fs.DurationVar(&c.stepWarmup, "step-warmup", 3*time.Second, "warm-up of every step, at its rate, excluded")
	fs.StringVar(&c.precision, "precision", "5%", "stop bisecting when the first fail is within this of the last pass (and step down by it when a confirmation fails)")
	fs.DurationVar(&c.confirm, "confirm", 0, "measured duration of the confirmation run (default 2 × --step)")
	fs.IntVar(&c.confirmRetries, "confirm-retries", 3, "after a failed confirmation, step down by --precision and confirm again at most this many times")
	fs.IntVar(&c.harnessRetries, "harness-retries", 1, "run a step again this many times when the harness fell behind before calling the harness the limit")
	fs.DurationVar(&c.p99, "p99", 0, "objective: rtt p99 at most this (default: 10 × the rtt p50 of the first healthy step, at least 5ms)")
	fs.StringVar(&c.maxErrors, "max-error-rate", "0.1%", "objective: error rate, (failed + timed out + lost + dropped) ÷ due as in --slo error_rate, at most this (e.g. 0.1% or 0.001; 'off' to skip)")
	c.runFlags.register(fs)
	for _, n := range capStepFlags {
		if fl := fs.Lookup(n); fl != nil {
			fl.Hidden = true
		}
	}
	if fl := fs.Lookup("out"); fl != nil {
		fl.Usage = "capacity directory: capacity.json, capacity.html and steps/ (default fbench-results/capacity-<UTC timestamp>)"
	}
	if fl := fs.Lookup("drain"); fl != nil {
		c.drain = capDefaultDrain
		fl.DefValue = capDefaultDrain.String()
	}
	if fl := fs.Lookup("quiet"); fl != nil {
		fl.Usage = "no step table and no result on stdout"
	}
	if fl := fs.Lookup("processes"); fl != nil {
		fl.Usage = "worker processes per step: `N`, or a list such as 1,2,4 for one search per pool size (OUT/processes-N/, OUT/processes.json and processes.html)"
	}
	if fl := fs.Lookup("slo"); fl != nil {
		fl.Usage = "objective `EXPR` every step must meet, e.g. rtt.p99<50ms, error_rate<0.1% (repeatable); replaces the default objectives (--p99, --max-error-rate) unless those are given too"
	}
}

// parsePercent reads "5%" or "0.05" as a fraction.
func capParsePercent(name, s string) (float64, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	if strings.HasSuffix(t, "%") {
		t, scale = strings.TrimSpace(strings.TrimSuffix(t, "%")), 0.01
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid --%s %q: want a percentage (5%%) or a fraction (0.05)", name, s)
	}
	return v * scale, nil
}

// capSetup is a validated capacity search: everything decided before the first step.
type capSetup struct {
	search   capSearch
	warmup   time.Duration
	out      string
	judge    stepJudge
	obj      *capObjectives // nil with --slo alone
	sloExprs []string
	config   map[string]any
	target   string // what is searched, for the header line
}

func (c *capacityFlags) setup(fs *pflag.FlagSet) (*capSetup, error) {
	for _, n := range capStepFlags {
		if fs.Lookup(n) != nil && fs.Changed(n) {
			return nil, fmt.Errorf("--%s cannot be used with fbench capacity: every step sets its own rate and duration (see --start, --step, --step-warmup)", n)
		}
	}
	if !(c.start > 0) || c.start > 10_000_000 {
		return nil, fmt.Errorf("invalid --start %v: must be > 0", c.start)
	}
	if !(c.maxRate >= c.start) || c.maxRate > 10_000_000 {
		return nil, fmt.Errorf("invalid --max-rate %v: must be at least --start (%v) and at most 10000000", c.maxRate, c.start)
	}
	if c.step < 100*time.Millisecond {
		return nil, fmt.Errorf("invalid --step %s: must be at least 100ms", c.step)
	}
	if c.stepWarmup < 0 {
		return nil, fmt.Errorf("invalid --step-warmup %s: must not be negative", c.stepWarmup)
	}
	prec, err := capParsePercent("precision", c.precision)
	if err != nil {
		return nil, err
	}
	if prec <= 0 || prec >= 0.5 {
		return nil, fmt.Errorf("invalid --precision %s: must be between 0 and 50%%", c.precision)
	}
	confirm := c.confirm
	if confirm == 0 {
		confirm = 2 * c.step
	}
	if confirm < 100*time.Millisecond {
		return nil, fmt.Errorf("invalid --confirm %s: must be at least 100ms", c.confirm)
	}
	if c.confirmRetries < 0 {
		return nil, fmt.Errorf("invalid --confirm-retries %d: must not be negative", c.confirmRetries)
	}
	if c.harnessRetries < 0 {
		return nil, fmt.Errorf("invalid --harness-retries %d: must not be negative", c.harnessRetries)
	}
	if c.p99 < 0 {
		return nil, fmt.Errorf("invalid --p99 %s: must be positive", c.p99)
	}
	maxErr := -1.0
	if strings.TrimSpace(c.maxErrors) != "off" {
		if maxErr, err = capParsePercent("max-error-rate", c.maxErrors); err != nil {
			return nil, err
		}
		if maxErr < 0 || maxErr > 1 {
			return nil, fmt.Errorf("invalid --max-error-rate %s: must be between 0 and 100%%", c.maxErrors)
		}
	}
	s := &capSetup{warmup: c.stepWarmup, sloExprs: c.slo}
	s.search = capSearch{start: capRound(c.start), maxRate: capRound(c.maxRate), precision: prec, step: c.step, confirm: confirm, retries: c.confirmRetries, harnessRetries: c.harnessRetries}

	// Objectives: --slo replaces the defaults; --p99 and --max-error-rate still apply when given.
	var judges []stepJudge
	if len(c.slo) > 0 {
		judges = append(judges, capSLOJudge())
		o := &capObjectives{p99: c.p99, maxErrors: -1}
		if fs.Changed("max-error-rate") {
			o.maxErrors = maxErr
		}
		if o.p99 > 0 || o.maxErrors >= 0 {
			s.obj = o
		}
	} else {
		s.obj = &capObjectives{p99: c.p99, relative: c.p99 == 0, maxErrors: maxErr}
	}
	if s.obj != nil {
		judges = append(judges, s.obj.judge)
	}
	s.judge = func(sum *report.Summary) (bool, string) {
		var whys []string
		for _, j := range judges {
			if ok, why := j(sum); !ok {
				whys = append(whys, why)
			}
		}
		return len(whys) == 0, strings.Join(whys, "; ")
	}

	// The first step's plan validates the run flags and the worker before anything starts.
	if c.seed == 0 {
		c.seed = rand.Uint64()>>1 | 1
	}
	s.out = c.out
	if s.out == "" {
		s.out = filepath.Join("fbench-results", "capacity-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := checkOutDir(s.out); err != nil {
		return nil, err
	}
	p, err := c.stepPlan(fs, s.search.start, c.step, c.stepWarmup, filepath.Join(os.TempDir(), "fbench-capacity-check-never-created"))
	if err != nil {
		return nil, err
	}
	s.target = "the reference worker"
	if fs.NArg() > 0 {
		s.target = fs.Arg(0)
	}
	var fns []string
	for _, t := range p.Config.Targets {
		fns = append(fns, t.Function)
	}
	if len(fns) > 0 {
		s.target += " (" + strings.Join(fns, ", ") + ")"
	}
	s.config = map[string]any{
		"args": os.Args[1:], "start": c.start, "max_rate": c.maxRate, "step": c.step.String(),
		"step_warmup": c.stepWarmup.String(), "precision": prec, "confirm": confirm.String(),
		"confirm_retries": c.confirmRetries, "harness_retries": c.harnessRetries, "p99": c.p99.String(), "max_error_rate": maxErr, "slo": c.slo,
		"min_achieved": capMinAchieved, "seed": strconv.FormatUint(c.seed, 10), "step_config": p.Record,
	}
	return s, nil
}

// stepPlan is the plan of one step: the run flags with the step's rate, durations and directory.
func (c *capacityFlags) stepPlan(fs *pflag.FlagSet, rate float64, d, warm time.Duration, dir string) (*runner.Plan, error) {
	f := c.runFlags
	f.rps, f.duration, f.warmup, f.out, f.quiet = rate, d, warm, dir, true
	f.count, f.profile, f.concurrency = 0, "", 0
	return f.plan(fs)
}

func cmdCapacity(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("capacity", capacityUsage, stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, capacityUsage)
		fmt.Fprintln(stderr, "\nFlags:")
		fmt.Fprint(stderr, fs.FlagUsages())
		fmt.Fprintln(stderr, "\n"+capacityExitMsg)
	}
	var c capacityFlags
	c.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.Changed("processes") && strings.Contains(c.processes, ",") {
		return capacityPools(&c, fs, stdout, stderr)
	}
	s, err := c.setup(fs)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return s.execute(ctx, &c, fs, stdout, stderr)
}

// capStep is one step of the search as capacity.json records it. Latencies are in µs; the rates
// and in-flight figures cover the measured window only (warm-up and drain excluded).
type capStep struct {
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

// capInterval is what a step keeps of an interval record.
type capInterval struct {
	warmup, drain bool
	length        time.Duration
	offered       float64
	inFlight      int64
	counts        report.Counts
}

// capAssess makes a step's checks from its intervals and summary: it sets Pass, Cause, Reasons and
// the measured-window figures of st. observe, when set, gets the summary of a step whose checks
// that are not objectives passed (the relative p99 objective takes its baseline from the first).
func capAssess(st *capStep, s *report.Summary, ivs []capInterval, judge stepJudge, maxInFlight int, observe func(*report.Summary)) {
	var secs, expected, responses float64
	first := true
	var sat bool
	var bad report.Counts
	for _, iv := range ivs {
		if maxInFlight > 0 && iv.inFlight >= int64(maxInFlight) {
			sat = true
		}
		if iv.warmup {
			st.InFlightStart = iv.inFlight
			first = false
			continue
		}
		bad.Add(iv.counts)
		if iv.drain {
			continue
		}
		if first {
			// No warm-up: the first measured interval's end stands for the start.
			st.InFlightStart = iv.inFlight
			first = false
		}
		secs += iv.length.Seconds()
		expected += iv.offered * iv.length.Seconds()
		c := iv.counts
		responses += float64(c.Succeeded + c.Failed + c.Cancelled + c.CompletedAfterCancel)
		st.InFlightEnd = iv.inFlight
	}
	if secs > 0 {
		st.OfferedRPS = capRound2(expected / secs)
		st.AchievedRPS = capRound2(responses / secs)
	}
	if s != nil {
		rtt := s.Latency[report.MetricRTT]
		st.P50US, st.P90US, st.P99US, st.MaxUS = rtt.P50, rtt.P90, rtt.P99, rtt.Max
		st.LagP99US = s.Harness.LagP99US
		st.Counts = s.Counts
		st.HarnessValid = s.Harness.Valid
	}

	type failure struct{ cause, why string }
	var fails []failure
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
		fails = append(fails, failure{capCauseErrors, strings.Join(parts, ", ")})
	}
	floor := max(float64(capGrowthFloor), st.Rate*capGrowthWindow.Seconds())
	growth := float64(st.InFlightEnd) > capGrowthFactor*float64(st.InFlightStart) && float64(st.InFlightEnd) > floor
	if growth {
		fails = append(fails, failure{capCauseGrowth, fmt.Sprintf("in flight grew %d → %d (the worker fell behind)", st.InFlightStart, st.InFlightEnd)})
	}
	if sat && !growth {
		fails = append(fails, failure{capCauseGrowth, fmt.Sprintf("in flight reached --max-inflight %d (arrivals queued: the worker fell behind)", maxInFlight)})
	}
	if secs > 0 && responses < capMinAchieved*expected && expected-responses > 5 {
		fails = append(fails, failure{capCauseRate, fmt.Sprintf("achieved %s/s < %g%% of offered %s/s", capFmtRate(st.AchievedRPS), 100*capMinAchieved, capFmtRate(st.OfferedRPS))})
	}
	if secs == 0 {
		fails = append(fails, failure{capCauseRate, "no measured interval"})
	}
	engineOK := len(fails) == 0
	// Evidence that the worker, not the harness, fell behind: piling up, at the cap, or losing
	// invocations. A throughput shortfall alone is not: a harness behind its schedule sends late.
	workerBehind := growth || sat || bad.TimedOut+bad.Dropped+bad.Lost > 0
	if s != nil && engineOK && observe != nil {
		observe(s)
	}
	if s != nil && judge != nil {
		if ok, why := judge(s); !ok {
			fails = append(fails, failure{capCause(why), why})
		}
	}
	if s != nil && !s.Harness.Valid {
		// Lag over budget while the worker kept up: the harness is the limit. With the worker
		// behind too, the step fails for the worker's reason (its back-pressure may be the lag).
		why, _, _ := strings.Cut(s.Harness.InvalidReason, ":")
		why = "harness fell behind: " + why
		if !workerBehind {
			fails = append([]failure{{capCauseHarness, why}}, fails...)
		} else {
			fails = append(fails, failure{"", "also " + why})
		}
	}
	st.Pass = len(fails) == 0
	st.Cause, st.Reasons = "", nil
	// Piling up comes before errors: the invocations a backlog leaves unanswered when the drain
	// ends (or times out) are its consequence.
	order := []string{capCauseHarness, capCauseGrowth, capCauseErrors, capCauseRate, capCauseLatency}
	for _, want := range order {
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

func capRound2(v float64) float64 { return math.Round(v*100) / 100 }

// capFmtRate prints a rate: integers as such, else up to two decimals.
func capFmtRate(r float64) string { return strconv.FormatFloat(capRound2(r), 'f', -1, 64) }

// capRound rounds a rate to what a step is labelled with: whole numbers from 100/s, else 3
// significant digits.
func capRound(r float64) float64 {
	if r >= 100 {
		return math.Round(r)
	}
	if r <= 0 {
		return r
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(r)))
	return math.Round(r*p) / p
}

// capProbe runs one step at rate for d; stage names it. An error stops the search.
type capProbe func(stage string, rate float64, d time.Duration) (*capStep, error)

// capSearch is the search: climb, bisect, confirm.
type capSearch struct {
	start, maxRate float64
	precision      float64
	step, confirm  time.Duration
	retries        int // confirmation step-downs
	harnessRetries int // runs of a step again when the harness fell behind (a neighbour's burst)
}

// Search outcomes.
const (
	capFound       = "found"
	capNotFound    = "not_found"   // every step failed, down to start ÷ 1024
	capUnconfirmed = "unconfirmed" // the confirmation never passed
	capHarness     = "harness_limit"
	capCrashed     = "worker_crashed"
)

// capResult is the outcome of a search.
type capResult struct {
	Status         string  `json:"status"`          // found, not_found, unconfirmed, harness_limit, worker_crashed, interrupted, error
	SustainableRPS float64 `json:"sustainable_rps"` // the confirmed rate (0: none)
	Confirmed      bool    `json:"confirmed"`
	BestPassRPS    float64 `json:"best_pass_rps"`          // the highest rate whose step passed, confirmed or not
	BrokeAtRPS     float64 `json:"broke_at_rps,omitempty"` // the lowest rate whose step failed
	BrokeCause     string  `json:"broke_cause,omitempty"`
	BrokeReason    string  `json:"broke_reason,omitempty"`
	BrokeStep      int     `json:"broke_step,omitempty"`
	MaxRateReached bool    `json:"max_rate_reached,omitempty"` // no step failed up to --max-rate
	Message        string  `json:"message"`
	ExitCode       int     `json:"exit_code"`
}

// run searches with probe. Every step is probe's business (and the caller's record); run decides
// the rates and the outcome. An error from probe (interrupt, worker failed to start) ends the
// search with the result so far and that error.
func (cs capSearch) run(probe capProbe) (capResult, error) {
	var res capResult
	pass, fail := 0.0, 0.0
	best := 0.0
	var failSt *capStep
	noteFail := func(st *capStep) {
		if fail == 0 || st.Rate < fail {
			fail, failSt = st.Rate, st
		}
	}
	finish := func() capResult {
		res.BestPassRPS = best
		if failSt != nil {
			res.BrokeAtRPS, res.BrokeCause, res.BrokeStep = failSt.Rate, failSt.Cause, failSt.N
			res.BrokeReason = strings.Join(failSt.Reasons, "; ")
		}
		return res
	}
	// try runs a step; stop is true when the search must end (harness, crash, error).
	try := func(stage string, rate float64, d time.Duration) (*capStep, bool, error) {
		st, err := probe(stage, rate, d)
		for i := 0; i < cs.harnessRetries && err == nil && st.Cause == capCauseHarness; i++ {
			st, err = probe(stage, rate, d)
		}
		if err != nil {
			return st, true, err
		}
		switch {
		case st.Pass:
			best = max(best, rate)
			return st, false, nil
		case st.Cause == capCauseCrash:
			noteFail(st)
			res.Status, res.ExitCode = capCrashed, exitCrashed
			res.Message = fmt.Sprintf("the worker crashed at %s/s (step %d): %s", capFmtRate(rate), st.N, strings.Join(st.Reasons, "; "))
			return st, true, nil
		case st.Cause == capCauseHarness:
			noteFail(st)
			res.Status, res.ExitCode = capHarness, exitInvalid
			res.Message = fmt.Sprintf("the harness, not the worker, is the limit at %s/s (step %d): %s", capFmtRate(rate), st.N, strings.Join(st.Reasons, "; "))
			if best > 0 {
				res.Message += fmt.Sprintf("; the worker sustained at least %s/s", capFmtRate(best))
			}
			return st, true, nil
		}
		noteFail(st)
		return st, false, nil
	}

	// Climb ×2 from start until a step fails or max-rate passes.
	rate := cs.start
	for {
		st, stop, err := try("climb", rate, cs.step)
		if stop {
			return finish(), err
		}
		if !st.Pass {
			break
		}
		pass = rate
		if rate >= cs.maxRate {
			res.MaxRateReached = true
			break
		}
		rate = min(capRound(rate*2), cs.maxRate)
	}
	// The first step failed: halve until one passes.
	if pass == 0 {
		for i, r := 0, capRound(cs.start/2); i < capMaxDescent && r > 0; i, r = i+1, capRound(r/2) {
			st, stop, err := try("descend", r, cs.step)
			if stop {
				return finish(), err
			}
			if st.Pass {
				pass = r
				break
			}
		}
		if pass == 0 {
			res.Status, res.ExitCode = capNotFound, exitFailed
			res.Message = fmt.Sprintf("no rate held: every step failed, down to %s/s", capFmtRate(fail))
			return finish(), nil
		}
	}
	// Bisect until the first fail is within precision of the last pass.
	for fail > 0 && (fail-pass)/pass >= cs.precision {
		mid := capRound((pass + fail) / 2)
		if mid <= pass || mid >= fail {
			break
		}
		st, stop, err := try("search", mid, cs.step)
		if stop {
			return finish(), err
		}
		if st.Pass {
			pass = mid
		}
	}
	// Confirm with a longer run, stepping down by precision when it fails.
	cand := pass
	for i := 0; i <= cs.retries && cand > 0; i++ {
		st, stop, err := try("confirm", cand, cs.confirm)
		if stop {
			return finish(), err
		}
		if st.Pass {
			res.Status, res.ExitCode = capFound, exitOK
			res.SustainableRPS, res.Confirmed = cand, true
			res.Message = fmt.Sprintf("sustainable rate %s/s (confirmed over %s)", capFmtRate(cand), cs.confirm)
			if res.MaxRateReached && cand == cs.maxRate {
				res.Message += "; no step failed up to --max-rate"
			}
			return finish(), nil
		}
		cand = capRound(cand * (1 - cs.precision))
	}
	res.Status, res.ExitCode = capUnconfirmed, exitFailed
	res.Message = fmt.Sprintf("no rate held through the confirmation run (best short step: %s/s)", capFmtRate(best))
	return finish(), nil
}

// capReport is capacity.json.
type capReport struct {
	Schema      string             `json:"schema"`
	Version     string             `json:"fbench_version"`
	StartedAt   time.Time          `json:"started_at"`
	EndedAt     time.Time          `json:"ended_at,omitzero"`
	Target      string             `json:"target"`
	Objectives  []string           `json:"objectives"`
	P99LimitUS  int64              `json:"p99_limit_us,omitempty"` // the built-in p99 bound in force at the end
	Config      map[string]any     `json:"config"`
	Environment report.Environment `json:"environment"`
	Steps       []*capStep         `json:"steps"`
	Result      *capResult         `json:"result,omitempty"` // nil while the search runs
}

// execute runs the search, prints the table and writes capacity.json and capacity.html.
func (s *capSetup) execute(ctx context.Context, c *capacityFlags, fs *pflag.FlagSet, stdout, stderr io.Writer) error {
	rep := &capReport{Schema: capSchema, Version: version, StartedAt: time.Now().UTC(), Target: s.target,
		Config: s.config, Environment: environment()}
	rep.Objectives = s.objectives()
	if err := os.MkdirAll(filepath.Join(s.out, "steps"), 0o750); err != nil {
		return fmt.Errorf("creating %s: %w", s.out, err)
	}
	quiet := c.quiet
	tty := capIsTerminal(stderr)
	if !quiet {
		fmt.Fprintf(stdout, "fbench capacity: %s; steps of %s after %s warm-up, confirmation %s; objectives: %s\n",
			s.target, s.search.step, s.warmup, s.search.confirm, strings.Join(rep.Objectives, ", "))
		fmt.Fprintln(stdout, capTableHeader)
	}
	save := func() error {
		rep.Objectives = s.objectives()
		if s.obj != nil {
			rep.P99LimitUS = s.obj.limitUS()
		}
		err := capWriteJSON(filepath.Join(s.out, capJSONFile), rep)
		if herr := capWriteHTML(filepath.Join(s.out, capHTMLFile), rep); err == nil {
			err = herr
		}
		return err
	}
	var observe func(*report.Summary)
	if s.obj != nil {
		observe = s.obj.observe
	}
	probe := func(stage string, rate float64, d time.Duration) (*capStep, error) {
		n := len(rep.Steps) + 1
		rel := filepath.Join("steps", fmt.Sprintf("%04d-%s", n, capFmtRate(rate)))
		st := &capStep{N: n, Stage: stage, Rate: rate, DurationS: d.Seconds(), WarmupS: s.warmup.Seconds(), Dir: rel}
		if tty && !quiet {
			fmt.Fprintf(stderr, "\r\033[K  step %d: %s/s for %s (+%s warm-up)…", n, capFmtRate(rate), d, s.warmup)
		}
		p, err := c.stepPlan(fs, rate, d, s.warmup, filepath.Join(s.out, rel))
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		err = capRunStep(ctx, p, st, s.judge, observe)
		st.ElapsedS = capRound2(time.Since(t0).Seconds())
		if tty && !quiet {
			fmt.Fprint(stderr, "\r\033[K")
		}
		if err != nil && ctx.Err() != nil {
			st.Pass, st.Cause, st.Reasons = false, "interrupted", []string{"the search was interrupted"}
		}
		if err == nil || st.Cause != "" {
			rep.Steps = append(rep.Steps, st)
			if !quiet {
				fmt.Fprintln(stdout, capTableRow(st))
			}
		}
		if serr := save(); serr != nil && err == nil {
			err = serr
		}
		return st, err
	}
	res, err := s.search.run(probe)
	var ce *codeError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		res.Status, res.ExitCode, res.Message = "interrupted", 130, "interrupted; the steps so far are in "+s.out
	case errors.As(err, &ce):
		res.Status, res.ExitCode, res.Message = "error", ce.code, err.Error()
	default:
		res.Status, res.ExitCode, res.Message = "error", exitError, err.Error()
	}
	rep.EndedAt = time.Now().UTC()
	rep.Result = &res
	serr := save()
	if !quiet {
		capPrintResult(stdout, rep, s.out)
	}
	if serr != nil {
		return fmt.Errorf("writing the capacity reports: %w", serr)
	}
	if res.ExitCode == exitOK {
		return nil
	}
	return withCode(res.ExitCode, errors.New(res.Message))
}

func (s *capSetup) objectives() []string {
	out := []string{}
	for _, e := range s.sloExprs {
		out = append(out, "slo "+e)
	}
	if s.obj != nil {
		out = append(out, s.obj.describe()...)
	}
	return out
}

func capIsTerminal(w io.Writer) bool {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return true
		}
	}
	return false
}

const capTableHeader = "   #  stage       rate   achieved      p50      p99   in flight  verdict"

func capTableRow(st *capStep) string {
	verdict := "pass"
	if !st.Pass {
		verdict = "FAIL " + st.Cause + ": " + strings.Join(st.Reasons, "; ")
	}
	return fmt.Sprintf("%4d  %-8s %7s %10s %8s %8s %11s  %s", st.N, st.Stage, capFmtRate(st.Rate), capFmtRate(math.Round(st.AchievedRPS*10)/10),
		capFmtUS(st.P50US), capFmtUS(st.P99US), fmt.Sprintf("%d→%d", st.InFlightStart, st.InFlightEnd), verdict)
}

func capPrintResult(w io.Writer, rep *capReport, out string) {
	r := rep.Result
	fmt.Fprintln(w)
	switch {
	case r.Confirmed:
		fmt.Fprintf(w, "sustainable: %s/s (confirmed)\n", capFmtRate(r.SustainableRPS))
	case r.BestPassRPS > 0:
		fmt.Fprintf(w, "sustainable: none confirmed (best passing step %s/s)\n", capFmtRate(r.BestPassRPS))
	default:
		fmt.Fprintln(w, "sustainable: none")
	}
	switch {
	case r.BrokeAtRPS > 0:
		fmt.Fprintf(w, "broke at:    %s/s (step %d) — %s: %s\n", capFmtRate(r.BrokeAtRPS), r.BrokeStep, r.BrokeCause, r.BrokeReason)
	case r.MaxRateReached:
		fmt.Fprintln(w, "broke at:    never, up to --max-rate")
	}
	fmt.Fprintf(w, "result:      %s\n", r.Message)
	fmt.Fprintf(w, "reports:     %s, %s (steps in %s)\n", filepath.Join(out, capJSONFile), filepath.Join(out, capHTMLFile), filepath.Join(out, "steps"))
}

func capWriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return capWriteAtomic(path, append(b, '\n'))
}

func capWriteAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// capRunStep runs one step as `fbench run` runs (runner.Run): a fresh server and worker, the
// engine, the reports in the step's directory; it fills st. The checks are made in the summary
// evaluator, so the step's own summary.json and report.html carry a "capacity step" verdict.
func capRunStep(ctx context.Context, p *runner.Plan, st *capStep, judge stepJudge, observe func(*report.Summary)) error {
	meta := p.Meta() // a step's schedule is bounded: its phases' ends are as recorded
	rw, err := report.CreateRun(p.Out, meta)
	if err != nil {
		return err
	}
	slos := p.Objectives.Evaluator()
	if slos != nil {
		rw.Observe(slos)
	}
	pool, cleanup, err := runner.StartWorkers(ctx, p, nil)
	defer cleanup()
	if pool == nil {
		return err
	}
	if err != nil {
		meta.Events = append(meta.Events, report.Event{Kind: "worker_failed", Detail: err.Error()})
		_, _ = rw.Finish(meta)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		st.Cause, st.Reasons = capCauseStartErr, []string{err.Error()}
		return withCode(exitError, fmt.Errorf("step %d (%s/s): %v (worker log: %s)", st.N, capFmtRate(st.Rate), err, filepath.Join(p.Out, "worker.log")))
	}
	w := pool.First()
	meta.Worker = runner.WorkerInfo(w)
	if len(meta.Processes) > 0 {
		meta.Processes = pool.Processes()
	}
	_ = rw.UpdateMeta(meta)

	var ivs []capInterval
	p.Config.OnStart = func(t0 time.Time) {
		meta.TimeZero = t0.UTC()
		_ = rw.UpdateMeta(meta)
	}
	p.Config.OnInterval = func(rec *report.IntervalRecord) error {
		ivs = append(ivs, capInterval{warmup: rec.Warmup, drain: rec.Phase == report.PhaseDrain, length: rec.Length,
			offered: rec.OfferedRPS, inFlight: rec.InFlight, counts: rec.Counts})
		return rw.WriteInterval(rec)
	}
	pool.Configure(&p.Config)
	res, runErr := pool.Run(ctx, p.Config)
	if res == nil && runErr != nil {
		// The engine refused the plan before sending anything (an unknown --function...): bad input.
		pool.Shutdown(nil)
		_, _ = rw.Finish(meta)
		return withCode(exitError, fmt.Errorf("step %d (%s/s): %w", st.N, capFmtRate(st.Rate), runErr))
	}
	crashed := false
	for _, ev := range resEvents(res) {
		if ev.Kind == "stream_ended" && pool.Len() > 1 {
			crashed = true // one process of several: the others served on
		}
	}
	if res != nil && res.WorkerEnded {
		select {
		case <-w.Exited():
		case <-time.After(2 * time.Second):
		}
		if code, exited := w.ExitCode(); !exited || code != 0 || !res.Interrupted {
			crashed = true
		}
	}
	meta.Worker = runner.ShutdownInfo(w, crashed)
	if infos := pool.Finish(res, w); len(meta.Processes) > 0 {
		meta.Processes = infos
	}
	meta.EndedAt = time.Now().UTC()
	if res != nil {
		meta.Failures, meta.WorkerLogs = res.Failures, res.WorkerLogs
		meta.Events = append(meta.Events, res.Events...)
		for _, n := range res.Notices {
			meta.Events = append(meta.Events, report.Event{Kind: "notice", Detail: n})
		}
		if res.Interrupted {
			meta.Interrupted = "signal"
		}
	}
	rw.SetEvaluator(func(s *report.Summary) {
		if slos != nil {
			slos.Evaluate(s)
		}
		capAssess(st, s, ivs, judge, p.Config.MaxInFlight, observe)
		if crashed {
			// The crash explains everything else that failed (lost invocations, shortfall).
			st.Pass, st.Cause = false, capCauseCrash
			detail := "the worker's stream ended during the step (" + w.ExitState() + ")"
			if tail := lastN(w.Log.Tail(), 1); len(tail) > 0 {
				detail += "; last stderr line: " + tail[0]
			}
			st.Reasons = []string{detail}
		}
		v := report.Verdict{Name: fmt.Sprintf("capacity step %d at %s/s", st.N, capFmtRate(st.Rate)), Status: report.VerdictPass, Detail: "every check held"}
		if !st.Pass {
			v.Status, v.Detail = report.VerdictFail, st.Cause+": "+strings.Join(st.Reasons, "; ")
		}
		s.Verdicts = append(s.Verdicts, v)
	})
	_, ferr := rw.Finish(meta)
	if res != nil && res.Interrupted {
		return ctx.Err()
	}
	if runErr != nil {
		return withCode(exitError, fmt.Errorf("step %d (%s/s): run: %w", st.N, capFmtRate(st.Rate), runErr))
	}
	if ferr != nil {
		return fmt.Errorf("step %d: writing reports: %w", st.N, ferr)
	}
	return nil
}

// resEvents are a result's events (none without a result).
func resEvents(res *loadgen.Result) []report.Event {
	if res == nil {
		return nil
	}
	return res.Events
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

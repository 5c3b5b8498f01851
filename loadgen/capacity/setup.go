package capacity

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fbench/fbench/report"
)

// Options are a search's settings as fbench capacity's flags give them.
type Options struct {
	Start, MaxRate float64       // the first step's rate and the highest rate tried
	Step           time.Duration // measured duration of every step
	StepWarmup     time.Duration // warm-up of every step, excluded
	Precision      string        // "5%" or "0.05": bisecting stops within this, confirmations step down by it
	Confirm        time.Duration // measured duration of the confirmation (0: 2 × Step)
	ConfirmRetries int
	HarnessRetries int
	P99            time.Duration // rtt p99 objective (0: relative to the low-load p50)
	MaxErrorRate   string        // error-rate objective, "0.1%", "0.001" or "off"
	MaxErrorRateOn bool          // MaxErrorRate was given (with SLO, the default objectives apply only when given)
	SLO            []string      // objectives every step's run checks (Summary.SLOs): replace the defaults
}

// Setup is a validated capacity search: everything decided before the first step.
type Setup struct {
	Search  Search
	Warmup  time.Duration
	Out     string // the capacity directory
	Target  string // what is searched, for the header line and the reports
	Config  map[string]any
	Version string             // fbench's version, for the reports
	Env     report.Environment // the machine, for the reports

	judge    Judge
	obj      *Objectives // nil with SLOs alone
	sloExprs []string
}

// parsePercent reads "5%" or "0.05" as a fraction.
func parsePercent(name, s string) (float64, error) {
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

// NewSetup checks o and decides the search and its objectives. The caller fills Out, Target,
// Version and Env, and adds to Config what it knows of the steps' runs.
func NewSetup(o Options) (*Setup, error) {
	if err := o.checkRates(); err != nil {
		return nil, err
	}
	prec, err := parsePercent("precision", o.Precision)
	if err != nil {
		return nil, err
	}
	if prec <= 0 || prec >= 0.5 {
		return nil, fmt.Errorf("invalid --precision %s: must be between 0 and 50%%", o.Precision)
	}
	confirm := o.Confirm
	if confirm == 0 {
		confirm = 2 * o.Step
	}
	if confirm < 100*time.Millisecond {
		return nil, fmt.Errorf("invalid --confirm %s: must be at least 100ms", o.Confirm)
	}
	if o.ConfirmRetries < 0 {
		return nil, fmt.Errorf("invalid --confirm-retries %d: must not be negative", o.ConfirmRetries)
	}
	if o.HarnessRetries < 0 {
		return nil, fmt.Errorf("invalid --harness-retries %d: must not be negative", o.HarnessRetries)
	}
	if o.P99 < 0 {
		return nil, fmt.Errorf("invalid --p99 %s: must be positive", o.P99)
	}
	maxErr := -1.0
	if strings.TrimSpace(o.MaxErrorRate) != "off" {
		if maxErr, err = parsePercent("max-error-rate", o.MaxErrorRate); err != nil {
			return nil, err
		}
		if maxErr < 0 || maxErr > 1 {
			return nil, fmt.Errorf("invalid --max-error-rate %s: must be between 0 and 100%%", o.MaxErrorRate)
		}
	}
	s := &Setup{Warmup: o.StepWarmup, sloExprs: o.SLO}
	s.Search = Search{start: Round(o.Start), maxRate: Round(o.MaxRate), precision: prec, step: o.Step, confirm: confirm, retries: o.ConfirmRetries, harnessRetries: o.HarnessRetries}
	s.objectives(o, maxErr)
	s.Config = map[string]any{
		"start": o.Start, "max_rate": o.MaxRate, "step": o.Step.String(),
		"step_warmup": o.StepWarmup.String(), "precision": prec, "confirm": confirm.String(),
		"confirm_retries": o.ConfirmRetries, "harness_retries": o.HarnessRetries, "p99": o.P99.String(), "max_error_rate": maxErr, "slo": o.SLO,
		"min_achieved": MinAchieved,
	}
	return s, nil
}

func (o Options) checkRates() error {
	if !(o.Start > 0) || o.Start > 10_000_000 {
		return fmt.Errorf("invalid --start %v: must be > 0", o.Start)
	}
	if !(o.MaxRate >= o.Start) || o.MaxRate > 10_000_000 {
		return fmt.Errorf("invalid --max-rate %v: must be at least --start (%v) and at most 10000000", o.MaxRate, o.Start)
	}
	if o.Step < 100*time.Millisecond {
		return fmt.Errorf("invalid --step %s: must be at least 100ms", o.Step)
	}
	if o.StepWarmup < 0 {
		return fmt.Errorf("invalid --step-warmup %s: must not be negative", o.StepWarmup)
	}
	return nil
}

// objectives sets the judge: SLOs replace the defaults; P99 and MaxErrorRate still apply when given.
func (s *Setup) objectives(o Options, maxErr float64) {
	var judges []Judge
	if len(o.SLO) > 0 {
		judges = append(judges, SLOJudge())
		obj := &Objectives{p99: o.P99, maxErrors: -1}
		if o.MaxErrorRateOn {
			obj.maxErrors = maxErr
		}
		if obj.p99 > 0 || obj.maxErrors >= 0 {
			s.obj = obj
		}
	} else {
		s.obj = &Objectives{p99: o.P99, relative: o.P99 == 0, maxErrors: maxErr}
	}
	if s.obj != nil {
		judges = append(judges, s.obj.Judge)
	}
	s.judge = allOf(judges)
}

// Objectives describes the objectives in force.
func (s *Setup) Objectives() []string {
	out := []string{}
	for _, e := range s.sloExprs {
		out = append(out, "slo "+e)
	}
	if s.obj != nil {
		out = append(out, s.obj.Describe()...)
	}
	return out
}

// Target names what is searched: the worker ("": the reference worker) and the functions invoked.
func Target(worker string, functions []string) string {
	t := "the reference worker"
	if worker != "" {
		t = worker
	}
	if len(functions) > 0 {
		t += " (" + strings.Join(functions, ", ") + ")"
	}
	return t
}

// DefaultOut is the capacity directory of a search started at now when none is given.
func DefaultOut(now time.Time) string {
	return filepath.Join("fbench-results", "capacity-"+now.UTC().Format("20060102T150405Z"))
}

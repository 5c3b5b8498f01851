package capacity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
)

// StepSpec is one step to run: a fresh worker driven at Rate for Duration after Warmup, its run
// directory in Dir.
type StepSpec struct {
	N                int
	Rate             float64
	Duration, Warmup time.Duration
	Dir              string
}

// StepHooks are what a step runner hands back while the step runs.
type StepHooks struct {
	// Interval gets every interval record, in order, as the run writes it.
	Interval func(rec *report.IntervalRecord)
	// Summary gets the step's summary before the run directory's reports are written (so the
	// step's verdict lands in them), with what only the runner knows of the step.
	Summary func(s *report.Summary, run StepRun)
}

// StepRun is what only the runner knows of a step.
type StepRun struct {
	MaxInFlight int    // the run's in-flight cap (0: none)
	Crashed     bool   // the worker's stream ended during the step
	ExitState   string // how the worker ended ("exit code 2", "killed by signal 9"...)
	LastLine    string // the worker's last stderr line ("": none)
}

// StepRunner runs one step as `fbench run` runs: a fresh server and worker, the engine, the
// reports in spec.Dir. It returns ctx's error when interrupted, a *StartError when the worker
// failed to start, a *RunError when the run failed, a *ReportError when the step's reports could
// not be written, and any other error (a step that could not be planned) as it is said.
type StepRunner func(ctx context.Context, spec StepSpec, hooks StepHooks) error

// StartError is a step whose worker failed to start.
type StartError struct {
	Err error
	Log string // the worker log
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// RunError is a step whose run failed, or that the engine refused.
type RunError struct{ Err error }

func (e *RunError) Error() string { return e.Err.Error() }
func (e *RunError) Unwrap() error { return e.Err }

// ReportError is a step whose reports could not be written.
type ReportError struct{ Err error }

func (e *ReportError) Error() string { return e.Err.Error() }
func (e *ReportError) Unwrap() error { return e.Err }

// CodeError is a search that did not find a sustainable rate; Code is its exit code.
type CodeError struct {
	Code int
	Err  error
}

func (e *CodeError) Error() string { return e.Err.Error() }
func (e *CodeError) Unwrap() error { return e.Err }

// Output is where a search prints: the step table and the result on Stdout, the step in progress
// on Stderr when it is a terminal. Quiet prints nothing.
type Output struct {
	Stdout, Stderr io.Writer
	Quiet          bool
}

// Run runs the search, prints the table and writes capacity.json and capacity.html in s.Out. The
// error is a *CodeError when no rate was found (its code says why); any other error means the
// reports could not be written.
func (s *Setup) Run(ctx context.Context, runStep StepRunner, o Output) (*Report, error) {
	rep := &Report{Schema: Schema, Version: s.Version, StartedAt: time.Now().UTC(), Target: s.Target,
		Config: s.Config, Environment: s.Env}
	rep.Objectives = s.Objectives()
	if err := os.MkdirAll(filepath.Join(s.Out, "steps"), 0o750); err != nil {
		return nil, fmt.Errorf("creating %s: %w", s.Out, err)
	}
	if !o.Quiet {
		fmt.Fprintf(o.Stdout, "fbench capacity: %s; steps of %s after %s warm-up, confirmation %s; objectives: %s\n",
			s.Target, s.Search.step, s.Warmup, s.Search.confirm, strings.Join(rep.Objectives, ", "))
		fmt.Fprintln(o.Stdout, TableHeader)
	}
	sr := &searchRun{s: s, ctx: ctx, runner: runStep, rep: rep, o: o, tty: runner.IsTerminal(o.Stderr) && !o.Quiet}
	res, err := s.Search.Run(sr.probe)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		res.Status, res.ExitCode, res.Message = "interrupted", ExitInterrupted, "interrupted; the steps so far are in "+s.Out
	default:
		res.Status, res.ExitCode, res.Message = "error", ExitError, err.Error()
	}
	rep.EndedAt = time.Now().UTC()
	rep.Result = &res
	serr := s.save(rep)
	if !o.Quiet {
		PrintResult(o.Stdout, rep, s.Out)
	}
	if serr != nil {
		return rep, fmt.Errorf("writing the capacity reports: %w", serr)
	}
	if res.ExitCode == ExitOK {
		return rep, nil
	}
	return rep, &CodeError{Code: res.ExitCode, Err: errors.New(res.Message)}
}

// searchRun is a search under way: its steps are run, printed and recorded as they finish.
type searchRun struct {
	s      *Setup
	ctx    context.Context
	runner StepRunner
	rep    *Report
	o      Output
	tty    bool // the step in progress is shown on o.Stderr
}

// probe runs the next step, prints its row and saves the reports with it.
func (r *searchRun) probe(stage string, rate float64, d time.Duration) (*Step, error) {
	s, o := r.s, r.o
	n := len(r.rep.Steps) + 1
	rel := filepath.Join("steps", fmt.Sprintf("%04d-%s", n, FormatRate(rate)))
	st := &Step{N: n, Stage: stage, Rate: rate, DurationS: d.Seconds(), WarmupS: s.Warmup.Seconds(), Dir: rel}
	if r.tty {
		fmt.Fprintf(o.Stderr, "\r\033[K  step %d: %s/s for %s (+%s warm-up)…", n, FormatRate(rate), d, s.Warmup)
	}
	t0 := time.Now()
	err := s.runStep(r.ctx, r.runner, StepSpec{N: n, Rate: rate, Duration: d, Warmup: s.Warmup, Dir: filepath.Join(s.Out, rel)}, st)
	st.ElapsedS = round2(time.Since(t0).Seconds())
	if r.tty {
		fmt.Fprint(o.Stderr, "\r\033[K")
	}
	if err != nil && r.ctx.Err() != nil {
		st.Pass, st.Cause, st.Reasons = false, "interrupted", []string{"the search was interrupted"}
	}
	if err == nil || st.Cause != "" {
		r.rep.Steps = append(r.rep.Steps, st)
		if !o.Quiet {
			fmt.Fprintln(o.Stdout, TableRow(st))
		}
	}
	if serr := s.save(r.rep); serr != nil && err == nil {
		err = serr
	}
	return st, err
}

// runStep runs one step with runStep and judges it from the summary evaluator, so the step's own
// summary.json and report.html carry a "capacity step" verdict; it fills st.
func (s *Setup) runStep(ctx context.Context, runStep StepRunner, spec StepSpec, st *Step) error {
	var observe func(*report.Summary)
	if s.obj != nil {
		observe = s.obj.Observe
	}
	var ivs []interval
	hooks := StepHooks{
		Interval: func(rec *report.IntervalRecord) { ivs = append(ivs, intervalOf(rec)) },
		Summary: func(sum *report.Summary, run StepRun) {
			Assess(st, sum, ivs, s.judge, run.MaxInFlight, observe)
			if run.Crashed {
				// The crash explains everything else that failed (lost invocations, shortfall).
				detail := "the worker's stream ended during the step (" + run.ExitState + ")"
				if run.LastLine != "" {
					detail += "; last stderr line: " + run.LastLine
				}
				st.Pass, st.Cause, st.Reasons = false, CauseCrash, []string{detail}
			}
			v := report.Verdict{Name: fmt.Sprintf("capacity step %d at %s/s", st.N, FormatRate(st.Rate)), Status: report.VerdictPass, Detail: "every check held"}
			if !st.Pass {
				v.Status, v.Detail = report.VerdictFail, st.Cause+": "+strings.Join(st.Reasons, "; ")
			}
			sum.Verdicts = append(sum.Verdicts, v)
		},
	}
	err := runStep(ctx, spec, hooks)
	var se *StartError
	var re *ReportError
	var ue *RunError
	switch {
	case err == nil || ctx.Err() != nil:
		return err
	case errors.As(err, &ue):
		return fmt.Errorf("step %d (%s/s): %w", st.N, FormatRate(st.Rate), ue.Err)
	case errors.As(err, &se):
		st.Cause, st.Reasons = CauseStartErr, []string{se.Err.Error()}
		return fmt.Errorf("step %d (%s/s): %v (worker log: %s)", st.N, FormatRate(st.Rate), se.Err, se.Log)
	case errors.As(err, &re):
		return fmt.Errorf("step %d: writing reports: %w", st.N, re.Err)
	}
	return err
}

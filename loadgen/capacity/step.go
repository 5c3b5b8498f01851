package capacity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
)

// RunnerSteps is the StepRunner that runs every step as `fbench run` runs it (see loadgen/runner):
// a fresh server and worker pool, the engine, the reports in the step's directory. plan makes a
// step's runner.Plan (the run's settings with the step's rate, durations and directory).
func RunnerSteps(plan func(StepSpec) (*runner.Plan, error)) StepRunner {
	return func(ctx context.Context, sp StepSpec, hooks StepHooks) error {
		p, err := plan(sp)
		if err != nil {
			return err
		}
		return runnerStep(ctx, p, hooks)
	}
}

// runnerStep runs one step. It differs from runner.Run in what a step's run directory has always
// recorded: no CPU figures (the CPU budget is the run's, not a step's), no HTTP mode, no launch,
// load-failure or refused-stream notices, a refused plan's directory kept, a failed start not
// marked interrupted; and it hands every interval to the search and calls the worker crashed when
// one process of several ended or the worker ended on its own.
func runnerStep(ctx context.Context, p *runner.Plan, hooks StepHooks) error {
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
		return &StartError{Err: err, Log: filepath.Join(p.Out, "worker.log")}
	}
	w := pool.First()
	meta.Worker = runner.WorkerInfo(w)
	meta.Processes = pool.Processes()
	_ = rw.UpdateMeta(meta)

	p.Config.OnStart = func(t0 time.Time) {
		meta.TimeZero = t0.UTC()
		_ = rw.UpdateMeta(meta)
	}
	p.Config.OnInterval = func(rec *report.IntervalRecord) error {
		hooks.Interval(rec)
		return rw.WriteInterval(rec)
	}
	pool.Configure(&p.Config)
	res, runErr := pool.Run(ctx, p.Config)
	if res == nil && runErr != nil {
		// The engine refused the plan before sending anything (an unknown --function...): bad input.
		pool.Shutdown(nil)
		_, _ = rw.Finish(meta)
		return &RunError{Err: runErr}
	}
	run := StepRun{MaxInFlight: p.Config.MaxInFlight, Crashed: crashed(res, pool)}
	meta.Worker = runner.ShutdownInfo(w, run.Crashed)
	meta.Processes = pool.Finish(res, w)
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
		if run.Crashed {
			run.ExitState = w.ExitState()
			if tail := w.Log.Tail(); len(tail) > 0 {
				run.LastLine = tail[len(tail)-1]
			}
		}
		hooks.Summary(s, run)
	})
	_, ferr := rw.Finish(meta)
	if res != nil && res.Interrupted {
		return ctx.Err()
	}
	if runErr != nil {
		return &RunError{Err: fmt.Errorf("run: %w", runErr)}
	}
	if ferr != nil {
		return &ReportError{Err: ferr}
	}
	return nil
}

// crashed says whether the worker crashed during the step: one process of several ended its
// stream (the others served on), or the worker ended and did not exit 0 on an interrupt.
func crashed(res *loadgen.Result, pool *runner.Pool) bool {
	if res == nil {
		return false
	}
	for _, ev := range res.Events {
		if ev.Kind == "stream_ended" && pool.Len() > 1 {
			return true
		}
	}
	if !res.WorkerEnded {
		return false
	}
	w := pool.First()
	select {
	case <-w.Exited():
	case <-time.After(2 * time.Second):
	}
	code, exited := w.ExitCode()
	return !exited || code != 0 || !res.Interrupted
}

// StepFlags are the run flags every step sets itself: fbench capacity hides and refuses them.
var StepFlags = []string{"rps", "duration", "count", "warmup", "profile", "concurrency", "restart-worker", "max-restarts", "repeat", "gate-verdicts", "start-at"}

// CheckStepFlags refuses the run flags a step sets itself; given says whether a flag was given.
func CheckStepFlags(given func(flag string) bool) error {
	for _, n := range StepFlags {
		if given(n) {
			return fmt.Errorf("--%s cannot be used with fbench capacity: every step sets its own rate and duration (see --start, --step, --step-warmup)", n)
		}
	}
	return nil
}

// OutDir is the capacity directory: out, or DefaultOut(now) when out is "". It must be empty or
// missing, as a run directory.
func OutDir(out string, now time.Time) (string, error) {
	if out == "" {
		out = DefaultOut(now)
	}
	return out, runner.CheckOutDir(out)
}

// Prepare makes the first step's plan, the check of the steps' settings before anything starts,
// and completes the setup from it: the target (worker "" is the reference worker and the functions
// the plan invokes), the steps' seed and their recorded configuration.
func (s *Setup) Prepare(plan func(StepSpec) (*runner.Plan, error), worker string) error {
	dir := filepath.Join(os.TempDir(), "fbench-capacity-check-never-created")
	p, err := plan(StepSpec{Rate: s.Search.start, Duration: s.Search.step, Warmup: s.Warmup, Dir: dir})
	if err != nil {
		return err
	}
	var fns []string
	for _, t := range p.Config.Targets {
		fns = append(fns, t.Function)
	}
	s.Target = Target(worker, fns)
	s.Config["seed"], s.Config["step_config"] = strconv.FormatUint(p.Config.Seed, 10), p.Record
	return nil
}

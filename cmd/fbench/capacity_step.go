package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/capacity"
	"github.com/fbench/fbench/report"
)

// stepRunner runs a capacity step as `fbench run` runs (execute in run.go): a fresh server and
// worker, the engine, the reports in the step's directory, with the search's hooks.
func (c *capacityFlags) stepRunner(fs *pflag.FlagSet) capacity.StepRunner {
	return func(ctx context.Context, sp capacity.StepSpec, hooks capacity.StepHooks) error {
		p, err := c.stepPlan(fs, sp)
		if err != nil {
			return err
		}
		return runStep(ctx, p, hooks)
	}
}

func runStep(ctx context.Context, p *plan, hooks capacity.StepHooks) error {
	meta := report.Meta{
		Schema: report.RunSchema, Version: version, Mode: p.mode, StartedAt: time.Now().UTC(),
		Interval: p.cfg.Interval, Config: p.config, Environment: environment(),
		Harness: report.HarnessInfo{LagBudget: p.lag, CPUBudgetPct: p.cpuBudget},
	}
	meta.VerdictThresholds = p.thresholds
	if s := p.schedule; s != nil {
		meta.Warmup = s.WarmupEnd()
		for _, ph := range s.Phases() {
			meta.Phases = append(meta.Phases, report.Phase{Name: ph.Name, Start: ph.Start, End: ph.End})
		}
	}
	meta.Processes = placeholders(p.procs.Count)
	rw, err := report.CreateRun(p.out, meta)
	if err != nil {
		return err
	}
	var slos *report.SLOEvaluator
	if len(p.slo.SLOs) > 0 {
		slos = report.NewSLOEvaluator(p.slo.SLOs, p.slo.Window)
		rw.Observe(slos)
	}
	pool, cleanup, err := startRunWorkers(ctx, p, io.Discard)
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
		return &capacity.StartError{Err: err, Log: filepath.Join(p.out, "worker.log")}
	}
	w := pool.first()
	meta.Worker = workerInfo(w)
	if len(meta.Processes) > 0 {
		meta.Processes = pool.infos
	}
	_ = rw.UpdateMeta(meta)

	p.cfg.OnStart = func(t0 time.Time) {
		meta.TimeZero = t0.UTC()
		_ = rw.UpdateMeta(meta)
	}
	p.cfg.OnInterval = func(rec *report.IntervalRecord) error {
		hooks.Interval(rec)
		return rw.WriteInterval(rec)
	}
	pool.configure(&p.cfg, false)
	res, runErr := pool.run(ctx, p.cfg)
	if res == nil && runErr != nil {
		// The engine refused the plan before sending anything (an unknown --function...): bad input.
		pool.shutdown(nil)
		_, _ = rw.Finish(meta)
		return &capacity.RunError{Err: runErr}
	}
	run := capacity.StepRun{MaxInFlight: p.cfg.MaxInFlight}
	for _, ev := range resEvents(res) {
		if ev.Kind == "stream_ended" && len(pool.ws) > 1 {
			run.Crashed = true // one process of several: the others served on
		}
	}
	if res != nil && res.WorkerEnded {
		select {
		case <-w.Exited():
		case <-time.After(2 * time.Second):
		}
		if code, exited := w.ExitCode(); !exited || code != 0 || !res.Interrupted {
			run.Crashed = true
		}
	}
	meta.Worker = shutdownInfo(w, run.Crashed)
	if infos := pool.finish(res, w); len(meta.Processes) > 0 {
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
		if run.Crashed {
			run.ExitState = w.ExitState()
			if tail := lastN(w.Log.Tail(), 1); len(tail) > 0 {
				run.LastLine = tail[0]
			}
		}
		hooks.Summary(s, run)
	})
	_, ferr := rw.Finish(meta)
	if res != nil && res.Interrupted {
		return ctx.Err()
	}
	if runErr != nil {
		return &capacity.RunError{Err: fmt.Errorf("run: %w", runErr)}
	}
	if ferr != nil {
		return &capacity.ReportError{Err: ferr}
	}
	return nil
}

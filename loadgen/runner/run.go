package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

// The kinds of a run's end that are not plain errors (bad input, a worker that failed to start,
// reports that could not be written). Run's errors wrap one of them without changing the message:
// test with errors.Is.
var (
	ErrCrashed     = errors.New("the worker crashed")                       // or asked for a restart the run does not make
	ErrInterrupted = errors.New("interrupted")                              // ctx was cancelled
	ErrInvalid     = errors.New("the run is invalid")                       // the harness fell behind: the numbers cannot be trusted
	ErrFailed      = errors.New("an objective or a verdict failed the run") // the plan's Gate failed
)

// kindError is err, of kind kind.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func withKind(kind, err error) error { return &kindError{kind, err} }

// Output is where a run says what it does while it runs.
type Output struct {
	// Progress receives the start line, the processes' readiness, relaunches and one line per
	// interval (a live line on a terminal); nil: nothing.
	Progress io.Writer
	// Notice receives each notice (also recorded in run.json as a "notice" event); nil: none.
	Notice func(msg string)
}

// Outcome is what a run produced.
type Outcome struct {
	// Summary is the run's summary, as written to the run directory; nil unless the run completed.
	Summary *report.Summary
	// Result is the engine's result; nil when the worker did not start or the engine refused the plan.
	Result *loadgen.Result
}

// run is one Run in progress.
type run struct {
	p    *Plan
	out  Output
	meta report.Meta
	rw   *report.RunWriter
}

// notice records msg in run.json's events and says it.
func (r *run) notice(msg string) {
	r.meta.Events = append(r.meta.Events, report.Event{Kind: "notice", Detail: msg})
	if r.out.Notice != nil {
		r.out.Notice(msg)
	}
}

// Run runs a plan: it creates the run directory, launches the worker process(es), runs the engine
// over them, writes the reports and judges the run. The error says why the run did not pass: a
// plain error when it could not run (the worker failed to start, the engine refused the plan:
// then no run directory is left behind), else one of ErrCrashed, ErrInterrupted, ErrInvalid and
// ErrFailed (the plan's Gate), in that order of precedence.
func Run(ctx context.Context, p *Plan, out Output) (*Outcome, error) {
	// CPU counters are the process's: this run's share is what they gained from here (repeated
	// runs share one process).
	cpuSelf0, cpuChildren0 := cpuSeconds(syscall.RUSAGE_SELF), cpuSeconds(syscall.RUSAGE_CHILDREN)
	r := &run{p: p, out: out, meta: p.Meta()}
	created := firstMissing(p.Out)
	var err error
	if r.rw, err = report.CreateRun(p.Out, r.meta); err != nil {
		return nil, err
	}
	p.Objectives.Attach(r.rw)
	pool, cleanup, err := StartWorkers(ctx, p, out.Progress)
	defer cleanup()
	if pool == nil {
		return nil, err
	}
	if err != nil {
		return nil, r.failedStart(ctx, pool, err)
	}
	w := pool.First()
	r.announce(pool, w)
	cfg := r.engineConfig(pool, w)
	prog := newProgress(out.Progress, p)
	cfg.OnInterval = func(rec *report.IntervalRecord) error {
		prog.interval(rec)
		return r.rw.WriteInterval(rec)
	}
	pool.Configure(&cfg)
	res, runErr := pool.Run(ctx, cfg)
	prog.done()
	if res == nil && runErr != nil {
		// The engine refused the plan before sending anything (an unknown function, or one that
		// failed to load): bad input, so no run directory is left behind.
		pool.Shutdown(nil)
		cleanup()
		removeRunDir(p.Out, created)
		return nil, runErr
	}
	if res != nil && res.Worker != nil {
		w = res.Worker
	}
	end := ending(res, w, p.Restart)
	summary, err := r.finish(pool, res, w, end, cpuSelf0, cpuChildren0)
	if err != nil {
		return &Outcome{Result: res}, fmt.Errorf("writing reports: %w", err)
	}
	if runErr != nil {
		return &Outcome{Result: res}, fmt.Errorf("run: %w", runErr)
	}
	return &Outcome{Summary: summary, Result: res}, r.judge(summary, res, end)
}

// finish shuts the worker(s) down, records how the run ended and writes the reports.
func (r *run) finish(pool *Pool, res *loadgen.Result, w *host.Worker, end workerEnd, cpuSelf0, cpuChildren0 float64) (*report.Summary, error) {
	if end.restartAsked != "" {
		note := "the worker exited with code 200, the host's intentional restart (not a crash); without --restart-worker fbench does not relaunch it, so the run ended there"
		r.meta.Events = append(r.meta.Events, report.Event{Kind: "notice", Detail: note})
	}
	r.meta.Worker = ShutdownInfo(w, end.crashed)
	r.meta.Processes = pool.Finish(res, w)
	r.meta.EndedAt = time.Now().UTC()
	r.meta.Harness.CPUSeconds = cpuSeconds(syscall.RUSAGE_SELF) - cpuSelf0
	r.meta.Worker.CPUSeconds = cpuSeconds(syscall.RUSAGE_CHILDREN) - cpuChildren0
	r.result(res)
	if n := pool.srv.Refused(); n > 0 {
		r.notice(fmt.Sprintf("%d EventStream(s) refused: not opened by the worker fbench launched, or a second one (a worker has one stream)", n))
	}
	return r.rw.Finish(r.meta)
}

// judge is nil when the run passed, else why not, of its kind.
func (r *run) judge(summary *report.Summary, res *loadgen.Result, end workerEnd) error {
	switch {
	case end.restartAsked != "":
		return withKind(ErrCrashed, errors.New("the worker asked for a restart (exit code 200), not a crash; rerun with --restart-worker to relaunch it as the host does: "+end.restartAsked))
	case end.crashed:
		msg := "the worker crashed: " + end.detail
		if res.Restarts > 0 {
			msg += fmt.Sprintf(" (relaunched %d times; the run went on)", res.Restarts)
		}
		return withKind(ErrCrashed, errors.New(msg))
	case res != nil && res.Interrupted:
		return withKind(ErrInterrupted, errors.New("interrupted; everything measured was written to "+r.p.Out))
	case !summary.Harness.Valid:
		return withKind(ErrInvalid, fmt.Errorf("run invalid: %s", summary.Harness.InvalidReason))
	}
	if r.p.Gate != nil {
		if err := r.p.Gate(summary); err != nil {
			return withKind(ErrFailed, err)
		}
	}
	return nil
}

// failedStart records a start that failed (err) in the run directory and says why.
func (r *run) failedStart(ctx context.Context, pool *Pool, err error) error {
	r.meta.Events = append(r.meta.Events, report.Event{Kind: "worker_failed", Detail: err.Error()})
	if ctx.Err() != nil {
		r.meta.Interrupted = "signal"
	}
	r.meta.Processes = pool.Processes()
	_, _ = r.rw.Finish(r.meta)
	if ctx.Err() != nil {
		return withKind(ErrInterrupted, fmt.Errorf("interrupted while starting the worker; run directory: %s", r.p.Out))
	}
	return fmt.Errorf("%v (worker log: %s)", err, filepath.Join(r.p.Out, "worker.log"))
}

// announce records and says how the worker(s) started: processes relaunched after a failed
// handshake, the launch's notices, functions that failed to load.
func (r *run) announce(pool *Pool, w *host.Worker) {
	for i, perr := range pool.errs {
		if perr != nil {
			r.notice(fmt.Sprintf("worker process %d of %d failed its handshake (%v); it is relaunched (--restart-worker) while the others serve", i+1, pool.Len(), perr))
		}
	}
	r.meta.Processes = pool.Processes()
	r.meta.Worker = WorkerInfo(w)
	for _, msg := range LaunchNotices(w.Command) {
		r.notice(msg)
	}
	for _, f := range w.Failed {
		// Not invoked (with no function or mix asked for, the mix is the loaded functions): say so.
		r.notice(fmt.Sprintf("function %s failed to load and is not invoked: %s", f.Name, f.LoadError))
	}
	_ = r.rw.UpdateMeta(r.meta)
}

// engineConfig is the plan's engine configuration with the run's hooks: notices, time zero,
// relaunches; it says the start line.
func (r *run) engineConfig(pool *Pool, w *host.Worker) loadgen.Config {
	p, progress := r.p, r.out.Progress
	cfg := p.Config
	cfg.OnNotice = r.notice
	cfg.OnStart = func(t0 time.Time) {
		r.meta.TimeZero = t0.UTC()
		_ = r.rw.UpdateMeta(r.meta)
	}
	if progress != nil {
		if n := pool.Len(); n > 1 {
			fmt.Fprintf(progress, "fbench: %s; %d worker processes, %d functions; writing %s\n", describePlan(p), n, len(w.Functions), p.Out)
		} else {
			fmt.Fprintf(progress, "fbench: %s; worker pid %d, %d functions; writing %s\n", describePlan(p), w.Pid, len(w.Functions), p.Out)
		}
		if px := w.HTTPProxy(); px != nil {
			fmt.Fprintf(progress, "fbench: HTTP functions are proxied to %s (the worker's HttpUri), %d connections at most\n", px.Raw, cfg.HTTPMaxConns)
		}
		startAtLine(progress, p, time.Now())
	}
	if p.Restart {
		cfg.MaxRestarts = p.MaxRestarts
		cfg.Relaunch = func(ctx context.Context, old *host.Worker) (*host.Worker, error) {
			if old != nil {
				old.Shutdown(time.Second) // reap the dead worker
				if progress != nil {
					fmt.Fprintf(progress, "\nfbench: worker pid %d ended (%s); relaunching it\n", old.Pid, old.ExitState())
				}
			}
			return pool.Relaunch(ctx)
		}
	}
	return cfg
}

// result records the engine's result in run.json's metadata.
func (r *run) result(res *loadgen.Result) {
	if res == nil {
		return
	}
	r.meta.Worker.Restarts = res.Restarts
	r.meta.HTTPMode = res.HTTPMode
	r.meta.Failures, r.meta.WorkerLogs = res.Failures, res.WorkerLogs
	r.meta.Events = append(r.meta.Events, res.Events...)
	for _, n := range res.Notices {
		r.notice(n)
	}
	if res.Interrupted {
		r.meta.Interrupted = "signal"
	}
}

// workerEnd is how the run's worker ended: crashed when its stream ended during the run (restarted
// or not, unless the run was interrupted and it exited cleanly), with the first end's detail; or,
// when the run does not relaunch workers, asking for a restart (exit code 200, not a crash) and so
// ending the run.
type workerEnd struct {
	crashed              bool
	detail, restartAsked string
}

func ending(res *loadgen.Result, w *host.Worker, restart bool) workerEnd {
	var e workerEnd
	if res == nil {
		return e
	}
	for _, ev := range res.Events {
		if ev.Kind == "stream_ended" {
			e.crashed = true
			if e.detail == "" {
				e.detail = ev.Detail
			}
		}
	}
	if res.WorkerEnded && res.Interrupted {
		if code, exited := w.ExitCode(); exited && code == 0 {
			e.crashed = false
		}
	}
	if !restart && !e.crashed && res.WorkerEnded && !res.Interrupted {
		for _, ev := range res.Events {
			if ev.Kind == loadgen.EventIntentionalRestart {
				e.restartAsked = ev.Detail
			}
		}
	}
	return e
}

// Meta is run.json's metadata before the worker starts: the plan, this machine, the phases.
func (p *Plan) Meta() report.Meta {
	meta := report.Meta{
		Schema: report.RunSchema, Version: p.Version, Mode: p.Mode, StartedAt: time.Now().UTC(),
		Interval: p.Config.Interval, Config: p.Record, Environment: Environment(p.Version),
		Harness: report.HarnessInfo{LagBudget: p.LagBudget, CPUBudgetPct: p.CPUBudget},
	}
	meta.Warmup = p.Config.Warmup
	meta.VerdictThresholds = p.Thresholds
	meta.Processes = placeholders(p.Processes.Count)
	if s := p.Schedule; s != nil {
		meta.Warmup = s.WarmupEnd()
		for _, ph := range s.Phases() {
			end := ph.End
			if !s.Bounded() && end > 1<<60 {
				end = 0
			}
			meta.Phases = append(meta.Phases, report.Phase{Name: ph.Name, Start: ph.Start, End: end})
		}
	}
	return meta
}

// Environment describes this machine (and fbench's version) for the report.
func Environment(version string) report.Environment {
	env := report.Environment{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version(), Fbench: version}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				env.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		env.Kernel = strings.TrimSpace(string(b))
	}
	env.Hostname, _ = os.Hostname()
	return env
}

// firstMissing is the outermost directory of dir's path that does not exist yet ("" if dir exists).
func firstMissing(dir string) string {
	missing := ""
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			return missing
		}
		missing = d
		if filepath.Dir(d) == d {
			return missing
		}
	}
}

// removeRunDir removes what fbench created for a run directory: created (see firstMissing), or
// only dir's contents when dir existed (empty) before.
func removeRunDir(dir, created string) {
	if created != "" {
		_ = os.RemoveAll(created)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// cpuSeconds is user + system CPU time of this process (RUSAGE_SELF) or of its reaped children.
func cpuSeconds(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

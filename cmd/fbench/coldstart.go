package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/coldstart"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
)

const coldstartUsage = `Usage: fbench coldstart [flags] [WORKER [-- ARGS...]]

Starts WORKER (default: the built-in reference worker) -n times, one fresh process after the other,
as the Functions host does, and times each start phase by phase as the host sees it: spawn,
StartStream, init, metadata, loads, and the answer to the first invocation (sent as soon as the
host would send it). With --placeholder, each worker starts as a standby host starts it (placeholder
app directory and environment), is initialized, optionally warmed up, and after --specialize-after
is specialized with FunctionEnvironmentReloadRequest (the app's environment and directory) before
metadata, loads and the first invocation.

Writes coldstart.json, coldstart.csv, coldstart.hlog (one tag per phase), report.html and worker.log
to --out. A start that fails is recorded with its phase and reason and the next one goes on.

Examples:
  fbench coldstart -n 50 --ref start-delay=uniform:50ms-150ms
  fbench coldstart -n 20 --placeholder --specialize-after 500ms --app ./app ./workers/node
  fbench coldstart -n 30 --slo 'coldstart.total.p99<2s' --slo 'coldstart.failed==0' ./worker
`

// coldstartFlags are the flags of fbench coldstart.
type coldstartFlags struct {
	workerFlags
	count           int
	pause           time.Duration
	function        string
	body, bodyFile  string
	method          string
	headers, query  []string
	invocations     int
	timeout         time.Duration
	placeholder     bool
	standbyDir      string
	warmupRequest   bool
	specializeAfter time.Duration
	reloadTimeout   time.Duration
	slo             []string
	shareBudget     time.Duration
	out             string
	quiet           bool
}

func (f *coldstartFlags) register(fs *pflag.FlagSet) {
	fs.IntVarP(&f.count, "count", "n", 20, "cold starts, one fresh worker process after the other")
	fs.DurationVar(&f.pause, "pause", 0, "wait between one start's end and the next start")
	fs.StringVar(&f.function, "function", "", "the function invoked first (default: the first HTTP-triggered function loaded)")
	fs.StringVar(&f.body, "body", "", "request body / trigger payload of the invocations")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the request body from `FILE`")
	fs.StringVar(&f.method, "method", "", "HTTP method (default POST with a body, GET without)")
	fs.StringArrayVar(&f.headers, "header", nil, "HTTP header `K:V` (repeatable)")
	fs.StringArrayVar(&f.query, "query", nil, "query parameter `K=V` (repeatable)")
	fs.IntVar(&f.invocations, "invocations", 0, "after the first invocation, send `K` more one after the other (the first-K latency curve)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "per-invocation timeout")
	fs.BoolVar(&f.placeholder, "placeholder", false, "start each worker as a standby (placeholder) host does, then specialize it with FunctionEnvironmentReloadRequest")
	fs.StringVar(&f.standbyDir, "standby-dir", host.StandbyDir(), "with --placeholder: the standby host's app `DIR` (created when missing)")
	fs.BoolVar(&f.warmupRequest, "warmup-request", false, "with --placeholder: send WorkerWarmupRequest to a worker that advertises HandlesWorkerWarmupMessage")
	fs.DurationVar(&f.specializeAfter, "specialize-after", 100*time.Millisecond, "with --placeholder: standby time before specialization")
	fs.DurationVar(&f.reloadTimeout, "reload-timeout", 0, "with --placeholder: FunctionEnvironmentReloadRequest timeout (default: worker.config.json's environmentReloadTimeout, else 30s)")
	fs.StringArrayVar(&f.slo, "slo", nil, "objective `EXPR`, e.g. coldstart.total.p99<2s, specialize.p50<200ms, coldstart.failed==0 (repeatable; exit 2 when one fails)")
	fs.DurationVar(&f.shareBudget, "share-budget", 5*time.Millisecond, "fbench's own share of a phase (a worker's message → fbench's answer) with a p99 above this makes the run invalid (exit 3)")
	fs.StringVar(&f.out, "out", "", "run directory (default fbench-results/<UTC timestamp>-coldstart)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines and no summary on stdout")
	f.workerFlags.register(fs)
}

// coldPlan is a validated cold-start run.
type coldPlan struct {
	cfg    coldstart.Config
	count  int
	pause  time.Duration
	slos   []report.SLO
	out    string
	quiet  bool
	budget time.Duration
	config map[string]any
	mode   string
	phases []string
	worker string
}

func (f *coldstartFlags) plan(fs *pflag.FlagSet) (*coldPlan, error) {
	if f.count < 1 {
		return nil, fmt.Errorf("invalid -n %d: at least one start", f.count)
	}
	if f.pause < 0 || f.specializeAfter < 0 || f.reloadTimeout < 0 {
		return nil, errors.New("invalid --pause, --specialize-after or --reload-timeout: must not be negative")
	}
	if f.invocations < 0 {
		return nil, fmt.Errorf("invalid --invocations %d: must not be negative", f.invocations)
	}
	if f.timeout <= 0 {
		return nil, fmt.Errorf("invalid --timeout %s: must be positive", f.timeout)
	}
	if f.shareBudget < 0 {
		return nil, fmt.Errorf("invalid --share-budget %s: must not be negative", f.shareBudget)
	}
	if !f.placeholder {
		for _, name := range []string{"warmup-request", "specialize-after", "standby-dir", "reload-timeout"} {
			if fs.Changed(name) {
				return nil, fmt.Errorf("--%s needs --placeholder", name)
			}
		}
	}
	payload, err := runner.Request{Method: f.method, Body: f.body, BodyFile: f.bodyFile, Headers: f.headers, Query: f.query}.Payload()
	if err != nil {
		return nil, err
	}
	slos, err := report.ParseColdstartSLOs(f.slo)
	if err != nil {
		return nil, err
	}
	opt, err := f.workerFlags.options(fs.Args())
	if err != nil {
		return nil, err
	}
	if _, err := host.Resolve(opt.Launch, 1, "check", "check"); err != nil {
		return nil, err
	}
	p := &coldPlan{count: f.count, pause: f.pause, slos: slos, quiet: f.quiet, budget: f.shareBudget, worker: opt.Launch.Worker}
	p.cfg = coldstart.Config{Host: opt, Function: f.function, Payload: payload, Invocations: f.invocations, Timeout: f.timeout,
		Placeholder: f.placeholder, StandbyDir: f.standbyDir, WarmupRequest: f.warmupRequest, SpecializeAfter: f.specializeAfter,
		ReloadTimeout: f.reloadTimeout}
	p.mode, p.phases = report.ColdstartDirect, coldstart.DirectPhases
	if f.placeholder {
		p.mode, p.phases = report.ColdstartPlaceholder, coldstart.PlaceholderPhases
	}
	p.out = f.out
	if p.out == "" {
		p.out = filepath.Join("fbench-results", time.Now().UTC().Format("20060102T150405Z")+"-coldstart")
	}
	if err := checkOutDir(p.out); err != nil {
		return nil, err
	}
	p.config = map[string]any{
		"args": os.Args[1:], "starts": f.count, "pause": f.pause.String(), "function": f.function, "invocations": f.invocations,
		"timeout": f.timeout.String(), "body_bytes": len(payload.Body), "placeholder": f.placeholder,
		"worker": opt.Launch.Worker, "worker_args": opt.Launch.Args, "app": f.App, "env": f.Env, "indexing": string(opt.Indexing),
		"host_version": f.HostVersion, "share_budget": f.shareBudget.String(), "slo": f.slo,
	}
	if f.placeholder {
		p.config["standby_dir"] = f.standbyDir
		p.config["warmup_request"] = f.warmupRequest
		p.config["specialize_after"] = f.specializeAfter.String()
	}
	return p, nil
}

func cmdColdstart(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("coldstart", coldstartUsage, stderr)
	var f coldstartFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := f.plan(fs)
	if err != nil {
		return err
	}
	return executeColdstart(p, stdout, stderr)
}

func executeColdstart(p *coldPlan, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(p.out, 0o755); err != nil {
		return fmt.Errorf("creating the run directory: %w", err)
	}
	logFile, err := os.OpenFile(filepath.Join(p.out, "worker.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("creating the worker log: %w", err)
	}
	defer logFile.Close()
	p.cfg.Host.Log = logFile
	srv, err := host.NewServer()
	if err != nil {
		return err
	}
	defer srv.Close()

	rep := report.NewColdstartReport(p.mode, p.phases, version, p.config, environment(), p.budget)
	say := func(format string, args ...any) {
		if !p.quiet {
			fmt.Fprintf(stderr, "fbench: "+format+"\n", args...)
		}
	}
	notice := func(msg string) {
		rep.Notices = append(rep.Notices, msg)
		fmt.Fprintf(stderr, "fbench: note: %s\n", msg)
	}
	say("%d %s cold starts of %s; writing %s", p.count, p.mode, p.worker, p.out)
	var rejected, unknown string
	warmupNoted := false
	for i := 1; i <= p.count; i++ {
		if i > 1 && p.pause > 0 {
			select {
			case <-time.After(p.pause):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(logFile, "=== fbench: start %d ===\n", i)
		st, err := coldstart.Measure(ctx, srv, p.cfg, i)
		if err != nil {
			break // interrupted: the start cut short is no failure of the worker's, and not recorded
		}
		rep.Add(st)
		if st.Failed {
			say("start %d/%d failed in %s: %s", i, p.count, st.FailedPhase, oneLine(st.Reason))
			if st.FailedPhase == coldstart.PhaseSpecialize && strings.Contains(st.Reason, "does not support placeholder specialization") {
				rejected = st.Reason
				break
			}
			if strings.Contains(st.Reason, "unknown function") {
				unknown = st.Reason // bad input: every start would fail the same way
				break
			}
			continue
		}
		if p.cfg.Placeholder && p.cfg.WarmupRequest && st.Warmup == "not advertised" && !warmupNoted {
			warmupNoted = true
			notice("--warmup-request: the worker does not advertise HandlesWorkerWarmupMessage, so no WorkerWarmupRequest is sent (as the host would not send one)")
		}
		head, _ := st.Phase(rep.Headline())
		say("start %d/%d: %s %s", i, p.count, rep.Headline(), fmtDur(head.Dur))
	}
	if ctx.Err() != nil {
		rep.Interrupted = "signal"
	}
	if rejected != "" {
		rep.Notices = append(rep.Notices, oneLine(rejected)+"; no further start was made")
	}
	if n := srv.Refused(); n > 0 {
		notice(fmt.Sprintf("%d EventStream(s) refused: not opened by a worker fbench launched, or a second one", n))
	}
	rep.Finish()
	rep.EvaluateColdstartSLOs(p.slos)
	if err := report.WriteColdstart(p.out, rep); err != nil {
		return fmt.Errorf("writing reports: %w", err)
	}
	if !p.quiet {
		_ = report.WriteColdstartText(stdout, rep)
		fmt.Fprintf(stdout, "Reports: %s\n", p.out)
	}
	if rep.Interrupted != "" {
		return withCode(130, errors.New("interrupted; the starts measured were written to "+p.out))
	}
	if rejected != "" {
		return errors.New(oneLine(rejected))
	}
	if unknown != "" {
		return fmt.Errorf("--function: %s", strings.TrimPrefix(oneLine(unknown), "invocation: "))
	}
	return coldstartVerdict(rep)
}

// coldstartVerdict is the exit of a finished cold-start run: 1 when no start succeeded, 3 when
// fbench's share was over its budget, 2 when an objective failed.
func coldstartVerdict(rep *report.ColdstartReport) error {
	switch {
	case len(rep.Runs) == 0:
		return errors.New("no start was made")
	case rep.Succeeded == 0:
		return fmt.Errorf("no start succeeded (%d failed; first: %s)", rep.Failed, oneLine(rep.Runs[0].Reason))
	case !rep.Valid:
		return withCode(exitInvalid, fmt.Errorf("run invalid: %s", rep.InvalidReason))
	}
	var failed []string
	for _, r := range rep.SLOs {
		if !r.Pass {
			failed = append(failed, fmt.Sprintf("%s (observed %s)", r.Expression, r.Observed))
		}
	}
	if len(failed) > 0 {
		return withCode(exitFailed, fmt.Errorf("%d of %d SLOs failed: %s", len(failed), len(rep.SLOs), strings.Join(failed, "; ")))
	}
	return nil
}

// isColdstartDir reports whether dir holds a cold-start run.
func isColdstartDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, report.ColdstartFile))
	return err == nil
}

// reportColdstart rebuilds a cold-start directory's files from coldstart.json and checks its
// objectives again: the recorded ones, or exprs when replace is set.
func reportColdstart(dir string, exprs []string, replace, quiet bool, stdout io.Writer) error {
	rep, err := report.LoadColdstart(filepath.Join(dir, report.ColdstartFile))
	if err != nil {
		return err
	}
	if !replace {
		if list, ok := rep.Config["slo"].([]any); ok {
			for _, e := range list {
				if s, ok := e.(string); ok {
					exprs = append(exprs, s)
				}
			}
		}
	}
	slos, err := report.ParseColdstartSLOs(exprs)
	if err != nil {
		return err
	}
	ended := rep.EndedAt
	rep.Finish()
	rep.EndedAt = ended
	rep.EvaluateColdstartSLOs(slos)
	if err := report.WriteColdstart(dir, rep); err != nil {
		return fmt.Errorf("writing reports: %w", err)
	}
	if !quiet {
		_ = report.WriteColdstartText(stdout, rep)
		fmt.Fprintf(stdout, "Reports rebuilt in %s\n", dir)
	}
	return coldstartVerdict(rep) // an interrupt's 130 is not replayed, as for fbench run's report
}

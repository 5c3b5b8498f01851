package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/coldstart"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/slo"
)

//go:embed help/coldstart-usage.txt
var coldstartUsage string

// coldstartFlags are the flags of fbench coldstart.
type coldstartFlags struct {
	worker runner.WorkerSettings
	plan   coldstart.Plan
	req    runner.Request
	slo    []string
	quiet  bool
}

func (f *coldstartFlags) register(fs *pflag.FlagSet) {
	p, c := &f.plan, &f.plan.Config
	fs.IntVarP(&p.Count, "count", "n", 20, "cold starts, one fresh worker process after the other")
	fs.DurationVar(&p.Pause, "pause", 0, "wait between one start's end and the next start")
	fs.StringVar(&c.Function, "function", "", "the function invoked first (default: the first HTTP-triggered function loaded)")
	registerRequest(fs, &f.req, "request body / trigger payload of the invocations")
	fs.IntVar(&c.Invocations, "invocations", 0, "after the first invocation, send `K` more one after the other (the first-K latency curve)")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "per-invocation timeout")
	fs.BoolVar(&c.Placeholder, "placeholder", false, "start each worker as a standby (placeholder) host does, then specialize it with FunctionEnvironmentReloadRequest")
	fs.StringVar(&c.StandbyDir, "standby-dir", host.StandbyDir(), "with --placeholder: the standby host's app `DIR` (created when missing)")
	fs.BoolVar(&c.WarmupRequest, "warmup-request", false, "with --placeholder: send WorkerWarmupRequest to a worker that advertises HandlesWorkerWarmupMessage")
	fs.DurationVar(&c.SpecializeAfter, "specialize-after", 100*time.Millisecond, "with --placeholder: standby time before specialization")
	fs.DurationVar(&c.ReloadTimeout, "reload-timeout", 0, "with --placeholder: FunctionEnvironmentReloadRequest timeout (default: worker.config.json's environmentReloadTimeout, else 30s)")
	fs.StringArrayVar(&f.slo, "slo", nil, "objective `EXPR`, e.g. coldstart.total.p99<2s, specialize.p50<200ms, coldstart.failed==0 (repeatable; exit 2 when one fails)")
	fs.DurationVar(&p.Budget, "share-budget", 5*time.Millisecond, "fbench's own share of a phase (a worker's message → fbench's answer) with a p99 above this makes the run invalid (exit 3)")
	fs.StringVar(&p.Out, "out", "", "run directory (default fbench-results/<UTC timestamp>-coldstart)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines and no summary on stdout")
	registerWorker(fs, &f.worker)
}

// setup completes the plan the flags filled: payload, objectives, worker, run directory.
func (f *coldstartFlags) setup(fs *pflag.FlagSet) (p *coldstart.Plan, err error) {
	p = &f.plan
	if err := p.Check(fs.Changed); err != nil {
		return nil, err
	}
	if p.Config.Payload, err = f.req.Payload(); err != nil {
		return nil, err
	}
	if p.SLOs, err = slo.ParseColdstartAll(f.slo); err != nil {
		return nil, err
	}
	f.worker.Command = fs.Args()
	if p.Config.Host, err = runner.HostOptions(f.worker); err != nil {
		return nil, err
	}
	if err := p.Resolve(); err != nil {
		return nil, err
	}
	if err := runner.CheckOutDir(p.Out); err != nil {
		return nil, err
	}
	p.Version, p.Env = version, runner.Environment(version)
	p.SetRecord(map[string]any{"args": os.Args[1:], "app": f.worker.App, "env": f.worker.Env, "host_version": f.worker.HostVersion}, f.slo)
	return p, nil
}

func cmdColdstart(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("coldstart", coldstartUsage, stderr)
	var f coldstartFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := f.setup(fs)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	res, err := coldstart.Run(ctx, *p, coldstart.Printer{
		Progress: func(msg string) {
			if !f.quiet {
				fmt.Fprintf(stderr, "fbench: %s\n", msg)
			}
		},
		Notice: func(msg string) { fmt.Fprintf(stderr, "fbench: note: %s\n", msg) },
	})
	if err != nil {
		return err
	}
	if !f.quiet {
		_ = report.WriteColdstartText(stdout, res.Report)
		fmt.Fprintf(stdout, "Reports: %s\n", p.Out)
	}
	if res.Report.Interrupted != "" {
		return withCode(130, errors.New("interrupted; the starts measured were written to "+p.Out))
	}
	if err := res.Err(); err != nil {
		return err
	}
	return coldstartVerdict(res.Report)
}

// coldstartVerdict is the exit of a finished cold-start run: 1 when no start succeeded, 3 when
// fbench's share was over its budget, 2 when an objective failed.
func coldstartVerdict(rep *report.ColdstartReport) error {
	v, err := coldstart.Judge(rep)
	switch v {
	case coldstart.Invalid:
		return withCode(exitInvalid, err)
	case coldstart.SLOFailed:
		return withCode(exitFailed, err)
	}
	return err
}

// reportColdstart rebuilds a cold-start directory's files from coldstart.json and checks its
// objectives again: the recorded ones, or exprs when replace is set.
func reportColdstart(dir string, exprs []string, replace, quiet bool, stdout io.Writer) error {
	rep, err := coldstart.Rebuild(dir, exprs, replace)
	if err != nil {
		return err
	}
	if !quiet {
		_ = report.WriteColdstartText(stdout, rep)
		fmt.Fprintf(stdout, "Reports rebuilt in %s\n", dir)
	}
	return coldstartVerdict(rep) // an interrupt's 130 is not replayed, as for fbench run's report
}

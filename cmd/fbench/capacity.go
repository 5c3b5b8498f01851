package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/capacity"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/runner"
)

// fbench capacity: the highest arrival rate a worker sustains (see loadgen/capacity). Every step
// is a fresh `fbench run` at one constant rate, in its own run directory.

//go:embed help/capacity-usage.txt
var capacityUsage string

const capacityExitMsg = `Exit codes: 0 a sustainable rate was found; 1 bad input or the worker failed to start; 2 no rate
held (every step failed, or the confirmation never passed); 3 the harness was the limit; 4 the worker
crashed; 130 interrupted.`

// capacityFlags are the flags of fbench capacity: the run flags (minus the ones a step sets) and
// the search's own.
type capacityFlags struct {
	runFlags
	opt capacity.Options
}

// capStepFlags are run flags that every step sets itself: hidden from capacity's help, refused.
var capStepFlags = []string{"rps", "duration", "count", "warmup", "profile", "concurrency", "restart-worker", "max-restarts", "repeat", "gate-verdicts", "start-at"}

func (c *capacityFlags) register(fs *pflag.FlagSet) {
	o := &c.opt
	fs.Float64Var(&o.Start, "start", 100, "first step's rate, invocations per second")
	fs.Float64Var(&o.MaxRate, "max-rate", capacity.DefaultMaxRate, "highest rate to try")
	fs.DurationVar(&o.Step, "step", capacity.DefaultStep, "measured duration of every step")
	fs.DurationVar(&o.StepWarmup, "step-warmup", 3*time.Second, "warm-up of every step, at its rate, excluded")
	fs.StringVar(&o.Precision, "precision", "5%", "stop bisecting when the first fail is within this of the last pass (and step down by it when a confirmation fails)")
	fs.DurationVar(&o.Confirm, "confirm", 0, "measured duration of the confirmation run (default 2 × --step)")
	fs.IntVar(&o.ConfirmRetries, "confirm-retries", 3, "after a failed confirmation, step down by --precision and confirm again at most this many times")
	fs.IntVar(&o.HarnessRetries, "harness-retries", 1, "run a step again this many times when the harness fell behind before calling the harness the limit")
	fs.DurationVar(&o.P99, "p99", 0, "objective: rtt p99 at most this (default: 10 × the rtt p50 of the first healthy step, at least 5ms)")
	fs.StringVar(&o.MaxErrorRate, "max-error-rate", "0.1%", "objective: error rate, (failed + timed out + lost + dropped) ÷ due as in --slo error_rate, at most this (e.g. 0.1% or 0.001; 'off' to skip)")
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
		c.drain = capacity.DefaultDrain
		fl.DefValue = capacity.DefaultDrain.String()
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
	_, err = s.Run(ctx, c.stepRunner(fs), capacity.Output{Stdout: stdout, Stderr: stderr, Quiet: c.quiet})
	return capacityExit(err)
}

// capacityExit gives a search's error its exit code.
func capacityExit(err error) error {
	var ce *capacity.CodeError
	if errors.As(err, &ce) {
		return withCode(ce.Code, err)
	}
	return err
}

// setup validates the flags and the first step's plan before anything starts.
func (c *capacityFlags) setup(fs *pflag.FlagSet) (*capacity.Setup, error) {
	for _, n := range capStepFlags {
		if fs.Lookup(n) != nil && fs.Changed(n) {
			return nil, fmt.Errorf("--%s cannot be used with fbench capacity: every step sets its own rate and duration (see --start, --step, --step-warmup)", n)
		}
	}
	c.opt.MaxErrorRateOn, c.opt.SLO = fs.Changed("max-error-rate"), c.slo
	s, err := capacity.NewSetup(c.opt)
	if err != nil {
		return nil, err
	}
	if c.seed == 0 {
		c.seed = rand.Uint64()>>1 | 1
	}
	if s.Out = c.out; s.Out == "" {
		s.Out = capacity.DefaultOut(time.Now())
	}
	if err := checkOutDir(s.Out); err != nil {
		return nil, err
	}
	p, err := c.stepPlan(fs, capacity.StepSpec{Rate: capacity.Round(c.opt.Start), Duration: c.opt.Step, Warmup: c.opt.StepWarmup, Dir: filepath.Join(os.TempDir(), "fbench-capacity-check-never-created")})
	if err != nil {
		return nil, err
	}
	var fns []string
	for _, t := range p.Config.Targets {
		fns = append(fns, t.Function)
	}
	s.Target = capacity.Target(fs.Arg(0), fns)
	s.Version, s.Env = version, environment()
	s.Config["args"], s.Config["seed"], s.Config["step_config"] = os.Args[1:], strconv.FormatUint(c.seed, 10), p.Record
	return s, nil
}

// stepPlan is the plan of one step: the run flags with the step's rate, durations and directory.
func (c *capacityFlags) stepPlan(fs *pflag.FlagSet, sp capacity.StepSpec) (*runner.Plan, error) {
	f := c.runFlags
	f.rps, f.duration, f.warmup, f.out, f.quiet = sp.Rate, sp.Duration, sp.Warmup, sp.Dir, true
	f.count, f.profile, f.concurrency = 0, "", 0
	return f.plan(fs)
}

// stepRunner runs every step as fbench run does, with the step's rate, durations and directory.
func (c *capacityFlags) stepRunner(fs *pflag.FlagSet) capacity.StepRunner {
	return capacity.RunnerSteps(func(sp capacity.StepSpec) (*runner.Plan, error) { return c.stepPlan(fs, sp) })
}

// capacityPools runs a capacity search per pool size of --processes.
func capacityPools(c *capacityFlags, fs *pflag.FlagSet, stdout, stderr io.Writer) error {
	opt, err := c.workerFlags.options(fs.Args())
	if err != nil {
		return err
	}
	cmd, err := host.Resolve(opt.Launch, 1, "check", "check")
	if err != nil {
		return err
	}
	pr, err := host.ResolveProcesses(cmd.Config, cmd.Env, runtime.NumCPU())
	if err != nil {
		return err
	}
	sizes, err := runner.ParseProcessList(c.processes, pr.Max)
	if err != nil {
		return err
	}
	out := c.out
	if out == "" {
		out = capacity.DefaultOut(time.Now())
	}
	if err := checkOutDir(out); err != nil {
		return err
	}
	// Every size's flags are validated before the first search starts.
	searches := make([]capacity.PoolSearch, len(sizes))
	for i, n := range sizes {
		f := *c
		f.processes, f.out = strconv.Itoa(n), filepath.Join(out, fmt.Sprintf("processes-%d", n))
		s, err := f.setup(fs)
		if err != nil {
			return err
		}
		searches[i] = capacity.PoolSearch{Processes: n, Setup: s, Runner: f.stepRunner(fs)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return capacityExit(capacity.Pools(ctx, out, searches, capacity.Output{Stdout: stdout, Stderr: stderr, Quiet: c.quiet}))
}

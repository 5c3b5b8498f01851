package main

import (
	_ "embed"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/capacity"
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
	for _, n := range capacity.StepFlags {
		_ = fs.MarkHidden(n)
	}
	c.Drain, fs.Lookup("drain").DefValue = capacity.DefaultDrain, capacity.DefaultDrain.String()
	for name, usage := range map[string]string{
		"out":       "capacity directory: capacity.json, capacity.html and steps/ (default fbench-results/capacity-<UTC timestamp>)",
		"quiet":     "no step table and no result on stdout",
		"processes": "worker processes per step: `N`, or a list such as 1,2,4 for one search per pool size (OUT/processes-N/, OUT/processes.json and processes.html)",
		"slo":       "objective `EXPR` every step must meet, e.g. rtt.p99<50ms, error_rate<0.1% (repeatable); replaces the default objectives (--p99, --max-error-rate) unless those are given too",
	} {
		fs.Lookup(name).Usage = usage
	}
}

func cmdCapacity(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSetExits("capacity", capacityUsage, capacityExitMsg, stderr)
	var c capacityFlags
	c.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.Changed("processes") && strings.Contains(c.Processes.Count, ",") {
		return capacityPools(&c, fs, stdout, stderr)
	}
	s, err := c.setup(fs)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	_, err = s.Run(ctx, capacity.RunnerSteps(c.stepPlanner(fs)), capacity.Output{Stdout: stdout, Stderr: stderr, Quiet: c.quiet})
	return err
}

// setup validates the flags and the first step's plan before anything starts.
func (c *capacityFlags) setup(fs *pflag.FlagSet) (*capacity.Setup, error) {
	if err := capacity.CheckStepFlags(fs.Changed); err != nil {
		return nil, err
	}
	c.opt.MaxErrorRateOn, c.opt.SLO = fs.Changed("max-error-rate"), c.SLOs
	s, err := capacity.NewSetup(c.opt)
	if err != nil {
		return nil, err
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()>>1 | 1
	}
	if s.Out, err = capacity.OutDir(c.Out, time.Now()); err != nil {
		return nil, err
	}
	if err := s.Prepare(c.stepPlanner(fs), fs.Arg(0)); err != nil {
		return nil, err
	}
	s.Version, s.Env, s.Config["args"] = version, runner.Environment(version), os.Args[1:]
	return s, nil
}

// stepPlanner plans each step as fbench run plans a run: the run flags with the step's rate,
// durations and directory.
func (c *capacityFlags) stepPlanner(fs *pflag.FlagSet) func(capacity.StepSpec) (*runner.Plan, error) {
	return func(sp capacity.StepSpec) (*runner.Plan, error) {
		f := c.runFlags
		f.Rate, f.Duration, f.Warmup, f.Out = sp.Rate, sp.Duration, sp.Warmup, sp.Dir
		f.Count, f.Profile, f.Concurrency = 0, "", 0
		return runner.NewPlan(f.settings(fs))
	}
}

// capacityPools runs a capacity search per pool size of --processes.
func capacityPools(c *capacityFlags, fs *pflag.FlagSet, stdout, stderr io.Writer) error {
	ws := c.Worker
	ws.Command = fs.Args()
	sizes, err := runner.ProcessSizes(ws, c.Processes.Count)
	if err != nil {
		return err
	}
	out, err := capacity.OutDir(c.Out, time.Now())
	if err != nil {
		return err
	}
	// Every size's flags are validated before the first search starts.
	searches := make([]capacity.PoolSearch, len(sizes))
	for i, n := range sizes {
		f := *c
		f.Processes.Count, f.Out = strconv.Itoa(n), filepath.Join(out, fmt.Sprintf("processes-%d", n))
		s, err := f.setup(fs)
		if err != nil {
			return err
		}
		searches[i] = capacity.PoolSearch{Processes: n, Setup: s, Runner: capacity.RunnerSteps(f.stepPlanner(fs))}
	}
	ctx, stop := interruptible()
	defer stop()
	return capacity.Pools(ctx, out, searches, capacity.Output{Stdout: stdout, Stderr: stderr, Quiet: c.quiet})
}

package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/profiles"
	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/compare"
)

//go:embed help/run-usage.txt
var runUsage string

const sloFlagHelp = "service-level objective `EXPR`, e.g. rtt.p99<50ms, error_rate<0.1%, achieved_rps>=4900, rtt.p99{fn=echo}<20ms (repeatable; exit 2 when one fails)"

const sloWindowHelp = "also check each --slo on every window of this length (a multiple of --interval); the worst window must pass"

// runFlags are the flags of fbench run, bound to the run's settings.
type runFlags struct {
	runner.Settings
	quiet      bool
	cpuProfile string
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	d, v := runner.Defaults(), &f.Verdicts
	fs.Float64Var(&f.Rate, "rps", d.Rate, "arrival rate, invocations per second (open loop)")
	fs.DurationVarP(&f.Duration, "duration", "d", d.Duration, "measured duration (after --warmup)")
	fs.Int64VarP(&f.Count, "count", "n", 0, "stop after this many invocations instead of after --duration")
	fs.DurationVar(&f.Warmup, "warmup", 0, "warm-up at --rps before the measured duration, excluded from the summary")
	fs.StringVar(&f.Arrival, "arrival", "", "arrival process: constant (default) or poisson")
	fs.StringVar(&f.Profile, "profile", "", "load profile: a built-in `NAME` ("+strings.Join(profiles.Names(), ", ")+") or a YAML file")
	fs.Uint64Var(&f.Seed, "seed", 0, "random seed for arrivals, ids, mix and cancels (0: pick one and record it)")
	fs.DurationVar(&f.Interval, "interval", d.Interval, "histogram interval")
	fs.IntVarP(&f.Concurrency, "concurrency", "c", 0, "closed loop: keep N invocations in flight instead of an arrival rate")
	fs.StringVar(&f.Function, "function", "", "invoke only this function")
	fs.StringVar(&f.Mix, "mix", "", "weighted function mix, e.g. echo=3,work=1")
	registerRequest(fs, &f.Request, "request body / trigger payload")
	fs.StringArrayVar(&f.Request.RouteParams, "route-param", nil, "HTTP route parameter `K=V` filling the function's route template, e.g. id=42 for items/{id} (repeatable)")
	fs.StringVar(&f.HTTPOK, "http-ok", d.HTTPOK, "HTTP statuses that count as success (`CODES`: codes and ranges, e.g. 200-299,404); any other is a failure with reason \"HTTP <code>\"")
	fs.IntVar(&f.HTTPMaxConns, "http-max-conns", 0, "HTTP proxying mode: most keep-alive connections to the worker's HttpUri (0: sized for the rate, rps/20 or the concurrency, at least 64)")
	fs.Float64Var(&f.CancelRatio, "cancel-ratio", 0, "fraction of invocations that get an InvocationCancel (0..1)")
	fs.StringVar(&f.CancelAfter, "cancel-after", d.CancelAfter, "delay from send to cancel: a duration or a distribution (uniform:1ms-20ms, exp:5ms, normal:10ms,2ms)")
	fs.BoolVar(&f.ForceCancel, "force-cancel", false, "send cancels even if the worker does not advertise HandlesInvocationCancelMessage")
	fs.IntVar(&f.MaxInFlight, "max-inflight", d.MaxInFlight, "most invocations in flight at once (0: unlimited)")
	fs.StringVar(&f.OnFull, "on-full", d.OnFull, "at --max-inflight: queue (wait; the wait counts as latency) or drop (count as dropped)")
	fs.DurationVar(&f.Timeout, "timeout", d.Timeout, "per-invocation timeout (0: none)")
	fs.DurationVar(&f.StatusInterval, "status-interval", d.StatusInterval, "WorkerStatusRequest period (0: no pings)")
	fs.DurationVar(&f.Drain, "drain", d.Drain, "at the end, how long to wait for in-flight invocations")
	fs.DurationVar(&f.LagBudget, "lag-budget", d.LagBudget, "lag p99 above this makes the run invalid (exit 3): the harness fell behind")
	fs.Float64Var(&f.CPUBudget, "cpu-budget", d.CPUBudget, "fbench's mean CPU, in percent of one core, above which the run is invalid (exit 3): the harness starved the machine (0: none; default 90% of every core)")
	fs.BoolVar(&f.RealtimeSender, "realtime-sender", false, "open loop: run the sender thread in SCHED_FIFO for tighter arrival times (needs CAP_SYS_NICE; preempts the worker on a small machine)")
	fs.StringVar(&f.Out, "out", "", "run directory (default fbench-results/<UTC timestamp>)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no progress line and no summary on stdout")
	fs.BoolVar(&f.Restart, "restart-worker", false, "relaunch a worker that exits or breaks its stream mid-run (new worker id, handshake, functions reloaded) and go on")
	fs.StringVar(&v.MemoryGrowth, "max-memory-growth", d.Verdicts.MemoryGrowth, "worker RSS growth per hour (Theil–Sen trend) above which worker_memory fails (units B, KiB, MiB, GiB)")
	fs.StringVar(&v.P99Drift, "max-p99-drift", d.Verdicts.P99Drift, "rtt p99 rise from the first to the last quarter of the run above which latency_drift fails")
	fs.StringVar(&v.MinThroughput, "min-throughput", d.Verdicts.MinThroughput, "achieved ÷ offered below which throughput_held fails")
	fs.StringVar(&v.ErrorDrift, "max-error-drift", d.Verdicts.ErrorDrift, "error-rate rise (percentage points) from the first to the last quarter above which error_rate_drift fails")
	fs.Float64Var(&v.HarnessCPU, "harness-cpu-warn", d.Verdicts.HarnessCPU, "fbench CPU (percent of one core) above which harness_health warns")
	fs.BoolVar(&f.GateVerdicts, "gate-verdicts", false, "exit 2 when a verdict fails (recommended for soaks; verdicts are always reported)")
	fs.StringVar(&f.StartAt, "start-at", "", "start the measured phase at `TIME` (RFC 3339, or +D from now), the warm-up before it: runs on many machines share one time line")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write fbench's CPU profile (pprof) of the run to `FILE`")
	fs.IntVar(&f.MaxRestarts, "max-restarts", d.MaxRestarts, "with --restart-worker: stop relaunching after this many restarts (0: no limit)")
	registerWorker(fs, &f.Worker)
	fs.StringArrayVar(&f.SLOs, "slo", nil, sloFlagHelp)
	fs.DurationVar(&f.SLOWindow, "slo-window", 0, sloWindowHelp)
	fs.IntVar(&f.Repeat, "repeat", d.Repeat, "run `N` times into OUT/run-1 … run-N (a fresh worker each time), then print each metric's median and spread; the exit code is the worst run's")
	registerProcesses(fs, &f.Processes)
}

// settings are the run's settings: the flags, the command line and which flags were given.
func (f *runFlags) settings(fs *pflag.FlagSet) runner.Settings {
	s := f.Settings
	s.Args, s.Version, s.Worker.Command = os.Args[1:], version, fs.Args()
	s.RateSet, s.DurationSet, s.SeedSet = fs.Changed("rps"), fs.Changed("duration"), fs.Changed("seed")
	processesGiven(fs, &s.Processes)
	return s
}

// output is where a run says what it does: notices always, progress unless --quiet.
func output(quiet bool, stderr io.Writer) runner.Output {
	out := runner.Output{Notice: func(n string) { fmt.Fprintf(stderr, "fbench: note: %s\n", n) }}
	if !quiet {
		out.Progress = stderr
	}
	return out
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", runUsage, stderr)
	var f runFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.Repeat != 1 {
		return runRepeat(&f, fs, stdout, stderr)
	}
	p, err := runner.NewPlan(f.settings(fs))
	if err != nil {
		return err
	}
	if p.Mode == "closed" && os.Getenv("GOMAXPROCS") == "" {
		// Closed loop is for maximum throughput: one P spares the hand-offs between the sender,
		// the receiver and gRPC's reader and writer (measured on 2 cores: 5.5 µs of fbench CPU per
		// invocation with 1 P, 7.8 with 2, 9.7 with 4). Open loop keeps spare Ps for its pacer.
		runtime.GOMAXPROCS(1)
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return fmt.Errorf("creating --cpuprofile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := interruptible()
	defer stop()
	oc, err := runner.Run(ctx, p, output(f.quiet, stderr))
	if oc != nil && oc.Summary != nil && !f.quiet {
		_ = report.WriteText(stdout, oc.Summary)
		fmt.Fprintf(stdout, "Reports: %s\n", p.Out)
	}
	return err
}

// runRepeat is fbench run --repeat N (see runner.Repeat): a line per run, then each metric's median
// and spread. The exit code is the worst run's (4 > 3 > 2 > 0); a run that could not start (1) or
// an interruption (130) stops the repetitions.
func runRepeat(f *runFlags, fs *pflag.FlagSet, stdout, stderr io.Writer) error {
	ctx, stop := interruptible()
	defer stop()
	dir, err := runner.Repeat(ctx, f.settings(fs), output(f.quiet, stderr), func(i int, p *runner.Plan, err error) {
		if f.quiet { // with -q, only the final error line
			return
		}
		fmt.Fprintf(stdout, "run-%d: exit %d%s\n", i, exitCodeOf(err), runner.Headline(p.Out))
		if err != nil {
			fmt.Fprintf(stderr, "fbench: run-%d: %s\n", i, oneLine(err.Error()))
		}
	})
	if dir == "" || f.quiet {
		return err
	}
	if rs, lerr := compare.LoadRunSet(dir); lerr != nil {
		fmt.Fprintf(stderr, "fbench: %v\n", lerr)
	} else {
		fmt.Fprintln(stdout)
		_ = compare.WriteRunSetText(stdout, rs, nil)
		fmt.Fprintf(stdout, "Reports: %s (compare with: fbench compare BASELINE %s)\n", dir, dir)
	}
	return err
}

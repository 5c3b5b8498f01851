package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/profiles"
	"github.com/fbench/fbench/report"
)

//go:embed help/run-usage.txt
var runUsage string

// runFlags are the flags of fbench run.
type runFlags struct {
	workerFlags
	gateFlags
	processFlags
	rps, cancelRatio, cpuBudget                                           float64
	duration, warmup, interval, timeout, statusInterval, drain, lagBudget time.Duration
	count                                                                 int64
	seed                                                                  uint64
	concurrency, httpMaxConns, maxInFlight, maxRestarts                   int
	arrival, profile, function, mix, httpOK, cancelAfter, onFull, out     string
	body, bodyFile, method, cpuProfile, startAt                           string
	headers, query, routeParams                                           []string
	forceCancel, realtimeSender, quiet, restart                           bool
	verdict                                                               verdictFlags
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	d := runner.Defaults()
	fs.Float64Var(&f.rps, "rps", d.Rate, "arrival rate, invocations per second (open loop)")
	fs.DurationVarP(&f.duration, "duration", "d", d.Duration, "measured duration (after --warmup)")
	fs.Int64VarP(&f.count, "count", "n", 0, "stop after this many invocations instead of after --duration")
	fs.DurationVar(&f.warmup, "warmup", 0, "warm-up at --rps before the measured duration, excluded from the summary")
	fs.StringVar(&f.arrival, "arrival", "", "arrival process: constant (default) or poisson")
	fs.StringVar(&f.profile, "profile", "", "load profile: a built-in `NAME` ("+strings.Join(profiles.Names(), ", ")+") or a YAML file")
	fs.Uint64Var(&f.seed, "seed", 0, "random seed for arrivals, ids, mix and cancels (0: pick one and record it)")
	fs.DurationVar(&f.interval, "interval", d.Interval, "histogram interval")
	fs.IntVarP(&f.concurrency, "concurrency", "c", 0, "closed loop: keep N invocations in flight instead of an arrival rate")
	fs.StringVar(&f.function, "function", "", "invoke only this function")
	fs.StringVar(&f.mix, "mix", "", "weighted function mix, e.g. echo=3,work=1")
	fs.StringVar(&f.body, "body", "", "request body / trigger payload")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the request body from `FILE`")
	fs.StringVar(&f.method, "method", "", "HTTP method (default POST with a body, GET without)")
	fs.StringArrayVar(&f.headers, "header", nil, "HTTP header `K:V` (repeatable)")
	fs.StringArrayVar(&f.query, "query", nil, "query parameter `K=V` (repeatable)")
	fs.StringArrayVar(&f.routeParams, "route-param", nil, "HTTP route parameter `K=V` filling the function's route template, e.g. id=42 for items/{id} (repeatable)")
	fs.StringVar(&f.httpOK, "http-ok", d.HTTPOK, "HTTP statuses that count as success (`CODES`: codes and ranges, e.g. 200-299,404); any other is a failure with reason \"HTTP <code>\"")
	fs.IntVar(&f.httpMaxConns, "http-max-conns", 0, "HTTP proxying mode: most keep-alive connections to the worker's HttpUri (0: sized for the rate, rps/20 or the concurrency, at least 64)")
	fs.Float64Var(&f.cancelRatio, "cancel-ratio", 0, "fraction of invocations that get an InvocationCancel (0..1)")
	fs.StringVar(&f.cancelAfter, "cancel-after", d.CancelAfter, "delay from send to cancel: a duration or a distribution (uniform:1ms-20ms, exp:5ms, normal:10ms,2ms)")
	fs.BoolVar(&f.forceCancel, "force-cancel", false, "send cancels even if the worker does not advertise HandlesInvocationCancelMessage")
	fs.IntVar(&f.maxInFlight, "max-inflight", d.MaxInFlight, "most invocations in flight at once (0: unlimited)")
	fs.StringVar(&f.onFull, "on-full", d.OnFull, "at --max-inflight: queue (wait; the wait counts as latency) or drop (count as dropped)")
	fs.DurationVar(&f.timeout, "timeout", d.Timeout, "per-invocation timeout (0: none)")
	fs.DurationVar(&f.statusInterval, "status-interval", d.StatusInterval, "WorkerStatusRequest period (0: no pings)")
	fs.DurationVar(&f.drain, "drain", d.Drain, "at the end, how long to wait for in-flight invocations")
	fs.DurationVar(&f.lagBudget, "lag-budget", d.LagBudget, "lag p99 above this makes the run invalid (exit 3): the harness fell behind")
	fs.Float64Var(&f.cpuBudget, "cpu-budget", d.CPUBudget, "fbench's mean CPU, in percent of one core, above which the run is invalid (exit 3): the harness starved the machine (0: none; default 90% of every core)")
	fs.BoolVar(&f.realtimeSender, "realtime-sender", false, "open loop: run the sender thread in SCHED_FIFO for tighter arrival times (needs CAP_SYS_NICE; preempts the worker on a small machine)")
	fs.StringVar(&f.out, "out", "", "run directory (default fbench-results/<UTC timestamp>)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no progress line and no summary on stdout")
	fs.BoolVar(&f.restart, "restart-worker", false, "relaunch a worker that exits or breaks its stream mid-run (new worker id, handshake, functions reloaded) and go on")
	f.verdict.register(fs)
	fs.StringVar(&f.startAt, "start-at", "", "start the measured phase at `TIME` (RFC 3339, or +D from now), the warm-up before it: runs on many machines share one time line")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write fbench's CPU profile (pprof) of the run to `FILE`")
	fs.IntVar(&f.maxRestarts, "max-restarts", d.MaxRestarts, "with --restart-worker: stop relaunching after this many restarts (0: no limit)")
	f.workerFlags.register(fs)
	f.gateFlags.register(fs)
	f.processFlags.register(fs)
}

// settings are the run's settings as the flags give them.
func (f *runFlags) settings(fs *pflag.FlagSet) runner.Settings {
	return runner.Settings{Args: os.Args[1:], Version: version, Worker: f.workerFlags.settings(fs.Args()), Processes: f.processFlags.settings(fs),
		Rate: f.rps, RateSet: fs.Changed("rps"), Duration: f.duration, DurationSet: fs.Changed("duration"),
		Count: f.count, Warmup: f.warmup, Arrival: f.arrival, Profile: f.profile, Seed: f.seed, SeedSet: fs.Changed("seed"),
		Interval: f.interval, Concurrency: f.concurrency, Function: f.function, Mix: f.mix, HTTPOK: f.httpOK, HTTPMaxConns: f.httpMaxConns,
		CancelRatio: f.cancelRatio, CancelAfter: f.cancelAfter, ForceCancel: f.forceCancel, MaxInFlight: f.maxInFlight, OnFull: f.onFull,
		Timeout: f.timeout, StatusInterval: f.statusInterval, Drain: f.drain, LagBudget: f.lagBudget, CPUBudget: f.cpuBudget,
		RealtimeSender: f.realtimeSender, Out: f.out, Restart: f.restart, MaxRestarts: f.maxRestarts, Verdicts: f.verdict.VerdictSettings,
		SLOs: f.slo, SLOWindow: f.sloWindow, StartAt: f.startAt, Repeat: f.repeat,
		Request: runner.Request{Method: f.method, Body: f.body, BodyFile: f.bodyFile, Headers: f.headers, Query: f.query, RouteParams: f.routeParams}}
}

// plan validates the flags into a run, gated by its objectives and, with --gate-verdicts, its verdicts.
func (f *runFlags) plan(fs *pflag.FlagSet) (*runner.Plan, error) {
	p, err := runner.NewPlan(f.settings(fs))
	if p != nil {
		p.Gate = f.gate
	}
	return p, err
}

func (f *runFlags) gate(s *report.Summary) error {
	if err := sloVerdict(s); err != nil || !f.verdict.gate {
		return err
	}
	return runner.FailedVerdicts(s)
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
	if f.repeat != 1 {
		return runRepeat(&f, fs, stdout, stderr)
	}
	p, err := f.plan(fs)
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	oc, err := runner.Run(ctx, p, output(f.quiet, stderr))
	if oc != nil && oc.Summary != nil && !f.quiet {
		_ = report.WriteText(stdout, oc.Summary)
		fmt.Fprintf(stdout, "Reports: %s\n", p.Out)
	}
	return err
}

// Helpers the other commands share.
func checkOutDir(dir string) error    { return runner.CheckOutDir(dir) }
func environment() report.Environment { return runner.Environment(version) }
func fmtDur(d time.Duration) string   { return runner.FormatDuration(d) }

// verdictFlags set the soak verdicts' thresholds (worker memory growth, latency drift, throughput
// held, error-rate drift, harness health) and whether a failed verdict fails the run.
type verdictFlags struct {
	runner.VerdictSettings
	gate bool
}

func (v *verdictFlags) register(fs *pflag.FlagSet) {
	d := runner.Defaults().Verdicts
	fs.StringVar(&v.MemoryGrowth, "max-memory-growth", d.MemoryGrowth, "worker RSS growth per hour (Theil–Sen trend) above which worker_memory fails (units B, KiB, MiB, GiB)")
	fs.StringVar(&v.P99Drift, "max-p99-drift", d.P99Drift, "rtt p99 rise from the first to the last quarter of the run above which latency_drift fails")
	fs.StringVar(&v.MinThroughput, "min-throughput", d.MinThroughput, "achieved ÷ offered below which throughput_held fails")
	fs.StringVar(&v.ErrorDrift, "max-error-drift", d.ErrorDrift, "error-rate rise (percentage points) from the first to the last quarter above which error_rate_drift fails")
	fs.Float64Var(&v.HarnessCPU, "harness-cpu-warn", d.HarnessCPU, "fbench CPU (percent of one core) above which harness_health warns")
	fs.BoolVar(&v.gate, "gate-verdicts", false, "exit 2 when a verdict fails (recommended for soaks; verdicts are always reported)")
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/dist"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/profiles"
	"github.com/fbench/fbench/report"
)

const runUsage = `Usage: fbench [run] [flags] [WORKER [-- ARGS...]]

Benchmarks WORKER (an executable, or a directory with worker.config.json; default: the built-in
reference worker) by impersonating the Functions host: open-loop arrivals at --rps (or a --profile),
latency measured from each invocation's intended send time, reports written to --out.

Examples:
  fbench -rps 5000 -d 30s ./worker
  fbench --profile ramp -rps 2000 --app ./app ./worker
  fbench -rps 1000 --cancel-ratio 0.1 --cancel-after uniform:1ms-20ms
  fbench -c 64 -d 10s                    (closed loop: 64 always in flight)
`

// runFlags are the flags of fbench run.
type runFlags struct {
	workerFlags
	gateFlags
	processFlags
	rps            float64
	duration       time.Duration
	count          int64
	warmup         time.Duration
	arrival        string
	profile        string
	seed           uint64
	interval       time.Duration
	concurrency    int
	function       string
	mix            string
	body           string
	bodyFile       string
	method         string
	headers        []string
	query          []string
	routeParams    []string
	httpOK         string
	httpMaxConns   int
	cancelRatio    float64
	cancelAfter    string
	forceCancel    bool
	maxInFlight    int
	onFull         string
	timeout        time.Duration
	statusInterval time.Duration
	drain          time.Duration
	lagBudget      time.Duration
	cpuBudget      float64
	realtimeSender bool
	out            string
	quiet          bool
	restart        bool
	maxRestarts    int
	verdict        verdictFlags
	cpuProfile     string
	startAt        string
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	fs.Float64Var(&f.rps, "rps", 1000, "arrival rate, invocations per second (open loop)")
	fs.DurationVarP(&f.duration, "duration", "d", 30*time.Second, "measured duration (after --warmup)")
	fs.Int64VarP(&f.count, "count", "n", 0, "stop after this many invocations instead of after --duration")
	fs.DurationVar(&f.warmup, "warmup", 0, "warm-up at --rps before the measured duration, excluded from the summary")
	fs.StringVar(&f.arrival, "arrival", "", "arrival process: constant (default) or poisson")
	fs.StringVar(&f.profile, "profile", "", "load profile: a built-in `NAME` ("+strings.Join(profiles.Names(), ", ")+") or a YAML file")
	fs.Uint64Var(&f.seed, "seed", 0, "random seed for arrivals, ids, mix and cancels (0: pick one and record it)")
	fs.DurationVar(&f.interval, "interval", time.Second, "histogram interval")
	fs.IntVarP(&f.concurrency, "concurrency", "c", 0, "closed loop: keep N invocations in flight instead of an arrival rate")
	fs.StringVar(&f.function, "function", "", "invoke only this function")
	fs.StringVar(&f.mix, "mix", "", "weighted function mix, e.g. echo=3,work=1")
	fs.StringVar(&f.body, "body", "", "request body / trigger payload")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the request body from `FILE`")
	fs.StringVar(&f.method, "method", "", "HTTP method (default POST with a body, GET without)")
	fs.StringArrayVar(&f.headers, "header", nil, "HTTP header `K:V` (repeatable)")
	fs.StringArrayVar(&f.query, "query", nil, "query parameter `K=V` (repeatable)")
	fs.StringArrayVar(&f.routeParams, "route-param", nil, "HTTP route parameter `K=V` filling the function's route template, e.g. id=42 for items/{id} (repeatable)")
	fs.StringVar(&f.httpOK, "http-ok", loadgen.DefaultHTTPOK, "HTTP statuses that count as success (`CODES`: codes and ranges, e.g. 200-299,404); any other is a failure with reason \"HTTP <code>\"")
	fs.IntVar(&f.httpMaxConns, "http-max-conns", 0, "HTTP proxying mode: most keep-alive connections to the worker's HttpUri (0: sized for the rate, rps/20 or the concurrency, at least 64)")
	fs.Float64Var(&f.cancelRatio, "cancel-ratio", 0, "fraction of invocations that get an InvocationCancel (0..1)")
	fs.StringVar(&f.cancelAfter, "cancel-after", "5ms", "delay from send to cancel: a duration or a distribution (uniform:1ms-20ms, exp:5ms, normal:10ms,2ms)")
	fs.BoolVar(&f.forceCancel, "force-cancel", false, "send cancels even if the worker does not advertise HandlesInvocationCancelMessage")
	fs.IntVar(&f.maxInFlight, "max-inflight", 10000, "most invocations in flight at once (0: unlimited)")
	fs.StringVar(&f.onFull, "on-full", "queue", "at --max-inflight: queue (wait; the wait counts as latency) or drop (count as dropped)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "per-invocation timeout (0: none)")
	fs.DurationVar(&f.statusInterval, "status-interval", time.Second, "WorkerStatusRequest period (0: no pings)")
	fs.DurationVar(&f.drain, "drain", 10*time.Second, "at the end, how long to wait for in-flight invocations")
	fs.DurationVar(&f.lagBudget, "lag-budget", 5*time.Millisecond, "lag p99 above this makes the run invalid (exit 3): the harness fell behind")
	fs.Float64Var(&f.cpuBudget, "cpu-budget", 90*float64(runtime.NumCPU()), "fbench's mean CPU, in percent of one core, above which the run is invalid (exit 3): the harness starved the machine (0: none; default 90% of every core)")
	fs.BoolVar(&f.realtimeSender, "realtime-sender", false, "open loop: run the sender thread in SCHED_FIFO for tighter arrival times (needs CAP_SYS_NICE; preempts the worker on a small machine)")
	fs.StringVar(&f.out, "out", "", "run directory (default fbench-results/<UTC timestamp>)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no progress line and no summary on stdout")
	fs.BoolVar(&f.restart, "restart-worker", false, "relaunch a worker that exits or breaks its stream mid-run (new worker id, handshake, functions reloaded) and go on")
	f.verdict.register(fs)
	fs.StringVar(&f.startAt, "start-at", "", "start the measured phase at `TIME` (RFC 3339, or +D from now), the warm-up before it: runs on many machines share one time line")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write fbench's CPU profile (pprof) of the run to `FILE`")
	fs.IntVar(&f.maxRestarts, "max-restarts", 10, "with --restart-worker: stop relaunching after this many restarts (0: no limit)")
	f.workerFlags.register(fs)
	f.gateFlags.register(fs)
	f.processFlags.register(fs)
}

// plan is a validated run: everything decided before anything starts.
type plan struct {
	cfg         loadgen.Config
	hostOpt     host.Options
	out         string
	mode        string
	config      map[string]any
	lag         time.Duration
	cpuBudget   float64 // percent of one core; 0: none
	quiet       bool
	schedule    *loadgen.Schedule
	slo         sloPlan
	restart     bool
	maxRestarts int
	verdict     *verdictFlags
	thresholds  report.VerdictThresholds
	procs       host.Processes // worker processes, and how their starts and restarts are paced
}

func (f *runFlags) plan(fs *pflag.FlagSet) (*plan, error) {
	p := &plan{quiet: f.quiet, lag: f.lagBudget, cpuBudget: f.cpuBudget, restart: f.restart, maxRestarts: f.maxRestarts}
	p.verdict = &f.verdict
	var verr error
	if p.thresholds, verr = f.verdict.thresholds(); verr != nil {
		return nil, verr
	}
	if f.maxRestarts < 0 {
		return nil, fmt.Errorf("invalid --max-restarts %d: must not be negative", f.maxRestarts)
	}
	if f.seed == 0 {
		f.seed = rand.Uint64()>>1 | 1
	}
	if f.rps <= 0 || f.rps > 10_000_000 {
		return nil, fmt.Errorf("invalid -rps %v: must be > 0", f.rps)
	}
	if f.duration <= 0 {
		return nil, fmt.Errorf("invalid -duration %s: must be positive", f.duration)
	}
	if f.count < 0 {
		return nil, fmt.Errorf("invalid -count %d: must be positive", f.count)
	}
	if f.warmup < 0 {
		return nil, fmt.Errorf("invalid --warmup %s: must not be negative", f.warmup)
	}
	if f.interval < 10*time.Millisecond {
		return nil, fmt.Errorf("invalid --interval %s: must be at least 10ms", f.interval)
	}
	if f.cancelRatio < 0 || f.cancelRatio > 1 {
		return nil, fmt.Errorf("invalid --cancel-ratio %v: must be between 0 and 1", f.cancelRatio)
	}
	cancelAfter, err := dist.Parse(f.cancelAfter)
	if err != nil {
		return nil, fmt.Errorf("invalid --cancel-after: %v", err)
	}
	if f.maxInFlight < 0 {
		return nil, fmt.Errorf("invalid --max-inflight %d: must not be negative", f.maxInFlight)
	}
	onFull, err := loadgen.ParseOnFull(f.onFull)
	if err != nil {
		return nil, err
	}
	if f.timeout < 0 || f.statusInterval < 0 || f.drain < 0 || f.lagBudget <= 0 {
		return nil, fmt.Errorf("invalid --timeout, --status-interval, --drain or --lag-budget: must not be negative")
	}
	if f.concurrency < 0 {
		return nil, fmt.Errorf("invalid --concurrency %d: must be positive", f.concurrency)
	}
	if f.function != "" && f.mix != "" {
		return nil, fmt.Errorf("give --function or --mix, not both")
	}
	targets, err := parseMix(f.function, f.mix)
	if err != nil {
		return nil, err
	}
	payload, err := f.payload()
	if err != nil {
		return nil, err
	}
	httpOK, err := loadgen.ParseStatusSet(f.httpOK)
	if err != nil {
		return nil, err
	}
	if f.httpMaxConns < 0 {
		return nil, fmt.Errorf("invalid --http-max-conns %d: must not be negative", f.httpMaxConns)
	}
	httpConns := f.httpMaxConns
	if httpConns == 0 {
		httpConns = min(max(64, int(f.rps/20), f.concurrency), 4096)
	}

	cfg := loadgen.Config{
		Count: f.count, Interval: f.interval, Targets: targets, Payload: payload,
		CancelRatio: f.cancelRatio, CancelAfter: cancelAfter, ForceCancel: f.forceCancel,
		MaxInFlight: f.maxInFlight, OnFull: onFull, Timeout: f.timeout,
		StatusInterval: f.statusInterval, Drain: f.drain, Seed: f.seed, RealtimeSender: f.realtimeSender,
		HTTPOK: httpOK, HTTPMaxConns: httpConns,
	}
	p.mode = "open"
	if f.concurrency > 0 {
		if fs.Changed("rps") || f.profile != "" || f.arrival != "" {
			return nil, fmt.Errorf("--concurrency (closed loop) cannot be combined with -rps, --profile or --arrival")
		}
		p.mode = "closed"
		cfg.Concurrency = f.concurrency
		cfg.Duration = f.warmup + f.duration
		if f.count > 0 && !fs.Changed("duration") {
			cfg.Duration = 0
		}
		cfg.Warmup = f.warmup
	} else {
		arrival := loadgen.Constant
		if f.arrival != "" {
			if arrival, err = loadgen.ParseArrival(f.arrival); err != nil {
				return nil, err
			}
		}
		var stages []loadgen.Stage
		if f.profile != "" {
			prof, err := profiles.Load(f.profile)
			if err != nil {
				return nil, err
			}
			if stages, err = prof.Stages(f.rps); err != nil {
				return nil, err
			}
			if f.arrival == "" && prof.Arrival() != "" {
				if arrival, err = loadgen.ParseArrival(string(prof.Arrival())); err != nil {
					return nil, err
				}
			}
			if f.warmup > 0 {
				stages = append([]loadgen.Stage{{Name: "warmup", Duration: f.warmup, From: stages[0].From, To: stages[0].From, Warmup: true}}, stages...)
			}
		} else {
			if f.warmup > 0 {
				stages = append(stages, loadgen.Stage{Name: "warmup", Duration: f.warmup, From: f.rps, To: f.rps, Warmup: true})
			}
			d := f.duration
			if f.count > 0 && !fs.Changed("duration") {
				d = 0 // -n alone: as long as the count takes
			}
			stages = append(stages, loadgen.Stage{Name: "measure", Duration: d, From: f.rps, To: f.rps})
		}
		sched, err := loadgen.NewSchedule(stages, arrival, f.seed)
		if err != nil {
			return nil, fmt.Errorf("arrival schedule: %v", err)
		}
		cfg.Schedule = sched
		p.schedule = sched
	}
	if cfg.StartAt, err = f.startTime(time.Now()); err != nil {
		return nil, err
	}
	p.cfg = cfg

	if p.hostOpt, err = f.workerFlags.options(fs.Args()); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 && len(targets) == 0 {
		// The reference worker's zero-work HTTP echo, unless a function or mix was asked for.
		p.cfg.Targets = []loadgen.Target{{Function: "echo", Weight: 1}}
	}
	// Resolve the worker now: a missing or non-executable worker is bad input, found before anything starts.
	if _, err := host.Resolve(p.hostOpt.Launch, 1, "check", "check"); err != nil {
		return nil, err
	}
	if p.procs, err = f.processFlags.resolve(fs, &p.hostOpt); err != nil {
		return nil, err
	}
	if p.slo, err = sloPlanOf(f.slo, f.sloWindow, f.interval); err != nil {
		return nil, err
	}
	p.out = f.out
	if p.out == "" {
		p.out = filepath.Join("fbench-results", time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := checkOutDir(p.out); err != nil {
		return nil, err
	}
	p.config = map[string]any{
		"args": os.Args[1:], "mode": p.mode, "rps": f.rps, "duration": f.duration.String(), "count": f.count,
		"warmup": f.warmup.String(), "arrival": f.arrival, "profile": f.profile, "seed": strconv.FormatUint(f.seed, 10),
		"interval": f.interval.String(), "concurrency": f.concurrency, "function": f.function, "mix": f.mix,
		"method": f.method, "body_bytes": len(payload.Body), "headers": f.headers, "query": f.query,
		"cancel_ratio": f.cancelRatio, "cancel_after": cancelAfter.String(), "force_cancel": f.forceCancel,
		"max_inflight": f.maxInFlight, "on_full": string(onFull), "timeout": f.timeout.String(),
		"status_interval": f.statusInterval.String(), "drain": f.drain.String(), "lag_budget": f.lagBudget.String(),
		"realtime_sender": f.realtimeSender, "route_params": f.routeParams, "http_ok": httpOK.String(),
		"http_max_conns": httpConns,
		"worker":         p.hostOpt.Launch.Worker, "worker_args": p.hostOpt.Launch.Args, "app": f.app, "env": f.env,
		"indexing": string(p.hostOpt.Indexing), "host_version": f.hostVersion,
		"restart_worker": f.restart, "max_restarts": f.maxRestarts,
		"processes": p.procs.Count, "process_start_interval": p.procs.StartInterval.String(),
		"process_restart_interval": p.procs.RestartInterval.String(),
	}
	if !cfg.StartAt.IsZero() {
		p.config["start_at"] = cfg.StartAt.UTC().Format(time.RFC3339Nano)
	}
	recordSLOs(p)
	return p, nil
}

// checkOutDir fails when the run directory exists and is not empty, or its parent cannot be written.
func checkOutDir(dir string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("run directory %s exists and is not empty", dir)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	for {
		fi, err := os.Stat(parent)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("run directory %s: %s is not a directory", dir, parent)
			}
			if err := syscall.Access(parent, 2|1); err != nil {
				return fmt.Errorf("run directory %s: cannot write in %s", dir, parent)
			}
			return nil
		}
		next := filepath.Dir(parent)
		if next == parent {
			return fmt.Errorf("run directory %s: %v", dir, err)
		}
		parent = next
	}
}

func (f *runFlags) payload() (loadgen.Payload, error) {
	p := loadgen.Payload{Method: f.method, Body: []byte(f.body)}
	if f.bodyFile != "" {
		if f.body != "" {
			return p, fmt.Errorf("give --body or --body-file, not both")
		}
		b, err := os.ReadFile(f.bodyFile)
		if err != nil {
			return p, fmt.Errorf("reading --body-file: %w", err)
		}
		p.Body = b
	}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return p, fmt.Errorf("invalid --header %q: want K:V", h)
		}
		p.Headers = append(p.Headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	for _, q := range f.query {
		k, v, ok := strings.Cut(q, "=")
		if !ok || k == "" {
			return p, fmt.Errorf("invalid --query %q: want K=V", q)
		}
		p.Query = append(p.Query, [2]string{k, v})
	}
	for _, rp := range f.routeParams {
		k, v, ok := strings.Cut(rp, "=")
		if !ok || k == "" {
			return p, fmt.Errorf("invalid --route-param %q: want K=V", rp)
		}
		if p.RouteParams == nil {
			p.RouteParams = map[string]string{}
		}
		p.RouteParams[k] = v
	}
	return p, nil
}

// parseMix reads --function or --mix into targets.
func parseMix(function, mix string) ([]loadgen.Target, error) {
	if function != "" {
		return []loadgen.Target{{Function: function, Weight: 1}}, nil
	}
	if mix == "" {
		return nil, nil
	}
	var out []loadgen.Target
	seen := map[string]bool{}
	for _, part := range strings.Split(mix, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		weight := 1
		if ok {
			n, err := strconv.Atoi(w)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("invalid --mix %q: weight of %s must be a positive integer", mix, name)
			}
			weight = n
		}
		if name == "" || seen[name] {
			return nil, fmt.Errorf("invalid --mix %q: empty or repeated function name", mix)
		}
		seen[name] = true
		out = append(out, loadgen.Target{Function: name, Weight: weight})
	}
	return out, nil
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
	if p.mode == "closed" && os.Getenv("GOMAXPROCS") == "" {
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
	return execute(p, stdout, stderr)
}

// environment describes this machine for the report.
func environment() report.Environment {
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

// execute runs a validated plan: server, worker, engine, reports.
func execute(p *plan, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// CPU counters are the process's: this run's share is what they gained from here (--repeat
	// runs several in one process).
	cpuSelf0, cpuChildren0 := cpuSeconds(syscall.RUSAGE_SELF), cpuSeconds(syscall.RUSAGE_CHILDREN)

	meta := report.Meta{
		Schema: report.RunSchema, Version: version, Mode: p.mode, StartedAt: time.Now().UTC(),
		Interval: p.cfg.Interval, Config: p.config, Environment: environment(),
		Harness: report.HarnessInfo{LagBudget: p.lag, CPUBudgetPct: p.cpuBudget},
	}
	meta.Warmup = p.cfg.Warmup
	meta.VerdictThresholds = p.thresholds
	meta.Processes = placeholders(p.procs.Count)
	if s := p.schedule; s != nil {
		meta.Warmup = s.WarmupEnd()
		for _, ph := range s.Phases() {
			end := ph.End
			if !s.Bounded() && end > 1<<60 {
				end = 0
			}
			meta.Phases = append(meta.Phases, report.Phase{Name: ph.Name, Start: ph.Start, End: end})
		}
	}
	created := firstMissing(p.out)
	rw, err := report.CreateRun(p.out, meta)
	if err != nil {
		return err
	}
	p.slo.Attach(rw)
	pool, cleanup, err := startRunWorkers(ctx, p, stderr)
	defer cleanup()
	if pool == nil {
		return err
	}
	if err != nil {
		meta.Events = append(meta.Events, report.Event{Kind: "worker_failed", Detail: err.Error()})
		if ctx.Err() != nil {
			meta.Interrupted = "signal"
		}
		if len(meta.Processes) > 0 {
			meta.Processes = pool.infos
		}
		_, _ = rw.Finish(meta)
		if ctx.Err() != nil {
			return withCode(130, fmt.Errorf("interrupted while starting the worker; run directory: %s", p.out))
		}
		return fmt.Errorf("%v (worker log: %s)", err, filepath.Join(p.out, "worker.log"))
	}
	w := pool.first()
	for i, perr := range pool.errs {
		if perr != nil {
			msg := fmt.Sprintf("worker process %d of %d failed its handshake (%v); it is relaunched (--restart-worker) while the others serve", i+1, len(pool.errs), perr)
			meta.Events = append(meta.Events, report.Event{Kind: "notice", Detail: msg})
			fmt.Fprintf(stderr, "fbench: note: %s\n", msg)
		}
	}
	if len(meta.Processes) > 0 {
		meta.Processes = pool.infos
	}
	meta.Worker = workerInfo(w)
	for _, msg := range launchNotices(w.Command) {
		meta.Events = append(meta.Events, report.Event{Kind: "notice", Detail: msg})
		fmt.Fprintf(stderr, "fbench: note: %s\n", msg)
	}
	for _, f := range w.Failed {
		// Not invoked (with no --function or --mix, the mix is the loaded functions): say so.
		msg := fmt.Sprintf("function %s failed to load and is not invoked: %s", f.Name, f.LoadError)
		meta.Events = append(meta.Events, report.Event{Kind: "notice", Detail: msg})
		fmt.Fprintf(stderr, "fbench: note: %s\n", msg)
	}
	_ = rw.UpdateMeta(meta)

	p.cfg.OnNotice = func(n string) {
		meta.Events = append(meta.Events, report.Event{Kind: "notice", Detail: n})
		fmt.Fprintf(stderr, "fbench: note: %s\n", n)
	}
	p.cfg.OnStart = func(t0 time.Time) {
		meta.TimeZero = t0.UTC()
		_ = rw.UpdateMeta(meta)
	}
	prog := newProgress(stderr, p)
	p.cfg.OnInterval = func(rec *report.IntervalRecord) error {
		prog.interval(rec)
		return rw.WriteInterval(rec)
	}
	if !p.quiet {
		if n := len(pool.ws); n > 1 {
			fmt.Fprintf(stderr, "fbench: %s; %d worker processes, %d functions; writing %s\n", describePlan(p), n, len(w.Functions), p.out)
		} else {
			fmt.Fprintf(stderr, "fbench: %s; worker pid %d, %d functions; writing %s\n", describePlan(p), w.Pid, len(w.Functions), p.out)
		}
		if px := w.HTTPProxy(); px != nil {
			fmt.Fprintf(stderr, "fbench: HTTP functions are proxied to %s (the worker's HttpUri), %d connections at most\n", px.Raw, p.cfg.HTTPMaxConns)
		}
		startAtLine(stderr, p, time.Now())
	}
	if p.restart {
		p.cfg.MaxRestarts = p.maxRestarts
		p.cfg.Relaunch = func(ctx context.Context, old *host.Worker) (*host.Worker, error) {
			if old != nil {
				old.Shutdown(time.Second) // reap the dead worker
				if !p.quiet {
					fmt.Fprintf(stderr, "\nfbench: worker pid %d ended (%s); relaunching it\n", old.Pid, old.ExitState())
				}
			}
			return host.Start(ctx, pool.srv, p.hostOpt)
		}
	}
	pool.configure(&p.cfg, p.restart)
	res, runErr := pool.run(ctx, p.cfg)
	prog.done()
	if res == nil && runErr != nil {
		// The engine refused the plan before sending anything (an unknown --function, or one that
		// failed to load): bad input, so no run directory is left behind.
		pool.shutdown(nil)
		cleanup()
		removeRunDir(p.out, created)
		return runErr
	}
	if res != nil && res.Worker != nil {
		w = res.Worker
	}
	// The worker crashed when its stream ended during the run (restarted or not), unless the run
	// was interrupted and it exited cleanly.
	crashed := false
	crashDetail := ""
	restartAsked := "" // the worker ended the run asking for a restart (exit code 200)
	if res != nil {
		for _, ev := range res.Events {
			if ev.Kind == "stream_ended" {
				crashed = true
				if crashDetail == "" {
					crashDetail = ev.Detail
				}
			}
		}
		if res.WorkerEnded && res.Interrupted {
			if code, exited := w.ExitCode(); exited && code == 0 {
				crashed = false
			}
		}
		// Exit code 200 asks for a restart: with --restart-worker the run went on (no crash);
		// without, the run ended there, which is said as such.
		if !p.restart && !crashed && res.WorkerEnded && !res.Interrupted {
			for _, ev := range res.Events {
				if ev.Kind == loadgen.EventIntentionalRestart {
					restartAsked = ev.Detail
				}
			}
		}
		if restartAsked != "" {
			note := "the worker exited with code 200, the host's intentional restart (not a crash); without --restart-worker fbench does not relaunch it, so the run ended there"
			meta.Events = append(meta.Events, report.Event{Kind: "notice", Detail: note})
		}
	}
	meta.Worker = shutdownInfo(w, crashed)
	procInfos := pool.finish(res, w)
	if len(meta.Processes) > 0 {
		meta.Processes = procInfos
	}
	if res != nil {
		meta.Worker.Restarts = res.Restarts
		meta.HTTPMode = res.HTTPMode
	}
	meta.EndedAt = time.Now().UTC()
	meta.Harness.CPUSeconds = cpuSeconds(syscall.RUSAGE_SELF) - cpuSelf0
	meta.Worker.CPUSeconds = cpuSeconds(syscall.RUSAGE_CHILDREN) - cpuChildren0
	if res != nil {
		meta.Failures, meta.WorkerLogs = res.Failures, res.WorkerLogs
		meta.Events = append(meta.Events, res.Events...)
		for _, n := range res.Notices {
			meta.Events = append(meta.Events, report.Event{Kind: "notice", Detail: n})
			fmt.Fprintf(stderr, "fbench: note: %s\n", n)
		}
		if res.Interrupted {
			meta.Interrupted = "signal"
		}
	}
	if n := pool.srv.Refused(); n > 0 {
		note := fmt.Sprintf("%d EventStream(s) refused: not opened by the worker fbench launched, or a second one (a worker has one stream)", n)
		meta.Events = append(meta.Events, report.Event{Kind: "notice", Detail: note})
		fmt.Fprintf(stderr, "fbench: note: %s\n", note)
	}
	summary, ferr := rw.Finish(meta)
	if ferr != nil {
		return fmt.Errorf("writing reports: %w", ferr)
	}
	if runErr != nil {
		return fmt.Errorf("run: %w", runErr)
	}
	if !p.quiet {
		_ = report.WriteText(stdout, summary)
		fmt.Fprintf(stdout, "Reports: %s\n", p.out)
	}
	switch {
	case restartAsked != "":
		return withCode(exitCrashed, errors.New("the worker asked for a restart (exit code 200), not a crash; rerun with --restart-worker to relaunch it as the host does: "+restartAsked))
	case crashed:
		msg := "the worker crashed: " + crashDetail
		if res.Restarts > 0 {
			msg += fmt.Sprintf(" (relaunched %d times; the run went on)", res.Restarts)
		}
		return withCode(exitCrashed, errors.New(msg))
	case res != nil && res.Interrupted:
		return withCode(130, errors.New("interrupted; everything measured was written to "+p.out))
	case !summary.Harness.Valid:
		return withCode(exitInvalid, fmt.Errorf("run invalid: %s", summary.Harness.InvalidReason))
	}
	if err := sloVerdict(summary); err != nil {
		return err
	}
	return p.verdict.outcome(summary)
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

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func describePlan(p *plan) string {
	if p.mode == "closed" {
		return fmt.Sprintf("closed loop, %d in flight", p.cfg.Concurrency)
	}
	s := p.schedule
	if s.Bounded() {
		return fmt.Sprintf("open loop, %s arrivals, %.0f invocations over %s", s.Arrival(), s.Expected(0, s.Duration()), s.Duration())
	}
	return fmt.Sprintf("open loop, %s arrivals at %.0f/s, %d invocations", s.Arrival(), s.RateAt(0), p.cfg.Count)
}

// workerInfo describes the worker for run.json and summary.json.
// shutdownInfo ends worker w as the host does (WorkerTerminate, grace, kill) and describes how it
// ended; crashed says its stream ended mid-run.
func shutdownInfo(w *host.Worker, crashed bool) report.WorkerInfo {
	exitCode := w.Shutdown(host.TerminateGrace)
	info := workerInfo(w)
	info.ExitCode = &exitCode
	info.Crashed = crashed
	info.KilledByFbench = w.KilledAtShutdown()
	info.TerminateSent, info.TerminateFailed, info.Ended = w.TerminateSent(), w.TerminateFailed(), w.EndedHow()
	if crashed {
		info.StderrTail = w.Log.Tail()
	}
	return info
}

func workerInfo(w *host.Worker) report.WorkerInfo {
	info := report.WorkerInfo{Command: w.Command.Args, Pid: w.Pid, Capabilities: w.Capabilities}
	for _, f := range w.Functions {
		info.Functions = append(info.Functions, report.FunctionInfo{Name: f.Name, ID: f.ID, Trigger: f.TriggerType(), Bindings: f.BindingNames()})
	}
	if code, ok := w.ExitCode(); ok {
		info.ExitCode = &code
	}
	return info
}

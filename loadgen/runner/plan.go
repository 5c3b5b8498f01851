package runner

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/dist"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/profiles"
	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/slo"
)

// Plan is a validated run: everything decided before anything starts.
type Plan struct {
	Config      loadgen.Config    // the engine's configuration (Run adds its hooks to a copy)
	Host        host.Options      // how each worker process is launched
	Processes   host.Processes    // worker processes, and how their starts and restarts are paced
	Schedule    *loadgen.Schedule // open loop's arrivals; nil in a closed loop
	Out         string            // the run directory
	Mode        string            // "open" or "closed"
	Record      map[string]any    // the configuration run.json records
	LagBudget   time.Duration
	CPUBudget   float64 // percent of one core; 0: none
	Thresholds  report.VerdictThresholds
	Objectives  slo.Plan
	Restart     bool // relaunch a worker that ends mid-run
	MaxRestarts int
	Version     string
	// Gate, when set, judges a valid, complete run's summary: NewPlan sets it to check the
	// objectives and, with GateVerdicts, the verdicts. Its error is returned as an ErrFailed.
	Gate func(*report.Summary) error
}

// NewPlan validates the settings and decides the run: the engine's configuration, the arrival
// schedule, the worker (resolved now: a missing worker is bad input found before anything starts),
// its processes and the run directory (it must be empty or missing). Each error is one line naming
// the setting at fault.
func NewPlan(s Settings) (*Plan, error) {
	p := &Plan{LagBudget: s.LagBudget, CPUBudget: s.CPUBudget, Restart: s.Restart, MaxRestarts: s.MaxRestarts, Version: s.Version}
	var err error
	if p.Thresholds, err = s.Verdicts.Thresholds(); err != nil {
		return nil, err
	}
	if s.MaxRestarts < 0 {
		return nil, fmt.Errorf("invalid --max-restarts %d: must not be negative", s.MaxRestarts)
	}
	if s.Seed == 0 {
		s.Seed = rand.Uint64()>>1 | 1
	}
	cfg, err := s.engineConfig()
	if err != nil {
		return nil, err
	}
	p.Mode = "open"
	if s.Concurrency > 0 {
		if s.RateSet || s.Profile != "" || s.Arrival != "" {
			return nil, fmt.Errorf("--concurrency (closed loop) cannot be combined with -rps, --profile or --arrival")
		}
		p.Mode = "closed"
		cfg.Concurrency = s.Concurrency
		cfg.Duration = s.Warmup + s.Duration
		if s.Count > 0 && !s.DurationSet {
			cfg.Duration = 0
		}
		cfg.Warmup = s.Warmup
	} else if p.Schedule, err = s.schedule(); err != nil {
		return nil, err
	}
	cfg.Schedule = p.Schedule
	if cfg.StartAt, err = s.startTime(time.Now()); err != nil {
		return nil, err
	}
	p.Config = cfg
	if p.Host, err = HostOptions(s.Worker); err != nil {
		return nil, err
	}
	if len(s.Worker.Command) == 0 && len(cfg.Targets) == 0 {
		// The reference worker's zero-work HTTP echo, unless a function or mix was asked for.
		p.Config.Targets = []loadgen.Target{{Function: "echo", Weight: 1}}
	}
	// ResolveProcesses resolves the worker first: its error is the launch check's.
	if p.Processes, err = ResolveProcesses(s.Processes, &p.Host); err != nil {
		return nil, err
	}
	if p.Objectives, err = slo.NewPlan(s.SLOs, s.SLOWindow, s.Interval); err != nil {
		return nil, err
	}
	p.Out = s.Out
	if p.Out == "" {
		p.Out = DefaultOut("")
	}
	if err := CheckOutDir(p.Out); err != nil {
		return nil, err
	}
	p.Record = s.record(p)
	p.Gate = func(sum *report.Summary) error {
		if err := slo.Verdict(sum); err != nil || !s.GateVerdicts {
			return err
		}
		return FailedVerdicts(sum)
	}
	return p, nil
}

// engineConfig checks the settings of the engine that do not depend on the loop.
func (s *Settings) engineConfig() (loadgen.Config, error) {
	var cfg loadgen.Config
	if s.Rate <= 0 || s.Rate > 10_000_000 {
		return cfg, fmt.Errorf("invalid -rps %v: must be > 0", s.Rate)
	}
	if s.Duration <= 0 {
		return cfg, fmt.Errorf("invalid -duration %s: must be positive", s.Duration)
	}
	if s.Count < 0 {
		return cfg, fmt.Errorf("invalid -count %d: must be positive", s.Count)
	}
	if s.Warmup < 0 {
		return cfg, fmt.Errorf("invalid --warmup %s: must not be negative", s.Warmup)
	}
	if s.Interval < 10*time.Millisecond {
		return cfg, fmt.Errorf("invalid --interval %s: must be at least 10ms", s.Interval)
	}
	if s.CancelRatio < 0 || s.CancelRatio > 1 {
		return cfg, fmt.Errorf("invalid --cancel-ratio %v: must be between 0 and 1", s.CancelRatio)
	}
	cancelAfter, err := dist.Parse(s.CancelAfter)
	if err != nil {
		return cfg, fmt.Errorf("invalid --cancel-after: %v", err)
	}
	if s.MaxInFlight < 0 {
		return cfg, fmt.Errorf("invalid --max-inflight %d: must not be negative", s.MaxInFlight)
	}
	onFull, err := loadgen.ParseOnFull(s.OnFull)
	if err != nil {
		return cfg, err
	}
	if s.Timeout < 0 || s.StatusInterval < 0 || s.Drain < 0 || s.LagBudget <= 0 {
		return cfg, fmt.Errorf("invalid --timeout, --status-interval, --drain or --lag-budget: must not be negative")
	}
	if s.Concurrency < 0 {
		return cfg, fmt.Errorf("invalid --concurrency %d: must be positive", s.Concurrency)
	}
	cfg = loadgen.Config{
		Count: s.Count, Interval: s.Interval, CancelRatio: s.CancelRatio, CancelAfter: cancelAfter, ForceCancel: s.ForceCancel,
		MaxInFlight: s.MaxInFlight, OnFull: onFull, Timeout: s.Timeout,
		StatusInterval: s.StatusInterval, Drain: s.Drain, Seed: s.Seed, RealtimeSender: s.RealtimeSender,
	}
	return cfg, s.traffic(&cfg)
}

// traffic checks what is invoked and with what: the functions, the payload, the HTTP statuses
// that count as success and the proxying connections (sized for the rate when not given).
func (s *Settings) traffic(cfg *loadgen.Config) error {
	if s.Function != "" && s.Mix != "" {
		return fmt.Errorf("give --function or --mix, not both")
	}
	var err error
	if cfg.Targets, err = ParseMix(s.Function, s.Mix); err != nil {
		return err
	}
	if cfg.Payload, err = s.Request.Payload(); err != nil {
		return err
	}
	if cfg.HTTPOK, err = loadgen.ParseStatusSet(s.HTTPOK); err != nil {
		return err
	}
	if s.HTTPMaxConns < 0 {
		return fmt.Errorf("invalid --http-max-conns %d: must not be negative", s.HTTPMaxConns)
	}
	cfg.HTTPMaxConns = s.HTTPMaxConns
	if cfg.HTTPMaxConns == 0 {
		cfg.HTTPMaxConns = min(max(64, int(s.Rate/20), s.Concurrency), 4096)
	}
	return nil
}

// schedule is the open loop's arrival schedule: the profile's stages or one measured stage at the
// rate, after the warm-up.
func (s *Settings) schedule() (*loadgen.Schedule, error) {
	arrival := loadgen.Constant
	var err error
	if s.Arrival != "" {
		if arrival, err = loadgen.ParseArrival(s.Arrival); err != nil {
			return nil, err
		}
	}
	var stages []loadgen.Stage
	if s.Profile != "" {
		prof, err := profiles.Load(s.Profile)
		if err != nil {
			return nil, err
		}
		if stages, err = prof.Stages(s.Rate); err != nil {
			return nil, err
		}
		if s.Arrival == "" && prof.Arrival() != "" {
			if arrival, err = loadgen.ParseArrival(string(prof.Arrival())); err != nil {
				return nil, err
			}
		}
		if s.Warmup > 0 {
			stages = append([]loadgen.Stage{{Name: "warmup", Duration: s.Warmup, From: stages[0].From, To: stages[0].From, Warmup: true}}, stages...)
		}
	} else {
		if s.Warmup > 0 {
			stages = append(stages, loadgen.Stage{Name: "warmup", Duration: s.Warmup, From: s.Rate, To: s.Rate, Warmup: true})
		}
		d := s.Duration
		if s.Count > 0 && !s.DurationSet {
			d = 0 // a count alone: as long as the count takes
		}
		stages = append(stages, loadgen.Stage{Name: "measure", Duration: d, From: s.Rate, To: s.Rate})
	}
	sched, err := loadgen.NewSchedule(stages, arrival, s.Seed)
	if err != nil {
		return nil, fmt.Errorf("arrival schedule: %v", err)
	}
	return sched, nil
}

// record is the configuration run.json records: the settings as given and what was decided, the
// functions invoked when the run names them (an SLO on {fn=NAME} of a one-function run reads the
// run's own figures) and the objectives (fbench report checks them again).
func (s *Settings) record(p *Plan) map[string]any {
	cfg := &p.Config
	rec := map[string]any{
		"args": s.Args, "mode": p.Mode, "rps": s.Rate, "duration": s.Duration.String(), "count": s.Count,
		"warmup": s.Warmup.String(), "arrival": s.Arrival, "profile": s.Profile, "seed": strconv.FormatUint(cfg.Seed, 10),
		"interval": s.Interval.String(), "concurrency": s.Concurrency, "function": s.Function, "mix": s.Mix,
		"method": s.Request.Method, "body_bytes": len(cfg.Payload.Body), "headers": s.Request.Headers, "query": s.Request.Query,
		"cancel_ratio": s.CancelRatio, "cancel_after": cfg.CancelAfter.String(), "force_cancel": s.ForceCancel,
		"max_inflight": s.MaxInFlight, "on_full": string(cfg.OnFull), "timeout": s.Timeout.String(),
		"status_interval": s.StatusInterval.String(), "drain": s.Drain.String(), "lag_budget": s.LagBudget.String(),
		"realtime_sender": s.RealtimeSender, "route_params": s.Request.RouteParams, "http_ok": cfg.HTTPOK.String(),
		"http_max_conns": cfg.HTTPMaxConns,
		"worker":         p.Host.Launch.Worker, "worker_args": p.Host.Launch.Args, "app": s.Worker.App, "env": s.Worker.Env,
		"indexing": string(p.Host.Indexing), "host_version": s.Worker.HostVersion,
		"restart_worker": s.Restart, "max_restarts": s.MaxRestarts,
		"processes": p.Processes.Count, "process_start_interval": p.Processes.StartInterval.String(),
		"process_restart_interval": p.Processes.RestartInterval.String(),
	}
	if !cfg.StartAt.IsZero() {
		rec["start_at"] = cfg.StartAt.UTC().Format(time.RFC3339Nano)
	}
	if len(cfg.Targets) > 0 {
		names := make([]string, len(cfg.Targets))
		for i, t := range cfg.Targets {
			names[i] = t.Function
		}
		rec["targets"] = names
	}
	p.Objectives.Record(rec)
	return rec
}

// DefaultOut is the default run directory: fbench-results/<prefix><UTC time>.
func DefaultOut(prefix string) string {
	return filepath.Join("fbench-results", prefix+time.Now().UTC().Format("20060102T150405Z"))
}

// CheckOutDir fails when the run directory exists and is not empty, or its parent cannot be written.
func CheckOutDir(dir string) error {
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

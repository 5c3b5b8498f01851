package runner

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

// Settings are a run as asked for, before validation: fbench run's flags, one field each. NewPlan
// checks them and decides the rest. The error messages name the flags (--rps, --mix…).
type Settings struct {
	Args    []string // the command line, recorded in run.json
	Version string   // fbench's version, recorded in run.json and summary.json

	Worker    WorkerSettings
	Processes ProcessSettings
	Request   Request

	Rate        float64 // open loop: arrivals per second (the profile's 100%)
	RateSet     bool    // the rate was given (refused with a closed loop)
	Duration    time.Duration
	DurationSet bool // the duration was given (with a count alone, the run lasts as long as the count takes)
	Count       int64
	Warmup      time.Duration
	Arrival     string // constant or poisson ("": constant, or the profile's)
	Profile     string // a built-in profile's name or a YAML file
	Seed        uint64 // 0: pick one (recorded)
	SeedSet     bool   // the seed was given: repeated runs share it
	Interval    time.Duration
	Concurrency int // closed loop: invocations always in flight

	Function, Mix string

	HTTPOK       string
	HTTPMaxConns int // 0: sized for the rate

	CancelRatio    float64
	CancelAfter    string // a duration or a distribution
	ForceCancel    bool
	MaxInFlight    int
	OnFull         string
	Timeout        time.Duration
	StatusInterval time.Duration
	Drain          time.Duration
	LagBudget      time.Duration
	CPUBudget      float64 // fbench's mean CPU in percent of one core; 0: none
	RealtimeSender bool

	Out          string // the run directory ("": fbench-results/<UTC time>)
	Restart      bool   // relaunch a worker that ends mid-run
	MaxRestarts  int
	Verdicts     VerdictSettings
	GateVerdicts bool // a failed verdict fails the run (ErrFailed), as a failed objective does
	SLOs         []string
	SLOWindow    time.Duration
	StartAt      string // RFC 3339, or +D from now
	Repeat       int    // runs of a --repeat set (--start-at serves one run)
}

// WorkerSettings say which worker to launch and how (the flags of every command that launches one).
type WorkerSettings struct {
	Command      []string // WORKER and the arguments after "--"; empty: the built-in reference worker
	App          string
	Env          []string // KEY=VALUE
	EnvUnset     []string
	EnvClean     bool
	Indexing     string
	StartTimeout time.Duration
	InitTimeout  time.Duration
	Language     string
	HostVersion  string
	Ref          []string // the reference worker's settings, KEY=VALUE
}

// ProcessSettings are the worker processes asked for; a field counts only when its Set is true.
type ProcessSettings struct {
	Count              string
	CountSet           bool
	StartInterval      time.Duration
	StartIntervalSet   bool
	RestartInterval    time.Duration
	RestartIntervalSet bool
}

// Request is the invocations' payload as given: method, body (or a file holding it), headers
// (K:V), query (K=V) and route parameters (K=V).
type Request struct {
	Method, Body, BodyFile      string
	Headers, Query, RouteParams []string
}

// VerdictSettings are the soak verdicts' thresholds as given (64MiB, 50%, 98%, 1%).
type VerdictSettings struct {
	MemoryGrowth  string
	P99Drift      string
	MinThroughput string
	ErrorDrift    string
	HarnessCPU    float64
}

// Defaults are fbench run's defaults: 1000/s for 30 s against the built-in reference worker, one
// process, 1 s intervals, the run invalid beyond 5 ms of harness lag p99 or 90% of every core.
func Defaults() Settings {
	return Settings{
		Worker: WorkerSettings{Indexing: "auto", StartTimeout: host.DefaultStartTimeout, HostVersion: host.DefaultHostVersion},
		Rate:   1000, Duration: 30 * time.Second, Interval: time.Second, HTTPOK: loadgen.DefaultHTTPOK,
		CancelAfter: "5ms", MaxInFlight: 10000, OnFull: "queue", Timeout: 30 * time.Second, StatusInterval: time.Second,
		Drain: 10 * time.Second, LagBudget: 5 * time.Millisecond, CPUBudget: 90 * float64(runtime.NumCPU()), MaxRestarts: 10,
		Verdicts: VerdictSettings{MemoryGrowth: "64MiB", P99Drift: "50%", MinThroughput: "98%", ErrorDrift: "1%",
			HarnessCPU: report.DefaultVerdictThresholds.HarnessCPU},
		Repeat: 1,
	}
}

// HostOptions turns worker settings into host options; it starts nothing. With no Command the
// worker is the built-in reference worker: this executable with the verb "worker".
func HostOptions(wf WorkerSettings) (host.Options, error) {
	var opt host.Options
	ix, err := host.ParseIndexing(wf.Indexing)
	if err != nil {
		return opt, err
	}
	for _, kv := range wf.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return opt, fmt.Errorf("invalid --env %q: want KEY=VALUE", kv)
		}
	}
	for _, k := range wf.EnvUnset {
		if k == "" || strings.Contains(k, "=") {
			return opt, fmt.Errorf("invalid --env-unset %q: want a variable name", k)
		}
	}
	if wf.StartTimeout <= 0 {
		return opt, fmt.Errorf("invalid --start-timeout %s: must be positive", wf.StartTimeout)
	}
	if wf.InitTimeout < 0 {
		return opt, fmt.Errorf("invalid --init-timeout %s: must be positive", wf.InitTimeout)
	}
	if wf.HostVersion == "" {
		return opt, fmt.Errorf("--host-version must not be empty")
	}
	opt = host.Options{
		Indexing: ix, HostVersion: wf.HostVersion, StartTimeout: wf.StartTimeout, InitTimeout: wf.InitTimeout,
		Launch: host.Launch{AppDir: wf.App, Env: wf.Env, EnvUnset: wf.EnvUnset, EnvClean: wf.EnvClean, Language: wf.Language},
	}
	if len(wf.Command) > 0 {
		if len(wf.Ref) > 0 {
			return opt, fmt.Errorf("--ref configures the built-in reference worker; it cannot be used with WORKER %s", wf.Command[0])
		}
		opt.Launch.Worker, opt.Launch.Args = wf.Command[0], wf.Command[1:]
		return opt, nil
	}
	// The built-in reference worker: this binary, verb "worker", its settings from --ref as its flags.
	exe, err := os.Executable()
	if err != nil {
		return opt, fmt.Errorf("finding fbench's own executable for the reference worker: %w", err)
	}
	opt.Launch.Worker = exe
	opt.Launch.Args = []string{"worker"}
	for _, r := range wf.Ref {
		opt.Launch.Args = append(opt.Launch.Args, "--"+strings.TrimLeft(r, "-"))
	}
	if opt.Launch.Language == "" {
		opt.Launch.Language = "fbench-reference"
	}
	if ix == host.IndexingAuto {
		opt.Indexing = host.IndexingWorker
	}
	return opt, nil
}

// ResolveProcesses decides the processes for a worker launched with opt, as the host decides them;
// it adds FUNCTIONS_WORKER_PROCESS_COUNT to the worker's environment when the settings set the
// count, as the app setting would.
func ResolveProcesses(ps ProcessSettings, opt *host.Options) (host.Processes, error) {
	cmd, err := host.Resolve(opt.Launch, 1, "check", "check")
	if err != nil {
		return host.Processes{}, err
	}
	pr, err := host.ResolveProcesses(cmd.Config, cmd.Env, runtime.NumCPU())
	if err != nil {
		return pr, err
	}
	if ps.CountSet {
		n, err := strconv.Atoi(strings.TrimSpace(ps.Count))
		if err != nil || n < 1 || n > pr.Max {
			return pr, fmt.Errorf("invalid --processes %q: want a whole number from 1 to %d (maxProcessCount)", ps.Count, pr.Max)
		}
		pr.Count, pr.Source = n, "--processes"
		opt.Launch.Env = append(opt.Launch.Env, host.ProcessCountEnv+"="+strconv.Itoa(n))
	}
	for _, iv := range []struct {
		name string
		set  bool
		v    time.Duration
		d    *time.Duration
	}{{"process-start-interval", ps.StartIntervalSet, ps.StartInterval, &pr.StartInterval}, {"process-restart-interval", ps.RestartIntervalSet, ps.RestartInterval, &pr.RestartInterval}} {
		if !iv.set {
			continue
		}
		if iv.v < 0 {
			return pr, fmt.Errorf("invalid --%s %s: must not be negative", iv.name, iv.v)
		}
		*iv.d = iv.v
	}
	return pr, nil
}

// ProcessSizes reads a list of pool sizes such as 1,2,4 for the worker of ws: each from 1 to the
// most processes that worker may run (its maxProcessCount, as the host decides it).
func ProcessSizes(ws WorkerSettings, list string) ([]int, error) {
	opt, err := HostOptions(ws)
	if err != nil {
		return nil, err
	}
	pr, err := ResolveProcesses(ProcessSettings{}, &opt)
	if err != nil {
		return nil, err
	}
	return ParseProcessList(list, pr.Max)
}

// ParseProcessList reads a list of pool sizes such as 1,2,4, each from 1 to maxCount.
func ParseProcessList(s string, maxCount int) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 || n > maxCount {
			return nil, fmt.Errorf("invalid --processes %q: want whole numbers from 1 to %d (maxProcessCount), e.g. 1,2,4", s, maxCount)
		}
		if seen[n] {
			return nil, fmt.Errorf("invalid --processes %q: %d is repeated", s, n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// Payload reads the request into the engine's payload (the body file is read now).
func (r Request) Payload() (loadgen.Payload, error) {
	p := loadgen.Payload{Method: r.Method, Body: []byte(r.Body)}
	if r.BodyFile != "" {
		if r.Body != "" {
			return p, fmt.Errorf("give --body or --body-file, not both")
		}
		b, err := os.ReadFile(r.BodyFile)
		if err != nil {
			return p, fmt.Errorf("reading --body-file: %w", err)
		}
		p.Body = b
	}
	for _, h := range r.Headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return p, fmt.Errorf("invalid --header %q: want K:V", h)
		}
		p.Headers = append(p.Headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	for _, q := range r.Query {
		k, v, ok := strings.Cut(q, "=")
		if !ok || k == "" {
			return p, fmt.Errorf("invalid --query %q: want K=V", q)
		}
		p.Query = append(p.Query, [2]string{k, v})
	}
	for _, rp := range r.RouteParams {
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

// ParseMix reads a function name or a weighted mix (echo=3,work=1) into targets; none for neither.
func ParseMix(function, mix string) ([]loadgen.Target, error) {
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

// Thresholds reads the verdict settings into the soak verdicts' thresholds.
func (v VerdictSettings) Thresholds() (report.VerdictThresholds, error) {
	t := report.DefaultVerdictThresholds
	var err error
	if t.MemoryGrowthPerHour, err = parseBytes(v.MemoryGrowth); err != nil || t.MemoryGrowthPerHour <= 0 {
		return t, fmt.Errorf("invalid --max-memory-growth %q: want a size such as 64MiB", v.MemoryGrowth)
	}
	if t.P99Drift, err = parseFraction(v.P99Drift); err != nil || t.P99Drift <= 0 {
		return t, fmt.Errorf("invalid --max-p99-drift %q: want a positive fraction or percentage such as 50%%", v.P99Drift)
	}
	if t.MinThroughput, err = parseFraction(v.MinThroughput); err != nil || t.MinThroughput <= 0 || t.MinThroughput > 1 {
		return t, fmt.Errorf("invalid --min-throughput %q: want a fraction or percentage in (0, 100%%]", v.MinThroughput)
	}
	if t.ErrorRateDrift, err = parseFraction(v.ErrorDrift); err != nil || t.ErrorRateDrift <= 0 {
		return t, fmt.Errorf("invalid --max-error-drift %q: want a positive fraction or percentage such as 1%%", v.ErrorDrift)
	}
	if v.HarnessCPU <= 0 {
		return t, fmt.Errorf("invalid --harness-cpu-warn %v: must be positive", v.HarnessCPU)
	}
	t.HarnessCPU = v.HarnessCPU
	return t, nil
}

// FailedVerdicts is nil when no verdict of s failed, else an ErrFailed error naming the failures.
func FailedVerdicts(s *report.Summary) error {
	var failed []string
	for _, vd := range s.Verdicts {
		if vd.Status == report.VerdictFail {
			failed = append(failed, vd.Name+": "+vd.Detail)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return withKind(ErrFailed, fmt.Errorf("%d verdicts failed: %s", len(failed), strings.Join(failed, "; ")))
}

// parseFraction reads "50%" or "0.5".
func parseFraction(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		return f / 100, err
	}
	return strconv.ParseFloat(s, 64)
}

// parseBytes reads a size with an optional binary unit: 512, 64KiB, 64MiB, 1GiB (KB/MB/GB and
// K/M/G are read as binary units too).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if p, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(p), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("not a size")
	}
	return int64(f * float64(mult)), nil
}

// startTime reads StartAt: an RFC 3339 time, or +D from now. The measured phase starts then and
// the warm-up before it, so the time must leave room for the warm-up.
func (s *Settings) startTime(now time.Time) (time.Time, error) {
	if s.StartAt == "" {
		return time.Time{}, nil
	}
	if s.Repeat > 1 {
		return time.Time{}, fmt.Errorf("--start-at cannot be combined with --repeat: one start time serves one run")
	}
	var at time.Time
	if rel, ok := strings.CutPrefix(s.StartAt, "+"); ok {
		d, err := time.ParseDuration(rel)
		if err != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("invalid --start-at %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or +D from now (+90s)", s.StartAt)
		}
		at = now.Add(d)
	} else {
		t, err := time.Parse(time.RFC3339Nano, s.StartAt)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid --start-at %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or +D from now (+90s)", s.StartAt)
		}
		at = t
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("invalid --start-at %s: that time passed %s ago (now %s)", s.StartAt, now.Sub(at).Round(time.Millisecond), now.UTC().Format(time.RFC3339))
	}
	if lead := at.Sub(now); lead <= s.Warmup {
		return time.Time{}, fmt.Errorf("invalid --start-at %s: it is %s from now, and the --warmup of %s must run before it", s.StartAt, lead.Round(time.Millisecond), s.Warmup)
	}
	return at, nil
}

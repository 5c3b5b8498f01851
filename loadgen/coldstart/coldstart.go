package coldstart

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/guid"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/procstat"
	"github.com/fbench/fbench/protos/rpc"
	"github.com/fbench/fbench/report"
)

// Phase names. A direct start runs spawn, start_stream, init, metadata, load, first_invocation
// (their sum is total); a placeholder start runs placeholder_ready, warmup (when sent), then after
// the --specialize-after wait specialize, metadata, load, first_invocation (their sum from
// specialize on is total_after_specialize).
const (
	PhaseSpawn                = "spawn"                  // process start (fork/exec)
	PhaseStartStream          = "start_stream"           // process started → StartStream received
	PhaseInit                 = "init"                   // StartStream → WorkerInitResponse
	PhasePlaceholderReady     = "placeholder_ready"      // spawn → standby WorkerInitResponse
	PhaseWarmup               = "warmup"                 // WorkerInitResponse → WorkerWarmupResponse
	PhaseSpecialize           = "specialize"             // FunctionEnvironmentReloadRequest → its response
	PhaseMetadata             = "metadata"               // previous answer → FunctionMetadataResponse (or function.json read)
	PhaseLoad                 = "load"                   // metadata → the last FunctionLoadResponse
	PhaseFirstInvocation      = "first_invocation"       // the last load answer → the first InvocationResponse
	PhaseTotal                = "total"                  // spawn → the first InvocationResponse (direct starts)
	PhaseTotalAfterSpecialize = "total_after_specialize" // FunctionEnvironmentReloadRequest → the first InvocationResponse
	PhaseNextInvocations      = "next_invocations"       // each of the --invocations K after the first: request → response
)

// DirectPhases and PlaceholderPhases are the phases of each kind of start, in time order, the
// totals last.
var (
	DirectPhases      = []string{PhaseSpawn, PhaseStartStream, PhaseInit, PhaseMetadata, PhaseLoad, PhaseFirstInvocation, PhaseTotal}
	PlaceholderPhases = []string{PhasePlaceholderReady, PhaseWarmup, PhaseSpecialize, PhaseMetadata, PhaseLoad, PhaseFirstInvocation, PhaseTotalAfterSpecialize}
)

// Config describes one cold start.
type Config struct {
	Host        host.Options    // the app's worker launch and handshake settings
	Function    string          // the function invoked first ("" = the first HTTP-triggered one loaded, else the first)
	Payload     loadgen.Payload // what each invocation carries
	Invocations int             // invocations after the first, one after the other
	Timeout     time.Duration   // per invocation

	Placeholder     bool
	StandbyDir      string        // the standby host's app directory (default host.StandbyDir())
	WarmupRequest   bool          // send WorkerWarmupRequest when the worker advertises HandlesWorkerWarmupMessage
	SpecializeAfter time.Duration // standby time between placeholder_ready (or warmup) and specialization
	ReloadTimeout   time.Duration // 0: the worker config's environmentReloadTimeout, else 30 s
}

// Start is one measured cold start, and Phase one of its phases (report's model).
type (
	Start = report.ColdStart
	Phase = report.ColdPhase
)

// timeline builds contiguous phases: each runs from the previous phase's end to its own.
type timeline struct {
	s    *Start
	last time.Time
}

func (t *timeline) add(name string, end time.Time, share *time.Duration, detail string) {
	t.s.Phases = append(t.s.Phases, Phase{Name: name, Dur: end.Sub(t.last), Share: share, Detail: detail})
	t.last = end
}

func shareOf(from time.Time, ex host.Exchange) *time.Duration {
	d := ex.Sent.Sub(from)
	return &d
}

// Measure runs one cold start: a fresh worker, timed phase by phase to the answer of its first
// invocation (and of Invocations more), then ended as the host ends it. A failure is recorded in
// the Start (the phase and the reason), never returned: the next start goes on. The error is only
// for an interrupted context.
func Measure(ctx context.Context, srv *host.Server, cfg Config, index int) (*Start, error) {
	st := &Start{Index: index, At: time.Now().UTC()}
	w, err := measure(ctx, srv, cfg, st)
	if w != nil {
		code := w.Shutdown(host.TerminateGrace)
		st.ExitCode = &code
	}
	if err != nil {
		st.Failed = true
		st.Reason = err.Error()
		var he *host.Error
		var pe *phaseError
		var ns *host.ErrNoSpecialization
		switch {
		case errors.As(err, &he):
			st.FailedPhase = phaseOfStep(he.Phase, cfg.Placeholder)
			st.ExitCode = he.ExitCode
		case errors.As(err, &pe):
			st.FailedPhase = phaseOfStep(pe.phase, cfg.Placeholder)
		case errors.As(err, &ns):
			st.FailedPhase = PhaseSpecialize
		}
		if st.FailedPhase == "" {
			st.FailedPhase = PhaseFirstInvocation
		}
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
	}
	return st, nil
}

// phaseOfStep maps a host step's error phase to the cold-start phase it failed in.
func phaseOfStep(step string, placeholder bool) string {
	switch step {
	case "launch":
		return PhaseSpawn
	case "start", "init":
		if placeholder {
			return PhasePlaceholderReady
		}
		if step == "start" {
			return PhaseStartStream
		}
		return PhaseInit
	case "discovery", "metadata":
		return PhaseMetadata
	case "invocation":
		return PhaseFirstInvocation
	}
	return step // warmup, specialize, load
}

func measure(ctx context.Context, srv *host.Server, cfg Config, st *Start) (*host.Worker, error) {
	launch := cfg.Host
	appLaunch := cfg.Host.Launch
	if cfg.Placeholder {
		dir := cfg.StandbyDir
		if dir == "" {
			dir = host.StandbyDir()
		}
		var err error
		if launch.Launch, err = host.PlaceholderLaunch(cfg.Host.Launch, dir); err != nil {
			return nil, &phaseError{phase: "launch", msg: err.Error()}
		}
	}
	w, sp, err := host.Spawn(ctx, srv, launch)
	if err != nil {
		return nil, err
	}
	st.Pid = w.Pid
	t := timeline{s: st, last: sp.Begin}
	if !cfg.Placeholder {
		t.add(PhaseSpawn, sp.Started, nil, "")
		t.add(PhaseStartStream, sp.Stream, nil, "")
	}
	ex, err := w.Initialize(ctx, launch, w.Command.AppDir)
	if err != nil {
		return w, err
	}
	if cfg.Placeholder {
		t.add(PhasePlaceholderReady, ex.Answered, shareOf(sp.Stream, ex), "")
	} else {
		t.add(PhaseInit, ex.Answered, shareOf(sp.Stream, ex), "")
	}
	appDir := w.Command.AppDir
	var specializeAt time.Time
	if cfg.Placeholder {
		switch {
		case !cfg.WarmupRequest:
			st.Warmup = "off"
		case !w.Has("HandlesWorkerWarmupMessage"):
			st.Warmup = "not advertised"
		default:
			wex, ok, reason, err := w.Warmup(ctx, host.DefaultWarmupTimeout)
			if err != nil {
				return w, err
			}
			st.Warmup = "sent"
			if !ok {
				st.Warmup = "failed: " + reason
			}
			t.add(PhaseWarmup, wex.Answered, shareOf(t.last, wex), st.Warmup)
		}
		if err := sleep(ctx, cfg.SpecializeAfter); err != nil {
			return w, &phaseError{phase: "specialize", msg: "interrupted while waiting to specialize"}
		}
		env, dir, err := host.ReloadEnvironment(appLaunch, w.ID)
		if err != nil {
			return w, &phaseError{phase: "specialize", msg: err.Error()}
		}
		appDir = dir
		rex, rl, err := w.Reload(ctx, env, appDir, cfg.ReloadTimeout)
		if err != nil {
			return w, err
		}
		st.Capabilities = fmt.Sprintf("%s: %d → %d", rl.Strategy, rl.Before, rl.After)
		specializeAt = rex.Sent
		t.last = rex.Sent
		t.add(PhaseSpecialize, rex.Answered, nil, st.Capabilities)
	}

	from := t.last
	mex, fns, err := w.Discover(ctx, launch, appDir)
	if err != nil {
		return w, err
	}
	if mex.Sent.IsZero() {
		t.add(PhaseMetadata, time.Now(), nil, "function.json")
	} else {
		t.add(PhaseMetadata, mex.Answered, shareOf(from, mex), "")
	}
	// The first invocation's request is built while the worker loads (the capabilities and the
	// bindings are known once the metadata is), so that fbench's share of first_invocation is the
	// send alone; the host has its request ready when the function is loaded too.
	// It is built beside the loads (not before them: that would delay the load requests).
	early := candidate(fns, cfg.Function)
	var base *rpc.InvocationRequest
	built := make(chan struct{})
	caps := maps.Clone(w.Capabilities)
	go func() {
		defer close(built)
		if early != nil {
			base, _ = loadgen.BuildRequest(early, caps, cfg.Payload)
		}
	}()
	from = t.last
	lex, err := w.LoadFunctions(ctx, launch, fns)
	<-built
	if err != nil {
		return w, err
	}
	t.add(PhaseLoad, lex.Answered, shareOf(from, lex), fmt.Sprintf("%d functions", len(w.Functions)))

	from = t.last
	fn, err := pickFunction(w, cfg.Function)
	if err != nil {
		phase := "invocation"
		if slices.ContainsFunc(w.Failed, func(f *host.Function) bool { return f.Name == cfg.Function }) {
			phase = "load" // the function to invoke did not load
		}
		return w, &phaseError{phase: phase, msg: err.Error()}
	}
	if px := w.HTTPProxy(); px != nil && strings.EqualFold(fn.TriggerType(), "httpTrigger") {
		// Its answer needs the forwarded HTTP request too, which only fbench run sends.
		return w, &phaseError{phase: "invocation", msg: fmt.Sprintf("function %s is HTTP-triggered and the worker proxies HTTP (HttpUri %s): fbench coldstart does not forward the HTTP request; invoke a function with another trigger (--function)", fn.Name, px.Raw)}
	}
	if fn != early || base == nil {
		if base, err = loadgen.BuildRequest(fn, w.Capabilities, cfg.Payload); err != nil {
			return w, &phaseError{phase: "invocation", msg: err.Error()}
		}
	}
	iex, err := invoke(ctx, w, base, cfg.Timeout)
	if err != nil {
		return w, err
	}
	t.add(PhaseFirstInvocation, iex.Answered, shareOf(from, iex), fn.Name)
	st.Invocations = append(st.Invocations, iex.Answered.Sub(iex.Sent))
	if cfg.Placeholder {
		st.Phases = append(st.Phases, Phase{Name: PhaseTotalAfterSpecialize, Dur: iex.Answered.Sub(specializeAt)})
	} else {
		st.Phases = append(st.Phases, Phase{Name: PhaseTotal, Dur: iex.Answered.Sub(sp.Begin)})
	}
	// Resources up to the first answer.
	if s, err := procstat.NewSampler(w.Pid).Sample(); err == nil {
		st.CPUSeconds = (s.CPUUser + s.CPUSystem).Seconds()
		st.PeakRSS = s.RSSBytes
	}
	// The tree's clock ticks (10 ms) miss a start that took less; the worker's threads' schedstat
	// counts nanoseconds.
	if cpu, err := procstat.ThreadCPU(w.Pid); err == nil && cpu.Seconds() > st.CPUSeconds {
		st.CPUSeconds = cpu.Seconds()
	}
	if peak, err := procstat.PeakRSS(w.Pid); err == nil && peak > st.PeakRSS {
		st.PeakRSS = peak
	}
	for range cfg.Invocations {
		ex, err := invoke(ctx, w, base, cfg.Timeout)
		if err != nil {
			var he *host.Error
			var pe *phaseError
			if errors.As(err, &he) {
				he.Phase = PhaseNextInvocations
			} else if errors.As(err, &pe) {
				pe.phase = PhaseNextInvocations
			}
			return w, err
		}
		st.Invocations = append(st.Invocations, ex.Answered.Sub(ex.Sent))
	}
	return w, nil
}

// invoke sends one invocation of base with a fresh id and trace context; a Failure answer is an
// error of the invocation phase.
func invoke(ctx context.Context, w *host.Worker, base *rpc.InvocationRequest, timeout time.Duration) (host.Exchange, error) {
	id := guid.New()
	req := &rpc.InvocationRequest{
		InvocationId: id, FunctionId: base.FunctionId, InputData: base.InputData, TriggerMetadata: base.TriggerMetadata,
		TraceContext: &rpc.RpcTraceContext{TraceParent: guid.TraceParent(id), Attributes: map[string]string{}},
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ex, resp, err := w.Invoke(ctx, req, timeout)
	if err != nil {
		return ex, err
	}
	if s := resp.GetResult().GetStatus(); s != rpc.StatusResult_Success {
		return ex, &phaseError{phase: "invocation", msg: "the invocation failed: " + host.ResultText(resp.GetResult())}
	}
	return ex, nil
}

// candidate is the function pickFunction will pick if it loads: by name, else the first
// HTTP-triggered one, else the first; nil when there is none.
func candidate(fns []*host.Function, name string) *host.Function {
	var first, http *host.Function
	for _, f := range fns {
		if f.LoadError != "" {
			continue
		}
		if name != "" && f.Name == name {
			return f
		}
		if first == nil {
			first = f
		}
		if t := f.Trigger(); http == nil && t != nil && t.Type == "httpTrigger" {
			http = f
		}
	}
	switch {
	case name != "":
		return nil
	case http != nil:
		return http
	}
	return first
}

// pickFunction finds the function to invoke among the loaded ones.
func pickFunction(w *host.Worker, name string) (*host.Function, error) {
	if name != "" {
		for _, f := range w.Functions {
			if f.Name == name {
				return f, nil
			}
		}
		for _, f := range w.Failed {
			if f.Name == name {
				return nil, fmt.Errorf("function %s failed to load: %s", name, f.LoadError)
			}
		}
		names := make([]string, len(w.Functions))
		for i, f := range w.Functions {
			names[i] = f.Name
		}
		return nil, fmt.Errorf("unknown function %q: the worker loaded %v", name, names)
	}
	for _, f := range w.Functions {
		if t := f.Trigger(); t != nil && t.Type == "httpTrigger" {
			return f, nil
		}
	}
	return w.Functions[0], nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// phaseError is a start's failure that fbench found itself (not a host step's): the phase it
// belongs to and what went wrong.
type phaseError struct{ phase, msg string }

func (e *phaseError) Error() string { return e.phase + ": " + e.msg }

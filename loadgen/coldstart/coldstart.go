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
	c := &coldStart{cfg: cfg, st: st, launch: cfg.Host}
	err := c.run(ctx, srv)
	return c.w, err
}

// coldStart is one start while it is measured: its settings, its worker once spawned, and the
// timeline of its phases so far.
type coldStart struct {
	cfg          Config
	st           *Start
	launch       host.Options // cfg.Host, with the placeholder's launch for a placeholder start
	w            *host.Worker
	sp           host.Spawned
	t            timeline
	appDir       string    // where the functions are discovered (the app's after specialization)
	specializeAt time.Time // FunctionEnvironmentReloadRequest sent (placeholder starts)
}

// run takes the worker through the phases of its start, each step adding its phases to the
// timeline, then sends the invocations after the first.
func (c *coldStart) run(ctx context.Context, srv *host.Server) error {
	if err := c.spawn(ctx, srv); err != nil {
		return err
	}
	if err := c.initialize(ctx); err != nil {
		return err
	}
	if c.cfg.Placeholder {
		if err := c.warmup(ctx); err != nil {
			return err
		}
		if err := c.specialize(ctx); err != nil {
			return err
		}
	}
	fns, err := c.discover(ctx)
	if err != nil {
		return err
	}
	early, base, err := c.load(ctx, fns)
	if err != nil {
		return err
	}
	fn, base, err := c.functionToInvoke(early, base)
	if err != nil {
		return err
	}
	if err := c.firstInvocation(ctx, fn, base); err != nil {
		return err
	}
	c.sampleResources()
	return c.nextInvocations(ctx, base)
}

// spawn starts the worker process (the placeholder's launch for a placeholder start) and waits
// for its StartStream.
func (c *coldStart) spawn(ctx context.Context, srv *host.Server) error {
	if c.cfg.Placeholder {
		dir := c.cfg.StandbyDir
		if dir == "" {
			dir = host.StandbyDir()
		}
		var err error
		if c.launch.Launch, err = host.PlaceholderLaunch(c.cfg.Host.Launch, dir); err != nil {
			return &phaseError{phase: "launch", msg: err.Error()}
		}
	}
	w, sp, err := host.Spawn(ctx, srv, c.launch)
	if err != nil {
		return err
	}
	c.w, c.sp = w, sp
	c.st.Pid = w.Pid
	c.t = timeline{s: c.st, last: sp.Begin}
	if !c.cfg.Placeholder {
		c.t.add(PhaseSpawn, sp.Started, nil, "")
		c.t.add(PhaseStartStream, sp.Stream, nil, "")
	}
	return nil
}

// initialize sends WorkerInitRequest: init for a direct start, the end of placeholder_ready for a
// placeholder.
func (c *coldStart) initialize(ctx context.Context) error {
	ex, err := c.w.Initialize(ctx, c.launch, c.w.Command.AppDir)
	if err != nil {
		return err
	}
	if c.cfg.Placeholder {
		c.t.add(PhasePlaceholderReady, ex.Answered, shareOf(c.sp.Stream, ex), "")
	} else {
		c.t.add(PhaseInit, ex.Answered, shareOf(c.sp.Stream, ex), "")
	}
	c.appDir = c.w.Command.AppDir
	return nil
}

// warmup sends WorkerWarmupRequest to a placeholder when asked to and the worker advertises it,
// and records in the Start whether it was sent and how it went.
func (c *coldStart) warmup(ctx context.Context) error {
	switch {
	case !c.cfg.WarmupRequest:
		c.st.Warmup = "off"
	case !c.w.Has("HandlesWorkerWarmupMessage"):
		c.st.Warmup = "not advertised"
	default:
		wex, ok, reason, err := c.w.Warmup(ctx, host.DefaultWarmupTimeout)
		if err != nil {
			return err
		}
		c.st.Warmup = "sent"
		if !ok {
			c.st.Warmup = "failed: " + reason
		}
		c.t.add(PhaseWarmup, wex.Answered, shareOf(c.t.last, wex), c.st.Warmup)
	}
	return nil
}

// specialize waits --specialize-after on standby, then turns the placeholder into the app's
// worker with FunctionEnvironmentReloadRequest; the phases after it count from its request.
func (c *coldStart) specialize(ctx context.Context) error {
	if err := sleep(ctx, c.cfg.SpecializeAfter); err != nil {
		return &phaseError{phase: "specialize", msg: "interrupted while waiting to specialize"}
	}
	env, dir, err := host.ReloadEnvironment(c.cfg.Host.Launch, c.w.ID)
	if err != nil {
		return &phaseError{phase: "specialize", msg: err.Error()}
	}
	c.appDir = dir
	rex, rl, err := c.w.Reload(ctx, env, c.appDir, c.cfg.ReloadTimeout)
	if err != nil {
		return err
	}
	c.st.Capabilities = fmt.Sprintf("%s: %d → %d", rl.Strategy, rl.Before, rl.After)
	c.specializeAt = rex.Sent
	c.t.last = rex.Sent
	c.t.add(PhaseSpecialize, rex.Answered, nil, c.st.Capabilities)
	return nil
}

// discover finds the app's functions: FunctionsMetadataRequest, or function.json read by fbench.
func (c *coldStart) discover(ctx context.Context) ([]*host.Function, error) {
	from := c.t.last
	mex, fns, err := c.w.Discover(ctx, c.launch, c.appDir)
	if err != nil {
		return nil, err
	}
	if mex.Sent.IsZero() {
		c.t.add(PhaseMetadata, time.Now(), nil, "function.json")
	} else {
		c.t.add(PhaseMetadata, mex.Answered, shareOf(from, mex), "")
	}
	return fns, nil
}

// load sends the FunctionLoadRequests and returns the function likely to be invoked first with
// its request, built beside the loads.
//
// The first invocation's request is built while the worker loads (the capabilities and the
// bindings are known once the metadata is), so that fbench's share of first_invocation is the
// send alone; the host has its request ready when the function is loaded too.
// It is built beside the loads (not before them: that would delay the load requests).
func (c *coldStart) load(ctx context.Context, fns []*host.Function) (early *host.Function, base *rpc.InvocationRequest, err error) {
	early = candidate(fns, c.cfg.Function)
	built := make(chan struct{})
	caps := maps.Clone(c.w.Capabilities)
	go func() {
		defer close(built)
		if early != nil {
			base, _ = loadgen.BuildRequest(early, caps, c.cfg.Payload)
		}
	}()
	from := c.t.last
	lex, err := c.w.LoadFunctions(ctx, c.launch, fns)
	<-built
	if err != nil {
		return nil, nil, err
	}
	c.t.add(PhaseLoad, lex.Answered, shareOf(from, lex), fmt.Sprintf("%d functions", len(c.w.Functions)))
	return early, base, nil
}

// functionToInvoke picks the loaded function to invoke and its request: the one built during the
// loads when it is that function's, else one built now.
func (c *coldStart) functionToInvoke(early *host.Function, base *rpc.InvocationRequest) (*host.Function, *rpc.InvocationRequest, error) {
	fn, err := pickFunction(c.w, c.cfg.Function)
	if err != nil {
		phase := "invocation"
		if slices.ContainsFunc(c.w.Failed, func(f *host.Function) bool { return f.Name == c.cfg.Function }) {
			phase = "load" // the function to invoke did not load
		}
		return nil, nil, &phaseError{phase: phase, msg: err.Error()}
	}
	if px := c.w.HTTPProxy(); px != nil && strings.EqualFold(fn.TriggerType(), "httpTrigger") {
		// Its answer needs the forwarded HTTP request too, which only fbench run sends.
		return nil, nil, &phaseError{phase: "invocation", msg: fmt.Sprintf("function %s is HTTP-triggered and the worker proxies HTTP (HttpUri %s): fbench coldstart does not forward the HTTP request; invoke a function with another trigger (--function)", fn.Name, px.Raw)}
	}
	if fn != early || base == nil {
		if base, err = loadgen.BuildRequest(fn, c.w.Capabilities, c.cfg.Payload); err != nil {
			return nil, nil, &phaseError{phase: "invocation", msg: err.Error()}
		}
	}
	return fn, base, nil
}

// firstInvocation sends the first invocation and ends the timeline with it and the start's total.
func (c *coldStart) firstInvocation(ctx context.Context, fn *host.Function, base *rpc.InvocationRequest) error {
	from := c.t.last
	iex, err := invoke(ctx, c.w, base, c.cfg.Timeout)
	if err != nil {
		return err
	}
	c.t.add(PhaseFirstInvocation, iex.Answered, shareOf(from, iex), fn.Name)
	c.st.Invocations = append(c.st.Invocations, iex.Answered.Sub(iex.Sent))
	if c.cfg.Placeholder {
		c.st.Phases = append(c.st.Phases, Phase{Name: PhaseTotalAfterSpecialize, Dur: iex.Answered.Sub(c.specializeAt)})
	} else {
		c.st.Phases = append(c.st.Phases, Phase{Name: PhaseTotal, Dur: iex.Answered.Sub(c.sp.Begin)})
	}
	return nil
}

// sampleResources records the worker's CPU time and peak memory up to the first answer.
func (c *coldStart) sampleResources() {
	st := c.st
	if s, err := procstat.NewSampler(c.w.Pid).Sample(); err == nil {
		st.CPUSeconds = (s.CPUUser + s.CPUSystem).Seconds()
		st.PeakRSS = s.RSSBytes
	}
	// The tree's clock ticks (10 ms) miss a start that took less; the worker's threads' schedstat
	// counts nanoseconds.
	if cpu, err := procstat.ThreadCPU(c.w.Pid); err == nil && cpu.Seconds() > st.CPUSeconds {
		st.CPUSeconds = cpu.Seconds()
	}
	if peak, err := procstat.PeakRSS(c.w.Pid); err == nil && peak > st.PeakRSS {
		st.PeakRSS = peak
	}
}

// nextInvocations sends the --invocations after the first, one after the other; a failure is one
// of the next_invocations phase.
func (c *coldStart) nextInvocations(ctx context.Context, base *rpc.InvocationRequest) error {
	for range c.cfg.Invocations {
		ex, err := invoke(ctx, c.w, base, c.cfg.Timeout)
		if err != nil {
			var he *host.Error
			var pe *phaseError
			if errors.As(err, &he) {
				he.Phase = PhaseNextInvocations
			} else if errors.As(err, &pe) {
				pe.phase = PhaseNextInvocations
			}
			return err
		}
		c.st.Invocations = append(c.st.Invocations, ex.Answered.Sub(ex.Sent))
	}
	return nil
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

// Package loadgen is fbench's load engine: it drives a worker whose handshake is done (see
// loadgen/host) with InvocationRequests on an arrival schedule (open loop) or at a fixed
// concurrency (closed loop), sends InvocationCancels and status pings on the same stream, matches
// every response to its request and records three clocks per invocation (rtt from the intended send
// time, service from the actual send time, and the lag between them) in interval histograms.
//
// One invocation's trip: the sender goroutine takes the next intended time from the Schedule,
// sleeps until it, stamps the actual send time, registers the invocation in the tracker and writes
// it to the stream; the receiver goroutine reads the response, settles it in the tracker and hands
// the three clocks to the recorder; every interval the recorder's histograms go to the sink
// (report.RunWriter) and start afresh.
package loadgen

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/loadgen/dist"
	"github.com/fbench/fbench/loadgen/guid"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
	"github.com/fbench/fbench/report"
)

// OnFull says what happens to an arrival when --max-inflight invocations are already in flight.
type OnFull string

const (
	OnFullQueue OnFull = "queue" // wait for a slot; the wait counts in rtt and lag (intended time kept)
	OnFullDrop  OnFull = "drop"  // do not send it; count it as dropped
)

// ParseOnFull validates an --on-full value.
func ParseOnFull(s string) (OnFull, error) {
	switch OnFull(s) {
	case OnFullQueue, OnFullDrop:
		return OnFull(s), nil
	}
	return "", fmt.Errorf("invalid --on-full %q: want queue or drop", s)
}

// Target is one function in the invocation mix.
type Target struct {
	Function string
	Weight   int
}

// Config is one run of the engine.
type Config struct {
	// Open loop: arrivals at the schedule's intended times. Closed loop: Concurrency > 0 and no schedule.
	Schedule    *Schedule
	Concurrency int
	// Count stops after that many arrivals (0: the schedule's or Duration's end).
	Count int64
	// Duration bounds a closed-loop run (and an unbounded schedule).
	Duration time.Duration
	// Warmup excludes the run's first stretch from the summary in closed loop (a schedule has its own).
	Warmup time.Duration
	// Interval is the length of one histogram interval (default 1 s).
	Interval time.Duration

	Targets []Target // empty: every loaded function, equal weights
	Payload Payload

	CancelRatio float64
	CancelAfter dist.Dist
	ForceCancel bool // send cancels even when the worker does not advertise HandlesInvocationCancelMessage

	MaxInFlight int // 0: unlimited
	OnFull      OnFull
	Timeout     time.Duration // per invocation; 0: none

	StatusInterval time.Duration // WorkerStatusRequest period; 0: no pings
	Drain          time.Duration // how long to wait for in-flight invocations at the end
	// RealtimeSender runs the open-loop sender's thread in SCHED_FIFO: more precise arrivals
	// (its wake-ups preempt ordinary threads) at the cost of preempting the worker on a small machine.
	RealtimeSender bool
	StuckSend      time.Duration // one Send held this long by flow control ends the run: the worker stopped reading (default 30 s)

	Seed uint64

	// HTTPOK is the set of HTTP statuses that count as success (--http-ok; zero: DefaultHTTPOK):
	// an HTTP function's invocation answered with another status failed, reason "HTTP <code>".
	HTTPOK StatusSet
	// HTTPMaxConns bounds the keep-alive connections to a worker's HttpUri (--http-max-conns;
	// 0: DefaultHTTPMaxConns).
	HTTPMaxConns int

	// Relaunch, when set, replaces a worker whose stream ended mid-run (--restart-worker): it gets
	// the old worker (to reap) and returns a new one whose handshake is done. The run goes on with
	// the same schedule; invocations lost with the old worker are counted as lost.
	Relaunch func(ctx context.Context, old *host.Worker) (*host.Worker, error)
	// MaxRestarts bounds Relaunch calls (0: unlimited).
	MaxRestarts int
	// Sample, when set, is called at every interval's end for resource figures (the current worker).
	Sample func(w *host.Worker) report.Resources
	// StartAt, when set, is the wall-clock instant the measured phase starts (the warm-up before it):
	// Run waits for it with the worker ready, so runs on many machines share their time line. A
	// StartAt too close to begin the warm-up in time is an error.
	StartAt time.Time
	// OnStart is called with the run's time zero (the first arrival's intended time) before anything is sent.
	OnStart func(t0 time.Time)
	// OnNotice, when set, receives the notices known before anything is sent (cancels or pings
	// skipped, functions left out), so they can be shown before measuring; they are then not
	// repeated in Result.Notices.
	OnNotice func(msg string)
	// OnInterval receives every interval as it closes (the histograms are reused afterwards).
	OnInterval func(rec *report.IntervalRecord) error
}

// Result is what the engine learned beyond the intervals it reported.
type Result struct {
	Start       time.Time // wall-clock time of time zero
	Elapsed     time.Duration
	Notices     []string // things the user must know (cancels skipped, ...)
	Events      []report.Event
	WorkerEnded bool         // the stream broke or the worker exited during the run
	EndReason   string       // why the worker's stream ended, when it did
	Interrupted bool         // the context was cancelled
	Restarts    int          // workers relaunched
	Worker      *host.Worker // the worker at the end (a relaunched one after restarts)
	Totals      report.Counts
	Failures    *report.Failures       // why measured invocations failed (nil: none did)
	WorkerLogs  *report.WorkerLogStats // the worker's RpcLogs (nil: none)
	// HTTPMode is how HTTP functions were driven: "proxy" (the worker's HttpUri), "rpc", or ""
	// when none was invoked.
	HTTPMode string
}

// DefaultHTTPMaxConns is the connection bound to a worker's HttpUri when Config sets none.
const DefaultHTTPMaxConns = 256

// generation is one worker and its stream; a restart starts a new generation.
type generation struct {
	w        *host.Worker
	stream   host.Stream
	targets  []target
	recvDone chan struct{}
	recvErr  error
	fwd      *forwarder // HTTP proxying mode: the client to the worker's HttpUri; nil otherwise
}

// target is a Target resolved against the loaded functions, with its request prepared once.
type target struct {
	fn     *host.Function
	weight int
	tmpl   *requestTemplate // the request encoded once; each send adds its id and trace context
	proxy  *proxyRequest    // HTTP proxying mode: the request forwarded to the worker's HttpUri
}

// engine is the state of one run.
type engine struct {
	cfg    Config
	gen    *generation // owned by Run's loop; the sender holds its own copy
	resume chan *generation
	names  []string
	cumW   []int
	totalW int
	t0     time.Time
	// Per target (the same in every generation): HTTP-triggered, and the name of its HTTP output
	// binding ("$return", another name, or "" for none), read by the receiver.
	isHTTP  []bool
	httpOut []string
	proxied bool // HTTP functions are forwarded to the worker's HttpUri
	tracker *tracker
	rec     *recorder

	inflight     atomic.Int64
	inSend       atomic.Int64  // when the sender's current Send began (ns since t0), 0 between Sends
	lastRecv     atomic.Int64  // when the last message arrived (ns since t0)
	nextDue      atomic.Int64  // open loop: the intended time of the next arrival the sender will handle
	loadEnd      atomic.Int64  // where the load ended (ns since t0; -1 while arrivals go on)
	senderNotice string        // set by the sender before it ends (read after sendDone)
	slotFree     chan struct{} // signalled when an invocation settles (queue mode and closed loop)
	closedTok    chan int64    // closed loop: settle times of freed slots
	cancels      bool

	pingMu   sync.Mutex
	pings    map[string]int64 // request_id → sent (ns since t0)
	stopSend chan struct{}
	restarts int
	// Worker log lines already reported as dropped, and whose log they were (one per generation).
	logDropped     int64
	logDroppedFrom *host.WorkerLog

	// Why invocations failed, and what the worker logged (see failures.go).
	failures *report.FailureTable
	logs     *report.LogCounter

	totalsMu sync.Mutex
	totals   report.Counts
	notices  []string
	events   []report.Event
}

func (e *engine) now() int64 { return int64(time.Since(e.t0)) }

// Run drives the worker until the schedule (or count, or duration) ends, the context is cancelled
// or the worker's stream ends, then drains in-flight invocations for up to cfg.Drain. It does not
// shut the worker down: the caller does, once Run has returned (the stream is then free).
func Run(ctx context.Context, w *host.Worker, cfg Config) (*Result, error) {
	if cfg.Schedule == nil && cfg.Concurrency <= 0 {
		return nil, errors.New("no schedule and no concurrency: nothing to run")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.OnFull == "" {
		cfg.OnFull = OnFullQueue
	}
	e := &engine{cfg: cfg, tracker: newTracker(), pings: map[string]int64{},
		slotFree: make(chan struct{}, 1), stopSend: make(chan struct{}), resume: make(chan *generation, 1),
		failures: report.NewFailureTable(), logs: report.NewLogCounter()}
	e.loadEnd.Store(-1)
	g, err := e.newGeneration(w)
	if err != nil {
		return nil, err
	}
	e.gen = g
	warmupEnd := cfg.Warmup
	if cfg.Schedule != nil {
		warmupEnd = cfg.Schedule.WarmupEnd()
	}
	// The first measured interval is the first that starts at or after the warm-up's end.
	measuredFrom := (warmupEnd + cfg.Interval - 1) / cfg.Interval * cfg.Interval
	e.rec = newRecorder(len(g.targets), cfg.Interval, measuredFrom, e.now)
	if cfg.CancelRatio > 0 {
		if w.Has("HandlesInvocationCancelMessage") || cfg.ForceCancel {
			e.cancels = true
		} else {
			e.notices = append(e.notices, "cancels skipped: the worker does not advertise HandlesInvocationCancelMessage (use --force-cancel to send them anyway)")
		}
	}
	if cfg.StatusInterval > 0 && !w.Has("WorkerStatus") {
		e.notices = append(e.notices, "status pings skipped: the worker does not advertise WorkerStatus")
		e.cfg.StatusInterval = 0
	}
	if cfg.Concurrency > 0 {
		e.closedTok = make(chan int64, cfg.Concurrency)
	}

	if cfg.OnNotice != nil {
		for _, n := range e.notices {
			cfg.OnNotice(n)
		}
		e.notices = nil
	}
	e.t0 = time.Now()
	if !cfg.StartAt.IsZero() {
		// Time zero is where the warm-up must begin for the measured phase to start at StartAt.
		t0 := cfg.StartAt.Add(-warmupEnd)
		if wait := t0.Sub(e.t0); wait < 0 {
			return nil, fmt.Errorf("the start time %s passed %s before the worker was ready (the warm-up of %s had to begin at %s): choose a later --start-at",
				cfg.StartAt.UTC().Format(time.RFC3339Nano), (-wait).Round(time.Millisecond), warmupEnd, t0.UTC().Format(time.RFC3339Nano))
		} else if !sleepCtx(ctx, wait) {
			return &Result{Start: t0, Interrupted: true, Worker: w}, nil
		}
		e.t0 = t0
	}
	if cfg.OnStart != nil {
		cfg.OnStart(e.t0)
	}
	res := &Result{Start: e.t0}
	go e.receive(g)
	sendDone := make(chan struct{})
	go func() { defer close(sendDone); e.send(ctx, g) }()

	// The interval clock: rotate histograms on exact boundaries, expire timeouts in between.
	interval := cfg.Interval
	index := 0
	nextBoundary := interval
	expireTick := time.NewTicker(50 * time.Millisecond)
	// Timeouts are found by scanning what is in flight, every tenth of the timeout (10 ms to 500 ms).
	expirePeriod := min(max(cfg.Timeout/10, 10*time.Millisecond), 500*time.Millisecond)
	lastExpire := time.Now()
	defer expireTick.Stop()
	boundary := time.NewTimer(time.Until(e.t0.Add(nextBoundary)))
	defer boundary.Stop()
	var drainDeadline <-chan time.Time
	sending := true
	var werr error
	flush := func(end time.Duration, final bool) {
		if err := e.closeInterval(index, nextBoundary-interval, end, final); err != nil && werr == nil {
			werr = err
		}
		index++
	}
	type relaunched struct {
		w   *host.Worker
		err error
	}
	var relaunch chan relaunched // non-nil while a relaunch is under way
	recvDone := g.recvDone
	// A sender blocked in Send (a worker that stopped reading: flow control is full) never reports
	// sendDone, so the run also ends when, past its planned end plus the drain (or 2 s after an
	// interrupt), a Send has been stuck for a second; the stuck Send is undone after the loop.
	var hardStop <-chan time.Time
	planned := cfg.Duration
	if s := cfg.Schedule; s != nil && s.Bounded() && (planned <= 0 || s.Duration() < planned) {
		planned = s.Duration()
	}
	if s := cfg.Schedule; s != nil && cfg.Count > 0 {
		if t := countEnd(s, cfg.Count); t > 0 && (planned <= 0 || t < planned) {
			planned = t
		}
	}
	if planned > 0 {
		hardStop = time.After(time.Until(e.t0.Add(planned + cfg.Drain + time.Second)))
	}
	stuckSend := cfg.StuckSend
	if stuckSend <= 0 {
		stuckSend = 30 * time.Second
	}
	ctxDone := ctx.Done()
	settledAt := int64(-1) // when everything was first seen settled after the last send
loop:
	for {
		select {
		case <-hardStop:
			hardStop = nil
			if at := e.inSend.Load(); sending && at != 0 && e.now()-at >= int64(time.Second) {
				break loop // stuck in Send
			}
			if sending {
				hardStop = time.After(time.Second) // a backlog (or a Send just begun): look again
			} else if ctx.Err() != nil {
				break loop // interrupted: the brief drain is over
			}
		case <-boundary.C:
			if nextBoundary == measuredFrom && sending && cfg.Schedule != nil {
				// Closing the warm-up: let a lagging sender hand over the warm-up's last arrivals
				// first (1 s at most), so that they are recorded as the warm-up's.
				for deadline := time.Now().Add(time.Second); e.nextDue.Load() < int64(measuredFrom) && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
			}
			flush(nextBoundary, false)
			nextBoundary += interval
			boundary.Reset(time.Until(e.t0.Add(nextBoundary)))
		case <-expireTick.C:
			if at := e.inSend.Load(); at != 0 && e.now()-at >= int64(stuckSend) {
				// One Send held by flow control this long: the worker stopped reading its stream.
				// (A run with a planned end notices at that end; this covers the others, such as
				// a closed loop stopped by count alone.)
				break loop
			}
			if now := time.Now(); now.Sub(lastExpire) >= expirePeriod {
				lastExpire = now
				e.expire()
			}
			// All settled: end once the stream has been quiet for a moment (at most quietMax), so
			// that what a worker sends after its last answer (a duplicate, a stray message) is
			// still counted.
			// (and not before the load's planned end: the last interval is then whole)
			if !sending && e.inflight.Load() == 0 && relaunch == nil && (ctx.Err() != nil || e.now() >= e.loadEnd.Load()) {
				now := e.now()
				if settledAt < 0 {
					settledAt = now
				}
				if now-e.lastRecv.Load() >= int64(quietEnd) || now-settledAt >= int64(quietMax) {
					break loop
				}
			} else {
				settledAt = -1
			}
		case <-sendDone:
			sendDone = nil
			sending = false
			d := cfg.Drain
			if ctx.Err() != nil && d > time.Second {
				d = time.Second // interrupted: drain briefly
			}
			drainDeadline = time.After(d)
		case <-drainDeadline:
			break loop
		case <-recvDone:
			// The worker's stream ended: everything in flight on it is lost.
			recvDone = nil
			reason := e.endReason(e.gen)
			e.loseInFlight("in flight when the worker's stream ended: " + reason)
			if e.gen.fwd != nil {
				e.gen.fwd.close() // its requests still out were lost with the worker
			}
			kind, detail := "stream_ended", e.workerEndDetail(reason)
			if code, exited := e.gen.w.ExitCode(); exited && code == host.ExitCodeRestart {
				// The host's "intentional restart": not a crash (with Relaunch the run goes on).
				kind = EventIntentionalRestart
				if cfg.Relaunch == nil {
					detail += "; fbench relaunches such a worker only with --restart-worker"
				}
			}
			e.events = append(e.events, report.Event{At: time.Since(e.t0), Kind: kind, Detail: detail})
			if cfg.Relaunch == nil || !sending || ctx.Err() != nil || (cfg.MaxRestarts > 0 && e.restarts >= cfg.MaxRestarts) {
				res.WorkerEnded = true
				res.EndReason = reason
				break loop
			}
			relaunch = make(chan relaunched, 1)
			old := e.gen.w
			go func() {
				nw, err := cfg.Relaunch(ctx, old)
				relaunch <- relaunched{nw, err}
			}()
		case r := <-relaunch:
			relaunch = nil
			var ng *generation
			err := r.err
			if err == nil {
				ng, err = e.newGeneration(r.w)
			}
			if err != nil {
				e.events = append(e.events, report.Event{At: time.Since(e.t0), Kind: "worker_restart_failed", Detail: err.Error()})
				res.WorkerEnded = true
				res.EndReason = "restarting the worker failed: " + err.Error()
				if r.w != nil {
					e.gen = &generation{w: r.w, recvDone: make(chan struct{})}
				}
				break loop
			}
			e.restarts++
			e.events = append(e.events, report.Event{At: time.Since(e.t0), Kind: "worker_restart",
				Detail: fmt.Sprintf("restart %d: new worker pid %d, worker id %s", e.restarts, r.w.Pid, r.w.ID)})
			e.gen = ng
			recvDone = ng.recvDone
			go e.receive(ng)
			e.resume <- ng
		case <-ctxDone:
			// The sender sees it too; drain briefly (2 s at most, even if it is stuck in Send).
			ctxDone = nil
			hardStop = time.After(2 * time.Second)
		}
	}
	close(e.stopSend)
	if sendDone != nil {
		select {
		case <-sendDone:
		case <-time.After(2 * time.Second):
			// The sender is stuck in Send: the worker stopped reading and flow control is full.
			// Ending the stream unblocks it.
			e.events = append(e.events, report.Event{At: time.Since(e.t0), Kind: "notice",
				Detail: "the worker stopped reading its stream (flow control full); fbench ended the stream"})
			e.gen.w.EndStream()
			<-sendDone
		}
	}
	if relaunch != nil {
		if r := <-relaunch; r.w != nil {
			e.gen = &generation{w: r.w, recvDone: make(chan struct{})}
		}
	}
	if ctx.Err() != nil {
		res.Interrupted = true
	}
	// Whatever is still in flight was never answered.
	cause := fmt.Sprintf("in flight when the run ended: no answer within the drain (--drain %s)", cfg.Drain)
	if ctx.Err() != nil {
		cause = "in flight when the run was interrupted"
	}
	e.loseInFlight(cause)
	if e.gen.fwd != nil {
		e.gen.fwd.close()
	}
	end := time.Since(e.t0)
	if end > nextBoundary-interval {
		flush(end, true)
	}
	res.Elapsed = end
	if e.senderNotice != "" {
		e.notices = append(e.notices, e.senderNotice)
	}
	res.Notices = e.notices
	res.Events = e.events
	res.Restarts = e.restarts
	res.Worker = e.gen.w
	for _, h := range e.isHTTP {
		if h {
			res.HTTPMode = "rpc"
			if e.proxied {
				res.HTTPMode = "proxy"
			}
		}
	}
	e.totalsMu.Lock()
	res.Totals = e.totals
	e.totalsMu.Unlock()
	res.Failures, res.WorkerLogs = e.failures.Table(), e.logs.Stats()
	return res, werr
}

// EventIntentionalRestart is the event of a worker that exited with host.ExitCodeRestart mid-run.
const EventIntentionalRestart = "intentional_restart"

// quietEnd is how long the stream must be quiet, everything settled, before a run ends; a worker
// that never goes quiet (a log flood) holds the end up by quietMax at most.
const (
	quietEnd = 50 * time.Millisecond
	quietMax = 500 * time.Millisecond
)

// countEnd is when s is expected to have made n arrivals, with a tenth more for chance (Poisson);
// 0 if not within a day.
func countEnd(s *Schedule, n int64) time.Duration {
	lo, hi := time.Duration(0), time.Second
	for s.Expected(0, hi) < float64(n) {
		if hi > 24*time.Hour {
			return 0
		}
		lo, hi = hi, 2*hi
	}
	for hi-lo > time.Millisecond {
		if mid := (lo + hi) / 2; s.Expected(0, mid) < float64(n) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi + hi/10
}

// newGeneration prepares the targets of a (new) worker.
func (e *engine) newGeneration(w *host.Worker) (*generation, error) {
	targets, err := e.prepareTargets(w)
	if err != nil {
		return nil, err
	}
	g := &generation{w: w, stream: w.Stream(), targets: targets, recvDone: make(chan struct{})}
	for _, t := range targets {
		if t.proxy != nil {
			conns := e.cfg.HTTPMaxConns
			if conns <= 0 {
				conns = DefaultHTTPMaxConns
			}
			timeout := time.Duration(0)
			if e.cfg.Timeout > 0 {
				timeout = e.cfg.Timeout + 2*time.Second // fbench's own deadline comes first
			}
			g.fwd = newForwarder(w.HTTPProxy(), conns, timeout)
			break
		}
	}
	return g, nil
}

// loseInFlight counts every invocation still in flight as lost, for cause.
func (e *engine) loseInFlight(cause string) {
	var lost []flight
	e.tracker.drainAll(func(f flight) { lost = append(lost, f) })
	e.inflight.Store(0)
	if len(lost) > 0 {
		now := e.now()
		e.rec.lost(lost, now)
		for _, f := range lost {
			e.fail(f, report.FailureReason{Kind: report.FailureLost, Message: cause}, now, "")
		}
	}
	select {
	case e.slotFree <- struct{}{}:
	default:
	}
}

// workerEndDetail describes a worker whose stream ended: its exit code and last stderr lines when
// it exited.
func (e *engine) workerEndDetail(reason string) string {
	w := e.gen.w
	select {
	case <-w.Exited():
	case <-time.After(time.Second):
	}
	detail := fmt.Sprintf("worker pid %d: %s", w.Pid, reason)
	if code, exited := w.ExitCode(); exited {
		detail += fmt.Sprintf("; %s (exit code %d)", w.ExitState(), code)
		if tail := w.Log.Tail(); len(tail) > 0 {
			if len(tail) > 3 {
				tail = tail[len(tail)-3:]
			}
			detail += "; last stderr: " + strings.Join(tail, " | ")
		}
	}
	return detail
}

func (e *engine) endReason(g *generation) string {
	if g.recvErr == nil || errors.Is(g.recvErr, io.EOF) {
		return "the worker closed its stream"
	}
	return "stream error: " + g.recvErr.Error()
}

// prepareTargets resolves the mix against w's loaded functions and builds each request once. The
// mix's names and weights are the same for every generation; ids and shapes come from w.
func (e *engine) prepareTargets(w *host.Worker) ([]target, error) {
	byName := map[string]*host.Function{}
	for _, f := range w.Functions {
		byName[f.Name] = f
	}
	mix := e.cfg.Targets
	first := e.names == nil
	if len(mix) == 0 {
		// As the host: a function the app disables (function.json, AzureWebJobs.NAME.Disabled)
		// gets no traffic unless it is named.
		var disabled []string
		for _, f := range w.Functions {
			if f.Disabled {
				disabled = append(disabled, f.Name)
				continue
			}
			mix = append(mix, Target{Function: f.Name, Weight: 1})
		}
		if len(mix) == 0 && len(disabled) > 0 {
			return nil, fmt.Errorf("every loaded function is disabled (%s): name one with --function to invoke it", strings.Join(disabled, ", "))
		}
		if first && len(disabled) > 0 {
			e.notices = append(e.notices, fmt.Sprintf("disabled functions not invoked (the app disables them; name one with --function to invoke it): %s", strings.Join(disabled, ", ")))
		}
	} else if first {
		for _, t := range mix {
			if f := byName[t.Function]; f != nil && f.Disabled {
				e.notices = append(e.notices, fmt.Sprintf("function %s is disabled in the app; it is invoked because it was named", f.Name))
			}
		}
	}
	var targets []target
	templates := map[string]string{}
	payload := e.cfg.Payload
	if payload.RoutePrefix == "" && w.Command != nil {
		if p, ok := hostJSONRoutePrefix(w.Command.AppDir); ok {
			payload.RoutePrefix = cmpOr(p, "/") // an empty prefix: routes at the root
		}
	}
	for _, t := range mix {
		f, ok := byName[t.Function]
		if !ok {
			names := make([]string, 0, len(byName))
			for n := range byName {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, ff := range w.Failed {
				if ff.Name == t.Function {
					return nil, fmt.Errorf("function %q failed to load: %s", t.Function, ff.LoadError)
				}
			}
			return nil, fmt.Errorf("unknown function %q: the worker loaded %s", t.Function, strings.Join(names, ", "))
		}
		if t.Weight <= 0 {
			return nil, fmt.Errorf("function %q: weight must be positive", t.Function)
		}
		req, err := BuildRequest(f, w.Capabilities, payload)
		var missing *MissingRouteParamError
		if errors.As(err, &missing) && len(e.cfg.Targets) == 0 {
			// Not asked for by name (the mix is every loaded function): leave it out, and say so.
			if first {
				e.notices = append(e.notices, missing.Error()+": not invoked")
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		var pr *proxyRequest
		isHTTP, out := false, ""
		if trig := f.Trigger(); trig != nil && strings.EqualFold(trig.Type, "httpTrigger") {
			isHTTP = true
			templates[f.Name], _ = trig.Raw["route"].(string)
			for _, b := range f.Bindings {
				if strings.EqualFold(b.Type, "http") && b.Direction != rpc.BindingInfo_in {
					out = b.Name
				}
			}
			if p := w.HTTPProxy(); p != nil {
				in, err := newIncoming(f, trig, payload)
				if err != nil {
					return nil, err
				}
				if pr, err = newProxyRequest(p, in); err != nil {
					return nil, fmt.Errorf("function %q: the URL to forward to: %w", t.Function, err)
				}
			}
		}
		req.TraceContext = &rpc.RpcTraceContext{Attributes: map[string]string{}}
		tmpl, err := newRequestTemplate(req)
		if err != nil {
			return nil, fmt.Errorf("function %q: encoding its request: %w", t.Function, err)
		}
		targets = append(targets, target{fn: f, weight: t.Weight, tmpl: tmpl, proxy: pr})
		if first {
			e.isHTTP = append(e.isHTTP, isHTTP)
			e.httpOut = append(e.httpOut, out)
			e.proxied = e.proxied || pr != nil
			e.names = append(e.names, f.Name)
			e.totalW += t.Weight
			e.cumW = append(e.cumW, e.totalW)
		}
	}
	if len(targets) == 0 {
		return nil, errors.New("no function to invoke: " + strings.Join(e.notices, "; "))
	}
	if err := checkRouteParams(e.cfg.Payload.RouteParams, templates); err != nil {
		return nil, err
	}
	return targets, nil
}

// pick chooses a target by weight.
func (e *engine) pick(r *rand.Rand) int {
	if len(e.cumW) == 1 {
		return 0
	}
	x := r.IntN(e.totalW)
	for i, c := range e.cumW {
		if x < c {
			return i
		}
	}
	return len(e.cumW) - 1
}

// pendingCancel is a cancel due at a time.
type pendingCancel struct {
	at int64
	id string
}

type cancelHeap []pendingCancel

func (h cancelHeap) Len() int           { return len(h) }
func (h cancelHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h cancelHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cancelHeap) Push(x any)        { *h = append(*h, x.(pendingCancel)) }
func (h *cancelHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// send is the one goroutine that writes to the stream: invocations at their intended times,
// cancels when due, status pings every StatusInterval.
func (e *engine) send(ctx context.Context, g *generation) {
	cfg := e.cfg
	if e.closedTok == nil {
		// Open loop paces arrivals with precise sleeps on its own thread; closed loop only waits
		// on freed slots and is cheaper on an ordinary goroutine.
		unpin, err := pinSenderThread(cfg.RealtimeSender)
		defer unpin()
		if err != nil {
			e.senderNotice = fmt.Sprintf("realtime sender refused (%v): it needs CAP_SYS_NICE or an RLIMIT_RTPRIO above 0; the sender ran at ordinary priority", err)
		}
	} else if cfg.RealtimeSender {
		e.senderNotice = "realtime sender ignored: it applies to open loop only"
	}
	ids := guid.NewGenerator(cfg.Seed)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x63616e63656c)) // mix and cancel choices
	var cancels cancelHeap
	cancelMsg := &rpc.InvocationCancel{}
	cancelSM := &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationCancel{InvocationCancel: cancelMsg}}
	statusSM := &rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerStatusRequest{WorkerStatusRequest: &rpc.WorkerStatusRequest{}}}
	nextPing := int64(-1)
	if cfg.StatusInterval > 0 {
		nextPing = int64(cfg.StatusInterval)
	}
	var sent int64
	limit := cfg.Count
	endAt := int64(-1)
	if cfg.Duration > 0 {
		endAt = int64(cfg.Duration)
	}

	// next arrival
	var nextAt int64
	haveNext := false
	scheduleEnd := func() int64 {
		if cfg.Schedule.Bounded() {
			return int64(cfg.Schedule.Duration())
		}
		return e.now()
	}
	advance := func() {
		if limit > 0 && sent >= limit {
			haveNext = false
			if e.closedTok != nil {
				e.loadEnd.Store(e.now())
				return
			}
			at, ok := cfg.Schedule.Next()
			switch {
			case !ok:
				e.loadEnd.Store(scheduleEnd())
			case endAt >= 0 && int64(at) > endAt:
				e.loadEnd.Store(endAt)
			default:
				e.loadEnd.Store(int64(at))
			}
			return
		}
		if e.closedTok != nil {
			haveNext = true
			return
		}
		at, ok := cfg.Schedule.Next()
		haveNext = ok && (endAt < 0 || int64(at) < endAt)
		nextAt = int64(at)
		switch {
		case !ok:
			e.loadEnd.Store(scheduleEnd())
		case !haveNext:
			e.loadEnd.Store(endAt)
		}
		if haveNext {
			e.nextDue.Store(nextAt)
		} else {
			e.nextDue.Store(math.MaxInt64)
		}
	}
	if e.closedTok != nil {
		for i := 0; i < cfg.Concurrency; i++ {
			e.closedTok <- 0
		}
	}
	advance()
	// The load ends where the next arrival would have been: the count's first arrival not made, the
	// schedule's or the duration's end; cut short (an interrupt, a stream that ended), when the
	// sender stopped. Arrivals due before then that the sender never got to (held in a Send the
	// worker's stream would not take) are counted as due and unsent.
	defer func() {
		stop := e.now()
		if endAt >= 0 && stop > endAt {
			stop = endAt
		}
		if e.closedTok == nil {
			for haveNext && nextAt < stop {
				e.rec.notSent(nextAt, true)
				e.failNotSent(nextAt, true)
				sent++
				advance()
			}
		}
		e.loadEnd.CompareAndSwap(-1, stop)
	}()

	var frame host.Frame // reused; its bytes are fresh for every send (gRPC owns them once sent)
	// freeSince is when the last wait the worker imposed ended (harness_lag counts from it).
	var freeSince int64
	// resume waits, after the stream failed, for the next worker generation (--restart-worker);
	// false ends the sender.
	resume := func() bool {
		if e.cfg.Relaunch == nil {
			return false
		}
		select {
		case ng := <-e.resume:
			g = ng
		case <-ctx.Done():
			return false
		case <-e.stopSend:
			return false
		}
		cancels = cancels[:0] // their invocations were lost with the old worker
		freeSince = e.now()
		e.pingMu.Lock()
		clear(e.pings)
		e.pingMu.Unlock()
		if e.closedTok != nil {
			for len(e.closedTok) > 0 {
				<-e.closedTok
			}
			for i := 0; i < cfg.Concurrency; i++ {
				e.closedTok <- 0
			}
		}
		return true
	}
	sendOne := func(intended int64) bool {
		ti := e.pick(rng)
		t := &g.targets[ti]
		id := ids.Next()
		frame.Bytes = t.tmpl.frame(id, guid.TraceParent(id))
		now := e.now()
		// Recorded before the Send so that a fast answer never finds it unrecorded; "sent" is
		// handed to the stream.
		warm := e.rec.sent(intended, now, freeSince)
		f := flight{intended: intended, sent: now, fn: int32(ti), warm: warm, proxy: t.proxy != nil}
		e.tracker.start(id, f)
		e.inflight.Add(1)
		if t.proxy != nil {
			// As the host: the HTTP request is started, not awaited, before the InvocationRequest is written.
			go e.forward(g.fwd, t.proxy, id)
		}
		e.inSend.Store(now)
		err := g.stream.SendMsg(&frame)
		e.inSend.Store(0)
		if err != nil {
			// Never reached the worker: lost with its stream (unless the run loop already counted
			// it lost with everything else in flight).
			if _, ok := e.tracker.remove(id); ok {
				e.inflight.Add(-1)
				now := e.now()
				e.rec.lost([]flight{f}, now)
				e.fail(f, report.FailureReason{Kind: report.FailureLost, Message: "never reached the worker: sending it failed: " + err.Error()}, now, id)
			}
			return false
		}
		if after := e.now(); after-now > blockedSend {
			freeSince = after // a Send held up by flow control: the worker's wait, not ours
		}
		sent++
		if e.cancels && rng.Float64() < cfg.CancelRatio {
			heap.Push(&cancels, pendingCancel{at: now + int64(cfg.CancelAfter.Sample(rng)), id: id})
		}
		return true
	}
	// housekeeping sends due cancels and pings; false when the stream failed.
	housekeeping := func(now int64) bool {
		for len(cancels) > 0 && cancels[0].at <= now {
			c := heap.Pop(&cancels).(pendingCancel)
			if !e.tracker.markCancel(c.id, now) {
				e.rec.count(func(c *report.Counts) { c.CancelSkipped++ }) // already settled: nothing to cancel
				continue
			}
			cancelMsg.InvocationId = c.id
			e.inSend.Store(now)
			err := g.stream.Send(cancelSM)
			e.inSend.Store(0)
			if err != nil {
				return false
			}
			e.rec.count(func(c *report.Counts) { c.CancelSent++ })
		}
		if nextPing >= 0 && nextPing <= now {
			id := guid.New()
			statusSM.RequestId = id
			e.pingMu.Lock()
			e.pings[id] = e.now()
			e.pingMu.Unlock()
			e.inSend.Store(now)
			err := g.stream.Send(statusSM)
			e.inSend.Store(0)
			if err != nil {
				return false
			}
			e.rec.count(func(c *report.Counts) { c.StatusSent++ })
			for nextPing <= now {
				nextPing += int64(cfg.StatusInterval)
			}
		}
		return true
	}
	// wakeAt is the earliest of the next cancel, ping, and limit.
	wakeAt := func(arrival int64) int64 {
		at := arrival
		if len(cancels) > 0 && cancels[0].at < at {
			at = cancels[0].at
		}
		if nextPing >= 0 && nextPing < at {
			at = nextPing
		}
		return at
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// sleepUntil waits until at (ns since t0), a wake signal or the end of the run. Long waits use a
	// Go timer (which can be woken) up to preciseWindow before at; the rest is a precise nanosleep.
	sleepUntil := func(at int64, wake <-chan struct{}) bool {
		d := time.Duration(at - e.now())
		if d <= 0 {
			return true
		}
		if d > preciseWindow || wake != nil {
			coarse := d - preciseWindow
			if wake != nil {
				coarse = d
			}
			if coarse > 0 {
				timer.Reset(coarse)
				select {
				case <-timer.C:
				case <-wake:
					if !timer.Stop() {
						<-timer.C
					}
					return true
				case <-ctx.Done():
					return false
				case <-e.stopSend:
					return false
				case <-g.recvDone:
					return false
				}
			}
			d = time.Duration(at - e.now())
		}
		if d > 0 {
			nanosleep(d)
		}
		return true
	}
	const never = int64(1) << 62

	for haveNext {
		if ctx.Err() != nil {
			return
		}
		select {
		case <-g.recvDone:
			// The stream ended (the precise sleep does not watch for it): stop sending on it.
			if !resume() {
				return
			}
			continue
		default:
		}
		if e.closedTok != nil {
			// Closed loop: wait for a free slot; its settle time is the intended time.
			var freedAt int64
			select {
			case freedAt = <-e.closedTok:
			case <-ctx.Done():
				return
			case <-e.stopSend:
				return
			case <-g.recvDone:
				if !resume() {
					return
				}
				continue
			}
			now := e.now()
			if endAt >= 0 && now >= endAt {
				return
			}
			if freedAt == 0 {
				freedAt = now
			}
			if !housekeeping(now) || !sendOne(freedAt) {
				if !resume() {
					return
				}
				continue
			}
			advance()
			continue
		}
		now := e.now()
		if nextAt > now {
			if !housekeeping(now) || !sleepUntil(wakeAt(nextAt), nil) {
				if !resume() {
					return
				}
			}
			continue
		}
		// The arrival is due. Saturation policy first.
		if cfg.MaxInFlight > 0 && e.inflight.Load() >= int64(cfg.MaxInFlight) {
			if cfg.OnFull == OnFullDrop {
				e.rec.notSent(nextAt, false)
				e.failNotSent(nextAt, false)
				sent++ // counts towards -n: it was an arrival
				advance()
				continue
			}
			// Queue: wait for a slot, still sending cancels and pings; the intended time is kept.
			if !housekeeping(e.now()) || !sleepUntil(wakeAt(never), e.slotFree) {
				if !resume() {
					return
				}
			}
			freeSince = e.now()
			continue
		}
		if !sendOne(nextAt) {
			// The invocation was registered before the failed Send: it counts as lost.
			advance()
			if !resume() {
				return
			}
			continue
		}
		advance()
		if len(cancels) > 0 || nextPing >= 0 {
			if !housekeeping(e.now()) {
				if !resume() {
					return
				}
			}
		}
	}
	// Arrivals are over; keep sending due cancels while in-flight invocations drain.
	for len(cancels) > 0 && e.inflight.Load() > 0 {
		if !housekeeping(e.now()) {
			return
		}
		if len(cancels) > 0 && !sleepUntil(cancels[0].at, nil) {
			return
		}
	}
}

// blockedSend is how long a Send must take to count as held up by the worker (flow control).
const blockedSend = int64(200 * time.Microsecond)

// preciseWindow is how long before an arrival the sender stops using Go timers (millisecond
// resolution when the runtime is idle) and sleeps precisely.
const preciseWindow = 2 * time.Millisecond

// receive is the one goroutine that reads the stream.
func (e *engine) receive(g *generation) {
	defer close(g.recvDone)
	var frame host.Frame
	for {
		if err := g.stream.RecvMsg(&frame); err != nil {
			g.recvErr = err
			return
		}
		e.receiveFrame(g.w, frame.Bytes, e.now())
	}
}

// receiveFrame handles one message from worker w as it came off the wire, received at now (ns
// since t0): any bytes at all are settled, logged or counted (FuzzDispatch holds it to that).
func (e *engine) receiveFrame(w *host.Worker, b []byte, now int64) {
	e.lastRecv.Store(now)
	// The hot path: an invocation response is settled from its id and status alone.
	if id, status, ok := parseInvocationResponse(b); ok {
		f, kind := e.tracker.settleBytes(id, status, now)
		code := 0
		if kind == settleMatched && !f.proxy && e.httpFunction(f.fn) {
			code = 500 // a failed invocation: the host answers 500
			if status == rpc.StatusResult_Success {
				if code, ok = responseHTTPStatus(b, e.httpOut[f.fn]); !ok {
					code = 500
				}
			} else if status == rpc.StatusResult_Cancelled {
				code = 0
			}
		}
		if out, reason := e.settled(f, kind, status, now, code); out == statusFailed && reason == "" {
			r, invID := exceptionReason(b) // failures only: the whole response is decoded for its reason
			e.fail(f, r, now, invID)
		}
		return
	}
	if raw, ok := rpcLogBytes(b); ok {
		e.rec.count(func(c *report.Counts) { c.Logs++ })
		e.countLog(raw, now)
		w.Log.RPCLogBytes(raw)
		return
	}
	m := new(rpc.StreamingMessage)
	if err := proto.Unmarshal(b, m); err != nil {
		e.rec.count(func(c *report.Counts) { c.UnknownMessages++ })
		return
	}
	e.dispatch(w, m, now)
}

// rpcLogBytes returns the encoded RpcLog of a StreamingMessage whose content is an rpc_log (the
// last oneof field, present once) without decoding it: a worker's logs then cost the stream's
// reader a scan, and decoding and formatting them is left to the worker log's writer, which drops
// (and counts) what it cannot keep up with, so a log flood does not hold up responses.
func rpcLogBytes(b []byte) ([]byte, bool) {
	return streamingContent(b, fieldStreamingRPCLog)
}

// dispatch handles one message from worker w, received at now (ns since t0). It never blocks on
// the stream and never fails: whatever the worker sends is settled, logged or counted.
func (e *engine) dispatch(w *host.Worker, m *rpc.StreamingMessage, now int64) {
	switch c := m.Content.(type) {
	case *rpc.StreamingMessage_InvocationResponse:
		e.settle(c.InvocationResponse, now)
	case *rpc.StreamingMessage_WorkerStatusResponse:
		e.pingMu.Lock()
		sent, ok := e.pings[m.RequestId]
		delete(e.pings, m.RequestId)
		e.pingMu.Unlock()
		if ok {
			e.rec.statusRTT(sent, now)
		} else {
			e.rec.count(func(c *report.Counts) { c.UnknownMessages++ })
		}
	case *rpc.StreamingMessage_RpcLog:
		e.rec.count(func(c *report.Counts) { c.Logs++ })
		if raw, err := proto.Marshal(c.RpcLog); err == nil {
			e.countLog(raw, now)
		}
		w.WriteLog(c.RpcLog)
	case nil:
		e.rec.count(func(c *report.Counts) { c.EmptyMessages++ })
	default:
		e.rec.count(func(c *report.Counts) { c.UnknownMessages++ })
	}
}

// settle matches a response to its invocation and records it.
func (e *engine) settle(r *rpc.InvocationResponse, now int64) {
	st := r.GetResult().GetStatus()
	f, kind := e.tracker.settle(r.InvocationId, st, now)
	code := 0
	if kind == settleMatched && !f.proxy && e.httpFunction(f.fn) {
		switch st {
		case rpc.StatusResult_Success:
			code = messageHTTPStatus(r, e.httpOut[f.fn])
		case rpc.StatusResult_Failure:
			code = 500
		}
	}
	if out, reason := e.settled(f, kind, st, now, code); out == statusFailed && reason == "" {
		e.fail(f, resultReason(r.GetResult()), now, r.InvocationId)
	}
}

// cmpOr returns a, or b when a is empty.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// httpFunction reports whether target fn is HTTP-triggered.
func (e *engine) httpFunction(fn int32) bool { return int(fn) < len(e.isHTTP) && e.isHTTP[fn] }

// forward sends a proxied invocation's HTTP request and settles the invocation if its
// InvocationResponse is already in.
func (e *engine) forward(fw *forwarder, pr *proxyRequest, id string) {
	k, _ := keyOf(id)
	a := fw.forward(pr, id, e.now, func() { e.tracker.noteHTTPRetry(k, proxyRefused) })
	if fw.ctx.Err() != nil {
		return // the run (or this worker) ended: what was in flight is counted there
	}
	if f, kind := e.tracker.answerHTTP(k, a); kind == settleMatched {
		e.settledProxy(f, max(a.end, f.grpcAt))
	}
}

// settledProxy records a proxied invocation whose two answers are in, at now: failed when the
// forwarding failed (even if the worker reported success, as the host fails it), else by the
// InvocationResponse's status and then the HTTP status.
func (e *engine) settledProxy(f flight, now int64) {
	if t := e.cfg.Timeout; t > 0 && now-f.sent > int64(t) {
		e.rec.timedOut([]flight{f}, now, true)
		e.freeSlots(1, now)
		e.fail(f, report.FailureReason{Kind: report.FailureTimeout, Message: fmt.Sprintf("answered after --timeout %s", t)}, now, "")
		return
	}
	status, reason, h := e.proxyOutcome(f)
	e.respond(f, now, status, reason, h)
	e.freeSlots(1, now)
}

// proxyOutcome judges a proxied invocation from what of its two answers is in.
func (e *engine) proxyOutcome(f flight) (status, reason string, h httpResult) {
	a := f.http
	if f.got&gotHTTP != 0 {
		h = httpResult{code: int(a.status), head: a.head, bytes: a.bytes}
		if a.err == proxyOK {
			h.end = a.end
		} else if a.status == 0 {
			h.code = 500 // forwarding failed before a response: the function fails, the host answers 500
		}
	}
	switch {
	case f.got&gotHTTP != 0 && a.err != proxyOK:
		return statusFailed, a.err.reason(), h
	case f.got&gotHTTP == 0 && a.err != proxyOK:
		return statusFailed, a.err.reason() + " (still retrying at --timeout)", h
	case f.got&gotHTTP == 0:
		return statusFailed, reasonNoHTTPResponse, h
	case f.got&gotGRPC == 0:
		return statusFailed, reasonNoInvocationResponse, h
	}
	switch f.grpcStatus {
	case rpc.StatusResult_Success:
		if !e.cfg.HTTPOK.Has(h.code) {
			return statusFailed, httpReason(h.code), h
		}
		if f.cancelSent != 0 {
			return statusCompletedAfterCancel, "", h
		}
		return statusSucceeded, "", h
	case rpc.StatusResult_Cancelled:
		return statusCancelled, "", h
	}
	return statusFailed, "", h
}

// settled records what settling an id in the tracker found; code is the HTTP status the host
// would answer with (0: not an HTTP function, or none). It returns the outcome status it recorded
// ("" when the response settled nothing here, statusTimedOut past its deadline) and the failure
// reason it gave ("" for a Failure from the worker: the caller reads its exception).
func (e *engine) settled(f flight, kind settleKind, st rpc.StatusResult_Status, now int64, code int) (string, string) {
	switch kind {
	case settlePartial:
		return "", "" // a proxied invocation waiting for its HTTP response
	case settleMatched:
		if f.proxy {
			e.settledProxy(f, max(now, f.http.end))
			return "", "" // settledProxy records its outcome and reason
		}
	case settleDuplicate:
		e.rec.count(func(c *report.Counts) { c.Duplicate++ })
		return "", ""
	case settleLate:
		e.rec.count(func(c *report.Counts) { c.LateResponses++ })
		return "", ""
	case settleUnknown:
		e.rec.count(func(c *report.Counts) { c.Unmatched++ })
		return "", ""
	}
	if t := e.cfg.Timeout; t > 0 && now-f.sent > int64(t) {
		// Answered after its deadline but before the periodic scan found it: timed out all the
		// same (as the scan would have judged it), and the answer is late.
		e.rec.timedOut([]flight{f}, now, true)
		e.freeSlots(1, now)
		e.fail(f, report.FailureReason{Kind: report.FailureTimeout, Message: fmt.Sprintf("answered after --timeout %s", t)}, now, "")
		return statusTimedOut, ""
	}
	status, reason := statusFailed, ""
	switch st {
	case rpc.StatusResult_Success:
		status = statusSucceeded
		if f.cancelSent != 0 {
			status = statusCompletedAfterCancel
		}
		if code != 0 && !e.cfg.HTTPOK.Has(code) {
			status, reason = statusFailed, httpReason(code)
		}
	case rpc.StatusResult_Cancelled:
		status = statusCancelled
	}
	e.respond(f, now, status, reason, httpResult{code: code})
	e.freeSlots(1, now)
	return status, reason
}

// freeSlots returns n settled invocations' slots: the in-flight count, closed loop's tokens (their
// settle time is the next invocation's intended time) and the queue's wake-up.
func (e *engine) freeSlots(n, now int64) {
	e.inflight.Add(-n)
	if e.closedTok != nil {
		for i := int64(0); i < n; i++ {
			select {
			case e.closedTok <- now:
			default:
			}
		}
	}
	select {
	case e.slotFree <- struct{}{}:
	default:
	}
}

// expire times out invocations older than the timeout.
func (e *engine) expire() {
	if e.cfg.Timeout <= 0 {
		return
	}
	now := e.now()
	var expired []flight
	n := int64(0)
	e.tracker.expire(now-int64(e.cfg.Timeout), func(f flight) {
		n++
		if f.proxy && (f.got != 0 || f.http.err != proxyOK) {
			// One of its two answers came: failed, with the missing side as its reason.
			status, reason, h := e.proxyOutcome(f)
			e.respond(f, now, status, reason, h)
			return
		}
		expired = append(expired, f)
	})
	if n == 0 {
		return
	}
	if len(expired) > 0 {
		e.rec.timedOut(expired, now, false)
	}
	e.freeSlots(n, now)
	for _, f := range expired {
		e.fail(f, report.FailureReason{Kind: report.FailureTimeout, Message: fmt.Sprintf("no answer within --timeout %s", e.cfg.Timeout)}, now, "")
	}
}

// closeInterval hands the interval [start, end) to the sink.
func (e *engine) closeInterval(index int, start, end time.Duration, final bool) error {
	set := e.rec.rotate(final)
	defer e.rec.release(set)
	rec := &report.IntervalRecord{
		Index:      index,
		Start:      start,
		Length:     end - start,
		InFlight:   e.inflight.Load(),
		Counts:     set.counts,
		Histograms: set.tagged(e.names),
		HTTPStatus: set.httpCounts(e.names),
		Failures:   set.failureCounts(),
	}
	if l := e.gen.w.Log; l != nil {
		// Lines the worker log could not keep up with (a log flood) are dropped there; count them here.
		if l != e.logDroppedFrom {
			e.logDropped, e.logDroppedFrom = 0, l
		}
		d := l.Dropped()
		rec.Counts.LogsDropped += d - e.logDropped
		e.logDropped = d
	}
	if s := e.cfg.Schedule; s != nil {
		if end > start {
			rec.OfferedRPS = s.Expected(start, end) / (end - start).Seconds()
		}
		if s.Bounded() && start >= s.Duration() {
			rec.Phase = report.PhaseDrain
		} else {
			st, _ := s.StageAt(start)
			rec.Phase = st.Name
		}
		rec.Warmup = start < s.WarmupEnd()
	} else {
		rec.Phase = "closed-loop"
		if start < e.cfg.Warmup {
			rec.Phase, rec.Warmup = "warmup", true
		} else if e.cfg.Duration > 0 && start >= e.cfg.Duration {
			rec.Phase = report.PhaseDrain
		}
	}
	// Past the load's end the interval is drain; one it ends in is under load only up to it.
	if le := e.loadEnd.Load(); le >= 0 && int64(end) > le {
		if int64(start) >= le {
			rec.Phase, rec.OfferedRPS = report.PhaseDrain, 0
		} else {
			rec.LoadLength = time.Duration(le) - start
			if s := e.cfg.Schedule; s != nil {
				rec.OfferedRPS = s.Expected(start, time.Duration(le)) / rec.LoadLength.Seconds()
			}
		}
	}
	if e.cfg.Sample != nil {
		rec.Resources = e.cfg.Sample(e.gen.w)
	}
	e.totalsMu.Lock()
	e.totals.Add(rec.Counts)
	e.totalsMu.Unlock()
	if e.cfg.OnInterval != nil {
		return e.cfg.OnInterval(rec)
	}
	return nil
}

// sleepCtx sleeps for d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

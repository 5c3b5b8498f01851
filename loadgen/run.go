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
	// RestartInterval is how long after one relaunch the next may begin (the host's
	// processRestartInterval; 0: at once). MaxWorkerErrors stops relaunches once that many worker
	// errors (streams ended, relaunches failed) were seen (the host's 3 × maxProcessCount; 0: no limit).
	RestartInterval time.Duration
	MaxWorkerErrors int
	// Sample, when set, is called at every interval's end for resource figures (the current worker;
	// with several worker processes, nil: fbench's own figures, the workers' come from SampleProcess).
	Sample func(w *host.Worker) report.Resources
	// SampleProcess, with several worker processes, samples process i (from 0) at every interval's end.
	SampleProcess func(i int, w *host.Worker) report.ProcessResources
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
	Worker      *host.Worker // the worker at the end (a relaunched one after restarts); the first process's
	Totals      report.Counts
	Failures    *report.Failures       // why measured invocations failed (nil: none did)
	WorkerLogs  *report.WorkerLogStats // the worker's RpcLogs (nil: none)
	// With several worker processes: each slot's last worker (to shut down; nil if none ever
	// started) and what happened to it.
	Workers   []*host.Worker
	Processes []report.ProcessInfo
	// HTTPMode is how HTTP functions were driven: "proxy" (the worker's HttpUri), "rpc", or ""
	// when none was invoked.
	HTTPMode string
}

// DefaultHTTPMaxConns is the connection bound to a worker's HttpUri when Config sets none.
const DefaultHTTPMaxConns = 256

// generation is one worker and its stream; a restart starts a new generation.
type generation struct {
	w        *host.Worker
	ch       *channel
	proc     uint16 // ch.index
	stream   host.Stream
	targets  []target
	recvDone chan struct{}
	recvErr  error
	dead     atomic.Bool // its stream failed or ended: no more sends
	fwd      *forwarder  // HTTP proxying mode: the client to the worker's HttpUri; nil otherwise
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
	pool   *pool
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
	pings    map[string]int64  // request_id → sent (ns since t0)
	pingFrom map[string]uint16 // request_id → the process pinged (several processes)
	stopSend chan struct{}
	restarts int

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
	return RunPool(ctx, []*host.Worker{w}, cfg)
}

// RunPool is Run over several worker processes, spread as the host's dispatcher spreads
// invocations (see pool.go). A nil entry is a process whose handshake failed: with cfg.Relaunch it
// is relaunched once the run starts, as the host restarts a channel; the others serve meanwhile.
// One process ending does not end the run while another is up; the run ends with the worker
// (Result.WorkerEnded) when none is left and none is being relaunched.
func RunPool(ctx context.Context, ws []*host.Worker, cfg Config) (*Result, error) {
	if cfg.Schedule == nil && cfg.Concurrency <= 0 {
		return nil, errors.New("no schedule and no concurrency: nothing to run")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.OnFull == "" {
		cfg.OnFull = OnFullQueue
	}
	if len(ws) == 0 || len(ws) > 1<<16 {
		return nil, fmt.Errorf("%d worker processes: want 1 to %d", len(ws), 1<<16)
	}
	e := &engine{cfg: cfg, tracker: newTracker(), pings: map[string]int64{}, pingFrom: map[string]uint16{},
		slotFree: make(chan struct{}, 1), stopSend: make(chan struct{}), pool: newPool(len(ws)),
		failures: report.NewFailureTable(), logs: report.NewLogCounter()}
	e.loadEnd.Store(-1)
	var w *host.Worker // the first process up: its capabilities stand for all (the same worker)
	var down []*channel
	for i, wi := range ws {
		c := e.pool.chans[i]
		if wi == nil {
			down = append(down, c)
			continue
		}
		g, err := e.newGeneration(wi, c)
		if err != nil {
			return nil, err
		}
		e.pool.set(c, g)
		if w == nil {
			w = wi
		}
	}
	if w == nil {
		return nil, errors.New("no worker process is up")
	}
	if len(down) > 0 && cfg.Relaunch == nil {
		return nil, fmt.Errorf("worker process %d is not up and relaunching is off", down[0].index+1)
	}
	warmupEnd := cfg.Warmup
	if cfg.Schedule != nil {
		warmupEnd = cfg.Schedule.WarmupEnd()
	}
	// The first measured interval is the first that starts at or after the warm-up's end.
	measuredFrom := (warmupEnd + cfg.Interval - 1) / cfg.Interval * cfg.Interval
	e.rec = newRecorder(len(e.names), len(ws), cfg.Interval, measuredFrom, e.now)
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
	for _, c := range e.pool.chans {
		if g := c.gen.Load(); g != nil {
			go e.receive(g)
		}
	}
	sendDone := make(chan struct{})
	go func() { defer close(sendDone); e.send(ctx) }()

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
	var rp restartPlan
	var restartTimer <-chan time.Time
	canRelaunch := func() bool {
		return cfg.Relaunch != nil && sending && ctx.Err() == nil &&
			(cfg.MaxRestarts <= 0 || e.restarts < cfg.MaxRestarts) &&
			(cfg.MaxWorkerErrors <= 0 || rp.errors < cfg.MaxWorkerErrors)
	}
	// startRelaunch begins the next queued relaunch, one at a time and RestartInterval after the
	// previous one, as the host restarts channels.
	startRelaunch := func() {
		if rp.busy != nil || len(rp.queue) == 0 || restartTimer != nil {
			return
		}
		if !canRelaunch() {
			rp.queue = nil
			return
		}
		if wait := time.Until(rp.notUntil); wait > 0 {
			restartTimer = time.After(wait)
			return
		}
		c := rp.queue[0]
		rp.queue = rp.queue[1:]
		rp.busy = c
		relaunch = make(chan relaunched, 1)
		old := c.lastWorker
		go func() {
			nw, err := cfg.Relaunch(ctx, old)
			relaunch <- relaunched{nw, err}
		}()
	}
	// A process whose handshake failed before the run is relaunched first.
	rp.queue = append(rp.queue, down...)
	startRelaunch()
	// what names a process in events when there are several.
	what := func(c *channel) string {
		if len(e.pool.chans) == 1 {
			return ""
		}
		return fmt.Sprintf("process %d: ", c.index+1)
	}
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
			if !sending && e.inflight.Load() == 0 && rp.busy == nil && (ctx.Err() != nil || e.now() >= e.loadEnd.Load()) {
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
		case g := <-e.pool.ended:
			// A worker's stream ended: everything in flight on it is lost; the others keep serving.
			c := g.ch
			if c.gen.Load() != g {
				continue
			}
			e.pool.set(c, nil)
			reason := e.endReason(g)
			e.loseChannel(g, "in flight when the worker's stream ended: "+reason)
			if g.fwd != nil {
				g.fwd.close() // its requests still out were lost with the worker
			}
			kind, detail := "stream_ended", what(c)+e.workerEndDetail(g.w, reason)
			if code, exited := g.w.ExitCode(); exited && code == host.ExitCodeRestart {
				// The host's "intentional restart": not a crash, and not counted against the
				// restart budget (with Relaunch the run goes on).
				kind = EventIntentionalRestart
				if cfg.Relaunch == nil {
					detail += "; fbench relaunches such a worker only with --restart-worker"
				}
			} else {
				c.crashes++
				rp.workerError(time.Now())
			}
			e.events = append(e.events, report.Event{At: time.Since(e.t0), Kind: kind, Detail: detail})
			if canRelaunch() {
				rp.queue = append(rp.queue, c)
				startRelaunch()
			} else if e.pool.alive() == 0 && rp.busy == nil {
				res.WorkerEnded = true
				res.EndReason = reason
				break loop
			}
		case <-restartTimer:
			restartTimer = nil
			startRelaunch()
			if rp.busy == nil && len(rp.queue) == 0 && e.pool.alive() == 0 {
				res.WorkerEnded = true
				res.EndReason = "no worker process left to relaunch"
				break loop
			}
		case r := <-relaunch:
			relaunch = nil
			c := rp.busy
			rp.busy = nil
			rp.notUntil = time.Now().Add(cfg.RestartInterval)
			var ng *generation
			err := r.err
			if r.w != nil {
				c.lastWorker = r.w
			}
			if err == nil {
				ng, err = e.newGeneration(r.w, c)
			}
			if err != nil {
				rp.workerError(time.Now())
				e.events = append(e.events, report.Event{At: time.Since(e.t0), Kind: "worker_restart_failed", Detail: what(c) + err.Error()})
				if e.pool.alive() == 0 {
					res.WorkerEnded = true
					res.EndReason = "restarting the worker failed: " + err.Error()
					break loop
				}
				rp.queue = append(rp.queue, c) // the others serve; try again after the interval
				startRelaunch()
				continue
			}
			e.restarts++
			c.restarts++
			e.events = append(e.events, report.Event{At: time.Since(e.t0), Kind: "worker_restart",
				Detail: what(c) + fmt.Sprintf("restart %d: new worker pid %d, worker id %s", e.restarts, r.w.Pid, r.w.ID)})
			e.pool.set(c, ng)
			go e.receive(ng)
			startRelaunch()
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
			for _, c := range e.pool.chans {
				if g := c.gen.Load(); g != nil {
					g.w.EndStream()
				}
			}
			<-sendDone
		}
	}
	if relaunch != nil {
		if r := <-relaunch; r.w != nil {
			rp.busy.lastWorker = r.w // to be shut down by the caller
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
	for _, c := range e.pool.chans {
		if g := c.gen.Load(); g != nil && g.fwd != nil {
			g.fwd.close()
		}
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
	res.Worker = e.pool.chans[0].lastWorker
	for _, c := range e.pool.chans {
		res.Workers = append(res.Workers, c.lastWorker)
		info := report.ProcessInfo{Process: c.index + 1, Pids: c.pids, Restarts: c.restarts, Crashes: c.crashes}
		if info.Pids == nil {
			info.Pids = []int{}
		}
		res.Processes = append(res.Processes, info)
	}
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
func (e *engine) newGeneration(w *host.Worker, c *channel) (*generation, error) {
	targets, err := e.prepareTargets(w)
	if err != nil {
		return nil, err
	}
	g := &generation{w: w, ch: c, proc: uint16(c.index), stream: w.Stream(), targets: targets, recvDone: make(chan struct{})}
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

// loseChannel counts every invocation in flight on g's process as lost, gives their slots back
// and forgets the pings it will never answer.
func (e *engine) loseChannel(g *generation, cause string) {
	var lost []flight
	e.tracker.drainProc(g.proc, func(f flight) { lost = append(lost, f) })
	now := e.now()
	if len(lost) > 0 {
		e.rec.lost(lost, now)
		for _, f := range lost {
			e.fail(f, report.FailureReason{Kind: report.FailureLost, Message: cause}, now, "")
		}
	}
	e.freeSlots(int64(len(lost)), now)
	e.pingMu.Lock()
	for id, p := range e.pingFrom {
		if p == g.proc {
			delete(e.pings, id)
			delete(e.pingFrom, id)
		}
	}
	e.pingMu.Unlock()
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
func (e *engine) workerEndDetail(w *host.Worker, reason string) string {
	// The run loop waits here; with other processes serving, briefly (their intervals must close).
	wait := time.Second
	if len(e.pool.chans) > 1 {
		wait = 200 * time.Millisecond
	}
	select {
	case <-w.Exited():
	case <-time.After(wait):
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
	g  *generation // the process holding the invocation
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

// send is the one goroutine that writes to the streams: invocations at their intended times, each
// to the process the dispatcher picks; cancels when due, on the stream of the process holding the
// invocation; status pings every StatusInterval, one to every ready process.
func (e *engine) send(ctx context.Context) {
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
	// joinedAt is when the sender last waited for a process to come back (closed loop's slots freed
	// before it start afresh then).
	var joinedAt int64
	// The ready processes, refreshed when the pool changes.
	var ready []*generation
	seen := int64(-1)
	refresh := func() {
		if v := e.pool.version.Load(); v != seen {
			seen = v
			ready = e.pool.ready(ready)
		}
	}
	// broken takes a process whose Send failed out of the dispatch (the run loop hears of its
	// stream's end from its receiver).
	broken := func(g *generation) {
		g.dead.Store(true)
		e.pool.version.Add(1)
	}
	// waitReady waits until a process is ready (one being relaunched, --restart-worker); false
	// ends the sender.
	waitReady := func() bool {
		for {
			refresh()
			if len(ready) > 0 {
				return true
			}
			if e.cfg.Relaunch == nil {
				return false
			}
			select {
			case <-e.pool.joined:
				freeSince = e.now()
				joinedAt = freeSince
			case <-ctx.Done():
				return false
			case <-e.stopSend:
				return false
			}
		}
	}
	sendOne := func(intended int64) {
		g := e.pool.pick(ready)
		ti := e.pick(rng)
		t := &g.targets[ti]
		id := ids.Next()
		frame.Bytes = t.tmpl.frame(id, guid.TraceParent(id))
		now := e.now()
		// Recorded before the Send so that a fast answer never finds it unrecorded; "sent" is
		// handed to the stream.
		warm := e.rec.sent(intended, now, freeSince, g.proc)
		f := flight{intended: intended, sent: now, fn: int32(ti), proc: g.proc, warm: warm, proxy: t.proxy != nil}
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
			// it lost with everything else in flight on that process).
			if _, ok := e.tracker.remove(id); ok {
				now := e.now()
				e.freeSlots(1, now)
				e.rec.lost([]flight{f}, now)
				e.fail(f, report.FailureReason{Kind: report.FailureLost, Message: "never reached the worker: sending it failed: " + err.Error()}, now, id)
			}
			broken(g)
			sent++
			return
		}
		if after := e.now(); after-now > blockedSend {
			freeSince = after // a Send held up by flow control: the worker's wait, not ours
		}
		sent++
		if e.cancels && rng.Float64() < cfg.CancelRatio {
			heap.Push(&cancels, pendingCancel{at: now + int64(cfg.CancelAfter.Sample(rng)), id: id, g: g})
		}
	}
	// housekeeping sends due cancels and pings.
	housekeeping := func(now int64) {
		for len(cancels) > 0 && cancels[0].at <= now {
			c := heap.Pop(&cancels).(pendingCancel)
			if c.g.dead.Load() {
				continue // its invocation was lost with its process
			}
			if !e.tracker.markCancel(c.id, now) {
				e.rec.count(func(c *report.Counts) { c.CancelSkipped++ }) // already settled: nothing to cancel
				continue
			}
			cancelMsg.InvocationId = c.id
			e.inSend.Store(now)
			err := c.g.stream.Send(cancelSM)
			e.inSend.Store(0)
			if err != nil {
				broken(c.g)
				continue
			}
			e.rec.count(func(c *report.Counts) { c.CancelSent++ })
		}
		if nextPing >= 0 && nextPing <= now {
			refresh()
			for _, g := range ready {
				if g.dead.Load() {
					continue
				}
				id := guid.New()
				statusSM.RequestId = id
				e.pingMu.Lock()
				e.pings[id] = e.now()
				if len(e.pool.chans) > 1 {
					e.pingFrom[id] = g.proc
				}
				e.pingMu.Unlock()
				e.inSend.Store(now)
				err := g.stream.Send(statusSM)
				e.inSend.Store(0)
				if err != nil {
					e.pingMu.Lock()
					delete(e.pings, id)
					delete(e.pingFrom, id)
					e.pingMu.Unlock()
					broken(g)
					continue
				}
				e.rec.count(func(c *report.Counts) { c.StatusSent++ })
			}
			for nextPing <= now {
				nextPing += int64(cfg.StatusInterval)
			}
		}
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
		if ctx.Err() != nil || !waitReady() {
			return
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
			}
			now := e.now()
			if endAt >= 0 && now >= endAt {
				return
			}
			if freedAt == 0 || freedAt < joinedAt {
				freedAt = now
			}
			housekeeping(now)
			if !waitReady() {
				return
			}
			sendOne(freedAt)
			advance()
			continue
		}
		now := e.now()
		if nextAt > now {
			housekeeping(now)
			if !sleepUntil(wakeAt(nextAt), nil) {
				return
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
			housekeeping(e.now())
			if !sleepUntil(wakeAt(never), e.slotFree) {
				return
			}
			freeSince = e.now()
			continue
		}
		sendOne(nextAt)
		advance()
		if len(cancels) > 0 || nextPing >= 0 {
			housekeeping(e.now())
		}
	}
	// Arrivals are over; keep sending due cancels while in-flight invocations drain.
	for len(cancels) > 0 && e.inflight.Load() > 0 {
		housekeeping(e.now())
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
	defer func() {
		g.dead.Store(true)
		e.pool.version.Add(1)
		close(g.recvDone)
		e.pool.ended <- g
	}()
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
		delete(e.pingFrom, m.RequestId)
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
	for _, c := range e.pool.chans {
		// Lines a worker log could not keep up with (a log flood) are dropped there; count them here.
		if c.lastWorker == nil || c.lastWorker.Log == nil {
			continue
		}
		if l := c.lastWorker.Log; l != c.logDroppedFrom {
			c.logDropped, c.logDroppedFrom = 0, l
		}
		d := c.logDroppedFrom.Dropped()
		rec.Counts.LogsDropped += d - c.logDropped
		c.logDropped = d
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
	if len(e.pool.chans) == 1 {
		if e.cfg.Sample != nil {
			rec.Resources = e.cfg.Sample(e.pool.chans[0].lastWorker)
		}
	} else {
		e.processIntervals(rec, set)
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

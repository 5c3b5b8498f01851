// The engine's entry points, Run and RunPool, and the setup of one run.

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

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
	e, w, down, err := newEngine(cfg, ws)
	if err != nil {
		return nil, err
	}
	if started, err := e.startClock(ctx); err != nil {
		return nil, err
	} else if !started {
		return &Result{Start: e.t0, Interrupted: true, Worker: w}, nil
	}
	if e.cfg.OnStart != nil {
		e.cfg.OnStart(e.t0)
	}
	// One invocation's trip: the sender takes its intended time from the schedule, registers it in
	// the tracker and writes it to a process's stream; that process's receiver settles the answer
	// in the tracker and hands its clocks to the recorder; the run loop hands the recorder's
	// intervals to the sink.
	for _, c := range e.pool.chans {
		if g := c.gen.Load(); g != nil {
			go e.receive(g)
		}
	}
	sendDone := make(chan struct{})
	go func() { defer close(sendDone); e.send(ctx) }()
	l := e.newRunLoop(ctx, sendDone)
	// A process whose handshake failed before the run is relaunched first.
	l.rp.queue = append(l.rp.queue, down...)
	l.startRelaunch(ctx)
	l.run(ctx)
	l.finish(ctx)
	return e.result(l.res), l.werr
}

// newEngine sets up a run of cfg over worker processes ws: the config checked, every process's
// stream and targets, the recorder, and what the worker can take (cancels, pings). It returns the
// first process up, whose capabilities stand for all (the same worker), and the slots of the
// processes that are not up, to relaunch.
func newEngine(cfg Config, ws []*host.Worker) (*engine, *host.Worker, []*channel, error) {
	cfg, err := withDefaults(cfg, len(ws))
	if err != nil {
		return nil, nil, nil, err
	}
	e := &engine{cfg: cfg, tracker: newTracker(), pings: map[string]int64{}, pingFrom: map[string]uint16{},
		slotFree: make(chan struct{}, 1), stopSend: make(chan struct{}), pool: newPool(len(ws)),
		failures: report.NewFailureTable(), logs: report.NewLogCounter()}
	e.loadEnd.Store(-1)
	w, down, err := e.openStreams(ws)
	if err != nil {
		return nil, nil, nil, err
	}
	// The first measured interval is the first that starts at or after the warm-up's end.
	measuredFrom := (e.warmupEnd() + cfg.Interval - 1) / cfg.Interval * cfg.Interval
	e.rec = newRecorder(len(e.names), len(ws), cfg.Interval, measuredFrom, e.now)
	e.checkCapabilities(w)
	if cfg.Concurrency > 0 {
		e.closedTok = make(chan int64, cfg.Concurrency)
	}
	e.announceNotices()
	return e, w, down, nil
}

// openStreams gives every process that is up its generation (its stream and its targets). It
// returns the first of them and the slots of the processes that are not up.
func (e *engine) openStreams(ws []*host.Worker) (*host.Worker, []*channel, error) {
	var first *host.Worker
	var down []*channel
	for i, w := range ws {
		c := e.pool.chans[i]
		if w == nil {
			down = append(down, c)
			continue
		}
		g, err := e.newGeneration(w, c)
		if err != nil {
			return nil, nil, err
		}
		e.pool.set(c, g)
		if first == nil {
			first = w
		}
	}
	if first == nil {
		return nil, nil, errors.New("no worker process is up")
	}
	if len(down) > 0 && e.cfg.Relaunch == nil {
		return nil, nil, fmt.Errorf("worker process %d is not up and relaunching is off", down[0].index+1)
	}
	return first, down, nil
}

// checkCapabilities turns cancels and status pings off, with a notice, when worker w does not
// handle them.
func (e *engine) checkCapabilities(w *host.Worker) {
	if e.cfg.CancelRatio > 0 {
		if w.Has("HandlesInvocationCancelMessage") || e.cfg.ForceCancel {
			e.cancels = true
		} else {
			e.notices = append(e.notices, "cancels skipped: the worker does not advertise HandlesInvocationCancelMessage (use --force-cancel to send them anyway)")
		}
	}
	if e.cfg.StatusInterval > 0 && !w.Has("WorkerStatus") {
		e.notices = append(e.notices, "status pings skipped: the worker does not advertise WorkerStatus")
		e.cfg.StatusInterval = 0
	}
}

// announceNotices hands the notices known before anything is sent to OnNotice, if set.
func (e *engine) announceNotices() {
	if e.cfg.OnNotice == nil {
		return
	}
	for _, n := range e.notices {
		e.cfg.OnNotice(n)
	}
	e.notices = nil
}

// warmupEnd is where the warm-up ends: the schedule's, or Warmup in closed loop.
func (e *engine) warmupEnd() time.Duration {
	if e.cfg.Schedule != nil {
		return e.cfg.Schedule.WarmupEnd()
	}
	return e.cfg.Warmup
}

// startClock sets time zero, the first arrival's intended time: now or, with StartAt, where the
// warm-up must begin for the measured phase to start at StartAt, waited for. false: the context
// ended while waiting.
func (e *engine) startClock(ctx context.Context) (bool, error) {
	now := time.Now()
	e.t0 = now
	if e.cfg.StartAt.IsZero() {
		return true, nil
	}
	warmupEnd := e.warmupEnd()
	e.t0 = e.cfg.StartAt.Add(-warmupEnd)
	wait := e.t0.Sub(now)
	if wait < 0 {
		return false, fmt.Errorf("the start time %s passed %s before the worker was ready (the warm-up of %s had to begin at %s): choose a later --start-at",
			e.cfg.StartAt.UTC().Format(time.RFC3339Nano), (-wait).Round(time.Millisecond), warmupEnd, e.t0.UTC().Format(time.RFC3339Nano))
	}
	return sleepCtx(ctx, wait), nil
}

// event records what happened to the workers at this moment of the run (run loop only).
func (e *engine) event(kind, detail string) {
	e.events = append(e.events, report.Event{At: time.Since(e.t0), Kind: kind, Detail: detail})
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

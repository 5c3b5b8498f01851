package loadgen

import (
	"context"
	"time"
)

// runLoop is RunPool's own part once the sender and the receivers run: it closes the recorder's
// intervals on exact boundaries, times out invocations, relaunches workers whose streams ended, and
// ends the run: the load over and everything settled, the drain over, no worker left, an
// interrupt, or a Send stuck on a worker that stopped reading.
type runLoop struct {
	e        *engine
	res      *Result
	sendDone chan struct{} // closed when the sender ends; nil once seen
	sending  bool          // the sender has not ended

	// The interval clock: histograms rotate on exact boundaries.
	index        int
	nextBoundary time.Duration
	boundary     *time.Timer
	werr         error // the sink's first error

	// Timeouts are found by scanning what is in flight every expirePeriod (looked at every tick).
	expireTick   *time.Ticker
	expirePeriod time.Duration
	lastExpire   time.Time

	// Relaunches (--restart-worker).
	rp           restartPlan
	relaunch     chan relaunchResult // non-nil while a relaunch is under way
	restartTimer <-chan time.Time

	// The end.
	hardStop      <-chan time.Time
	stuckSend     time.Duration
	ctxDone       <-chan struct{}
	drainDeadline <-chan time.Time
	settledAt     int64 // when everything was first seen settled after the last send (-1: not)
}

// quietEnd is how long the stream must be quiet, everything settled, before a run ends; a worker
// that never goes quiet (a log flood) holds the end up by quietMax at most.
const (
	quietEnd = 50 * time.Millisecond
	quietMax = 500 * time.Millisecond
)

func (e *engine) newRunLoop(ctx context.Context, sendDone chan struct{}) *runLoop {
	cfg := &e.cfg
	l := &runLoop{e: e, res: &Result{Start: e.t0}, sendDone: sendDone, sending: true,
		nextBoundary: cfg.Interval,
		expireTick:   time.NewTicker(50 * time.Millisecond),
		// Every tenth of the timeout (10 ms to 500 ms).
		expirePeriod: min(max(cfg.Timeout/10, 10*time.Millisecond), 500*time.Millisecond),
		lastExpire:   time.Now(),
		stuckSend:    cfg.StuckSend,
		ctxDone:      ctx.Done(),
		settledAt:    -1}
	l.boundary = time.NewTimer(time.Until(e.t0.Add(l.nextBoundary)))
	if l.stuckSend <= 0 {
		l.stuckSend = 30 * time.Second
	}
	// A sender blocked in Send (a worker that stopped reading: flow control is full) never reports
	// sendDone, so the run also ends when, past its planned end plus the drain (or 2 s after an
	// interrupt), a Send has been stuck for a second; the stuck Send is undone after the loop.
	if planned := e.plannedEnd(); planned > 0 {
		l.hardStop = time.After(time.Until(e.t0.Add(planned + cfg.Drain + time.Second)))
	}
	return l
}

// plannedEnd is when the load is planned to end (0: no plan): the duration's end, the bounded
// schedule's or the count's expected end, whichever comes first.
func (e *engine) plannedEnd() time.Duration {
	planned := e.cfg.Duration
	if s := e.cfg.Schedule; s != nil && s.Bounded() && (planned <= 0 || s.Duration() < planned) {
		planned = s.Duration()
	}
	if s := e.cfg.Schedule; s != nil && e.cfg.Count > 0 {
		if t := countEnd(s, e.cfg.Count); t > 0 && (planned <= 0 || t < planned) {
			planned = t
		}
	}
	return planned
}

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

// run handles the run's events until one ends it.
func (l *runLoop) run(ctx context.Context) {
	for end := false; !end; {
		select {
		case <-l.hardStop:
			end = l.hardStopReached(ctx)
		case <-l.boundary.C:
			l.closeBoundary()
		case <-l.expireTick.C:
			end = l.tick(ctx)
		case <-l.sendDone:
			l.senderEnded(ctx)
		case <-l.drainDeadline:
			end = true
		case g := <-l.e.pool.ended:
			end = l.streamEnded(ctx, g)
		case <-l.restartTimer:
			end = l.restartDue(ctx)
		case r := <-l.relaunch:
			end = l.relaunched(ctx, r)
		case <-l.ctxDone:
			// The sender sees it too; drain briefly (2 s at most, even if it is stuck in Send).
			l.ctxDone = nil
			l.hardStop = time.After(2 * time.Second)
		}
	}
}

// hardStopReached looks at the sender past the planned end plus the drain (or 2 s after an
// interrupt): true ends the run, a Send stuck for a second or the interrupt's brief drain over.
func (l *runLoop) hardStopReached(ctx context.Context) bool {
	l.hardStop = nil
	if at := l.e.inSend.Load(); l.sending && at != 0 && l.e.now()-at >= int64(time.Second) {
		return true // stuck in Send
	}
	if l.sending {
		l.hardStop = time.After(time.Second) // a backlog (or a Send just begun): look again
	} else if ctx.Err() != nil {
		return true // interrupted: the brief drain is over
	}
	return false
}

// closeBoundary closes the interval ending at the boundary just reached.
func (l *runLoop) closeBoundary() {
	e := l.e
	if measuredFrom := time.Duration(e.rec.measuredFrom); l.nextBoundary == measuredFrom && l.sending && e.cfg.Schedule != nil {
		// Closing the warm-up: let a lagging sender hand over the warm-up's last arrivals
		// first (1 s at most), so that they are recorded as the warm-up's.
		for deadline := time.Now().Add(time.Second); e.nextDue.Load() < int64(measuredFrom) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	l.flush(l.nextBoundary, false)
	l.nextBoundary += e.cfg.Interval
	l.boundary.Reset(time.Until(e.t0.Add(l.nextBoundary)))
}

// flush hands the current interval, ending at end, to the sink.
func (l *runLoop) flush(end time.Duration, final bool) {
	if err := l.e.closeInterval(l.index, l.nextBoundary-l.e.cfg.Interval, end, final); err != nil && l.werr == nil {
		l.werr = err
	}
	l.index++
}

// tick, every 50 ms, ends the run on a Send held this long by flow control, times out invocations
// every expirePeriod, and ends the run once everything has settled after the load.
func (l *runLoop) tick(ctx context.Context) bool {
	e := l.e
	if at := e.inSend.Load(); at != 0 && e.now()-at >= int64(l.stuckSend) {
		// One Send held by flow control this long: the worker stopped reading its stream.
		// (A run with a planned end notices at that end; this covers the others, such as
		// a closed loop stopped by count alone.)
		return true
	}
	if now := time.Now(); now.Sub(l.lastExpire) >= l.expirePeriod {
		l.lastExpire = now
		e.expire()
	}
	return l.settledAndQuiet(ctx)
}

// settledAndQuiet reports whether the run may end: everything settled, and the stream quiet for a
// moment (at most quietMax), so that what a worker sends after its last answer (a duplicate, a
// stray message) is still counted; and not before the load's planned end (the last interval is
// then whole).
func (l *runLoop) settledAndQuiet(ctx context.Context) bool {
	e := l.e
	if l.sending || e.inflight.Load() != 0 || l.rp.busy != nil || (ctx.Err() == nil && e.now() < e.loadEnd.Load()) {
		l.settledAt = -1
		return false
	}
	now := e.now()
	if l.settledAt < 0 {
		l.settledAt = now
	}
	return now-e.lastRecv.Load() >= int64(quietEnd) || now-l.settledAt >= int64(quietMax)
}

// senderEnded starts the drain: cfg.Drain, or a second at most when interrupted.
func (l *runLoop) senderEnded(ctx context.Context) {
	l.sendDone = nil
	l.sending = false
	d := l.e.cfg.Drain
	if ctx.Err() != nil && d > time.Second {
		d = time.Second // interrupted: drain briefly
	}
	l.drainDeadline = time.After(d)
}

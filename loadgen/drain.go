package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/fbench/fbench/report"
)

// finish ends the run once the loop is over: the sender is stopped, a relaunch under way awaited,
// whatever is still in flight counted lost (never answered) and the last interval closed.
func (l *runLoop) finish(ctx context.Context) {
	e := l.e
	defer l.boundary.Stop()
	defer l.expireTick.Stop()
	l.stopSender()
	if l.relaunch != nil {
		if r := <-l.relaunch; r.w != nil {
			l.rp.busy.lastWorker = r.w // to be shut down by the caller
		}
	}
	if ctx.Err() != nil {
		l.res.Interrupted = true
	}
	cause := fmt.Sprintf("in flight when the run ended: no answer within the drain (--drain %s)", e.cfg.Drain)
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
	if end > l.nextBoundary-e.cfg.Interval {
		l.flush(end, true)
	}
	l.res.Elapsed = end
}

// stopSender stops the sender and waits for it. A sender stuck in Send (the worker stopped reading
// and flow control is full) is unblocked by ending the streams.
func (l *runLoop) stopSender() {
	e := l.e
	close(e.stopSend)
	if l.sendDone == nil {
		return
	}
	select {
	case <-l.sendDone:
	case <-time.After(2 * time.Second):
		e.event("notice", "the worker stopped reading its stream (flow control full); fbench ended the stream")
		for _, c := range e.pool.chans {
			if g := c.gen.Load(); g != nil {
				g.w.EndStream()
			}
		}
		<-l.sendDone
	}
}

// loseChannel counts every invocation in flight on g's process as lost, gives their slots back
// and forgets the pings it will never answer.
func (e *engine) loseChannel(g *generation, cause string) {
	var lost []flight
	e.tracker.drainProc(g.proc, func(f flight) { lost = append(lost, f) })
	now := e.now()
	e.lose(lost, now, cause)
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
		e.lose(lost, e.now(), cause)
	}
	select {
	case e.slotFree <- struct{}{}:
	default:
	}
}

// lose records the invocations of lost as lost at now, for cause.
func (e *engine) lose(lost []flight, now int64, cause string) {
	if len(lost) == 0 {
		return
	}
	e.rec.lost(lost, now)
	for _, f := range lost {
		e.fail(f, report.FailureReason{Kind: report.FailureLost, Message: cause}, now, "")
	}
}

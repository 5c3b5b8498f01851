package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fbench/fbench/loadgen/host"
)

// A worker whose stream ends mid-run loses what was in flight on it; with Relaunch
// (--restart-worker) the run loop replaces it, one relaunch at a time, as the host restarts a
// channel, while the other processes serve.

// EventIntentionalRestart is the event of a worker that exited with host.ExitCodeRestart mid-run.
const EventIntentionalRestart = "intentional_restart"

// relaunchResult is what one Relaunch call returned.
type relaunchResult struct {
	w   *host.Worker
	err error
}

// streamEnded handles the end of g's stream: everything in flight on it is lost, the others keep
// serving, and its process is relaunched if it may be. true ends the run: no process is left.
func (l *runLoop) streamEnded(ctx context.Context, g *generation) bool {
	e := l.e
	c := g.ch
	if c.gen.Load() != g {
		return false
	}
	e.pool.set(c, nil)
	reason := e.endReason(g)
	e.loseChannel(g, "in flight when the worker's stream ended: "+reason)
	if g.fwd != nil {
		g.fwd.close() // its requests still out were lost with the worker
	}
	kind, detail := "stream_ended", e.processPrefix(c)+e.workerEndDetail(g.w, reason)
	if code, exited := g.w.ExitCode(); exited && code == host.ExitCodeRestart {
		// The host's "intentional restart": not a crash, and not counted against the
		// restart budget (with Relaunch the run goes on).
		kind = EventIntentionalRestart
		if e.cfg.Relaunch == nil {
			detail += "; fbench relaunches such a worker only with --restart-worker"
		}
	} else {
		c.crashes++
		l.rp.workerError(time.Now())
	}
	e.event(kind, detail)
	if l.canRelaunch(ctx) {
		l.rp.queue = append(l.rp.queue, c)
		l.startRelaunch(ctx)
	} else if e.pool.alive() == 0 && l.rp.busy == nil {
		return l.workerEnded(reason)
	}
	return false
}

// workerEnded ends the run with the worker gone, for reason.
func (l *runLoop) workerEnded(reason string) bool {
	l.res.WorkerEnded = true
	l.res.EndReason = reason
	return true
}

// canRelaunch reports whether a process that went down may be relaunched now.
func (l *runLoop) canRelaunch(ctx context.Context) bool {
	cfg := &l.e.cfg
	return cfg.Relaunch != nil && l.sending && ctx.Err() == nil &&
		(cfg.MaxRestarts <= 0 || l.e.restarts < cfg.MaxRestarts) &&
		(cfg.MaxWorkerErrors <= 0 || l.rp.errors < cfg.MaxWorkerErrors)
}

// startRelaunch begins the next queued relaunch, one at a time and RestartInterval after the
// previous one, as the host restarts channels.
func (l *runLoop) startRelaunch(ctx context.Context) {
	if l.rp.busy != nil || len(l.rp.queue) == 0 || l.restartTimer != nil {
		return
	}
	if !l.canRelaunch(ctx) {
		l.rp.queue = nil
		return
	}
	if wait := time.Until(l.rp.notUntil); wait > 0 {
		l.restartTimer = time.After(wait)
		return
	}
	c := l.rp.queue[0]
	l.rp.queue = l.rp.queue[1:]
	l.rp.busy = c
	done := make(chan relaunchResult, 1)
	l.relaunch = done
	relaunch, old := l.e.cfg.Relaunch, c.lastWorker
	go func() {
		nw, err := relaunch(ctx, old)
		done <- relaunchResult{nw, err}
	}()
}

// restartDue starts the relaunch that waited for RestartInterval. true ends the run: no process
// is up and none is to be relaunched.
func (l *runLoop) restartDue(ctx context.Context) bool {
	l.restartTimer = nil
	l.startRelaunch(ctx)
	if l.rp.busy == nil && len(l.rp.queue) == 0 && l.e.pool.alive() == 0 {
		return l.workerEnded("no worker process left to relaunch")
	}
	return false
}

// relaunched puts the worker a relaunch returned to work, with its own receiver. true ends the
// run: the relaunch failed and no process is up.
func (l *runLoop) relaunched(ctx context.Context, r relaunchResult) bool {
	e := l.e
	l.relaunch = nil
	c := l.rp.busy
	l.rp.busy = nil
	l.rp.notUntil = time.Now().Add(e.cfg.RestartInterval)
	var ng *generation
	err := r.err
	if r.w != nil {
		c.lastWorker = r.w
	}
	if err == nil {
		ng, err = e.newGeneration(r.w, c)
	}
	if err != nil {
		return l.relaunchFailed(ctx, c, err)
	}
	e.restarts++
	c.restarts++
	e.event("worker_restart", e.processPrefix(c)+fmt.Sprintf("restart %d: new worker pid %d, worker id %s", e.restarts, r.w.Pid, r.w.ID))
	e.pool.set(c, ng)
	go e.receive(ng)
	l.startRelaunch(ctx)
	return false
}

// relaunchFailed counts a failed relaunch of c's process and queues it again (the others serve
// meanwhile). true ends the run: no process is up.
func (l *runLoop) relaunchFailed(ctx context.Context, c *channel, err error) bool {
	e := l.e
	l.rp.workerError(time.Now())
	e.event("worker_restart_failed", e.processPrefix(c)+err.Error())
	if e.pool.alive() == 0 {
		return l.workerEnded("restarting the worker failed: " + err.Error())
	}
	l.rp.queue = append(l.rp.queue, c) // the others serve; try again after the interval
	l.startRelaunch(ctx)
	return false
}

// processPrefix names c's process in events when there are several.
func (e *engine) processPrefix(c *channel) string {
	if len(e.pool.chans) == 1 {
		return ""
	}
	return fmt.Sprintf("process %d: ", c.index+1)
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

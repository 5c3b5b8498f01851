package loadgen

import (
	"time"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

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

// result completes res, the run loop's Result, with what the engine gathered over the run.
func (e *engine) result(res *Result) *Result {
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
	res.HTTPMode = e.httpMode()
	e.totalsMu.Lock()
	res.Totals = e.totals
	e.totalsMu.Unlock()
	res.Failures, res.WorkerLogs = e.failures.Table(), e.logs.Stats()
	return res
}

// httpMode is how HTTP functions were driven: "proxy", "rpc", or "" when the mix has none.
func (e *engine) httpMode() string {
	for _, h := range e.isHTTP {
		if h {
			if e.proxied {
				return "proxy"
			}
			return "rpc"
		}
	}
	return ""
}

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fbench/fbench/loadgen/dist"
	"github.com/fbench/fbench/loadgen/host"
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

// DefaultHTTPMaxConns is the connection bound to a worker's HttpUri when Config sets none.
const DefaultHTTPMaxConns = 256

// withDefaults checks cfg for a run over the given number of worker processes and fills in its
// defaults.
func withDefaults(cfg Config, processes int) (Config, error) {
	if cfg.Schedule == nil && cfg.Concurrency <= 0 {
		return cfg, errors.New("no schedule and no concurrency: nothing to run")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.OnFull == "" {
		cfg.OnFull = OnFullQueue
	}
	if processes == 0 || processes > 1<<16 {
		return cfg, fmt.Errorf("%d worker processes: want 1 to %d", processes, 1<<16)
	}
	return cfg, nil
}

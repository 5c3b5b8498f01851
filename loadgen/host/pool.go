package host

import (
	"context"
	"time"
)

// PoolOptions say how many worker processes StartPool launches and how far apart.
type PoolOptions struct {
	Count         int
	StartInterval time.Duration // the host's processStartupInterval
	// OnDone, when set, is called as each process's handshake ends: w on success, err otherwise.
	OnDone func(i int, w *Worker, err error)
	// StopOnError stops at the first failed handshake (the processes not started stay nil, with no error).
	StopOnError bool
}

// StartPool launches po.Count workers as the host starts its channels (RpcFunctionInvocationDispatcher):
// the first, then each next one StartInterval after the previous one's WorkerInitResponse. With worker
// indexing the first process is the host's metadata channel, started on its own, and the second
// follows it at once. Every process gets its own worker id, request id and stream, and the full
// handshake. It returns one entry per process: the worker, or nil and the reason its handshake
// failed. It stops early, leaving the rest nil, when ctx is cancelled (their error is ctx's) or,
// with StopOnError, at the first failure.
func StartPool(ctx context.Context, srv *Server, opt Options, po PoolOptions) ([]*Worker, []error) {
	n := max(po.Count, 1)
	ws, errs := make([]*Worker, n), make([]error, n)
	var initAt time.Time // the previous process's WorkerInitResponse (or failure)
	workerIndexing := opt.Indexing == IndexingWorker
	for i := 0; i < n; i++ {
		if i > 0 && !(workerIndexing && i == 1) {
			if wait := time.Until(initAt.Add(po.StartInterval)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
		}
		if err := ctx.Err(); err != nil {
			errs[i] = err
			for k := i + 1; k < n; k++ {
				errs[k] = err
			}
			break
		}
		w, err := Start(ctx, srv, opt)
		ws[i], errs[i] = w, err
		initAt = time.Now()
		if w != nil {
			if i == 0 && w.Command != nil {
				workerIndexing = w.Command.WorkerIndexing
			}
			if at, ok := w.stepTime("init"); ok {
				initAt = at
			}
		}
		if po.OnDone != nil {
			po.OnDone(i, w, err)
		}
		if err != nil && po.StopOnError {
			break
		}
	}
	return ws, errs
}

// stepTime is when the handshake step name happened.
func (w *Worker) stepTime(name string) (time.Time, bool) {
	for _, s := range w.Timeline {
		if s.Name == name {
			return w.proc.start.Add(s.At), true
		}
	}
	return time.Time{}, false
}

// ReadyAt is when the worker's handshake completed (its last handshake step).
func (w *Worker) ReadyAt() time.Time {
	if n := len(w.Timeline); n > 0 {
		return w.proc.start.Add(w.Timeline[n-1].At)
	}
	return w.proc.start
}

// SpawnedAt is when the worker's process was started.
func (w *Worker) SpawnedAt() time.Time { return w.proc.start }

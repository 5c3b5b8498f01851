package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

// Pool is a run's worker processes: launched as the host launches them, relaunched when the plan
// says so, sampled every interval, shut down at the end.
type Pool struct {
	srv   *host.Server
	opt   host.Options // the plan's, writing to the run's worker.log
	procs host.Processes
	ws    []*host.Worker // nil: that process's handshake failed
	errs  []error
	infos []report.ProcessInfo
}

// StartWorkers opens the run directory's worker.log, starts fbench's gRPC server and launches the
// plan's worker processes through the host's handshake; with several, each one's readiness is said
// on progress (nil: nothing). The pool is nil when nothing could be started (err says why);
// cleanup closes the server and the log once the workers are shut down. err is the first handshake
// failure, naming the process when there are several; when the plan relaunches workers and at
// least one process is up, Run reports it as a notice instead and the run goes on, the failed
// ones to be relaunched.
func StartWorkers(ctx context.Context, p *Plan, progress io.Writer) (*Pool, func(), error) {
	cleanup := func() {}
	logFile, err := os.OpenFile(filepath.Join(p.Out, "worker.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, cleanup, fmt.Errorf("creating the worker log: %w", err)
	}
	srv, err := host.NewServer()
	if err != nil {
		logFile.Close()
		return nil, cleanup, err
	}
	var once sync.Once
	cleanup = func() {
		once.Do(func() {
			srv.Close()
			logFile.Close()
		})
	}
	wp := &Pool{srv: srv, opt: p.Host, procs: p.Processes}
	wp.opt.Log, wp.opt.LabelLog = logFile, p.Processes.Count > 1
	n := max(p.Processes.Count, 1)
	spawn := time.Now()
	wp.ws, wp.errs = host.StartPool(ctx, srv, wp.opt, host.PoolOptions{Count: n, StartInterval: p.Processes.StartInterval, StopOnError: !p.Restart,
		OnDone: func(i int, w *host.Worker, err error) {
			// A failure is said once: as the run's error, or as a notice when it is relaunched.
			if n > 1 && progress != nil && err == nil {
				fmt.Fprintf(progress, "fbench: worker process %d of %d ready (pid %d) after %s\n", i+1, n, w.Pid, time.Since(spawn).Round(time.Millisecond))
			}
		}})
	wp.infos = make([]report.ProcessInfo, n)
	up := 0
	var first error
	for i := range wp.ws {
		info := &wp.infos[i]
		info.Process, info.Pids = i+1, []int{}
		if w := wp.ws[i]; w != nil {
			up++
			info.Pids = []int{w.Pid}
			info.ReadyAt = int64(time.Since(spawn) - time.Since(w.ReadyAt()))
		} else if wp.errs[i] != nil {
			info.Error = wp.errs[i].Error()
			if first == nil {
				first = wp.errs[i]
				if n > 1 {
					first = fmt.Errorf("worker process %d of %d: %w", i+1, n, wp.errs[i])
				}
			}
		}
	}
	if first != nil && (up == 0 || !p.Restart || ctx.Err() != nil) {
		wp.Shutdown(nil)
		return wp, cleanup, first
	}
	return wp, cleanup, nil
}

// First is the first process up (nil: none).
func (wp *Pool) First() *host.Worker {
	for _, w := range wp.ws {
		if w != nil {
			return w
		}
	}
	return nil
}

// Len is the number of processes, up or not.
func (wp *Pool) Len() int { return len(wp.ws) }

// Processes is the per-process record of run.json as it stands (nil with one process, as run.json
// records none then).
func (wp *Pool) Processes() []report.ProcessInfo {
	if len(wp.infos) < 2 {
		return nil
	}
	return wp.infos
}

// Relaunch starts one more worker process as the plan launches them (for loadgen.Config.Relaunch).
func (wp *Pool) Relaunch(ctx context.Context) (*host.Worker, error) {
	return host.Start(ctx, wp.srv, wp.opt)
}

// Configure sets the engine's relaunch pacing and sampling for the pool.
func (wp *Pool) Configure(cfg *loadgen.Config) {
	cfg.RestartInterval = wp.procs.RestartInterval
	cfg.MaxWorkerErrors = 3 * max(wp.procs.Max, 1)
	if len(wp.ws) == 1 {
		cfg.Sample = newSampler(wp.ws[0]).sample
		return
	}
	cfg.Sample = newSampler(nil).sample
	cfg.SampleProcess = newProcessSampler(len(wp.ws)).sample
}

// Run is the engine over the pool.
func (wp *Pool) Run(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
	return loadgen.RunPool(ctx, wp.ws, cfg)
}

// Shutdown ends every process as the host does, but keep (shut down by the caller).
func (wp *Pool) Shutdown(keep *host.Worker) {
	for _, w := range wp.ws {
		if w != nil && w != keep {
			w.Shutdown(host.TerminateGrace)
		}
	}
}

// Finish shuts down the processes at the run's end (keep aside) and returns their record (nil
// with one process).
func (wp *Pool) Finish(res *loadgen.Result, keep *host.Worker) []report.ProcessInfo {
	if res != nil && len(res.Workers) == len(wp.ws) {
		for i, w := range res.Workers {
			if w != nil {
				wp.ws[i] = w
			}
		}
	}
	var wg sync.WaitGroup
	for i, w := range wp.ws {
		if w == nil || w == keep {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Shutdown(host.TerminateGrace)
			wp.infos[i].EndState = w.ExitState()
		}()
	}
	wg.Wait()
	if keep != nil {
		for i, w := range wp.ws {
			if w == keep {
				wp.infos[i].EndState = w.ExitState()
			}
		}
	}
	if res != nil {
		for i, pi := range res.Processes {
			if i < len(wp.infos) {
				wp.infos[i].Pids, wp.infos[i].Restarts, wp.infos[i].Crashes = pi.Pids, pi.Restarts, pi.Crashes
			}
		}
	}
	return wp.Processes()
}

// placeholders are the per-process entries of run.json before the processes start (the report's
// columns are laid out from them).
func placeholders(n int) []report.ProcessInfo {
	if n < 2 {
		return nil
	}
	out := make([]report.ProcessInfo, n)
	for i := range out {
		out[i] = report.ProcessInfo{Process: i + 1, Pids: []int{}}
	}
	return out
}

// ShutdownInfo ends worker w as the host does (WorkerTerminate, grace, kill) and describes how it
// ended; crashed says its stream ended mid-run.
func ShutdownInfo(w *host.Worker, crashed bool) report.WorkerInfo {
	exitCode := w.Shutdown(host.TerminateGrace)
	info := WorkerInfo(w)
	info.ExitCode = &exitCode
	info.Crashed = crashed
	info.KilledByFbench = w.KilledAtShutdown()
	info.TerminateSent, info.TerminateFailed, info.Ended = w.TerminateSent(), w.TerminateFailed(), w.EndedHow()
	if crashed {
		info.StderrTail = w.Log.Tail()
	}
	return info
}

// WorkerInfo describes the worker for run.json and summary.json.
func WorkerInfo(w *host.Worker) report.WorkerInfo {
	info := report.WorkerInfo{Command: w.Command.Args, Pid: w.Pid, Capabilities: w.Capabilities}
	for _, f := range w.Functions {
		info.Functions = append(info.Functions, report.FunctionInfo{Name: f.Name, ID: f.ID, Trigger: f.TriggerType(), Bindings: f.BindingNames()})
	}
	if code, ok := w.ExitCode(); ok {
		info.ExitCode = &code
	}
	return info
}

// LaunchNotices are the lines fbench says about how it launched the worker, before measuring.
func LaunchNotices(c *host.Command) []string {
	out := append([]string(nil), c.Notices...)
	if c.IndexingRule != "" {
		out = append(out, c.IndexingRule)
	}
	return out
}

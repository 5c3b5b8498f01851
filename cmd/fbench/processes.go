package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/procstat"
	"github.com/fbench/fbench/report"
)

// Several worker processes (FUNCTIONS_WORKER_PROCESS_COUNT): how many, how the host paces their
// starts and restarts, launching them, and sampling each.

// processFlags are the flags of every verb that can launch several worker processes.
type processFlags struct {
	processes       string // a count (run, probe) or a list (capacity)
	startInterval   time.Duration
	restartInterval time.Duration
}

func (pf *processFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&pf.processes, "processes", "", "worker processes `N` to run, as the host's FUNCTIONS_WORKER_PROCESS_COUNT (default: that setting from --env or the environment, else worker.config.json's processOptions, else 1)")
	fs.DurationVar(&pf.startInterval, "process-start-interval", 0, "time between one process's WorkerInitResponse and the next process's start (default: processOptions.processStartupInterval, else the host's 10s; 5s for an executable without worker.config.json)")
	fs.DurationVar(&pf.restartInterval, "process-restart-interval", 0, "with --restart-worker: time after one relaunch before the next (default: processOptions.processRestartInterval, else the host's 10s; 5s without worker.config.json)")
}

// resolve decides the processes for a worker launched with opt (it adds FUNCTIONS_WORKER_PROCESS_COUNT
// to the worker's environment when --processes sets the count, as the app setting would).
func (pf *processFlags) resolve(fs *pflag.FlagSet, opt *host.Options) (host.Processes, error) {
	cmd, err := host.Resolve(opt.Launch, 1, "check", "check")
	if err != nil {
		return host.Processes{}, err
	}
	pr, err := host.ResolveProcesses(cmd.Config, cmd.Env, runtime.NumCPU())
	if err != nil {
		return pr, err
	}
	if fs.Changed("processes") {
		n, err := strconv.Atoi(strings.TrimSpace(pf.processes))
		if err != nil || n < 1 || n > pr.Max {
			return pr, fmt.Errorf("invalid --processes %q: want a whole number from 1 to %d (maxProcessCount)", pf.processes, pr.Max)
		}
		pr.Count, pr.Source = n, "--processes"
		opt.Launch.Env = append(opt.Launch.Env, host.ProcessCountEnv+"="+strconv.Itoa(n))
	}
	for _, iv := range []struct {
		name string
		v    time.Duration
		d    *time.Duration
	}{{"process-start-interval", pf.startInterval, &pr.StartInterval}, {"process-restart-interval", pf.restartInterval, &pr.RestartInterval}} {
		if !fs.Changed(iv.name) {
			continue
		}
		if iv.v < 0 {
			return pr, fmt.Errorf("invalid --%s %s: must not be negative", iv.name, iv.v)
		}
		*iv.d = iv.v
	}
	return pr, nil
}

// parseProcessList reads capacity's --processes: pool sizes such as 1,2,4, each from 1 to max.
func parseProcessList(s string, maxCount int) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 || n > maxCount {
			return nil, fmt.Errorf("invalid --processes %q: want whole numbers from 1 to %d (maxProcessCount), e.g. 1,2,4", s, maxCount)
		}
		if seen[n] {
			return nil, fmt.Errorf("invalid --processes %q: %d is repeated", s, n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// workerPool is a run's worker processes: launched as the host launches them, relaunched with
// --restart-worker, sampled every interval, shut down at the end.
type workerPool struct {
	srv   *host.Server
	procs host.Processes
	ws    []*host.Worker // nil: that process's handshake failed
	errs  []error
	infos []report.ProcessInfo
}

// startRunWorkers opens the run directory's worker.log, starts fbench's gRPC server and launches
// the plan's worker processes through the host's handshake. pool is nil when nothing could be
// started (err says why); cleanup closes the server and the log once the workers are shut down. err is the first handshake failure, naming the
// process when there are several; with --restart-worker and at least one process up it is only
// reported (on stderr, and as an event) and the run goes on, the failed ones to be relaunched.
func startRunWorkers(ctx context.Context, p *plan, stderr io.Writer) (*workerPool, func(), error) {
	cleanup := func() {}
	logFile, err := os.OpenFile(filepath.Join(p.out, "worker.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, cleanup, fmt.Errorf("creating the worker log: %w", err)
	}
	p.hostOpt.Log = logFile
	p.hostOpt.LabelLog = p.procs.Count > 1
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
	wp := &workerPool{srv: srv, procs: p.procs}
	n := max(p.procs.Count, 1)
	spawn := time.Now()
	wp.ws, wp.errs = host.StartPool(ctx, srv, p.hostOpt, host.PoolOptions{Count: n, StartInterval: p.procs.StartInterval, StopOnError: !p.restart,
		OnDone: func(i int, w *host.Worker, err error) {
			// A failure is said once: as the run's error, or as a note when it is relaunched.
			if n > 1 && !p.quiet && err == nil {
				fmt.Fprintf(stderr, "fbench: worker process %d of %d ready (pid %d) after %s\n", i+1, n, w.Pid, time.Since(spawn).Round(time.Millisecond))
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
	if first != nil && (up == 0 || !p.restart || ctx.Err() != nil) {
		wp.shutdown(nil)
		return wp, cleanup, first
	}
	return wp, cleanup, nil
}

// first is the first process up (nil: none).
func (wp *workerPool) first() *host.Worker {
	for _, w := range wp.ws {
		if w != nil {
			return w
		}
	}
	return nil
}

// configure sets the engine's relaunch pacing and sampling for the pool.
func (wp *workerPool) configure(cfg *loadgen.Config, restart bool) {
	cfg.RestartInterval = wp.procs.RestartInterval
	cfg.MaxWorkerErrors = 3 * max(wp.procs.Max, 1)
	if len(wp.ws) == 1 {
		cfg.Sample = newSampler(wp.ws[0]).sample
		return
	}
	cfg.Sample = newSampler(nil).sample
	cfg.SampleProcess = newProcessSampler(len(wp.ws)).sample
	_ = restart
}

// run is the engine over the pool.
func (wp *workerPool) run(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
	return loadgen.RunPool(ctx, wp.ws, cfg)
}

// shutdown ends every process as the host does, but keep (shut down by the caller).
func (wp *workerPool) shutdown(keep *host.Worker) {
	for _, w := range wp.ws {
		if w != nil && w != keep {
			w.Shutdown(host.TerminateGrace)
		}
	}
}

// finish shuts down the processes at the run's end (keep aside) and returns their record.
func (wp *workerPool) finish(res *loadgen.Result, keep *host.Worker) []report.ProcessInfo {
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
	if len(wp.infos) < 2 {
		return nil
	}
	return wp.infos
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

// processSampler samples each worker process's tree; a relaunched process (new pid) starts afresh.
type processSampler struct {
	pids []int
	s    []*procstat.Sampler
	prev []procstat.Sample
	have []bool
}

func newProcessSampler(n int) *processSampler {
	return &processSampler{pids: make([]int, n), s: make([]*procstat.Sampler, n), prev: make([]procstat.Sample, n), have: make([]bool, n)}
}

// sample is loadgen.Config.SampleProcess.
func (ps *processSampler) sample(i int, w *host.Worker) report.ProcessResources {
	var r report.ProcessResources
	if i < 0 || i >= len(ps.s) || w == nil {
		return r
	}
	if ps.s[i] == nil || ps.pids[i] != w.Pid {
		ps.pids[i], ps.s[i], ps.have[i] = w.Pid, procstat.NewSampler(w.Pid), false
	}
	cur, err := ps.s[i].Sample()
	if err != nil {
		return r
	}
	if ps.have[i] {
		r.CPUPct = procstat.CPUPercent(ps.prev[i], cur)
	}
	r.RSSBytes, r.Threads, r.FDs = cur.RSSBytes, cur.Threads, cur.FDs
	ps.prev[i], ps.have[i] = cur, true
	return r
}

// resEvents are a result's events (none without a result).
func resEvents(res *loadgen.Result) []report.Event {
	if res == nil {
		return nil
	}
	return res.Events
}

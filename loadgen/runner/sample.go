package runner

import (
	"runtime"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/procstat"
	"github.com/fbench/fbench/report"
)

// sampler reads, at every interval's end, the worker's process tree and fbench itself from /proc.
// A relaunched worker (new pid) starts a new tree sampler.
type sampler struct {
	pid         int
	worker      *procstat.Sampler
	self        *procstat.Sampler
	prevW       procstat.Sample
	prevS       procstat.Sample
	haveW       bool
	haveS       bool
	unsupported bool
}

// newSampler starts sampling fbench and worker w (nil: none yet): both get a baseline now, so
// that the first interval has CPU figures too.
func newSampler(w *host.Worker) *sampler {
	s := &sampler{self: procstat.NewSelfSampler()}
	if cur, err := s.self.Sample(); err == nil {
		s.prevS, s.haveS = cur, true
	} else {
		s.unsupported = true
	}
	if w != nil && !s.unsupported {
		s.pid, s.worker = w.Pid, procstat.NewSampler(w.Pid)
		if cur, err := s.worker.Sample(); err == nil {
			s.prevW, s.haveW = cur, true
		}
	}
	return s
}

// sample is loadgen.Config.Sample.
func (s *sampler) sample(w *host.Worker) report.Resources {
	var r report.Resources
	if s.unsupported {
		return r
	}
	if w != nil && w.Pid != s.pid {
		s.pid, s.worker, s.haveW = w.Pid, procstat.NewSampler(w.Pid), false
	}
	if s.worker != nil {
		if cur, err := s.worker.Sample(); err == nil {
			if s.haveW {
				r.WorkerCPUPct = procstat.CPUPercent(s.prevW, cur)
			}
			r.WorkerRSSBytes, r.WorkerThreads, r.WorkerFDs, r.WorkerPid = cur.RSSBytes, cur.Threads, cur.FDs, s.pid
			s.prevW, s.haveW = cur, true
		}
	}
	if cur, err := s.self.Sample(); err == nil {
		if s.haveS {
			r.FbenchCPUPct = procstat.CPUPercent(s.prevS, cur)
		}
		r.FbenchRSSBytes = cur.RSSBytes
		s.prevS, s.haveS = cur, true
	}
	r.Goroutines = int64(runtime.NumGoroutine())
	return r
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

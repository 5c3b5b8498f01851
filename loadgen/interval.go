package loadgen

import (
	"time"

	"github.com/fbench/fbench/report"
)

// closeInterval hands the interval [start, end) to the sink.
func (e *engine) closeInterval(index int, start, end time.Duration, final bool) error {
	set := e.rec.rotate(final)
	defer e.rec.release(set)
	rec := &report.IntervalRecord{
		Index:      index,
		Start:      start,
		Length:     end - start,
		InFlight:   e.inflight.Load(),
		Counts:     set.counts,
		Histograms: set.tagged(e.names),
		HTTPStatus: set.httpCounts(e.names),
		Failures:   set.failureCounts(),
	}
	rec.Counts.LogsDropped += e.droppedLogs()
	e.setPhase(rec)
	if len(e.pool.chans) == 1 {
		if e.cfg.Sample != nil {
			rec.Resources = e.cfg.Sample(e.pool.chans[0].lastWorker)
		}
	} else {
		e.processIntervals(rec, set)
	}
	e.totalsMu.Lock()
	e.totals.Add(rec.Counts)
	e.totalsMu.Unlock()
	if e.cfg.OnInterval != nil {
		return e.cfg.OnInterval(rec)
	}
	return nil
}

// droppedLogs is how many worker log lines were dropped since the last interval: lines a worker
// log could not keep up with (a log flood) are dropped there, and counted here.
func (e *engine) droppedLogs() int64 {
	var n int64
	for _, c := range e.pool.chans {
		if c.lastWorker == nil || c.lastWorker.Log == nil {
			continue
		}
		if l := c.lastWorker.Log; l != c.logDroppedFrom {
			c.logDropped, c.logDroppedFrom = 0, l
		}
		d := c.logDroppedFrom.Dropped()
		n += d - c.logDropped
		c.logDropped = d
	}
	return n
}

// setPhase sets the phase of interval rec, whether it is warm-up, and the arrivals offered in it.
func (e *engine) setPhase(rec *report.IntervalRecord) {
	start, end := rec.Start, rec.Start+rec.Length
	if s := e.cfg.Schedule; s != nil {
		if end > start {
			rec.OfferedRPS = s.Expected(start, end) / (end - start).Seconds()
		}
		if s.Bounded() && start >= s.Duration() {
			rec.Phase = report.PhaseDrain
		} else {
			st, _ := s.StageAt(start)
			rec.Phase = st.Name
		}
		rec.Warmup = start < s.WarmupEnd()
	} else {
		rec.Phase = "closed-loop"
		if start < e.cfg.Warmup {
			rec.Phase, rec.Warmup = "warmup", true
		} else if e.cfg.Duration > 0 && start >= e.cfg.Duration {
			rec.Phase = report.PhaseDrain
		}
	}
	// Past the load's end the interval is drain; one it ends in is under load only up to it.
	if le := e.loadEnd.Load(); le >= 0 && int64(end) > le {
		if int64(start) >= le {
			rec.Phase, rec.OfferedRPS = report.PhaseDrain, 0
		} else {
			rec.LoadLength = time.Duration(le) - start
			if s := e.cfg.Schedule; s != nil {
				rec.OfferedRPS = s.Expected(start, time.Duration(le)) / rec.LoadLength.Seconds()
			}
		}
	}
}

// processIntervals fills an interval's per-process part (several processes): each process's
// counts, whether it is up, and its resources; the worker's resources are the processes' sum.
func (e *engine) processIntervals(rec *report.IntervalRecord, set *histSet) {
	if e.cfg.Sample != nil {
		rec.Resources = e.cfg.Sample(nil)
	}
	rec.Processes = make([]report.ProcessInterval, len(e.pool.chans))
	for i, c := range e.pool.chans {
		p := &rec.Processes[i]
		p.Process = i + 1
		if set.procCounts != nil {
			p.Counts = set.procCounts[i]
		}
		g := c.gen.Load()
		p.Up = g != nil && !g.dead.Load()
		if p.Up && e.cfg.SampleProcess != nil {
			p.ProcessResources = e.cfg.SampleProcess(i, g.w)
			r := &rec.Resources
			r.WorkerCPUPct += p.CPUPct
			r.WorkerRSSBytes += p.RSSBytes
			r.WorkerThreads += p.Threads
			r.WorkerFDs += p.FDs
		}
	}
}

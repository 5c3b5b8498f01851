package report

import (
	"math"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// A run can drive several worker processes (the host's FUNCTIONS_WORKER_PROCESS_COUNT). Each is
// numbered from 1 in the order it was started; its latencies are tagged METRIC.proc.N in
// latency.hlog, its counts and resources are in every interval's "processes", and the summary's
// "processes" gives each one's figures beside the run's totals (histograms merged, counts summed).

// ProcessTag is the hlog tag of a metric restricted to one worker process, e.g. "rtt.proc.2".
func ProcessTag(metric string, process int) string { return metric + ".proc." + strconv.Itoa(process) }

// ProcessCounts are what happened to the invocations sent to one worker process. Summed over the
// processes they give the run's counts of the same names (dropped and unsent invocations were
// never sent to any process).
type ProcessCounts struct {
	Sent                 int64 `json:"sent"`
	Succeeded            int64 `json:"succeeded"`
	Failed               int64 `json:"failed"`
	Cancelled            int64 `json:"cancelled"`
	CompletedAfterCancel int64 `json:"completed_after_cancel"`
	TimedOut             int64 `json:"timed_out"`
	Lost                 int64 `json:"lost"`
}

// Add adds o to c field by field.
func (c *ProcessCounts) Add(o ProcessCounts) {
	c.Sent += o.Sent
	c.Succeeded += o.Succeeded
	c.Failed += o.Failed
	c.Cancelled += o.Cancelled
	c.CompletedAfterCancel += o.CompletedAfterCancel
	c.TimedOut += o.TimedOut
	c.Lost += o.Lost
}

// Responses is the number of invocations the process answered.
func (c ProcessCounts) Responses() int64 {
	return c.Succeeded + c.Failed + c.Cancelled + c.CompletedAfterCancel
}

// ProcessResources are one worker process's samples at an interval's end (zero: not sampled, or
// the process was down).
type ProcessResources struct {
	CPUPct   float64 `json:"cpu_pct"` // percent of one core over the interval
	RSSBytes int64   `json:"rss_bytes"`
	Threads  int64   `json:"threads"`
	FDs      int64   `json:"fds"`
}

// ProcessInterval is one worker process's part of an interval.
type ProcessInterval struct {
	Process int           `json:"process"` // from 1
	Up      bool          `json:"up"`      // ready for invocations at the interval's end
	Counts  ProcessCounts `json:"counts"`
	ProcessResources
}

// ProcessInfo is what a run records about one worker process slot: every process that held it
// (a restart puts a new one there) and how they ended.
type ProcessInfo struct {
	Process  int    `json:"process"`
	Pids     []int  `json:"pids"`
	Restarts int    `json:"restarts"`
	Crashes  int    `json:"crashes"`             // streams that ended during the run
	ReadyAt  int64  `json:"ready_at_ns"`         // when its handshake completed, since the first spawn
	Error    string `json:"error,omitempty"`     // a handshake that failed
	EndState string `json:"end_state,omitempty"` // how the last process ended
}

// ProcessSummary is one worker process's figures over the measured phase.
type ProcessSummary struct {
	ProcessInfo
	Counts      ProcessCounts `json:"counts"`
	Invocations int64         `json:"invocations"` // answered (succeeded + failed + cancelled + completed after cancel)
	Share       float64       `json:"share"`       // of the run's sent invocations
	RTT         Stats         `json:"rtt"`
	Service     Stats         `json:"service"`
	MeanCPUPct  float64       `json:"mean_cpu_pct"`
	PeakCPUPct  float64       `json:"peak_cpu_pct"`
	PeakRSS     int64         `json:"peak_rss_bytes"`
	FinalRSS    int64         `json:"final_rss_bytes"`
	PeakThreads int64         `json:"peak_threads"`
}

// processAgg accumulates the per-process figures of the measured intervals.
type processAgg struct {
	n      int
	counts []ProcessCounts
	cpu    []float64 // Σ pct × seconds
	cpuSec []float64
	peaks  []peaks
}

func newProcessAgg(n int) *processAgg {
	if n < 2 {
		return nil
	}
	return &processAgg{n: n, counts: make([]ProcessCounts, n), cpu: make([]float64, n), cpuSec: make([]float64, n), peaks: make([]peaks, n)}
}

// add feeds one interval's processes; measured says whether its counts go to the totals.
func (pa *processAgg) add(rec *IntervalRecord, measured bool, fullLength bool) {
	if pa == nil {
		return
	}
	for _, p := range rec.Processes {
		i := p.Process - 1
		if i < 0 || i >= pa.n {
			continue
		}
		if measured {
			pa.counts[i].Add(p.Counts)
		}
		if p.RSSBytes > 0 || p.CPUPct > 0 {
			if measured {
				pa.cpu[i] += p.CPUPct * rec.Length.Seconds()
				pa.cpuSec[i] += rec.Length.Seconds()
			}
			cpu := p.CPUPct
			if !fullLength {
				cpu = 0
			}
			pa.peaks[i].observe(cpu, p.RSSBytes, p.Threads, p.FDs, 0)
		}
	}
}

// summaries are the per-process figures, with the run's per-process metadata and totals.
func (pa *processAgg) summaries(infos []ProcessInfo, totals map[string]*hdrhistogram.Histogram, sent int64) []ProcessSummary {
	if pa == nil {
		return nil
	}
	out := make([]ProcessSummary, pa.n)
	for i := range out {
		ps := &out[i]
		ps.Process = i + 1
		if i < len(infos) {
			ps.ProcessInfo = infos[i]
			ps.Process = i + 1
		}
		if ps.Pids == nil {
			ps.Pids = []int{}
		}
		ps.Counts = pa.counts[i]
		ps.Invocations = ps.Counts.Responses()
		if sent > 0 {
			ps.Share = Round3(float64(ps.Counts.Sent) / float64(sent))
		}
		ps.RTT = StatsOf(totals[ProcessTag(MetricRTT, i+1)])
		ps.Service = StatsOf(totals[ProcessTag(MetricService, i+1)])
		if pa.cpuSec[i] > 0 {
			ps.MeanCPUPct = Round3(pa.cpu[i] / pa.cpuSec[i])
		}
		pk := pa.peaks[i]
		ps.PeakCPUPct = Round3(pk.cpu)
		ps.PeakRSS, ps.FinalRSS, ps.PeakThreads = int64(pk.rss), int64(pk.finalRSS), int64(pk.threads)
	}
	return out
}

// processCSVHeader is the per-process columns of intervals.csv (none with one process).
func processCSVHeader(n int) []string {
	if n < 2 {
		return nil
	}
	var h []string
	for i := 1; i <= n; i++ {
		p := "p" + strconv.Itoa(i) + "_"
		h = append(h, p+"up", p+"sent", p+"succeeded", p+"failed", p+"timed_out", p+"lost",
			p+"rtt_p50_us", p+"rtt_p99_us", p+"cpu_pct", p+"rss_bytes", p+"threads")
	}
	return h
}

// appendRow appends an interval's per-process columns to an intervals.csv row.
func (pa *processAgg) appendRow(row []string, rec *IntervalRecord, hists map[string]*hdrhistogram.Histogram) []string {
	if pa == nil {
		return row
	}
	byProc := make([]*ProcessInterval, pa.n)
	for i := range rec.Processes {
		if k := rec.Processes[i].Process - 1; k >= 0 && k < pa.n {
			byProc[k] = &rec.Processes[i]
		}
	}
	for i, p := range byProc {
		if p == nil {
			row = append(row, "", "", "", "", "", "", "", "", "", "", "")
			continue
		}
		c := p.Counts
		p50, p99 := "", ""
		if h := hists[ProcessTag(MetricRTT, i+1)]; h != nil && h.TotalCount() > 0 {
			p50, p99 = i64(h.ValueAtQuantile(50)), i64(h.ValueAtQuantile(99))
		}
		cpu, rss, thr := "", "", ""
		if p.RSSBytes > 0 || p.CPUPct > 0 {
			cpu, rss, thr = FormatFloat(p.CPUPct), i64(p.RSSBytes), i64(p.Threads)
		}
		row = append(row, strconv.FormatBool(p.Up), i64(c.Sent), i64(c.Succeeded), i64(c.Failed), i64(c.TimedOut), i64(c.Lost),
			p50, p99, cpu, rss, thr)
	}
	return row
}

// point adds an interval's per-process resources to its chart point.
func (pa *processAgg) point(rec *IntervalRecord, p *point) {
	if pa == nil {
		return
	}
	p.PCPU, p.PCPUSec, p.PRSS = make([]float64, pa.n), make([]float64, pa.n), make([]int64, pa.n)
	for _, pr := range rec.Processes {
		i := pr.Process - 1
		if i < 0 || i >= pa.n || (pr.RSSBytes == 0 && pr.CPUPct == 0) {
			continue
		}
		p.PCPU[i], p.PCPUSec[i], p.PRSS[i] = pr.CPUPct*p.Seconds, p.Seconds, pr.RSSBytes
	}
}

// processRow is one line of report.html's worker process table.
type processRow struct {
	P                     ProcessSummary
	Pids, Share, CPU, RSS string
	Class                 string
}

func processRows(s *Summary) []processRow {
	var out []processRow
	for _, p := range s.Processes {
		pids := make([]string, len(p.Pids))
		for i, pid := range p.Pids {
			pids[i] = strconv.Itoa(pid)
		}
		r := processRow{P: p, Pids: strings.Join(pids, " → "), Share: FormatFloat(100*p.Share) + "%",
			CPU: pctOrDash(p.MeanCPUPct), RSS: bytesOrDash(p.PeakRSS)}
		switch {
		case p.Crashes > 0 || p.Error != "":
			r.Class = "bad"
		case p.Counts.Lost > 0 || p.Counts.TimedOut > 0:
			r.Class = "warn"
		}
		out = append(out, r)
	}
	return out
}

// processPalette colours the per-process lines of the resource charts (dashed, beside the totals).
var processPalette = []string{colGreen, colPurple, colPink, colCyan, colLime, colRed, colSlate}

// processLines draws one dashed line per worker process on the CPU (cpu) or memory chart.
func processLines(c *chart, pts []point, xs []float64, cpu bool) {
	if len(pts) == 0 || len(pts[0].PCPU) < 2 {
		return
	}
	for i := range pts[0].PCPU {
		ys := make([]float64, len(pts))
		have := false
		for k, p := range pts {
			ys[k] = math.NaN()
			if i < len(p.PCPUSec) && p.PCPUSec[i] > 0 {
				have = true
				if cpu {
					ys[k] = p.PCPU[i] / p.PCPUSec[i]
				} else {
					ys[k] = float64(p.PRSS[i])
				}
			}
		}
		if have {
			c.line("process "+strconv.Itoa(i+1), processPalette[i%len(processPalette)], "3 2", xs, ys)
		}
	}
}

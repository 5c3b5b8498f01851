package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The aggregator turns a stream of intervals into everything the report files need. The live run
// (RunWriter) and Rebuild feed it the same way, so both produce the same files. Its memory does not
// grow with the run's length:
//   - one merged histogram per tag, over the measured (non-warm-up) intervals;
//   - intervals.csv rows are written out as intervals arrive, never kept;
//   - the time-series of the HTML charts is a fixed number of points (maxPoints): when full,
//     neighbouring points are merged pairwise and every point then covers twice as many intervals.

// rowPercentiles are the per-interval percentiles of intervals.csv and the time charts; 100 is max.
var rowPercentiles = []float64{50, 90, 99, 99.9, 100}

// rowPercentileNames name rowPercentiles in column names.
var rowPercentileNames = []string{"p50", "p90", "p99", "p999", "max"}

// maxPoints bounds the number of points of a time chart.
const maxPoints = 1024

// numMetrics is len(Metrics), as a constant for arrays.
const numMetrics = 8

func init() {
	if len(Metrics) != numMetrics || len(rowPercentiles) != 5 {
		panic("report: numMetrics does not match Metrics")
	}
}

// spectrumTicks is the ticks per half distance of percentiles.csv and the spectrum chart.
const spectrumTicks = 5

type aggregator struct {
	totals     map[string]*hdrhistogram.Histogram // per tag, measured intervals only
	dropped    map[string]int64                   // values a merge could not record, per tag
	counts     Counts
	httpStatus HTTPStatusCounts // measured intervals
	failures   map[string]int64 // measured intervals
	measured   time.Duration
	warm       time.Duration
	expected   float64       // expected arrivals of the measured intervals
	loadTime   time.Duration // measured time under load: the drain after the last arrival excluded
	// fbench's CPU over the measured intervals: Σ percent × seconds, and Σ seconds
	harnessCPU, harnessCPUSec float64
	loadResp                  int64 // responses within loadTime
	nMeasured                 int
	nWarm                     int
	first                     bool
	start                     time.Duration // first interval's start
	end                       time.Duration // last interval's end
	interval                  time.Duration // most common length seen (the first one)
	emptyTags                 int

	// the worker's CPU over the measured intervals (Σ percent × seconds, Σ seconds), and fbench's
	// sends in the measured intervals its CPU was sampled in
	workerCPU, workerCPUSec float64
	harnessSent             int64

	worker  peaks
	harness peaks

	points    []point
	perPoint  int
	warmSpans []span

	csv    *csv.Writer
	csvErr error

	observers []IntervalObserver // see every interval fed, warm-up included

	procs *processAgg // with several worker processes; nil otherwise
}

type peaks struct {
	cpu, rss, finalRSS, threads, fds, goroutines float64
}

type span struct{ Start, End time.Duration }

// point is one point of the time charts: one interval, or several merged ones.
type point struct {
	Start, End time.Duration
	N          int
	Lat        [numMetrics][5]int64 // Metrics × rowPercentiles; max over merged intervals; 0 = no data
	Seconds    float64
	Expected   float64 // expected arrivals
	Responses  int64   // settled with a response
	Sent       int64
	InFlight   int64 // max
	Failed     int64
	TimedOut   int64
	Dropped    int64
	Lost       int64
	Cancelled  int64
	CAE        int64
	CancelSent int64
	Unmatched  int64
	// Resources: CPU as Σ pct × seconds over sampled seconds, memory and counts as max.
	WCPU, WCPUSec float64
	WRSS, WThr    int64
	WFDs          int64
	WPid          int // the worker process sampled; -1 when merged points sampled several
	FCPU, FCPUSec float64
	FRSS          int64
	// Per worker process (several processes only): CPU as Σ pct × seconds, RSS as max.
	PCPU, PCPUSec []float64
	PRSS          []int64
}

func (p *point) merge(o point) {
	p.End = max(p.End, o.End)
	p.Start = min(p.Start, o.Start)
	p.N += o.N
	for m := range p.Lat {
		for q := range p.Lat[m] {
			p.Lat[m][q] = max(p.Lat[m][q], o.Lat[m][q])
		}
	}
	p.Seconds += o.Seconds
	p.Expected += o.Expected
	p.Responses += o.Responses
	p.Sent += o.Sent
	p.InFlight = max(p.InFlight, o.InFlight)
	p.Failed += o.Failed
	p.TimedOut += o.TimedOut
	p.Dropped += o.Dropped
	p.Lost += o.Lost
	p.Cancelled += o.Cancelled
	p.CAE += o.CAE
	p.CancelSent += o.CancelSent
	p.Unmatched += o.Unmatched
	p.WCPU += o.WCPU
	p.WCPUSec += o.WCPUSec
	if p.WPid != o.WPid {
		p.WPid = -1
	}
	p.WRSS = max(p.WRSS, o.WRSS)
	p.WThr = max(p.WThr, o.WThr)
	p.WFDs = max(p.WFDs, o.WFDs)
	p.FCPU += o.FCPU
	p.FCPUSec += o.FCPUSec
	p.FRSS = max(p.FRSS, o.FRSS)
	for i := range p.PCPU {
		if i < len(o.PCPU) {
			p.PCPU[i] += o.PCPU[i]
			p.PCPUSec[i] += o.PCPUSec[i]
			p.PRSS[i] = max(p.PRSS[i], o.PRSS[i])
		}
	}
}

// Responses is the number of invocations settled by a response from the worker.
func (c Counts) Responses() int64 {
	return c.Succeeded + c.Failed + c.Cancelled + c.CompletedAfterCancel
}

// newAggregator feeds intervals.csv to csvOut (nil: none); processes is the run's number of
// worker processes (per-process columns and figures with more than one).
func newAggregator(csvOut io.Writer, processes int) *aggregator {
	a := &aggregator{
		totals:   map[string]*hdrhistogram.Histogram{},
		dropped:  map[string]int64{},
		first:    true,
		perPoint: 1,
		procs:    newProcessAgg(processes),
	}
	if csvOut != nil {
		a.csv = csv.NewWriter(csvOut)
		a.csvErr = a.csv.Write(append(intervalsCSVHeader(), processCSVHeader(processes)...))
	}
	return a
}

func intervalsCSVHeader() []string {
	h := []string{"index", "start_s", "phase", "warmup", "offered_rps", "achieved_rps", "in_flight",
		"sent", "succeeded", "failed", "cancelled", "completed_after_cancel", "timed_out", "dropped", "lost", "unmatched"}
	for _, m := range Metrics {
		for qi, q := range rowPercentileNames {
			if m == MetricStatusRTT && qi != 0 && qi != len(rowPercentileNames)-1 {
				continue // status requests are few per interval: p50 and max only
			}
			h = append(h, m+"_"+q+"_us")
		}
	}
	return append(h, "worker_cpu_pct", "worker_rss_bytes", "worker_threads", "worker_fds", "fbench_cpu_pct", "fbench_rss_bytes")
}

// sortedTags orders tags as reports list them: main metrics in Metrics order, then the rest sorted.
func sortedTags[V any](m map[string]V) []string {
	tags := make([]string, 0, len(m))
	for t := range m {
		tags = append(tags, t)
	}
	rank := func(t string) int {
		if i := slices.Index(Metrics, t); i >= 0 {
			return i
		}
		return len(Metrics)
	}
	sort.Slice(tags, func(i, j int) bool {
		ri, rj := rank(tags[i]), rank(tags[j])
		if ri != rj {
			return ri < rj
		}
		return tags[i] < tags[j]
	})
	return tags
}

// add feeds one interval. hists are its non-empty histograms keyed by (sanitized) tag; they are
// read, never kept.
func (a *aggregator) add(rec *IntervalRecord, hists map[string]*hdrhistogram.Histogram) {
	for _, o := range a.observers {
		o.ObserveInterval(rec, hists)
	}
	if a.first {
		a.first = false
		a.start = rec.Start
		a.interval = rec.Length
	}
	a.end = max(a.end, rec.Start+rec.Length)

	p := intervalPoint(rec, hists)
	a.observeResources(rec, &p)
	a.procs.add(rec, !rec.Warmup, rec.Length >= a.interval/2)
	a.procs.point(rec, &p)
	a.writeRow(rec, &p, hists)
	a.addPoint(p)
	if rec.Warmup {
		a.addWarmup(rec)
		return
	}
	a.addMeasured(rec, &p, hists)
}

// intervalPoint is rec as a point of the time charts: its latency percentiles, expected arrivals
// and counts (resources and processes are added by their own steps).
func intervalPoint(rec *IntervalRecord, hists map[string]*hdrhistogram.Histogram) point {
	p := point{Start: rec.Start, End: rec.Start + rec.Length, N: 1, Seconds: rec.Length.Seconds()}
	for mi, m := range Metrics {
		if h := hists[m]; h != nil && h.TotalCount() > 0 {
			copy(p.Lat[mi][:], h.ValueAtPercentilesSlice(rowPercentiles))
		}
	}
	c := rec.Counts
	p.Expected = rec.OfferedRPS * loadLength(rec).Seconds()
	p.Responses = c.Responses()
	p.Sent = c.Sent
	p.InFlight = rec.InFlight
	p.Failed, p.TimedOut, p.Dropped, p.Lost = c.Failed, c.TimedOut, c.Dropped, c.Lost
	p.Cancelled, p.CAE, p.CancelSent, p.Unmatched = c.Cancelled, c.CompletedAfterCancel, c.CancelSent, c.Unmatched
	return p
}

// observeResources puts rec's resource samples, the worker's and fbench's, in p, in the measured
// CPU averages (warm-up excluded) and in the peaks.
func (a *aggregator) observeResources(rec *IntervalRecord, p *point) {
	r := rec.Resources
	if r.WorkerRSSBytes > 0 || r.WorkerCPUPct > 0 {
		p.WCPU, p.WCPUSec = r.WorkerCPUPct*p.Seconds, p.Seconds
		if !rec.Warmup {
			a.workerCPU, a.workerCPUSec = a.workerCPU+p.WCPU, a.workerCPUSec+p.WCPUSec
		}
		p.WRSS, p.WThr, p.WFDs, p.WPid = r.WorkerRSSBytes, r.WorkerThreads, r.WorkerFDs, r.WorkerPid
		a.worker.observe(a.peakCPU(rec, r.WorkerCPUPct), r.WorkerRSSBytes, r.WorkerThreads, r.WorkerFDs, 0)
	}
	if r.FbenchRSSBytes > 0 || r.FbenchCPUPct > 0 {
		p.FCPU, p.FCPUSec = r.FbenchCPUPct*p.Seconds, p.Seconds
		if !rec.Warmup {
			a.harnessCPU, a.harnessCPUSec = a.harnessCPU+p.FCPU, a.harnessCPUSec+p.FCPUSec
			a.harnessSent += rec.Counts.Sent
		}
		p.FRSS = r.FbenchRSSBytes
		a.harness.observe(a.peakCPU(rec, r.FbenchCPUPct), r.FbenchRSSBytes, 0, 0, r.Goroutines)
	}
}

// peakCPU is rec's CPU percentage pct as a candidate for the peaks. A short interval (the run's
// last, partial one) gives a CPU percentage from a few ticks of the kernel's 10 ms accounting: it
// counts in the averages, by its length, not in the peaks.
func (a *aggregator) peakCPU(rec *IntervalRecord, pct float64) float64 {
	if rec.Length < a.interval/2 {
		return 0
	}
	return pct
}

// addWarmup counts a warm-up interval and adds it to the warm-up spans (adjacent ones joined, at
// most 64).
func (a *aggregator) addWarmup(rec *IntervalRecord) {
	a.nWarm++
	a.warm += rec.Length
	s := span{rec.Start, rec.Start + rec.Length}
	if n := len(a.warmSpans); n > 0 && s.Start <= a.warmSpans[n-1].End {
		a.warmSpans[n-1].End = max(a.warmSpans[n-1].End, s.End)
	} else if n < 64 {
		a.warmSpans = append(a.warmSpans, s)
	}
}

// addMeasured adds a measured interval (p is its point) to the run's totals: time, expected
// arrivals, counts, HTTP statuses, failures and histograms.
func (a *aggregator) addMeasured(rec *IntervalRecord, p *point, hists map[string]*hdrhistogram.Histogram) {
	a.nMeasured++
	a.measured += rec.Length
	a.expected += p.Expected
	if rec.Phase != PhaseDrain {
		a.loadTime += loadLength(rec)
		a.loadResp += p.Responses
	}
	a.counts.Add(rec.Counts)
	if len(rec.HTTPStatus) > 0 {
		if a.httpStatus == nil {
			a.httpStatus = HTTPStatusCounts{}
		}
		a.httpStatus.Add(rec.HTTPStatus)
	}
	for r, n := range rec.Failures {
		if a.failures == nil {
			a.failures = map[string]int64{}
		}
		a.failures[r] += n
	}
	a.addTotals(hists)
}

// addTotals merges a measured interval's histograms into the run's, per tag, counting the values a
// merge could not record.
func (a *aggregator) addTotals(hists map[string]*hdrhistogram.Histogram) {
	for tag, h := range hists {
		t := a.totals[tag]
		if t == nil {
			t = NewHistogram()
			a.totals[tag] = t
		}
		if d := t.Merge(h); d > 0 {
			a.dropped[tag] += d
		}
	}
}

func (pk *peaks) observe(cpu float64, rss, threads, fds, goroutines int64) {
	pk.cpu = max(pk.cpu, cpu)
	pk.rss = max(pk.rss, float64(rss))
	if rss > 0 {
		pk.finalRSS = float64(rss)
	}
	pk.threads = max(pk.threads, float64(threads))
	pk.fds = max(pk.fds, float64(fds))
	pk.goroutines = max(pk.goroutines, float64(goroutines))
}

func (a *aggregator) addPoint(p point) {
	if n := len(a.points); n > 0 && a.points[n-1].N < a.perPoint {
		a.points[n-1].merge(p)
		return
	}
	if len(a.points) == maxPoints {
		for i := 0; i < maxPoints/2; i++ {
			m := a.points[2*i]
			m.merge(a.points[2*i+1])
			a.points[i] = m
		}
		a.points = a.points[:maxPoints/2]
		a.perPoint *= 2
	}
	a.points = append(a.points, p)
}

func (a *aggregator) writeRow(rec *IntervalRecord, p *point, hists map[string]*hdrhistogram.Histogram) {
	if a.csv == nil || a.csvErr != nil {
		return
	}
	c := rec.Counts
	achieved := 0.0
	if p.Seconds > 0 {
		achieved = float64(p.Responses) / p.Seconds
	}
	row := []string{
		strconv.Itoa(rec.Index), strconv.FormatFloat(rec.Start.Seconds(), 'f', 3, 64), rec.Phase, strconv.FormatBool(rec.Warmup),
		FormatFloat(rec.OfferedRPS), FormatFloat(achieved), i64(rec.InFlight),
		i64(c.Sent), i64(c.Succeeded), i64(c.Failed), i64(c.Cancelled), i64(c.CompletedAfterCancel),
		i64(c.TimedOut), i64(c.Dropped), i64(c.Lost), i64(c.Unmatched),
	}
	for mi, m := range Metrics {
		for qi := range rowPercentileNames {
			if m == MetricStatusRTT && qi != 0 && qi != len(rowPercentileNames)-1 {
				continue
			}
			v := ""
			if p.Lat[mi][len(rowPercentiles)-1] > 0 {
				v = i64(p.Lat[mi][qi])
			}
			row = append(row, v)
		}
	}
	r := rec.Resources
	if p.WCPUSec > 0 {
		row = append(row, FormatFloat(r.WorkerCPUPct), i64(r.WorkerRSSBytes), i64(r.WorkerThreads), i64(r.WorkerFDs))
	} else {
		row = append(row, "", "", "", "")
	}
	if p.FCPUSec > 0 {
		row = append(row, FormatFloat(r.FbenchCPUPct), i64(r.FbenchRSSBytes))
	} else {
		row = append(row, "", "")
	}
	row = a.procs.appendRow(row, rec, hists)
	a.csvErr = a.csv.Write(row)
}

// flushCSV flushes intervals.csv and returns the first error writing it.
func (a *aggregator) flushCSV() error {
	if a.csv == nil {
		return nil
	}
	a.csv.Flush()
	if a.csvErr != nil {
		return a.csvErr
	}
	return a.csv.Error()
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// Round3 rounds v to 3 decimals, as the summary's figures are (NaN and infinities: 0).
func Round3(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

// StatsOf computes the figures of h (nil or empty: zero Stats).
func StatsOf(h *hdrhistogram.Histogram) Stats {
	if h == nil || h.TotalCount() == 0 {
		return Stats{}
	}
	v := h.ValueAtPercentilesSlice([]float64{50, 90, 99, 99.9})
	return Stats{
		Count: h.TotalCount(), Min: h.Min(), Mean: Round3(h.Mean()),
		P50: v[0], P90: v[1], P99: v[2], P999: v[3], Max: h.Max(),
	}
}

// SplitTag splits "rtt.fn.echo" into ("rtt", "fn", "echo"); a main metric gives (tag, "", "").
func SplitTag(tag string) (metric, kind, name string) {
	i := strings.IndexByte(tag, '.')
	if i < 0 {
		return tag, "", ""
	}
	metric, rest := tag[:i], tag[i+1:]
	for _, k := range []string{"fn", "status"} {
		if strings.HasPrefix(rest, k+".") {
			return metric, k, rest[len(k)+1:]
		}
	}
	return tag, "", ""
}

// summary computes the Summary of what was fed so far, with meta's descriptive fields.
func (a *aggregator) summary(meta Meta, now time.Time) *Summary {
	s := &Summary{
		Schema:          SummarySchema,
		FbenchVersion:   meta.Version,
		Mode:            meta.Mode,
		StartedAt:       meta.StartedAt,
		EndedAt:         meta.EndedAt,
		GeneratedAt:     now,
		IntervalS:       meta.Interval.Seconds(),
		Intervals:       a.nMeasured,
		WarmupIntervals: a.nWarm,
		DurationS:       Round3(a.measured.Seconds()),
		WarmupS:         Round3(a.warm.Seconds()),
		Counts:          a.counts,
		Latency:         map[string]Stats{},
		Functions:       map[string]map[string]Stats{},
		Statuses:        map[string]Stats{},
		Worker:          meta.Worker,
		Config:          meta.Config,
		Environment:     meta.Environment,
		Phases:          meta.Phases,
		Interrupted:     meta.Interrupted,
		Events:          meta.Events,
		Failures:        meta.Failures,
		WorkerLogs:      meta.WorkerLogs,
		Runs:            meta.Runs,
		Warnings:        []string{},
		SLOs:            []SLOResult{},
		Verdicts:        []Verdict{},
		HTTPMode:        meta.HTTPMode,
		HTTPStatus:      a.httpStatus,
		FailureReasons:  a.failures,
	}
	if s.IntervalS == 0 {
		s.IntervalS = a.interval.Seconds()
	}
	if s.Events == nil {
		s.Events = []Event{}
	}
	if s.Config == nil {
		s.Config = map[string]any{}
	}
	a.fillRates(s)
	a.fillLatencies(s, meta.Worker.Functions)
	a.fillPeaks(s, meta.Harness)
	a.judgeHarness(&s.Harness, s.Latency, meta.Harness.CPUBudgetPct)
	s.Processes = a.procs.summaries(meta.Processes, a.totals, a.counts.Sent)
	mergedValidity(&s.Harness, meta.Runs)
	s.Verdicts = a.verdicts(meta, s)
	s.Warnings = a.warnings(s)
	return s
}

// fillRates sets the offered and achieved rates.
func (a *aggregator) fillRates(s *Summary) {
	// Rates are per second under load: the drain after the last arrival only settles what is in
	// flight, so it adds time to neither rate and its responses to neither count of them.
	if sec := a.loadTime.Seconds(); sec > 0 {
		s.OfferedRPS = Round3(a.expected / sec)
		s.AchievedRPS = Round3(float64(a.loadResp) / sec)
	} else if sec := a.measured.Seconds(); sec > 0 {
		s.OfferedRPS = Round3(a.expected / sec)
		s.AchievedRPS = Round3(float64(a.counts.Responses()) / sec)
	}
}

// fillLatencies sets the figures of every metric, of each function's tags (under the worker's own
// name for the function, from functions) and of rtt by status.
func (a *aggregator) fillLatencies(s *Summary, functions []FunctionInfo) {
	for _, m := range Metrics {
		s.Latency[m] = StatsOf(a.totals[m])
	}
	fnNames := map[string]string{} // sanitized tag name → the worker's own name
	for _, f := range functions {
		if _, ok := fnNames[SanitizeTag(f.Name)]; !ok {
			fnNames[SanitizeTag(f.Name)] = f.Name
		}
	}
	for _, tag := range sortedTags(a.totals) {
		metric, kind, name := SplitTag(tag)
		switch {
		case kind == "fn":
			if orig, ok := fnNames[name]; ok {
				name = orig
			}
			if s.Functions[name] == nil {
				s.Functions[name] = map[string]Stats{}
			}
			s.Functions[name][metric] = StatsOf(a.totals[tag])
		case kind == "status" && metric == MetricRTT:
			s.Statuses[name] = StatsOf(a.totals[tag])
		}
	}
}

// fillPeaks sets the worker's and the harness's peaks, the larger of what the engine recorded and
// what the intervals show, and the harness's footprint and lag budget.
func (a *aggregator) fillPeaks(s *Summary, harness HarnessInfo) {
	w := &s.Worker
	w.PeakCPUPct = Round3(max(w.PeakCPUPct, a.worker.cpu))
	w.PeakRSSBytes = max(w.PeakRSSBytes, int64(a.worker.rss))
	w.PeakThreads = max(w.PeakThreads, int64(a.worker.threads))
	w.PeakFDs = max(w.PeakFDs, int64(a.worker.fds))
	if w.FinalRSSBytes == 0 {
		w.FinalRSSBytes = int64(a.worker.finalRSS)
	}
	h := &s.Harness
	h.HarnessInfo = harness
	h.PeakCPUPct = Round3(max(h.PeakCPUPct, a.harness.cpu))
	h.PeakRSSBytes = max(h.PeakRSSBytes, int64(a.harness.rss))
	h.PeakGoroutines = max(h.PeakGoroutines, int64(a.harness.goroutines))
	if h.FinalRSSBytes == 0 {
		h.FinalRSSBytes = int64(a.harness.finalRSS)
	}
	h.LagBudgetUS = harness.LagBudget.Microseconds()
	a.footprint(h, s.Environment.Cores)
}

// judgeHarness decides whether the harness kept up: its lag within the lag budget and its CPU within
// cpuBudget (percent of a core; 0: none).
func (a *aggregator) judgeHarness(h *HarnessSummary, latency map[string]Stats, cpuBudget float64) {
	// Validity is judged on the lag fbench itself caused (harness_lag) when it was recorded: waits
	// the worker imposed (flow control, a full in-flight cap, restarts) are in lag and rtt, not here.
	h.LagP99US = latency[MetricLag].P99
	judged, what := h.LagP99US, "lag"
	if hl, ok := latency[MetricHarnessLag]; ok && hl.Count > 0 {
		judged, what = hl.P99, "harness_lag"
	}
	h.Valid = true
	if h.LagBudgetUS > 0 && judged > h.LagBudgetUS {
		h.Valid = false
		h.InvalidReason = fmt.Sprintf("%s p99 %s exceeds the lag budget %s: fbench, not the worker, fell behind its schedule, so latencies are not trustworthy",
			what, fmtMicros(judged), fmtMicros(h.LagBudgetUS))
	} else if b := cpuBudget; b > 0 && a.harnessCPUSec > 0 && a.harnessCPU/a.harnessCPUSec > b {
		h.Valid = false
		h.InvalidReason = fmt.Sprintf("fbench used %.0f%% of a core on average, over its CPU budget of %.0f%%: the harness took the machine from the worker, so the worker's figures are not trustworthy",
			a.harnessCPU/a.harnessCPUSec, b)
	}
}

// footprint fills fbench's CPU figures over the measured intervals (sampled at each interval's
// end): its CPU per invocation sent, its mean share of one core and of the machine, and the
// worker's mean share of one core over the same intervals.
func (a *aggregator) footprint(h *HarnessSummary, cores int) {
	if a.harnessCPUSec <= 0 {
		return
	}
	h.MeanCPUPct = Round3(a.harnessCPU / a.harnessCPUSec)
	if cores > 0 {
		h.MachineSharePct = Round3(h.MeanCPUPct / float64(cores))
	}
	if a.harnessSent > 0 {
		// Σ percent × seconds / 100 is CPU seconds.
		h.CPUUsPerInvocation = Round3(a.harnessCPU / 100 * 1e6 / float64(a.harnessSent))
	}
	if a.workerCPUSec > 0 {
		h.WorkerMeanCPUPct = Round3(a.workerCPU / a.workerCPUSec)
	}
}

// heavyHarnessPct is the mean CPU (percent of one core) from which fbench taking more CPU than the
// worker is worth a warning: below it (an idle worker at a few invocations per second) the harness
// cannot weigh on the machine, and the warning would only be noise.
const heavyHarnessPct = 5

func (a *aggregator) warnings(s *Summary) []string {
	w := []string{}
	add := func(format string, args ...any) { w = append(w, fmt.Sprintf(format, args...)) }
	c := s.Counts
	if !s.Harness.Valid {
		add("run invalid: %s", s.Harness.InvalidReason)
	}
	if h := s.Harness; h.WorkerMeanCPUPct > 0 && h.MeanCPUPct > h.WorkerMeanCPUPct && h.MeanCPUPct >= heavyHarnessPct {
		add("fbench took more CPU than the worker it measured (%.1f%% of a core against the worker's %.1f%%, %.1f µs per invocation): the figures are valid, but the harness weighed on the machine the worker ran on",
			h.MeanCPUPct, h.WorkerMeanCPUPct, h.CPUUsPerInvocation)
	}
	if s.Intervals == 0 {
		add("no measured intervals: the summary is empty")
	}
	if s.Interrupted != "" {
		add("run interrupted (%s): the last interval may be partial", s.Interrupted)
	}
	switch {
	case s.Worker.Crashed && s.Worker.Restarts > 0:
		code := "unknown"
		if s.Worker.ExitCode != nil {
			code = strconv.Itoa(*s.Worker.ExitCode)
		}
		add("worker crashed or ended its stream mid-run and was restarted %d time(s) (how each ended is in the events); the last one's exit code at the end: %s", s.Worker.Restarts, code)
	case s.Worker.Crashed:
		code := "unknown"
		if s.Worker.ExitCode != nil {
			code = strconv.Itoa(*s.Worker.ExitCode)
		}
		add("worker crashed or ended its stream mid-run (exit code %s)", code)
	case s.Worker.KilledByFbench && s.Worker.TerminateSent:
		add("worker did not exit on WorkerTerminate within its grace: fbench killed it")
	case s.Worker.KilledByFbench && s.Worker.TerminateFailed:
		add("worker's stream could no longer take WorkerTerminate: fbench killed it")
	case s.Worker.ExitCode != nil && *s.Worker.ExitCode != 0:
		add("worker exited with an error at the end (exit code %d, restarts %d)", *s.Worker.ExitCode, s.Worker.Restarts)
	case s.Worker.Restarts > 0:
		add("worker restarted %d time(s)", s.Worker.Restarts)
	}
	if s.Mode != "closed" && s.OfferedRPS > 0 && s.AchievedRPS < 0.95*s.OfferedRPS {
		add("achieved rate %.1f rps is %.1f%% below the offered %.1f rps", s.AchievedRPS, 100*(1-s.AchievedRPS/s.OfferedRPS), s.OfferedRPS)
	}
	for _, x := range []struct {
		n    int64
		what string
	}{
		{c.Lost, "invocations were never answered (in flight when the run or the worker ended)"},
		{c.Unsent, "arrivals were due but never sent: the worker's stream would not take them"},
		{c.TimedOut, "invocations timed out"},
		{c.Dropped, "arrivals were dropped at the in-flight limit"},
		{c.Unmatched, "responses carried an unknown invocation id"},
		{c.Duplicate, "duplicate responses for already settled invocations"},
		{c.LateResponses, "responses arrived after their invocation had timed out"},
		{c.LogsDropped, "worker log lines were not written (the log writer could not keep up)"},
		{c.UnknownMessages, "messages of a type a worker should not send"},
	} {
		if x.n > 0 {
			add("%d %s", x.n, x.what)
		}
	}
	if c.StatusSent > 0 && c.StatusAnswered < c.StatusSent {
		add("%d of %d worker status requests were not answered", c.StatusSent-c.StatusAnswered, c.StatusSent)
	}
	if l := s.WorkerLogs; l != nil && l.AfterSettle > 0 {
		add("%d worker logs named an invocation that had already settled (the host drops such logs)", l.AfterSettle)
	}
	for _, tag := range sortedTags(a.dropped) {
		add("%s: %d values outside the histogram range (1 µs to 10 min) were dropped", tag, a.dropped[tag])
	}
	if a.emptyTags > 0 {
		add("%d histograms without a tag were ignored", a.emptyTags)
	}
	return w
}

// spectrum is the percentile distribution of each main metric with data.
func (a *aggregator) spectrum() []metricSpectrum {
	var out []metricSpectrum
	for _, m := range Metrics {
		if h := a.totals[m]; h != nil && h.TotalCount() > 0 {
			out = append(out, metricSpectrum{Metric: m, Brackets: h.CumulativeDistributionWithTicks(spectrumTicks)})
		}
	}
	return out
}

type metricSpectrum struct {
	Metric   string
	Brackets []hdrhistogram.Bracket
}

// writePercentilesCSV writes the spectra as metric,value_us,percentile,total_count,one_over_one_minus_p.
// percentile is a fraction (0.99 = 99%), as in HdrHistogram's percentile output.
func writePercentilesCSV(w io.Writer, spectra []metricSpectrum) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"metric", "value_us", "percentile", "total_count", "one_over_one_minus_p"}); err != nil {
		return err
	}
	for _, sp := range spectra {
		for _, b := range sp.Brackets {
			p := b.Quantile / 100
			inv := "inf"
			if p < 1 {
				inv = strconv.FormatFloat(1/(1-p), 'f', 2, 64)
			}
			if err := cw.Write([]string{sp.Metric, i64(b.ValueAt), strconv.FormatFloat(p, 'f', -1, 64), i64(b.Count), inv}); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// fmtMicros formats a µs value for people: 850µs, 12.345ms, 1.234s.
func fmtMicros(us int64) string {
	switch {
	case us < 1000:
		return strconv.FormatInt(us, 10) + "µs"
	case us < 1000_000:
		return strconv.FormatFloat(float64(us)/1000, 'f', -1, 64) + "ms"
	default:
		return strconv.FormatFloat(Round3(float64(us)/1e6), 'f', -1, 64) + "s"
	}
}

// FormatMicros formats a possibly fractional number of µs for people, as fmtMicros does whole ones:
// 850µs, 1.5µs, 12.345ms, 1.234s.
func FormatMicros(us float64) string {
	switch {
	case us < 1000:
		return FormatFloat(us) + "µs"
	case us < 1e6:
		return strconv.FormatFloat(us/1000, 'f', -1, 64) + "ms"
	default:
		return FormatFloat(us/1e6) + "s"
	}
}

package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"us": fmtMicrosHTML,
	"meanus": func(v float64) string {
		switch {
		case v == 0:
			return "–"
		case v < 1000:
			return strconv.FormatFloat(v, 'f', 1, 64) + "µs"
		}
		return fmtMicros(int64(math.Round(v)))
	},
	"num":   fmtInt,
	"secs":  func(d time.Duration) string { return fmtSeconds(Round3(d.Seconds())) },
	"float": func(v float64) string { return FormatFloat(v) },
	"bytes": func(v int64) string {
		if v == 0 {
			return "–"
		}
		return fmtBytes(float64(v))
	},
	"pct": func(v float64) string {
		if v == 0 {
			return "–"
		}
		return FormatFloat(v) + "%"
	},
}).Parse(reportTemplateText))

// htmlData is what report.html.tmpl renders.
type htmlData struct {
	Title        string
	S            *Summary
	Generated    string
	Started      string
	Headline     []kv
	Counts       []kv
	Latency      []latencyRow
	Functions    []functionRow
	Statuses     []latencyRow
	Charts       []*chart
	NoData       string
	Config       []kv
	Environment  []kv
	Worker       []kv
	Capabilities []kv
	Loaded       []FunctionInfo
	Events       []eventRow
	StderrTail   string
	Phases       []phaseRow
	Processes    []processRow // several worker processes
	Runs         []runRow     // a merged run's machines
}

type kv struct {
	K, V  string
	Class string
}

type latencyRow struct {
	Name string
	St   Stats
}

type functionRow struct {
	Name   string
	Metric string
	St     Stats
}

type eventRow struct{ At, Kind, Detail string }

type phaseRow struct{ Name, Start, End string }

func fmtMicrosHTML(us int64) string {
	if us == 0 {
		return "–"
	}
	return fmtMicros(us)
}

// fmtInt formats n with thin thousands separators.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// renderHTML writes report.html: one self-contained page, no script, no external resource.
func renderHTML(w io.Writer, s *Summary, meta Meta, agg *aggregator, spectra []metricSpectrum) error {
	d := htmlData{
		Title:     "fbench report",
		S:         s,
		Generated: s.GeneratedAt.UTC().Format(time.RFC3339),
	}
	if !s.StartedAt.IsZero() {
		d.Started = s.StartedAt.UTC().Format("2006-01-02 15:04:05 MST")
		d.Title = "fbench report – " + d.Started
	}
	d.Headline = headlineRows(s)
	d.Counts = countRows(s)
	d.Latency, d.Functions, d.Statuses = latencyTables(s)
	d.Processes = processRows(s)
	d.Charts = buildCharts(s, meta, agg, spectra)
	if c := spreadChart(s); c != nil {
		d.Charts = append([]*chart{c}, d.Charts...)
		d.Runs = runRows(s)
	}
	if len(agg.points) == 0 {
		d.NoData = "No interval was recorded: there is nothing to chart."
	}
	d.Config = flattenConfig(s.Config)
	d.Environment = environmentRows(s.Environment)
	wk := s.Worker
	d.Worker = workerRows(wk)
	for _, k := range sortedKeys(wk.Capabilities) {
		d.Capabilities = append(d.Capabilities, kv{K: k, V: wk.Capabilities[k]})
	}
	d.Loaded = wk.Functions
	d.Events, d.Phases = timelineRows(s)
	d.StderrTail = strings.Join(wk.StderrTail, "\n")
	return reportTemplate.Execute(w, d)
}

// headlineRows are the figures at the top of the page: rates, rtt percentiles, error rate, measured time.
func headlineRows(s *Summary) []kv {
	c := s.Counts
	errRate := "–"
	if c.Settled() > 0 {
		bad := c.Failed + c.TimedOut + c.Dropped + c.Lost + c.Unsent
		errRate = FormatFloat(100*float64(bad)/float64(c.Settled())) + "%"
	}
	rtt := s.Latency[MetricRTT]
	rows := []kv{
		{K: "Offered", V: FormatFloat(s.OfferedRPS) + " rps"},
		{K: "Achieved", V: FormatFloat(s.AchievedRPS) + " rps"},
		{K: "RTT p50", V: fmtMicrosHTML(rtt.P50)},
		{K: "RTT p99", V: fmtMicrosHTML(rtt.P99)},
		{K: "RTT p99.9", V: fmtMicrosHTML(rtt.P999)},
		{K: "RTT max", V: fmtMicrosHTML(rtt.Max)},
		{K: "Errors", V: errRate},
		{K: "Measured", V: fmtSeconds(s.DurationS)},
	}
	if !s.Harness.Valid {
		rows = append(rows, kv{K: "Harness", V: "INVALID", Class: "bad"})
	}
	return rows
}

// countRows is the counts table: durations, rates, every outcome count, HTTP statuses and failure reasons.
func countRows(s *Summary) []kv {
	c := s.Counts
	rows := []kv{
		{K: "mode", V: s.Mode},
		{K: "measured duration", V: FormatFloat(s.DurationS) + " s (" + strconv.Itoa(s.Intervals) + " intervals)"},
		{K: "warm-up (excluded)", V: FormatFloat(s.WarmupS) + " s (" + strconv.Itoa(s.WarmupIntervals) + " intervals), " +
			fmtInt(c.WarmupSettled) + " warm-up invocations settled after it"},
		{K: "offered rate", V: FormatFloat(s.OfferedRPS) + " rps"},
		{K: "achieved rate", V: FormatFloat(s.AchievedRPS) + " rps"},
		{K: "due", V: fmtInt(c.Due)},
		{K: "sent", V: fmtInt(c.Sent)},
		{K: "succeeded", V: fmtInt(c.Succeeded)},
		{K: "failed", V: fmtInt(c.Failed), Class: warnIf(c.Failed)},
		{K: "cancels sent", V: fmtInt(c.CancelSent) + " (" + fmtInt(c.CancelSkipped) + " drawn but not sent: already settled)"},
		{K: "cancelled", V: fmtInt(c.Cancelled)},
		{K: "completed after cancel", V: fmtInt(c.CompletedAfterCancel)},
		{K: "timed out", V: fmtInt(c.TimedOut), Class: warnIf(c.TimedOut)},
		{K: "dropped", V: fmtInt(c.Dropped), Class: warnIf(c.Dropped)},
		{K: "lost", V: fmtInt(c.Lost), Class: warnIf(c.Lost)},
		{K: "unsent (the stream would not take them)", V: fmtInt(c.Unsent), Class: warnIf(c.Unsent)},
		{K: "unmatched", V: fmtInt(c.Unmatched), Class: warnIf(c.Unmatched)},
		{K: "duplicate", V: fmtInt(c.Duplicate), Class: warnIf(c.Duplicate)},
		{K: "late responses", V: fmtInt(c.LateResponses), Class: warnIf(c.LateResponses)},
		{K: "status requests answered", V: fmtInt(c.StatusAnswered) + " / " + fmtInt(c.StatusSent)},
		{K: "worker log lines", V: fmtInt(c.Logs) + " (" + fmtInt(c.LogsDropped) + " dropped)"},
	}
	if s.HTTPMode != "" {
		rows = append(rows, kv{K: "HTTP functions", V: httpModeText(s.HTTPMode)},
			kv{K: "HTTP statuses by class", V: fmt.Sprintf("1xx %s · 2xx %s · 3xx %s · 4xx %s · 5xx %s", fmtInt(c.HTTP1xx),
				fmtInt(c.HTTP2xx), fmtInt(c.HTTP3xx), fmtInt(c.HTTP4xx), fmtInt(c.HTTP5xx)), Class: warnIf(c.HTTP5xx)})
		for _, l := range statusLines(s.HTTPStatus) {
			rows = append(rows, kv{K: "HTTP statuses", V: l})
		}
		if s.HTTPMode == "proxy" {
			rows = append(rows, kv{K: "HTTP response bytes", V: fmtInt(c.HTTPResponseBytes)})
		}
	}
	for _, l := range reasonLines(s.FailureReasons) {
		rows = append(rows, kv{K: "failure reason", V: l, Class: "warn"})
	}
	return rows
}

// latencyTables are the latency tables' rows: every metric, each function's tags, each status's rtt.
func latencyTables(s *Summary) (latency []latencyRow, functions []functionRow, statuses []latencyRow) {
	for _, m := range Metrics {
		latency = append(latency, latencyRow{Name: m, St: s.Latency[m]})
	}
	for _, fn := range sortedKeys(s.Functions) {
		for _, m := range sortedTags(s.Functions[fn]) {
			functions = append(functions, functionRow{Name: fn, Metric: m, St: s.Functions[fn][m]})
		}
	}
	for _, st := range sortedKeys(s.Statuses) {
		statuses = append(statuses, latencyRow{Name: st, St: s.Statuses[st]})
	}
	return latency, functions, statuses
}

// environmentRows describe the machine the run measured on.
func environmentRows(e Environment) []kv {
	return []kv{
		{K: "CPU", V: e.CPUModel}, {K: "cores", V: strconv.Itoa(e.Cores)}, {K: "GOMAXPROCS", V: strconv.Itoa(e.GOMAXPROCS)},
		{K: "OS", V: e.OS}, {K: "kernel", V: e.Kernel}, {K: "Go", V: e.GoVersion}, {K: "fbench", V: e.Fbench}, {K: "host", V: e.Hostname},
	}
}

// workerRows describe the worker: its command, exit, restarts and footprint.
func workerRows(wk WorkerInfo) []kv {
	exit := "running or unknown"
	if wk.ExitCode != nil {
		exit = strconv.Itoa(*wk.ExitCode)
	}
	return []kv{
		{K: "command", V: strings.Join(wk.Command, " ")},
		{K: "pid", V: strconv.Itoa(wk.Pid)},
		{K: "exit code", V: exit, Class: classIf(wk.ExitCode != nil && *wk.ExitCode != 0, "bad")},
		{K: "restarts", V: strconv.Itoa(wk.Restarts), Class: classIf(wk.Restarts > 0, "warn")},
		{K: "crashed", V: strconv.FormatBool(wk.Crashed), Class: classIf(wk.Crashed, "bad")},
		{K: "peak CPU", V: pctOrDash(wk.PeakCPUPct)},
		{K: "peak RSS", V: bytesOrDash(wk.PeakRSSBytes)},
		{K: "final RSS", V: bytesOrDash(wk.FinalRSSBytes)},
		{K: "peak threads", V: countOrDash(wk.PeakThreads)},
		{K: "peak FDs", V: countOrDash(wk.PeakFDs)},
	}
}

// timelineRows are the run's events and phases with their times since start.
func timelineRows(s *Summary) (events []eventRow, phases []phaseRow) {
	for _, ev := range s.Events {
		events = append(events, eventRow{At: fmtSeconds(Round3(ev.At.Seconds())), Kind: ev.Kind, Detail: ev.Detail})
	}
	for _, p := range s.Phases {
		phases = append(phases, phaseRow{Name: p.Name, Start: fmtSeconds(Round3(p.Start.Seconds())), End: fmtSeconds(Round3(p.End.Seconds()))})
	}
	return events, phases
}

func warnIf(n int64) string { return classIf(n > 0, "warn") }

func classIf(cond bool, class string) string {
	if cond {
		return class
	}
	return ""
}

func pctOrDash(v float64) string {
	if v == 0 {
		return "–"
	}
	return FormatFloat(v) + "%"
}

func bytesOrDash(v int64) string {
	if v == 0 {
		return "–"
	}
	return fmtBytes(float64(v))
}

func countOrDash(v int64) string {
	if v == 0 {
		return "–"
	}
	return fmtInt(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// flattenConfig lists a configuration as dotted keys: nested objects are flattened, other values
// shown as JSON.
func flattenConfig(cfg map[string]any) []kv {
	var out []kv
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for _, k := range sortedKeys(m) {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, m[k])
			}
			return
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		default:
			b, err := json.Marshal(x)
			if err != nil {
				s = fmt.Sprint(x)
			} else {
				s = string(b)
			}
		}
		out = append(out, kv{K: prefix, V: s})
	}
	for _, k := range sortedKeys(cfg) {
		walk(k, cfg[k])
	}
	return out
}

// Series colours.
const (
	colBlue   = "#2563eb"
	colGreen  = "#059669"
	colAmber  = "#d97706"
	colRed    = "#dc2626"
	colPurple = "#7c3aed"
	colCyan   = "#0891b2"
	colPink   = "#db2777"
	colLime   = "#65a30d"
	colSlate  = "#64748b"
)

var percentileColors = []string{colBlue, colGreen, colAmber, colRed, colPurple}
var percentileLabels = []string{"p50", "p90", "p99", "p99.9", "max"}
var metricColors = map[string]string{
	MetricRTT: colBlue, MetricService: colGreen, MetricLag: colAmber, MetricCancelSettle: colCyan, MetricStatusRTT: colPurple,
}

// buildCharts makes every chart that has something to draw.
func buildCharts(s *Summary, meta Meta, agg *aggregator, spectra []metricSpectrum) []*chart {
	var charts []*chart
	if len(agg.points) > 0 {
		tc := newTimeCharts(s, agg)
		charts = append(charts, tc.latencyCharts()...)
		charts = append(charts, tc.throughputChart(), tc.inflightChart(), tc.outcomesChart())
		charts = append(charts, tc.resourceCharts()...)
	}

	if len(spectra) > 0 {
		charts = append(charts, spectrumChart(spectra))
	}
	if c := s.Counts; c.CancelSent > 0 || c.Cancelled > 0 || c.CompletedAfterCancel > 0 {
		charts = append(charts, cancelChart(c))
	}
	// Lay out the charts in report order: latency, rates, spectrum, outcomes, resources.
	order := []string{"latency", "spectrum", "throughput", "inflight", "errors", "cancels", "latency-service", "latency-lag", "latency-harness-lag", "cpu", "memory", "handles"}
	sort.SliceStable(charts, func(i, j int) bool { return indexOf(order, charts[i].Name) < indexOf(order, charts[j].Name) })
	return charts
}

// timeCharts draws the charts over time since start: one point per aggregated interval.
type timeCharts struct {
	s      *Summary
	agg    *aggregator
	pts    []point
	xs     []float64 // each point's middle, in seconds since start
	t0, t1 float64
	note   string
}

func newTimeCharts(s *Summary, agg *aggregator) *timeCharts {
	pts := agg.points
	tc := &timeCharts{s: s, agg: agg, pts: pts, t0: agg.start.Seconds(), t1: agg.end.Seconds()}
	tc.xs = make([]float64, len(pts))
	for i, p := range pts {
		tc.xs[i] = (p.Start + p.End).Seconds() / 2
	}
	if agg.perPoint > 1 {
		tc.note = fmt.Sprintf("Each point covers %d intervals: latencies and in-flight show the highest value among them, rates their mean.", agg.perPoint)
	}
	return tc
}

// newChart starts a chart over the run's time axis.
func (tc *timeCharts) newChart(name, title, ylabel string) *chart {
	c := newChart(name, title)
	c.YLabel = ylabel
	c.XLabel = "time since start"
	c.Note = tc.note
	c.setX(tc.t0, tc.t1, timeTicks(tc.t0, tc.t1, 8), fmtSeconds)
	return c
}

// decorate shades the warm-up spans and marks the run's events.
func (tc *timeCharts) decorate(c *chart) {
	for _, sp := range tc.agg.warmSpans {
		c.shadeX(sp.Start.Seconds(), sp.End.Seconds(), "warm-up")
	}
	for _, ev := range tc.s.Events {
		col := colSlate
		switch ev.Kind {
		case "worker_exit", "stream_broken":
			col = colRed
		case "worker_restart":
			col = colAmber
		}
		c.markX(ev.At.Seconds(), col, ev.Kind, ev.Kind+" at "+fmtSeconds(Round3(ev.At.Seconds()))+": "+ev.Detail)
	}
}

// lat is metric mi's percentile qi at every point.
func (tc *timeCharts) lat(mi, qi int) []float64 {
	out := make([]float64, len(tc.pts))
	for i, p := range tc.pts {
		out[i] = float64(p.Lat[mi][qi])
	}
	return out
}

// latRange is the smallest and largest recorded latency of the metrics mis; hi is 0 when none was.
func (tc *timeCharts) latRange(mis ...int) (lo, hi float64) {
	lo = math.Inf(1)
	for _, mi := range mis {
		for _, p := range tc.pts {
			for _, v := range p.Lat[mi] {
				if v > 0 {
					lo, hi = min(lo, float64(v)), max(hi, float64(v))
				}
			}
		}
	}
	return lo, hi
}

// rate is f per second at every point.
func (tc *timeCharts) rate(f func(p point) float64) []float64 {
	out := make([]float64, len(tc.pts))
	for i, p := range tc.pts {
		if p.Seconds > 0 {
			out[i] = f(p) / p.Seconds
		}
	}
	return out
}

// maxOf is the largest value in vs, NaNs skipped; 0 when there is none above it.
func maxOf(vs ...[]float64) float64 {
	m := 0.0
	for _, v := range vs {
		for _, x := range v {
			if !math.IsNaN(x) {
				m = max(m, x)
			}
		}
	}
	return m
}

// latencyCharts are the latency percentiles over time, one chart per main metric that has data (rtt first).
func (tc *timeCharts) latencyCharts() []*chart {
	var charts []*chart
	budget := tc.s.Harness.LagBudgetUS
	for mi, m := range Metrics {
		if m == MetricStatusRTT || m == MetricCancelSettle {
			continue
		}
		lo, hi := tc.latRange(mi)
		if hi == 0 {
			continue
		}
		name, title := "latency", "Round-trip latency (rtt: response − intended send) over time"
		switch m {
		case MetricService:
			name, title = "latency-service", "Service time (response − actual send) over time"
		case MetricLag:
			name, title = "latency-lag", "Send lag (actual send − intended send: the harness's delays and the worker's back-pressure) over time"
		case MetricHarnessLag:
			name, title = "latency-harness-lag", "Harness lag (actual send − the later of intended send and the end of the worker's last hold-up) over time"
		}
		c := tc.newChart(name, title, "latency (log)")
		if (m == MetricLag || m == MetricHarnessLag) && budget > 0 {
			hi = max(hi, float64(budget))
		}
		c.setYLog(lo, hi, fmtLatencyTick)
		tc.decorate(c)
		for qi := range rowPercentiles {
			c.line(percentileLabels[qi], percentileColors[qi], "", tc.xs, tc.lat(mi, qi))
		}
		if (m == MetricLag || m == MetricHarnessLag) && budget > 0 {
			// The budget is judged on harness_lag; on lag it shows what back-pressure added.
			c.refY(float64(budget), colRed, "lag budget "+fmtMicros(budget))
		}
		charts = append(charts, c)
	}
	return charts
}

// throughputChart is the offered vs achieved rate.
func (tc *timeCharts) throughputChart() *chart {
	c := tc.newChart("throughput", "Offered vs achieved rate", "invocations/s")
	offered := tc.rate(func(p point) float64 { return p.Expected })
	achieved := tc.rate(func(p point) float64 { return float64(p.Responses) })
	sent := tc.rate(func(p point) float64 { return float64(p.Sent) })
	c.setYLinear(maxOf(offered, achieved, sent), fmtCount)
	tc.decorate(c)
	if maxOf(offered) > 0 {
		c.line("offered", colSlate, "6 4", tc.xs, offered)
	}
	c.line("sent", colAmber, "2 3", tc.xs, sent)
	c.line("achieved (responses)", colBlue, "", tc.xs, achieved)
	return c
}

// inflightChart is the invocations in flight at each interval's end.
func (tc *timeCharts) inflightChart() *chart {
	c := tc.newChart("inflight", "Invocations in flight (at interval end)", "in flight")
	v := make([]float64, len(tc.pts))
	for i, p := range tc.pts {
		v[i] = float64(p.InFlight)
	}
	c.setYLinear(maxOf(v), fmtCount)
	tc.decorate(c)
	c.line("in flight", colPurple, "", tc.xs, v)
	return c
}

// outcomeSeries is one line of the errors chart: an outcome counted at each point.
type outcomeSeries struct {
	name, color string
	f           func(p point) int64
}

// outcomesChart is the errors, cancels and other outcomes per second, the outcomes that happened.
func (tc *timeCharts) outcomesChart() *chart {
	c := tc.newChart("errors", "Errors, cancels and other outcomes per second", "per second")
	all := []outcomeSeries{
		{"failed", colRed, func(p point) int64 { return p.Failed }},
		{"timed out", colAmber, func(p point) int64 { return p.TimedOut }},
		{"dropped", colPurple, func(p point) int64 { return p.Dropped }},
		{"lost", colPink, func(p point) int64 { return p.Lost }},
		{"unmatched", colSlate, func(p point) int64 { return p.Unmatched }},
		{"cancels sent", colCyan, func(p point) int64 { return p.CancelSent }},
		{"cancelled", colBlue, func(p point) int64 { return p.Cancelled }},
		{"completed after cancel", colLime, func(p point) int64 { return p.CAE }},
	}
	var vals [][]float64
	var used []outcomeSeries
	for _, sr := range all {
		var tot int64
		for _, p := range tc.pts {
			tot += sr.f(p)
		}
		if tot > 0 {
			used = append(used, sr)
			vals = append(vals, tc.rate(func(p point) float64 { return float64(sr.f(p)) }))
		}
	}
	if len(used) == 0 {
		used = all[:1]
		vals = append(vals, make([]float64, len(tc.pts)))
		c.Note = strings.TrimSpace("No failures, timeouts, drops, losses or cancels. " + c.Note)
	}
	c.setYLinear(maxOf(vals...), fmtCount)
	tc.decorate(c)
	for i, sr := range used {
		c.line(sr.name, sr.color, "", tc.xs, vals[i])
	}
	return c
}

// resourceSeries are the worker's and fbench's footprint at each point; NaN where none was sampled.
type resourceSeries struct {
	wCPU, fCPU, wRSS, fRSS, wThr, wFDs []float64
	haveW, haveF                       bool
}

func (tc *timeCharts) resources() resourceSeries {
	var r resourceSeries
	for _, p := range tc.pts {
		nan := math.NaN()
		a, b, r1, r2, th, fd := nan, nan, nan, nan, nan, nan
		if p.WCPUSec > 0 {
			a, r1, th, fd, r.haveW = p.WCPU/p.WCPUSec, float64(p.WRSS), float64(p.WThr), float64(p.WFDs), true
		}
		if p.FCPUSec > 0 {
			b, r2, r.haveF = p.FCPU/p.FCPUSec, float64(p.FRSS), true
		}
		r.wCPU, r.fCPU, r.wRSS, r.fRSS = append(r.wCPU, a), append(r.fCPU, b), append(r.wRSS, r1), append(r.fRSS, r2)
		r.wThr, r.wFDs = append(r.wThr, th), append(r.wFDs, fd)
	}
	return r
}

// footprintLines decorates c and draws the worker's and fbench's series, those that were sampled,
// then each worker process's (its CPU when cpu, else its RSS).
func (tc *timeCharts) footprintLines(c *chart, r resourceSeries, worker, fbench []float64, cpu bool) {
	tc.decorate(c)
	if r.haveW {
		c.line("worker", colBlue, "", tc.xs, worker)
	}
	if r.haveF {
		c.line("fbench", colAmber, "", tc.xs, fbench)
	}
	processLines(c, tc.pts, tc.xs, cpu)
}

// resourceCharts are CPU, memory and the worker's threads and file descriptors, those that were sampled.
func (tc *timeCharts) resourceCharts() []*chart {
	var charts []*chart
	r := tc.resources()
	xs := tc.xs
	if r.haveW || r.haveF {
		c := tc.newChart("cpu", "CPU use (% of one core)", "CPU %")
		c.setYLinear(maxOf(r.wCPU, r.fCPU), fmtPctTick)
		tc.footprintLines(c, r, r.wCPU, r.fCPU, true)
		charts = append(charts, c)

		c = tc.newChart("memory", "Resident memory (RSS)", "RSS")
		c.setYLinearBytes(maxOf(r.wRSS, r.fRSS))
		tc.footprintLines(c, r, r.wRSS, r.fRSS, false)
		charts = append(charts, c)
	}
	if r.haveW && maxOf(r.wThr, r.wFDs) > 0 {
		c := tc.newChart("handles", "Worker threads and open file descriptors", "count")
		c.setYLinear(maxOf(r.wThr, r.wFDs), fmtCount)
		tc.decorate(c)
		c.line("threads", colGreen, "", xs, r.wThr)
		c.line("file descriptors", colPurple, "", xs, r.wFDs)
		charts = append(charts, c)
	}
	return charts
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return len(list)
}

// spectrumChart plots each metric's value against 1/(1−p) on log scales, as HdrHistogram plots do.
func spectrumChart(spectra []metricSpectrum) *chart {
	c := newChart("spectrum", "Latency by percentile (measured run)")
	c.XLabel = "percentile"
	c.YLabel = "latency (log)"
	maxInv := 1000.0 // at least to 99.9%
	lo, hi := math.Inf(1), 0.0
	for _, sp := range spectra {
		for _, b := range sp.Brackets {
			if b.Quantile < 100 {
				maxInv = max(maxInv, 1/(1-b.Quantile/100))
			}
			if b.ValueAt > 0 {
				lo, hi = min(lo, float64(b.ValueAt)), max(hi, float64(b.ValueAt))
			}
		}
	}
	decades := math.Ceil(math.Log10(maxInv) - 1e-9)
	var ticks []float64
	for d := 0.0; d <= decades; d++ {
		ticks = append(ticks, d)
	}
	c.setX(0, decades, ticks, func(d float64) string {
		if d == 0 {
			return "0%"
		}
		return strconv.FormatFloat(100-100*math.Pow(10, -d), 'f', int(max(0, d-2)), 64) + "%"
	})
	c.setYLog(lo, hi, fmtLatencyTick)
	for _, sp := range spectra {
		var xs, ys []float64
		for _, b := range sp.Brackets {
			x := decades // 100% (the max) sits at the right edge
			if b.Quantile < 100 {
				x = math.Log10(1 / (1 - b.Quantile/100))
			}
			xs, ys = append(xs, x), append(ys, float64(b.ValueAt))
		}
		c.line(sp.Metric, metricColors[sp.Metric], "", xs, ys)
	}
	c.Note = "x: percentile on a 1/(1−p) log scale (the last point of each line is the maximum)."
	return c
}

// cancelChart shows what became of the cancels fbench sent, as horizontal bars.
func cancelChart(cn Counts) *chart {
	c := newChart("cancels", "Cancel outcomes (measured run)")
	other := max(0, cn.CancelSent-cn.Cancelled-cn.CompletedAfterCancel)
	bars := []struct {
		name  string
		v     int64
		color string
	}{
		{"cancels sent", cn.CancelSent, colSlate},
		{"acknowledged (cancelled)", cn.Cancelled, colBlue},
		{"completed anyway", cn.CompletedAfterCancel, colLime},
		{"failed, timed out or lost", other, colRed},
	}
	c.H = 44 + 34*len(bars)
	c.place(190, chartTop, chartW-190-100, float64(c.H)-chartTop-28)
	var top int64 = 1
	for _, b := range bars {
		top = max(top, b.v)
	}
	step := niceStep(float64(top) / 5)
	end := math.Ceil(float64(top)/step) * step
	var ticks []float64
	for v := 0.0; v <= end*1.0000001; v += step {
		ticks = append(ticks, v)
	}
	c.setX(0, end, ticks, fmtCount)
	c.Legend = false
	bh := c.ph / float64(len(bars))
	for i, b := range bars {
		y := c.py + float64(i)*bh + bh*0.18
		w := c.xs.at(float64(b.v)) - c.px
		if w < 1 {
			w = 1 // keep a visible sliver for zero
		}
		d := fmt.Sprintf("M%s,%sh%sv%sh-%sZ", f1(c.px), f1(y), f1(w), f1(bh*0.64), f1(w))
		c.Series = append(c.Series, series{Name: b.name, Color: b.color, D: d, Fill: true})
		c.Labels = append(c.Labels,
			label{X: f1(c.px - 8), Y: f1(y + bh*0.32 + 4), Anchor: "end", Text: b.name},
			label{X: f1(c.px + w + 6), Y: f1(y + bh*0.32 + 4), Anchor: "start", Text: fmtInt(b.v)})
	}
	return c
}

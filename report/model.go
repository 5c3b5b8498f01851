package report

import (
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// SummarySchema identifies the layout of summary.json.
const SummarySchema = "fbench.summary/v1"

// Histogram range: every latency is recorded in microseconds, from 1 µs to 10 minutes, with 3
// significant digits.
const (
	HistLowest  = 1
	HistHighest = int64(10 * time.Minute / time.Microsecond)
	HistSigFigs = 3
)

// NewHistogram returns an empty latency histogram with fbench's range and precision (values in µs).
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistLowest, HistHighest, HistSigFigs)
}

// Metric names: the tags of latency.hlog and the keys of summary.json's "latency".
const (
	MetricRTT          = "rtt"           // response − intended send time (the headline; no coordinated omission)
	MetricService      = "service"       // response − actual send time
	MetricLag          = "lag"           // actual send − intended send time (what the harness delayed)
	MetricCancelSettle = "cancel_settle" // settling response − InvocationCancel sent
	MetricStatusRTT    = "status_rtt"    // WorkerStatusResponse − WorkerStatusRequest
	// MetricHarnessLag is the part of lag fbench itself caused: actual send − the later of the
	// intended time and the end of the last wait the worker imposed (a Send blocked by flow control,
	// a full --max-inflight queue, a worker restart). The harness's validity is judged on it.
	MetricHarnessLag = "harness_lag"
	// HTTP proxying mode (a worker with HttpUri): the forwarded request's response, from the
	// invocation's intended send time to its head (status line and headers) read, and to its last byte.
	MetricHTTPTTFB  = "http_ttfb"
	MetricHTTPTotal = "http_total"
)

// Metrics lists the main metrics in report order.
var Metrics = []string{MetricRTT, MetricService, MetricLag, MetricCancelSettle, MetricStatusRTT, MetricHarnessLag, MetricHTTPTTFB, MetricHTTPTotal}

// FunctionTag is the hlog tag of a metric restricted to one function, e.g. "rtt.fn.echo".
func FunctionTag(metric, function string) string { return metric + ".fn." + SanitizeTag(function) }

// StatusTag is the hlog tag of a metric restricted to one outcome, e.g. "rtt.status.failed".
func StatusTag(metric, status string) string { return metric + ".status." + SanitizeTag(status) }

// SanitizeTag keeps a tag within what HdrHistogram log readers accept: no commas, spaces or '='.
func SanitizeTag(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ',' || c == '=' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			b[i] = '_'
		}
	}
	return string(b)
}

// PhaseDrain is the phase of intervals after the last arrival, while in-flight invocations settle.
const PhaseDrain = "drain"

// Counts are what happened to invocations within an interval or a whole run. Every invocation that
// was due ends in exactly one of Succeeded, Failed, Cancelled, CompletedAfterCancel, TimedOut,
// Dropped, Unsent or Lost (in flight when the run ended, or when the worker died); the rest are still in flight.
type Counts struct {
	Due                  int64 `json:"due"`                    // arrivals the schedule made due
	Sent                 int64 `json:"sent"`                   // InvocationRequests written to the stream
	Succeeded            int64 `json:"succeeded"`              // status Success (no cancel sent)
	Failed               int64 `json:"failed"`                 // status Failure (with or without a cancel)
	CancelSent           int64 `json:"cancel_sent"`            // InvocationCancels written
	CancelSkipped        int64 `json:"cancel_skipped"`         // cancels drawn (--cancel-ratio) but not sent: the invocation had settled first
	Cancelled            int64 `json:"cancelled"`              // status Cancelled
	CompletedAfterCancel int64 `json:"completed_after_cancel"` // status Success although a cancel was sent
	TimedOut             int64 `json:"timed_out"`              // no response within --timeout
	Dropped              int64 `json:"dropped"`                // not sent: --max-inflight reached with --on-full drop
	Lost                 int64 `json:"lost"`                   // never answered: in flight when the run or the worker ended
	Unsent               int64 `json:"unsent"`                 // due but never sent: the stream would not take them (a Send held by flow control) before the run ended
	Unmatched            int64 `json:"unmatched"`              // responses with an unknown invocation id
	Duplicate            int64 `json:"duplicate"`              // second responses for an already settled id
	LateResponses        int64 `json:"late_responses"`         // responses for an invocation already timed out
	StatusSent           int64 `json:"status_sent"`            // WorkerStatusRequests written
	StatusAnswered       int64 `json:"status_answered"`        // WorkerStatusResponses matched
	Logs                 int64 `json:"logs"`                   // RpcLog messages received
	LogsDropped          int64 `json:"logs_dropped"`           // RpcLog lines not written to the worker log (it could not keep up)
	EmptyMessages        int64 `json:"empty_messages"`         // StreamingMessages with no content
	UnknownMessages      int64 `json:"unknown_messages"`       // content types the harness does not expect from a worker
	// HTTP statuses a caller got from HTTP functions, by class (exact codes per function are in
	// IntervalRecord.HTTPStatus and Summary.HTTPStatus), and the proxied responses' body bytes.
	HTTP1xx           int64 `json:"http_1xx"`
	HTTP2xx           int64 `json:"http_2xx"`
	HTTP3xx           int64 `json:"http_3xx"`
	HTTP4xx           int64 `json:"http_4xx"`
	HTTP5xx           int64 `json:"http_5xx"`
	HTTPResponseBytes int64 `json:"http_response_bytes"`
	// WarmupSettled counts warm-up invocations (intended before the measured window) that were
	// answered, timed out or lost within it; they are in no other measured count or latency.
	WarmupSettled int64 `json:"warmup_settled"`
}

// Add adds o to c field by field.
func (c *Counts) Add(o Counts) {
	c.Due += o.Due
	c.Sent += o.Sent
	c.Succeeded += o.Succeeded
	c.Failed += o.Failed
	c.CancelSent += o.CancelSent
	c.CancelSkipped += o.CancelSkipped
	c.Cancelled += o.Cancelled
	c.CompletedAfterCancel += o.CompletedAfterCancel
	c.TimedOut += o.TimedOut
	c.Dropped += o.Dropped
	c.Lost += o.Lost
	c.Unsent += o.Unsent
	c.Unmatched += o.Unmatched
	c.Duplicate += o.Duplicate
	c.LateResponses += o.LateResponses
	c.StatusSent += o.StatusSent
	c.StatusAnswered += o.StatusAnswered
	c.Logs += o.Logs
	c.LogsDropped += o.LogsDropped
	c.EmptyMessages += o.EmptyMessages
	c.UnknownMessages += o.UnknownMessages
	c.HTTP1xx += o.HTTP1xx
	c.HTTP2xx += o.HTTP2xx
	c.HTTP3xx += o.HTTP3xx
	c.HTTP4xx += o.HTTP4xx
	c.HTTP5xx += o.HTTP5xx
	c.HTTPResponseBytes += o.HTTPResponseBytes
	c.WarmupSettled += o.WarmupSettled
}

// AddHTTPStatus counts one HTTP status in its class (codes outside 100-599 are counted in none).
func (c *Counts) AddHTTPStatus(code int) {
	switch code / 100 {
	case 1:
		c.HTTP1xx++
	case 2:
		c.HTTP2xx++
	case 3:
		c.HTTP3xx++
	case 4:
		c.HTTP4xx++
	case 5:
		c.HTTP5xx++
	}
}

// HTTPStatusCounts are exact HTTP status codes with their counts, per function: function → code → count.
type HTTPStatusCounts map[string]map[string]int64

// Add adds o to c.
func (c HTTPStatusCounts) Add(o HTTPStatusCounts) {
	for fn, codes := range o {
		m := c[fn]
		if m == nil {
			m = map[string]int64{}
			c[fn] = m
		}
		for code, n := range codes {
			m[code] += n
		}
	}
}

// Settled is the number of invocations that reached an outcome.
func (c Counts) Settled() int64 {
	return c.Succeeded + c.Failed + c.Cancelled + c.CompletedAfterCancel + c.TimedOut + c.Dropped + c.Lost + c.Unsent
}

// Resources are samples of the worker process tree and of fbench itself, taken at an interval's end.
// Zero values mean "not sampled".
type Resources struct {
	WorkerCPUPct   float64 `json:"worker_cpu_pct"` // percent of one core over the interval
	WorkerRSSBytes int64   `json:"worker_rss_bytes"`
	WorkerThreads  int64   `json:"worker_threads"`
	WorkerFDs      int64   `json:"worker_fds"`
	// WorkerPid is the worker process sampled (a relaunched worker is another process).
	WorkerPid      int     `json:"worker_pid,omitempty"`
	FbenchCPUPct   float64 `json:"fbench_cpu_pct"`
	FbenchRSSBytes int64   `json:"fbench_rss_bytes"`
	Goroutines     int64   `json:"goroutines"`
}

// IntervalRecord is one interval of a run as the engine records it: its counts, the histograms of
// every metric (keyed by hlog tag), and resource samples. Histograms hold values in microseconds.
// The same records come back from disk (latency.hlog + intervals.jsonl) when a report is rebuilt.
type IntervalRecord struct {
	Index  int           `json:"index"`
	Start  time.Duration `json:"start_ns"`  // offset from the run's time zero (first arrival due)
	Length time.Duration `json:"length_ns"` // interval length
	Phase  string        `json:"phase,omitempty"`
	// LoadLength, when set, is the part of the interval under load (the load ended within it).
	LoadLength time.Duration `json:"load_length_ns,omitempty"`
	Warmup     bool          `json:"warmup,omitempty"` // excluded from the summary
	OfferedRPS float64       `json:"offered_rps"`      // the schedule's mean rate over the interval
	InFlight   int64         `json:"in_flight"`        // at the interval's end
	Counts     Counts        `json:"counts"`
	Resources  Resources     `json:"resources"`
	// HTTPStatus counts the exact HTTP statuses of HTTP functions' invocations settled in the interval.
	HTTPStatus HTTPStatusCounts `json:"http_status,omitempty"`
	// Failures counts failed invocations by reason ("HTTP 500", "HTTP proxy: connection refused"...),
	// for those that have one.
	Failures   map[string]int64                   `json:"failures,omitempty"`
	Processes  []ProcessInterval                  `json:"processes,omitempty"` // with several worker processes
	Histograms map[string]*hdrhistogram.Histogram `json:"-"`
}

// RunSchema identifies the layout of run.json, the run's recorded metadata.
const RunSchema = "fbench.run/v1"

// Meta is what a run records about itself besides the intervals: how it was configured, where it ran,
// which worker it drove. It is written to run.json when the run starts and again when it ends, and
// is enough, with latency.hlog and intervals.jsonl, to rebuild every report file.
type Meta struct {
	// Clock, when set, stamps the summary's GeneratedAt instead of the current time (a test's
	// fixed time); it is not recorded.
	Clock     func() time.Time `json:"-"`
	Schema    string           `json:"schema"`
	Version   string           `json:"fbench_version"`
	Mode      string           `json:"mode"` // "open" (arrival schedule) or "closed" (fixed concurrency)
	StartedAt time.Time        `json:"started_at"`
	// TimeZero is the wall-clock time of offset 0 of the run's time line (the first arrival due),
	// the StartTime of latency.hlog. Zero means "same as StartedAt".
	TimeZero    time.Time      `json:"time_zero,omitzero"`
	EndedAt     time.Time      `json:"ended_at,omitzero"`
	Interval    time.Duration  `json:"interval_ns"`
	Warmup      time.Duration  `json:"warmup_ns"`
	Phases      []Phase        `json:"phases,omitempty"`
	Config      map[string]any `json:"config"` // enough to rerun the run exactly, seed included
	Environment Environment    `json:"environment"`
	Worker      WorkerInfo     `json:"worker"`
	Processes   []ProcessInfo  `json:"processes,omitempty"` // with several worker processes: each slot
	Harness     HarnessInfo    `json:"harness"`
	Interrupted string         `json:"interrupted,omitempty"` // the signal or reason that ended the run early
	// HTTPMode is how HTTP functions were driven: "proxy" (forwarded to the worker's HttpUri) or
	// "rpc" (RpcHttp over the stream); empty when no HTTP function was invoked.
	HTTPMode string `json:"http_mode,omitempty"`
	// VerdictThresholds are the soak verdicts\' limits (zero: defaults).
	VerdictThresholds VerdictThresholds `json:"verdict_thresholds,omitzero"`
	Events            []Event           `json:"events,omitempty"` // worker exits, restarts, stream breaks, notices
	// Failures groups why measured invocations failed; WorkerLogs counts the worker's RpcLogs.
	Failures   *Failures       `json:"failures,omitempty"`
	WorkerLogs *WorkerLogStats `json:"worker_logs,omitempty"`
	// Runs are the machines' own runs when this run was merged from several (fbench merge).
	Runs []MergedRun `json:"runs,omitempty"`
}

// Phase is a named stretch of a run's time line (warmup, ramp, steady, spike, drain...).
type Phase struct {
	Name  string        `json:"name"`
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
}

// Event is something that happened at a point of the run worth showing on its time line.
type Event struct {
	At     time.Duration `json:"at_ns"`
	Kind   string        `json:"kind"` // "worker_exit", "worker_restart", "stream_broken", "notice"
	Detail string        `json:"detail"`
}

// Environment describes the machine and build a run measured on.
type Environment struct {
	CPUModel   string `json:"cpu_model"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel,omitempty"`
	GoVersion  string `json:"go_version"`
	Fbench     string `json:"fbench_version"`
	Hostname   string `json:"hostname,omitempty"`
}

// FunctionInfo is one function the worker loaded.
type FunctionInfo struct {
	Name     string   `json:"name"`
	ID       string   `json:"id"`
	Trigger  string   `json:"trigger"`
	Bindings []string `json:"bindings"`
}

// WorkerInfo describes the worker process a run drove.
type WorkerInfo struct {
	// CPUSeconds is the CPU time of the worker processes fbench reaped (user + system).
	CPUSeconds   float64           `json:"cpu_seconds,omitempty"`
	Command      []string          `json:"command,omitempty"`
	Pid          int               `json:"pid"`
	ExitCode     *int              `json:"exit_code"` // nil while running or when unknown
	Capabilities map[string]string `json:"capabilities"`
	Functions    []FunctionInfo    `json:"functions"`
	Restarts     int               `json:"restarts"`
	Crashed      bool              `json:"crashed"`
	// KilledByFbench: the worker outlived the grace after WorkerTerminate and fbench killed it.
	KilledByFbench bool `json:"killed_by_fbench,omitempty"`
	// TerminateSent: fbench sent WorkerTerminate (the worker advertises HandlesWorkerTerminateMessage);
	// TerminateFailed: it tried and the stream could no longer take it. Ended says how the worker ended.
	TerminateSent   bool     `json:"terminate_sent,omitempty"`
	TerminateFailed bool     `json:"terminate_failed,omitempty"`
	Ended           string   `json:"ended,omitempty"`
	StderrTail      []string `json:"stderr_tail,omitempty"`
	// Peak and final resource figures (soak); zero when not sampled.
	PeakRSSBytes  int64   `json:"peak_rss_bytes,omitempty"`
	FinalRSSBytes int64   `json:"final_rss_bytes,omitempty"`
	PeakCPUPct    float64 `json:"peak_cpu_pct,omitempty"`
	PeakThreads   int64   `json:"peak_threads,omitempty"`
	PeakFDs       int64   `json:"peak_fds,omitempty"`
}

// HarnessInfo describes fbench's own health during the run.
type HarnessInfo struct {
	// CPUSeconds is fbench\'s own CPU time (user + system) over its whole life, the worker excluded.
	CPUSeconds     float64       `json:"cpu_seconds,omitempty"`
	LagBudget      time.Duration `json:"lag_budget_ns"`
	CPUBudgetPct   float64       `json:"cpu_budget_pct,omitempty"` // fbench's mean CPU (percent of one core) above which the run is invalid; 0: none
	PeakCPUPct     float64       `json:"peak_cpu_pct,omitempty"`
	PeakRSSBytes   int64         `json:"peak_rss_bytes,omitempty"`
	FinalRSSBytes  int64         `json:"final_rss_bytes,omitempty"`
	PeakGoroutines int64         `json:"peak_goroutines,omitempty"`
}

// Summary is the outcome of a run (summary.json): the totals of its measured intervals, warm-up
// excluded, with the run's metadata. Latencies are in microseconds.
type Summary struct {
	Schema          string    `json:"schema"` // SummarySchema
	FbenchVersion   string    `json:"fbench_version"`
	Mode            string    `json:"mode"`
	StartedAt       time.Time `json:"started_at"`
	EndedAt         time.Time `json:"ended_at,omitzero"`
	GeneratedAt     time.Time `json:"generated_at"` // when this summary was computed (the only time-of-writing field)
	Window          *Window   `json:"window,omitempty"`
	IntervalS       float64   `json:"interval_s"`       // configured interval length
	Intervals       int       `json:"intervals"`        // measured intervals (warm-up excluded)
	WarmupIntervals int       `json:"warmup_intervals"` // intervals flagged Warmup, excluded from the totals
	// OfferedRPS is the expected number of arrivals over the measured intervals (Σ offered_rps ×
	// length) divided by DurationS. Zero in closed mode when the engine reports no schedule rate.
	// OfferedRPS and AchievedRPS are per second under load: expected arrivals, and responses
	// received, over the measured intervals but the drain after the last arrival.
	OfferedRPS float64 `json:"offered_rps"`
	// AchievedRPS is the number of measured invocations settled by a response from the worker
	// (succeeded + failed + cancelled + completed_after_cancel; not timed out, dropped, lost or
	// unmatched) divided by DurationS.
	AchievedRPS float64                     `json:"achieved_rps"`
	DurationS   float64                     `json:"duration_s"` // Σ length of measured intervals
	WarmupS     float64                     `json:"warmup_s"`   // Σ length of warm-up intervals
	Counts      Counts                      `json:"counts"`
	Latency     map[string]Stats            `json:"latency"`   // every name of Metrics, count 0 when none
	Functions   map[string]map[string]Stats `json:"functions"` // function → metric → stats (tags METRIC.fn.NAME)
	Statuses    map[string]Stats            `json:"statuses"`  // outcome → rtt stats (tags rtt.status.NAME)
	// HTTPMode says how HTTP functions were driven: "proxy" (the worker's HttpUri) or "rpc" (RpcHttp
	// over the stream); empty when no HTTP function was invoked.
	HTTPMode string `json:"http_mode,omitempty"`
	// HTTPStatus: function → exact HTTP status → count, over the measured intervals.
	HTTPStatus HTTPStatusCounts `json:"http_status,omitempty"`
	// FailureReasons: failure reason (an HTTP status, a proxying error) → count of failed
	// invocations, over the measured intervals (from intervals.jsonl). Failures has every reason,
	// exceptions included, grouped per function.
	FailureReasons map[string]int64 `json:"failure_reasons,omitempty"`
	Worker         WorkerInfo       `json:"worker"`
	Processes      []ProcessSummary `json:"processes,omitempty"` // with several worker processes (tags METRIC.proc.N)
	Harness        HarnessSummary   `json:"harness"`
	Config         map[string]any   `json:"config"`
	Environment    Environment      `json:"environment"`
	Phases         []Phase          `json:"phases,omitempty"`
	Interrupted    string           `json:"interrupted,omitempty"`
	Events         []Event          `json:"events"`
	Warnings       []string         `json:"warnings"`
	SLOs           []SLOResult      `json:"slos"`                  // filled by the SLO evaluator (SLOEvaluator)
	Verdicts       []Verdict        `json:"verdicts"`              // filled by the verdict code (later issue)
	Failures       *Failures        `json:"failures,omitempty"`    // why measured invocations failed, grouped
	WorkerLogs     *WorkerLogStats  `json:"worker_logs,omitempty"` // the worker's RpcLogs, counted

	// Runs are a merged run's machines (Meta.Runs).
	Runs []MergedRun `json:"runs,omitempty"`
}

// Window is the part of the time line a rebuilt summary was restricted to (offsets in seconds;
// 0 = unbounded).
type Window struct {
	FromS float64 `json:"from_s"`
	ToS   float64 `json:"to_s"`
}

// Stats are the figures of one latency histogram, in microseconds.
type Stats struct {
	Count int64   `json:"count"`
	Min   int64   `json:"min_us"`
	Mean  float64 `json:"mean_us"`
	P50   int64   `json:"p50_us"`
	P90   int64   `json:"p90_us"`
	P99   int64   `json:"p99_us"`
	P999  int64   `json:"p999_us"`
	Max   int64   `json:"max_us"`
}

// HarnessSummary is fbench's own health over the run and whether the run is valid: a run whose lag
// p99 exceeds the lag budget measured fbench falling behind, not the worker.
type HarnessSummary struct {
	HarnessInfo
	LagBudgetUS int64 `json:"lag_budget_us"` // 0 = no budget
	// fbench's footprint over the measured intervals (from the per-interval samples; 0 when not
	// sampled): its CPU per invocation sent, its mean CPU as percent of one core and of the
	// machine (all cores), and the worker's mean CPU over the same intervals.
	CPUUsPerInvocation float64 `json:"cpu_us_per_invocation,omitempty"`
	MeanCPUPct         float64 `json:"mean_cpu_pct,omitempty"`
	MachineSharePct    float64 `json:"machine_share_pct,omitempty"`
	WorkerMeanCPUPct   float64 `json:"worker_mean_cpu_pct,omitempty"`
	LagP99US           int64   `json:"lag_p99_us"`
	Valid              bool    `json:"valid"`
	InvalidReason      string  `json:"invalid_reason,omitempty"`
}

// SLOResult is one service-level objective checked against the summary's totals or, with WindowS,
// against every window of that length (the result of the worst window), e.g. "rtt.p99<50ms". See
// slo.go for the metrics and their units.
type SLOResult struct {
	Expression string   `json:"expression"` // as written
	Metric     string   `json:"metric"`     // e.g. "rtt.p99", "rtt.p99{fn=echo}", "error_rate"
	Op         string   `json:"op"`         // <, <=, >, >=, == or !=
	Threshold  float64  `json:"threshold"`  // in Unit
	Unit       string   `json:"unit"`       // "us", "ratio", "rps", "ratio_of_offered" or "count"
	Value      *float64 `json:"value"`      // what was observed, in Unit; null: no data (the SLO fails)
	Observed   string   `json:"observed"`   // Value for people, with its context
	Pass       bool     `json:"pass"`
	// Windowed results: the window length, the start (offset from time zero) of the worst window,
	// how many windows had data and how many of them failed.
	WindowS       float64  `json:"window_s,omitempty"`
	WindowStartS  *float64 `json:"window_start_s,omitempty"`
	Windows       int      `json:"windows,omitempty"`
	FailedWindows int      `json:"failed_windows,omitempty"`
}

// Verdict statuses.
const (
	VerdictPass = "pass"
	VerdictWarn = "warn"
	VerdictSkip = "skip" // not judged: the run is too short, or the figure was not sampled
	VerdictFail = "fail"
)

// Verdict is one named judgement on the run (regression gate, leak check, drift...).
type Verdict struct {
	Name   string `json:"name"`
	Status string `json:"status"` // VerdictPass, VerdictWarn, VerdictFail or VerdictSkip
	Detail string `json:"detail"`
}

// SingleFunction is the one function a run invoked, or "" when it invoked several or it cannot
// tell. Runs of one function record no per-function histograms: {fn=NAME} then reads the run's
// own. It looks at the recorded configuration (targets, function, mix) and the loaded functions.
func SingleFunction(s *Summary) string {
	if list, ok := s.Config["targets"].([]any); ok {
		if len(list) == 1 {
			name, _ := list[0].(string)
			return name
		}
		if len(list) > 1 {
			return ""
		}
	}
	if list, ok := s.Config["targets"].([]string); ok && len(list) == 1 {
		return list[0]
	}
	if fn, ok := s.Config["function"].(string); ok && fn != "" {
		return fn
	}
	if mix, ok := s.Config["mix"].(string); ok && mix != "" {
		if strings.Contains(mix, ",") {
			return ""
		}
		name, _, _ := strings.Cut(mix, "=")
		return strings.TrimSpace(name)
	}
	if len(s.Worker.Functions) == 1 {
		return s.Worker.Functions[0].Name
	}
	return ""
}

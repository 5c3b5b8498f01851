package report

import (
	"fmt"
	"sort"
	"time"

	"github.com/fbench/fbench/loadgen/procstat"
)

// VerdictThresholds are the limits of the soak verdicts; zero fields take the defaults.
type VerdictThresholds struct {
	// MemoryGrowthPerHour fails the worker_memory verdict when the worker's RSS grows faster (bytes
	// per hour, Theil–Sen slope over the measured phase) and the growth seen during the run exceeds
	// MemoryGrowthFloor; half of it warns.
	MemoryGrowthPerHour int64 `json:"memory_growth_per_hour_bytes"`
	MemoryGrowthFloor   int64 `json:"memory_growth_floor_bytes"`
	// P99Drift fails latency_drift when the median rtt p99 of the last quarter exceeds the first
	// quarter's by this fraction (and by at least P99DriftFloor); half of it warns.
	P99Drift      float64       `json:"p99_drift"`
	P99DriftFloor time.Duration `json:"p99_drift_floor_ns"`
	// MinThroughput fails throughput_held when achieved ÷ offered over the measured phase, or in
	// any quarter of it, is below this fraction.
	MinThroughput float64 `json:"min_throughput"`
	// ErrorRateDrift fails error_rate_drift when the error rate of the last quarter exceeds the
	// first quarter's by this many (absolute, 0.01 = one percentage point).
	ErrorRateDrift float64 `json:"error_rate_drift"`
	// HarnessCPU warns when fbench used more than this percent of one core in an interval.
	HarnessCPU float64 `json:"harness_cpu_pct"`
}

// DefaultVerdictThresholds are the defaults the CLI documents.
var DefaultVerdictThresholds = VerdictThresholds{
	MemoryGrowthPerHour: 64 << 20,
	MemoryGrowthFloor:   16 << 20,
	P99Drift:            0.5,
	P99DriftFloor:       time.Millisecond,
	MinThroughput:       0.98,
	ErrorRateDrift:      0.01,
	HarnessCPU:          90,
}

func (t VerdictThresholds) withDefaults() VerdictThresholds {
	d := DefaultVerdictThresholds
	if t.MemoryGrowthPerHour > 0 {
		d.MemoryGrowthPerHour = t.MemoryGrowthPerHour
	}
	if t.MemoryGrowthFloor > 0 {
		d.MemoryGrowthFloor = t.MemoryGrowthFloor
	}
	if t.P99Drift > 0 {
		d.P99Drift = t.P99Drift
	}
	if t.P99DriftFloor > 0 {
		d.P99DriftFloor = t.P99DriftFloor
	}
	if t.MinThroughput > 0 {
		d.MinThroughput = t.MinThroughput
	}
	if t.ErrorRateDrift > 0 {
		d.ErrorRateDrift = t.ErrorRateDrift
	}
	if t.HarnessCPU > 0 {
		d.HarnessCPU = t.HarnessCPU
	}
	return d
}

// minDriftPoints is the fewest measured points that drift verdicts judge; with fewer they skip.
const minDriftPoints = 8

// verdicts judges the measured phase's time series: worker memory growth, latency drift,
// throughput held, error-rate drift and the harness's health.
func (a *aggregator) verdicts(meta Meta, s *Summary) []Verdict {
	th := meta.VerdictThresholds.withDefaults()
	var pts []point
	for _, p := range a.points {
		if p.End > meta.Warmup && p.Seconds > 0 {
			pts = append(pts, p)
		}
	}
	out := []Verdict{
		memoryVerdict(pts, th),
		driftVerdict(pts, th),
		throughputVerdict(pts, s, th),
		errorDriftVerdict(pts, th),
		harnessVerdict(pts, s, th),
	}
	return out
}

func hoursSince(p point, t0 time.Duration) float64 {
	return ((p.Start+p.End)/2 - t0).Hours()
}

// minMemoryTrendSpan is the shortest stretch of one worker process whose RSS trend is
// extrapolated to an hour for a warning: below it, growth that does not itself pass the floor
// makes the verdict skip (a few seconds of start-up growth say nothing per hour).
const minMemoryTrendSpan = 5 * time.Minute

// memoryVerdict judges the worker's RSS trend, each worker process on its own (after a restart
// the new process's start-up growth is not a leak of the old one); the worst process decides.
func memoryVerdict(pts []point, th VerdictThresholds) Verdict {
	type segment struct {
		pid  int
		x, y []float64
	}
	var segs []*segment
	for _, p := range pts {
		if p.WRSS <= 0 || p.WPid < 0 {
			continue // not sampled, or a merged point that spans two processes
		}
		if len(segs) == 0 || segs[len(segs)-1].pid != p.WPid {
			segs = append(segs, &segment{pid: p.WPid})
		}
		sg := segs[len(segs)-1]
		sg.x = append(sg.x, hoursSince(p, pts[0].Start))
		sg.y = append(sg.y, float64(p.WRSS))
	}
	rank := map[string]int{VerdictSkip: 0, VerdictPass: 1, VerdictWarn: 2, VerdictFail: 3}
	var worst *Verdict
	judged := 0
	for _, sg := range segs {
		v := memoryTrend(sg.x, sg.y, th)
		if v.Status != VerdictSkip {
			judged++
		}
		if len(segs) > 1 {
			v.Detail = fmt.Sprintf("worker pid %d: %s", sg.pid, v.Detail)
		}
		if worst == nil || rank[v.Status] > rank[worst.Status] {
			worst = &v
		}
	}
	if worst == nil {
		return Verdict{Name: "worker_memory", Status: VerdictSkip, Detail: "not sampled (fewer than 3 measured intervals with worker RSS)"}
	}
	if len(segs) > 1 {
		worst.Detail = fmt.Sprintf("%d worker processes judged each on its own (%d with enough samples); worst: %s", len(segs), judged, worst.Detail)
	}
	return *worst
}

// memoryTrend judges one worker process's RSS samples (hours, bytes).
func memoryTrend(x, y []float64, th VerdictThresholds) Verdict {
	v := Verdict{Name: "worker_memory", Status: VerdictPass}
	if len(x) < 3 {
		v.Detail = "not sampled (fewer than 3 measured intervals with worker RSS)"
		v.Status = VerdictSkip
		return v
	}
	slope, _, ok := procstat.RobustSlope(x, y)
	if !ok {
		v.Detail = "no slope (intervals too close in time)"
		v.Status = VerdictSkip
		return v
	}
	span := x[len(x)-1] - x[0]
	seen := slope * span
	v.Detail = fmt.Sprintf("worker RSS %s → %s; trend %s/h (Theil–Sen), %s over the measured %s; limit %s/h once growth seen passes %s",
		fmtBytes(y[0]), fmtBytes(y[len(y)-1]), fmtBytesSigned(slope), fmtBytesSigned(seen),
		fmtHours(span), fmtBytes(float64(th.MemoryGrowthPerHour)), fmtBytes(float64(th.MemoryGrowthFloor)))
	switch {
	case slope > float64(th.MemoryGrowthPerHour) && seen > float64(th.MemoryGrowthFloor):
		v.Status = VerdictFail
	case slope > float64(th.MemoryGrowthPerHour)/2 && span < minMemoryTrendSpan.Hours():
		v.Status = VerdictSkip
		v.Detail += fmt.Sprintf("; too short to extrapolate to an hour (under %s, and the growth seen is below the floor)", minMemoryTrendSpan)
	case slope > float64(th.MemoryGrowthPerHour)/2 && seen > float64(th.MemoryGrowthFloor)/2:
		v.Status = VerdictWarn
	}
	return v
}

// quarters returns the first and last quarter of pts (at least one point each).
func quarters(pts []point) (first, last []point) {
	q := max(len(pts)/4, 1)
	return pts[:q], pts[len(pts)-q:]
}

func medianOf(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// p99Index is the position of p99 in rowPercentiles.
const p99Index = 2

func rttP99s(pts []point) []float64 {
	var out []float64
	for _, p := range pts {
		if v := p.Lat[0][p99Index]; v > 0 {
			out = append(out, float64(v))
		}
	}
	return out
}

func driftVerdict(pts []point, th VerdictThresholds) Verdict {
	v := Verdict{Name: "latency_drift", Status: VerdictPass}
	if len(pts) < minDriftPoints {
		v.Detail = fmt.Sprintf("too short to judge (%d measured intervals, need %d)", len(pts), minDriftPoints)
		v.Status = VerdictSkip
		return v
	}
	first, last := quarters(pts)
	a, b := medianOf(rttP99s(first)), medianOf(rttP99s(last))
	var x, y []float64
	for _, p := range pts {
		if val := p.Lat[0][p99Index]; val > 0 {
			x = append(x, hoursSince(p, pts[0].Start))
			y = append(y, float64(val))
		}
	}
	slope, _, _ := procstat.RobustSlope(x, y)
	v.Detail = fmt.Sprintf("rtt p99 first quarter %s, last quarter %s; trend %s/h; limit +%.0f%%",
		FormatMicros(a), FormatMicros(b), FormatMicros(slope), th.P99Drift*100)
	floor := float64(th.P99DriftFloor.Microseconds())
	switch {
	case a > 0 && b > a*(1+th.P99Drift) && b-a > floor:
		v.Status = VerdictFail
	case a > 0 && b > a*(1+th.P99Drift/2) && b-a > floor/2:
		v.Status = VerdictWarn
	}
	return v
}

func throughputVerdict(pts []point, s *Summary, th VerdictThresholds) Verdict {
	v := Verdict{Name: "throughput_held", Status: VerdictPass}
	if s.Mode == "closed" || s.OfferedRPS <= 0 {
		v.Detail = fmt.Sprintf("closed loop: achieved %.1f/s (no offered rate to hold)", s.AchievedRPS)
		return v
	}
	ratio := s.AchievedRPS / s.OfferedRPS
	worst := ratio
	if len(pts) >= 4 {
		q := len(pts) / 4
		for i := 0; i+q <= len(pts); i += q {
			var resp int64
			var exp float64
			for _, p := range pts[i : i+q] {
				resp += p.Responses
				exp += p.Expected
			}
			if exp > 0 {
				worst = min(worst, float64(resp)/exp)
			}
		}
	}
	v.Detail = fmt.Sprintf("achieved %.1f/s of %.1f/s offered (%.1f%%); worst quarter %.1f%%; limit %.0f%%",
		s.AchievedRPS, s.OfferedRPS, ratio*100, worst*100, th.MinThroughput*100)
	switch {
	case ratio < th.MinThroughput || worst < th.MinThroughput-0.05:
		v.Status = VerdictFail
	case worst < th.MinThroughput:
		v.Status = VerdictWarn
	}
	return v
}

func errorRate(pts []point) float64 {
	var errs, total int64
	for _, p := range pts {
		errs += p.Failed + p.TimedOut + p.Lost + p.Dropped
		total += p.Responses + p.TimedOut + p.Lost + p.Dropped
	}
	if total == 0 {
		return 0
	}
	return float64(errs) / float64(total)
}

func errorDriftVerdict(pts []point, th VerdictThresholds) Verdict {
	v := Verdict{Name: "error_rate_drift", Status: VerdictPass}
	if len(pts) < minDriftPoints {
		v.Detail = fmt.Sprintf("too short to judge (%d measured intervals, need %d)", len(pts), minDriftPoints)
		v.Status = VerdictSkip
		return v
	}
	first, last := quarters(pts)
	a, b := errorRate(first), errorRate(last)
	v.Detail = fmt.Sprintf("error rate first quarter %.3f%%, last quarter %.3f%%; limit +%.2f points", a*100, b*100, th.ErrorRateDrift*100)
	switch {
	case b-a > th.ErrorRateDrift:
		v.Status = VerdictFail
	case b-a > th.ErrorRateDrift/2:
		v.Status = VerdictWarn
	}
	return v
}

func harnessVerdict(pts []point, s *Summary, th VerdictThresholds) Verdict {
	v := Verdict{Name: "harness_health", Status: VerdictPass}
	// CPU percentages of short stretches (the run's last, partial interval) are noise: judge full ones.
	full := 0.0
	for _, p := range pts {
		full = max(full, p.Seconds)
	}
	peak := 0.0
	for _, p := range pts {
		if p.FCPUSec > 0 && p.Seconds >= full/2 {
			peak = max(peak, p.FCPU/p.FCPUSec)
		}
	}
	v.Detail = fmt.Sprintf("lag p99 %s, harness_lag p99 %s (budget %s); fbench CPU peak %.0f%% of a core",
		FormatMicros(float64(s.Latency[MetricLag].P99)), FormatMicros(float64(s.Latency[MetricHarnessLag].P99)),
		FormatMicros(float64(s.Harness.LagBudgetUS)), peak)
	switch {
	case !s.Harness.Valid:
		v.Status = VerdictFail
		v.Detail = s.Harness.InvalidReason
	case peak > th.HarnessCPU:
		v.Status = VerdictWarn
		v.Detail += fmt.Sprintf(": above %.0f%%, fbench may be short of CPU", th.HarnessCPU)
	}
	return v
}

func fmtBytesSigned(b float64) string {
	if b >= 0 {
		return "+" + fmtBytes(b)
	}
	return "-" + fmtBytes(-b)
}

func fmtHours(h float64) string {
	return (time.Duration(h * float64(time.Hour))).Round(time.Second).String()
}

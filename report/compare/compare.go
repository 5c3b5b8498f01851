package compare

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/slo"
)

// Comparing runs: a baseline and a current set of runs (one run, or repetitions of it), metric by
// metric, against a tolerance and against the run-to-run noise.
//
// Method. Each metric is taken from every usable run's summary.json, and each side is summarised
// by its median. The change is current ÷ baseline − 1 for latencies and rates, and current −
// baseline (in percentage points) for ratios such as error_rate. When either side has at least two
// runs, the uncertainty of the change is a 95% percentile bootstrap confidence interval (10000
// resamples of each side's runs with replacement, the change of the resampled medians; seeded, so
// the same input gives the same output), and the run-to-run noise is the larger of the two sides'
// spreads (max − min, relative to the median; absolute for ratios). A metric regresses when its
// change is worse than the tolerance, the whole interval is worse than the tolerance, and the
// change is larger than the noise: the regression must exceed both the tolerance and the noise.
// With 2 or 3 runs per side the interval condition means every current run is worse than every
// baseline run by more than the tolerance. With one run per side the noise is unknown: the change
// is compared with the tolerance alone, widened by the latency histograms' resolution (3
// significant digits: ±0.1% per value, so 0.2% for a change).

// Schema identifies the layout of compare's JSON output.
const Schema = "fbench.compare/v1"

// DefaultMetrics are the metrics compare reports by default, in order.
var DefaultMetrics = []string{
	"rtt.p50", "rtt.p90", "rtt.p99", "rtt.p999",
	"service.p50", "service.p90", "service.p99", "service.p999",
	"achieved_rps", "error_rate", "lag.p99",
}

// histResolution is the relative precision of one latency value (3 significant digits).
const histResolution = 0.001

// Bootstrap settings.
const (
	bootstrapResamples = 10000
	bootstrapLevel     = 0.95
)

// Tolerance is how much a metric may worsen before it counts as a regression.
type Tolerance struct {
	Off      bool    `json:"off,omitempty"` // informational only: never a regression
	Value    float64 `json:"value"`         // a fraction (relative) or a ratio difference (absolute)
	Absolute bool    `json:"absolute"`      // Value is a difference of ratios (0.001 = 0.1 percentage points)
}

func (t Tolerance) String() string {
	switch {
	case t.Off:
		return "off"
	case t.Absolute:
		return slo.Percent(t.Value) + "pp"
	default:
		return slo.Percent(t.Value) + "%"
	}
}

// DefaultTolerance is the tolerance of a metric unless --max-regression says otherwise: 10% for
// latency percentiles (20% for p999 and max, which a few slow invocations move), 5% for a drop of
// achieved_rps, 0.1 percentage points for ratios, and off (shown, never a regression) for lag,
// the harness's own delay (its validity is --lag-budget's business) and for everything else.
func DefaultTolerance(metric string) Tolerance {
	m, err := metricOf(metric)
	if err != nil {
		return Tolerance{Off: true}
	}
	if strings.HasPrefix(m.Metric, slo.ColdstartPrefix) {
		return coldstartTolerance(m)
	}
	switch m.Kind {
	case slo.Latency:
		if m.Clock != report.MetricRTT && m.Clock != report.MetricService && m.Clock != report.MetricHTTPTTFB && m.Clock != report.MetricHTTPTotal {
			return Tolerance{Off: true}
		}
		switch m.Stat {
		case "p999", "max":
			return Tolerance{Value: 0.20}
		case "min", "mean":
			return Tolerance{Off: true}
		}
		return Tolerance{Value: 0.10}
	case slo.Rate:
		if m.Metric == "achieved_rps" {
			return Tolerance{Value: 0.05}
		}
	case slo.Ratio:
		return Tolerance{Value: 0.001, Absolute: true}
	}
	return Tolerance{Off: true}
}

// metricOf parses a metric name (the left side of an SLO) for compare: latencies, ratios and rates.
func metricOf(name string) (slo.Objective, error) {
	parse := slo.Parse
	if slo.IsColdstart(name) {
		parse = slo.ParseColdstart
	}
	m, err := parse(name + ">=0")
	if err != nil {
		var se *slo.SyntaxError
		if errors.As(err, &se) {
			return slo.Objective{}, fmt.Errorf("unknown metric %q: %s", name, se.Msg)
		}
		return slo.Objective{}, err
	}
	if m.Kind == slo.Count {
		return slo.Objective{}, fmt.Errorf("metric %q is a count: compare takes latencies, ratios and rates", name)
	}
	return m, nil
}

// higherIsBetter tells the metric's good direction.
func higherIsBetter(m slo.Objective) bool {
	switch m.Metric {
	case "achieved_rps", "offered_rps", "success_rate", "cancelled_ratio", "status_answered_ratio":
		return true
	}
	return false
}

// ParseTolerance parses a --max-regression setting, NAME=VALUE: NAME is a metric (rtt.p99,
// achieved_rps, error_rate...) or a clock (rtt, service, lag: all its percentiles); VALUE is a
// percentage (10%), percentage points for ratios (0.1pp, or 0.1% which means the same there), or
// "off". It returns the metric or clock name.
func ParseTolerance(spec string) (string, Tolerance, error) {
	spec = strings.TrimSpace(spec)
	k := strings.LastIndexByte(spec, '=')
	ok := k >= 0
	var name, val string
	if ok {
		name, val = strings.TrimSpace(spec[:k]), strings.TrimSpace(spec[k+1:])
	}
	if !ok || name == "" || val == "" {
		return "", Tolerance{}, fmt.Errorf("invalid --max-regression %q: want METRIC=VALUE, e.g. rtt.p99=10%%", spec)
	}
	var kind slo.Kind
	if slices.Contains(report.Metrics, name) {
		kind = slo.Latency
	} else {
		m, err := metricOf(name)
		if err != nil {
			return "", Tolerance{}, fmt.Errorf("invalid --max-regression %q: %v", spec, err)
		}
		name, kind = m.Metric, m.Kind
	}
	if val == "off" || val == "none" {
		return name, Tolerance{Off: true}, nil
	}
	num, unit := val, ""
	for _, u := range []string{"pp", "%"} {
		if strings.HasSuffix(val, u) {
			num, unit = strings.TrimSpace(strings.TrimSuffix(val, u)), u
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return "", Tolerance{}, fmt.Errorf("invalid --max-regression %q: want a non-negative percentage such as 10%%", spec)
	}
	switch {
	case kind == slo.Ratio && (unit == "pp" || unit == "%"):
		return name, Tolerance{Value: v / 100, Absolute: true}, nil
	case kind == slo.Ratio:
		return "", Tolerance{}, fmt.Errorf("invalid --max-regression %q: a ratio's tolerance is in percentage points, e.g. %s=0.1pp", spec, name)
	case unit == "%":
		return name, Tolerance{Value: v / 100}, nil
	default:
		return "", Tolerance{}, fmt.Errorf("invalid --max-regression %q: want a percentage, e.g. %s=10%%", spec, name)
	}
}

// Run problems: why a run is left out of a comparison.
const (
	ProblemCrashed     = "crashed"     // the worker crashed
	ProblemInvalid     = "invalid"     // the harness fell behind (lag over budget)
	ProblemInterrupted = "interrupted" // the run was cut short
	ProblemEmpty       = "empty"       // no measured intervals (the worker did not start?)
	ProblemMissing     = "missing"     // no readable summary.json
)

// RunEntry is one run of a RunSet.
type RunEntry struct {
	Name    string          `json:"name"` // "." for a single run, else the subdirectory (run-1...)
	Dir     string          `json:"dir"`
	Summary *report.Summary `json:"-"`
	Problem string          `json:"problem,omitempty"` // one of the Problem constants; "" = usable
	Detail  string          `json:"detail,omitempty"`

	// Coldstart is set instead of Summary for a cold-start run (coldstart.json).
	Coldstart *report.ColdstartReport `json:"-"`
}

// RunSet is one side of a comparison: a run directory, or a directory of repeated runs.
type RunSet struct {
	Dir  string
	Runs []RunEntry
}

// Usable are the runs without a problem.
func (rs *RunSet) Usable() []RunEntry {
	var out []RunEntry
	for _, r := range rs.Runs {
		if r.Problem == "" {
			out = append(out, r)
		}
	}
	return out
}

var runDirRE = regexp.MustCompile(`^run-(\d+)$`)

// LoadRunSet reads dir: a run directory (it holds summary.json), or a directory of repeated runs
// (subdirectories run-1, run-2, ... as fbench run --repeat writes them, or any subdirectories
// holding a summary.json). Runs that crashed, were invalid, interrupted or empty are kept, with
// their Problem, for the caller to report.
func LoadRunSet(dir string) (*RunSet, error) {
	rs := &RunSet{Dir: dir}
	if isRunDir(dir) {
		rs.Runs = append(rs.Runs, loadEntry(".", dir))
		return rs, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type sub struct {
		name string
		num  int
	}
	var subs []sub
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n := -1
		if m := runDirRE.FindStringSubmatch(e.Name()); m != nil {
			n, _ = strconv.Atoi(m[1])
		} else if !isRunDir(filepath.Join(dir, e.Name())) {
			continue
		}
		subs = append(subs, sub{e.Name(), n})
	}
	if len(subs) == 0 {
		return nil, fmt.Errorf("%s: no %s and no run-N/ directories of repeated runs", dir, report.SummaryFile)
	}
	slices.SortFunc(subs, func(a, b sub) int {
		if a.num >= 0 && b.num >= 0 {
			return cmp.Compare(a.num, b.num)
		}
		if (a.num >= 0) != (b.num >= 0) {
			return cmp.Compare(b.num, a.num) // numbered runs first
		}
		return strings.Compare(a.name, b.name)
	})
	for _, s := range subs {
		rs.Runs = append(rs.Runs, loadEntry(s.name, filepath.Join(dir, s.name)))
	}
	return rs, nil
}

func loadEntry(name, dir string) RunEntry {
	e := RunEntry{Name: name, Dir: dir}
	if _, err := os.Stat(filepath.Join(dir, report.ColdstartFile)); err == nil {
		return loadColdstartEntry(e)
	}
	s, err := report.LoadSummary(filepath.Join(dir, report.SummaryFile))
	if err != nil {
		e.Problem, e.Detail = ProblemMissing, "no readable "+report.SummaryFile+" (the run did not finish?)"
		if !errors.Is(err, os.ErrNotExist) {
			e.Detail = err.Error()
		}
		return e
	}
	e.Summary = s
	switch {
	case s.Worker.Crashed:
		e.Problem, e.Detail = ProblemCrashed, "the worker crashed"
	case !s.Harness.Valid:
		e.Problem, e.Detail = ProblemInvalid, "run invalid: "+s.Harness.InvalidReason
	case s.Interrupted != "":
		e.Problem, e.Detail = ProblemInterrupted, "interrupted ("+s.Interrupted+")"
	case s.Intervals == 0:
		e.Problem, e.Detail = ProblemEmpty, "no measured intervals"
	}
	return e
}

// Options tune Runs.
type Options struct {
	Metrics    []string             // metrics to compare (default DefaultMetrics)
	Tolerances map[string]Tolerance // by metric, or by clock (rtt: all rtt percentiles); else DefaultTolerance
	Force      bool                 // compare even when the runs are incompatible
}

// Comparison is the outcome of Runs (compare's --json output).
type Comparison struct {
	Schema       string             `json:"schema"`
	Baseline     SideInfo           `json:"baseline"`
	Current      SideInfo           `json:"current"`
	Noise        string             `json:"noise"` // "measured", "current only", "baseline only" or "unknown"
	Method       string             `json:"method"`
	Metrics      []MetricComparison `json:"metrics"`
	Incompatible []string           `json:"incompatible"` // why the runs cannot be compared (Force: compared anyway)
	Notes        []string           `json:"notes"`
	Regressions  []string           `json:"regressions"` // metrics that regressed
	Problems     []string           `json:"problems"`    // crashed and invalid runs (left out): they fail the comparison
	CrashedRuns  int                `json:"crashed_runs"`
	InvalidRuns  int                `json:"invalid_runs"`
	Pass         bool               `json:"pass"` // no regression, compatible, no crashed or invalid run
}

// SideInfo describes one side of a comparison.
type SideInfo struct {
	Dir      string     `json:"dir"`
	Runs     []string   `json:"runs"`     // the runs used
	Excluded []RunEntry `json:"excluded"` // the runs left out, with why
}

// SideStats are one side's values of a metric.
type SideStats struct {
	N      int       `json:"n"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"` // per run, in run order
}

// Metric comparison statuses.
const (
	StatusRegressed = "regressed"    // worse than the tolerance, beyond the noise
	StatusImproved  = "improved"     // better than the tolerance, beyond the noise
	StatusNoisy     = "within_noise" // the median change is beyond the tolerance, the noise is larger
	StatusOK        = "ok"           // within the tolerance
	StatusInfo      = "info"         // no tolerance: shown only
	StatusNoData    = "no_data"      // a side has no value
)

// MetricComparison is one metric of a Comparison. Change, CILow and CIHigh are fractions: a
// relative change (0.1 = +10%) or, for ratios (Absolute), a difference of ratios (0.001 = +0.1pp).
type MetricComparison struct {
	Metric    string    `json:"metric"`
	Unit      string    `json:"unit"` // "us", "rps" or "ratio"
	Better    string    `json:"better"`
	Baseline  SideStats `json:"baseline"`
	Current   SideStats `json:"current"`
	Absolute  bool      `json:"absolute"`
	Change    float64   `json:"change"`
	CILow     *float64  `json:"ci_low"`  // null when the noise is unknown
	CIHigh    *float64  `json:"ci_high"` //
	Noise     float64   `json:"noise"`   // the larger side's spread, (max − min) ÷ median (ratios: max − min); 0 when unknown
	Margin    float64   `json:"margin"`  // the resolution added to the tolerance when the noise is unknown
	Tolerance Tolerance `json:"tolerance"`
	Status    string    `json:"status"`
}

// Runs compares the usable runs of current with those of base.
func Runs(base, cur *RunSet, opt Options) (*Comparison, error) {
	metrics, err := metricsOf(opt.Metrics, base, cur)
	if err != nil {
		return nil, err
	}
	c := &Comparison{Schema: Schema, Incompatible: []string{}, Notes: []string{}, Regressions: []string{}, Problems: []string{}}
	c.Baseline = c.side("baseline", base)
	c.Current = c.side("current", cur)
	bu, cu := base.Usable(), cur.Usable()
	c.checkCompatible(bu, cu)
	startLevel := len(bu) == 1 && len(cu) == 1 && bu[0].Coldstart != nil && cu[0].Coldstart != nil
	c.describeNoise(len(bu), len(cu), startLevel)
	if len(c.Incompatible) == 0 || opt.Force && len(bu) > 0 && len(cu) > 0 {
		for i, m := range metrics {
			mc := compareMetric(m, bu, cu, tolerance(opt.Tolerances, m), uint64(i))
			if startLevel && m.Kind == slo.Latency {
				mc = compareStarts(m, bu[0].Coldstart, cu[0].Coldstart, tolerance(opt.Tolerances, m), uint64(i))
			}
			if mc.Status == StatusRegressed {
				c.Regressions = append(c.Regressions, mc.Metric)
			}
			c.Metrics = append(c.Metrics, mc)
		}
	}
	if c.Metrics == nil {
		c.Metrics = []MetricComparison{}
	}
	c.Pass = len(c.Regressions) == 0 && len(c.Problems) == 0 && (len(c.Incompatible) == 0 || opt.Force && len(c.Metrics) > 0)
	return c, nil
}

// metricsOf parses the metrics to compare: names, or by default those of the runs' kind
// (DefaultMetrics, with the HTTP clocks of proxied runs, or ColdstartMetrics).
func metricsOf(names []string, base, cur *RunSet) ([]slo.Objective, error) {
	if len(names) == 0 {
		names = slices.Concat(DefaultMetrics, httpCompareMetrics(base, cur))
		if r := firstColdstart(base, cur); r != nil {
			names = ColdstartMetrics(r.Mode)
		}
	}
	metrics := make([]slo.Objective, 0, len(names))
	for _, n := range names {
		m, err := metricOf(n)
		if err != nil {
			return nil, err
		}
		metrics = append(metrics, m)
	}
	return metrics, nil
}

// side describes one side (label: baseline or current): the runs used and those left out, with a
// note on each left out, and a problem for each that crashed or was invalid.
func (c *Comparison) side(label string, rs *RunSet) SideInfo {
	info := SideInfo{Dir: rs.Dir, Runs: []string{}, Excluded: []RunEntry{}}
	for _, r := range rs.Runs {
		if r.Problem == "" {
			info.Runs = append(info.Runs, r.Name)
			continue
		}
		info.Excluded = append(info.Excluded, r)
		c.Notes = append(c.Notes, fmt.Sprintf("%s %s left out: %s", label, runLabel(r), r.Detail))
		switch r.Problem {
		case ProblemCrashed:
			c.CrashedRuns++
		case ProblemInvalid:
			c.InvalidRuns++
		default:
			continue
		}
		c.Problems = append(c.Problems, fmt.Sprintf("%s %s: %s", label, runLabel(r), r.Problem))
	}
	return info
}

// checkCompatible notes why the usable runs cannot be compared (none on a side, different
// kinds of run, loops or functions), and how their load and setup differ.
func (c *Comparison) checkCompatible(bu, cu []RunEntry) {
	if len(bu) == 0 || len(cu) == 0 {
		which := "baseline"
		if len(bu) > 0 {
			which = "current"
		}
		c.Incompatible = append(c.Incompatible, fmt.Sprintf("the %s has no usable run", which))
		return
	}
	if cold, ok := coldstartIncompatibilities(bu, cu); ok {
		c.Incompatible = append(c.Incompatible, cold...)
		return
	}
	c.Incompatible = append(c.Incompatible, incompatibilities(bu, cu)...)
	c.Notes = append(c.Notes, differences(bu, cu)...)
	c.Notes = append(c.Notes, newFailureReasons(bu, cu)...)
}

// describeNoise sets where the noise comes from and the method, from the usable runs per side
// (startLevel: one cold-start run each, compared start by start), and notes a noise not measured.
func (c *Comparison) describeNoise(nb, nc int, startLevel bool) {
	switch {
	case startLevel:
		c.Noise = NoiseStarts
	case nb >= 2 && nc >= 2:
		c.Noise = "measured"
	case nc >= 2:
		c.Noise = "current only"
	case nb >= 2:
		c.Noise = "baseline only"
	default:
		c.Noise = "unknown"
	}
	c.Method = methodText(nb, nc)
	if startLevel {
		c.Method = coldstartMethodText
	}
	if c.Noise == "unknown" && nb > 0 && nc > 0 {
		c.Notes = append(c.Notes, "noise unknown: one run per side, so each change is compared with the tolerance alone (plus the histograms' 0.1% resolution); use fbench run --repeat N on both sides to measure the run-to-run noise")
	} else if c.Noise != "measured" && c.Noise != NoiseStarts && nb > 0 && nc > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("noise measured on the %s alone (the other side has one run)", strings.TrimSuffix(c.Noise, " only")))
	}
}

func runLabel(r RunEntry) string {
	if r.Name == "." {
		return "run"
	}
	return r.Name
}

func methodText(nb, nc int) string {
	s := fmt.Sprintf("median of %d baseline and %d current run(s); change = current ÷ baseline − 1 (ratios: the difference in percentage points)", nb, nc)
	if nb >= 2 || nc >= 2 {
		return s + fmt.Sprintf("; %g%% bootstrap confidence interval of the change (%d resamples); a regression is a change beyond the tolerance whose whole interval is beyond it too, and larger than the run-to-run noise (the wider side's max − min, i.e. twice its ±)", 100*bootstrapLevel, bootstrapResamples)
	}
	return s + "; one run per side, so the noise is unknown: a regression is a change beyond the tolerance plus the histograms' resolution"
}

// tolerance finds the metric's tolerance: by metric name, then by clock, then the default.
func tolerance(t map[string]Tolerance, m slo.Objective) Tolerance {
	if v, ok := t[m.Metric]; ok {
		return v
	}
	if m.Kind == slo.Latency {
		if v, ok := t[m.Clock]; ok {
			return v
		}
	}
	return DefaultTolerance(m.Metric)
}

// incompatibilities are the reasons the two sets of runs measure different things.
func incompatibilities(base, cur []RunEntry) []string {
	var out []string
	ref := base[0]
	for _, r := range append(base[1:], cur...) {
		side := "current"
		if slices.ContainsFunc(base, func(b RunEntry) bool { return b.Dir == r.Dir }) {
			side = "baseline"
		}
		if a, b := ref.Summary.Mode, r.Summary.Mode; a != b {
			out = append(out, fmt.Sprintf("%s %s runs a %s loop, baseline %s a %s loop", side, runLabel(r), b, runLabel(ref), a))
		}
		if a, b := functionsOf(ref.Summary), functionsOf(r.Summary); a != "" && b != "" && a != b {
			out = append(out, fmt.Sprintf("%s %s invoked functions [%s], baseline %s [%s]", side, runLabel(r), b, runLabel(ref), a))
		}
	}
	return dedupe(out)
}

// functionsOf names the functions a run invoked ("" when it cannot tell).
func functionsOf(s *report.Summary) string {
	if len(s.Functions) == 0 {
		return report.SingleFunction(s)
	}
	names := make([]string, 0, len(s.Functions))
	for n := range s.Functions {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// newFailureReasons notes every failure reason (function, kind, pattern) of the current runs that
// no baseline run had: a new way of failing shows even when the error rate stays within tolerance.
func newFailureReasons(base, cur []RunEntry) []string {
	type key struct{ fn, kind, pattern string }
	seen := map[key]bool{}
	for _, r := range base {
		if r.Summary == nil {
			continue
		}
		if f := r.Summary.Failures; f != nil {
			for _, g := range f.Groups {
				seen[key{g.Function, g.Kind, g.Pattern}] = true
			}
		}
	}
	counts := map[key]int64{}
	var order []key
	for _, r := range cur {
		if r.Summary == nil {
			continue
		}
		if f := r.Summary.Failures; f != nil {
			for _, g := range f.Groups {
				k := key{g.Function, g.Kind, g.Pattern}
				if seen[k] {
					continue
				}
				if _, ok := counts[k]; !ok {
					order = append(order, k)
				}
				counts[k] += g.Count
			}
		}
	}
	var out []string
	for i, k := range order {
		if i == 10 {
			out = append(out, fmt.Sprintf("and %d more new failure reasons (see the current runs' failures)", len(order)-10))
			break
		}
		fn := k.fn
		if fn == "" {
			fn = "any function"
		}
		out = append(out, fmt.Sprintf("new failure reason in the current runs: %s %s %q (%d times)", fn, k.kind, k.pattern, counts[k]))
	}
	return out
}

// differences are notes on what differs between the sides without making them incomparable.
func differences(base, cur []RunEntry) []string {
	var out []string
	b, c := base[0].Summary, cur[0].Summary
	for _, k := range loadSettings {
		bv, bok := b.Config[k]
		cv, cok := c.Config[k]
		if bok && cok && fmt.Sprint(bv) != fmt.Sprint(cv) {
			out = append(out, fmt.Sprintf("the load differs: baseline %s %v, current %v", k, bv, cv))
		}
	}
	be, ce := b.Environment, c.Environment
	if be.CPUModel != ce.CPUModel || be.Cores != ce.Cores || be.GOMAXPROCS != ce.GOMAXPROCS {
		out = append(out, fmt.Sprintf("machines differ: baseline %q × %d cores, current %q × %d cores", be.CPUModel, be.Cores, ce.CPUModel, ce.Cores))
	}
	if b.HTTPMode != c.HTTPMode {
		out = append(out, fmt.Sprintf("HTTP functions were driven differently: baseline %s, current %s", httpModeName(b.HTTPMode), httpModeName(c.HTTPMode)))
	}
	if b.FbenchVersion != c.FbenchVersion {
		out = append(out, fmt.Sprintf("fbench versions differ: baseline %s, current %s", b.FbenchVersion, c.FbenchVersion))
	}
	return out
}

// loadSettings are the recorded settings (Summary.Config) that shape the load: when they differ
// between the sides compare says so.
var loadSettings = []string{"rps", "concurrency", "profile", "arrival", "duration", "warmup", "count",
	"cancel_ratio", "cancel_after", "max_inflight", "on_full", "timeout", "body_bytes", "interval", "http_ok", "route_params", "processes"}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func sideStats(m slo.Objective, runs []RunEntry) SideStats {
	var st SideStats
	for _, r := range runs {
		var v float64
		var ok bool
		switch {
		case r.Coldstart != nil && strings.HasPrefix(m.Metric, slo.ColdstartPrefix):
			v, _, ok = m.MeasureColdstart(r.Coldstart)
		case r.Summary != nil && !strings.HasPrefix(m.Metric, slo.ColdstartPrefix):
			v, _, ok = m.Measure(r.Summary)
		}
		if ok {
			st.Values = append(st.Values, v)
		}
	}
	st.N = len(st.Values)
	if st.N > 0 {
		st.Median = median(st.Values)
		st.Min, st.Max = slices.Min(st.Values), slices.Max(st.Values)
	}
	if st.Values == nil {
		st.Values = []float64{}
	}
	return st
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func compareMetric(m slo.Objective, base, cur []RunEntry, tol Tolerance, seed uint64) MetricComparison {
	mc := MetricComparison{Metric: m.Metric, Unit: m.Kind.Unit(), Better: "lower", Tolerance: tol,
		Absolute: m.Kind == slo.Ratio}
	sign := 1.0 // +1: higher is worse
	if higherIsBetter(m) {
		mc.Better, sign = "higher", -1
	}
	mc.Baseline, mc.Current = sideStats(m, base), sideStats(m, cur)
	if mc.Baseline.N == 0 || mc.Current.N == 0 || !mc.Absolute && mc.Baseline.Median == 0 {
		mc.Status = StatusNoData
		return mc
	}
	change := func(b, c float64) float64 {
		if mc.Absolute {
			return c - b
		}
		return c/b - 1
	}
	mc.Change = change(mc.Baseline.Median, mc.Current.Median)
	worse := sign * mc.Change // > 0: worse
	var worseLo, worseHi float64
	if mc.Baseline.N >= 2 || mc.Current.N >= 2 {
		lo, hi := bootstrapCI(mc.Baseline.Values, mc.Current.Values, change, seed)
		mc.CILow, mc.CIHigh = &lo, &hi
		worseLo, worseHi = min(sign*lo, sign*hi), max(sign*lo, sign*hi)
		mc.Noise = max(spread(mc.Baseline, mc.Absolute), spread(mc.Current, mc.Absolute))
	} else {
		if m.Kind == slo.Latency {
			mc.Margin = 2 * histResolution
		}
		worseLo, worseHi = worse-mc.Margin, worse+mc.Margin
	}
	t := tol.Value
	switch {
	case tol.Off:
		mc.Status = StatusInfo
	case worse > t && worseLo > t && worse > mc.Noise:
		mc.Status = StatusRegressed
	case worse < -t && worseHi < -t && -worse > mc.Noise:
		mc.Status = StatusImproved
	case math.Abs(worse) > t:
		mc.Status = StatusNoisy
	default:
		mc.Status = StatusOK
	}
	return mc
}

// spread is a side's run-to-run spread: (max − min) ÷ median, or max − min when absolute.
func spread(st SideStats, absolute bool) float64 {
	if st.N < 2 {
		return 0
	}
	if absolute {
		return st.Max - st.Min
	}
	if st.Median == 0 {
		return 0
	}
	return (st.Max - st.Min) / st.Median
}

// bootstrapCI is the percentile bootstrap interval of change(median(b*), median(c*)) over
// resamples b*, c* of b and c with replacement.
func bootstrapCI(b, c []float64, change func(b, c float64) float64, seed uint64) (float64, float64) {
	rng := rand.New(rand.NewPCG(0x66626e6368, seed))
	bs, cs := make([]float64, len(b)), make([]float64, len(c))
	out := make([]float64, bootstrapResamples)
	for i := range out {
		for j := range bs {
			bs[j] = b[rng.IntN(len(b))]
		}
		for j := range cs {
			cs[j] = c[rng.IntN(len(c))]
		}
		out[i] = change(median(bs), median(cs))
	}
	slices.Sort(out)
	alpha := (1 - bootstrapLevel) / 2
	lo := out[int(math.Floor(alpha*float64(len(out)-1)))]
	hi := out[int(math.Ceil((1-alpha)*float64(len(out)-1)))]
	return lo, hi
}

// ---- output ----

// fmtValue formats a metric value for a table.
func fmtValue(unit string, v float64) string {
	switch unit {
	case "us":
		return strconv.FormatFloat(v/1000, 'f', 3, 64) + " ms"
	case "ratio":
		return strconv.FormatFloat(100*v, 'f', 3, 64) + "%"
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// fmtSpread is a side's spread: ± half its range, relative to the median (absolute for ratios).
func fmtSpread(unit string, st SideStats) string {
	if st.N < 2 {
		return ""
	}
	half := (st.Max - st.Min) / 2
	if unit == "ratio" {
		return " ±" + strconv.FormatFloat(100*half, 'f', 3, 64) + "pp"
	}
	if st.Median == 0 {
		return ""
	}
	return " ±" + strconv.FormatFloat(100*half/st.Median, 'f', 1, 64) + "%"
}

func fmtChange(abs bool, v float64) string {
	if abs {
		return fmt.Sprintf("%+.3fpp", 100*v)
	}
	return fmt.Sprintf("%+.1f%%", 100*v)
}

func (mc MetricComparison) cells() []string {
	if mc.Status == StatusNoData {
		b, c := "no data", "no data"
		if mc.Baseline.N > 0 {
			b = fmtValue(mc.Unit, mc.Baseline.Median) + fmtSpread(mc.Unit, mc.Baseline)
		}
		if mc.Current.N > 0 {
			c = fmtValue(mc.Unit, mc.Current.Median) + fmtSpread(mc.Unit, mc.Current)
		}
		return []string{mc.Metric, b, c, "", "", mc.Tolerance.String(), statusLabel(mc.Status)}
	}
	unc := ""
	switch {
	case mc.CILow != nil:
		unc = fmtChange(mc.Absolute, *mc.CILow) + " … " + fmtChange(mc.Absolute, *mc.CIHigh)
	case mc.Margin > 0:
		unc = fmt.Sprintf("±%.1f%% (resolution)", 100*mc.Margin)
	default:
		unc = "noise unknown"
	}
	tol := mc.Tolerance.String()
	if !mc.Tolerance.Off {
		tol = "+" + tol
		if mc.Better == "higher" {
			tol = "-" + mc.Tolerance.String()
		}
	}
	return []string{mc.Metric,
		fmtValue(mc.Unit, mc.Baseline.Median) + fmtSpread(mc.Unit, mc.Baseline),
		fmtValue(mc.Unit, mc.Current.Median) + fmtSpread(mc.Unit, mc.Current),
		fmtChange(mc.Absolute, mc.Change), unc, tol, statusLabel(mc.Status)}
}

func statusLabel(s string) string {
	switch s {
	case StatusRegressed:
		return "REGRESSED"
	case StatusNoisy:
		return "within noise"
	case StatusNoData:
		return "no data"
	}
	return s
}

func sideLabel(si SideInfo) string {
	n := len(si.Runs)
	s := fmt.Sprintf("%s (%d run", si.Dir, n)
	if n != 1 {
		s += "s"
	}
	if k := len(si.Excluded); k > 0 {
		s += fmt.Sprintf(", %d left out", k)
	}
	return s + ")"
}

func (c *Comparison) header() []string {
	unc := "uncertainty"
	for _, mc := range c.Metrics {
		if mc.CILow != nil {
			unc = "95% CI"
		}
	}
	return []string{"metric", "baseline", "current", "change", unc, "tolerance", "result"}
}

// Verdict is the comparison's one-line result.
func (c *Comparison) Verdict() string {
	switch {
	case len(c.Problems) > 0:
		return "FAIL: a crashed or invalid run cannot pass (" + strings.Join(c.Problems, "; ") + ")"
	case len(c.Incompatible) > 0 && len(c.Metrics) == 0:
		return "cannot compare: " + strings.Join(c.Incompatible, "; ")
	case len(c.Regressions) > 0:
		return fmt.Sprintf("FAIL: %d regression(s) beyond the tolerance and the noise: %s", len(c.Regressions), strings.Join(c.Regressions, ", "))
	}
	return "pass: no regression beyond the tolerance and the noise"
}

// WriteText writes the comparison as a table for a terminal.
func (c *Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "baseline: %s\ncurrent:  %s\n", sideLabel(c.Baseline), sideLabel(c.Current))
	fmt.Fprintf(&b, "method:   %s\n", c.Method)
	for _, s := range c.Incompatible {
		fmt.Fprintf(&b, "incompatible: %s\n", s)
	}
	if len(c.Metrics) > 0 {
		t := table{rows: [][]string{c.header()}, right: func(col int) bool { return col >= 1 && col <= 3 }} // numbers
		for _, mc := range c.Metrics {
			t.rows = append(t.rows, mc.cells())
		}
		b.WriteString("\n")
		t.write(&b)
	}
	if len(c.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "note: %s\n", n)
		}
	}
	fmt.Fprintf(&b, "\nresult: %s\n", c.Verdict())
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the comparison as Markdown, ready to post on a pull request.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	mdEsc := func(s string) string {
		return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
	}
	result := "✅ pass"
	if !c.Pass {
		result = "❌ " + c.Verdict()
	}
	fmt.Fprintf(&b, "### fbench compare: %s\n\n", mdEsc(result))
	fmt.Fprintf(&b, "Baseline `%s`, current `%s`.\n\n", sideLabel(c.Baseline), sideLabel(c.Current))
	for _, s := range c.Incompatible {
		fmt.Fprintf(&b, "- **incompatible:** %s\n", mdEsc(s))
	}
	if len(c.Incompatible) > 0 {
		b.WriteString("\n")
	}
	if len(c.Metrics) > 0 {
		b.WriteString("| " + strings.Join(c.header(), " | ") + " |\n")
		b.WriteString("|:--|--:|--:|--:|:--|--:|:--|\n")
		for _, mc := range c.Metrics {
			cells := mc.cells()
			for i := range cells {
				cells[i] = mdEsc(cells[i])
			}
			cells[0] = "`" + cells[0] + "`"
			if mc.Status == StatusRegressed {
				cells[len(cells)-1] = "**" + cells[len(cells)-1] + "**"
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "- %s\n", mdEsc(n))
	}
	if len(c.Notes) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "<sub>Method: %s.</sub>\n", mdEsc(c.Method))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteRunSetText writes a combined summary of a set of repeated runs: each metric's median,
// range and spread, and its value in every run.
func WriteRunSetText(w io.Writer, rs *RunSet, metrics []string) error {
	if len(metrics) == 0 {
		metrics = DefaultMetrics
	}
	usable := rs.Usable()
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs in %s: %d usable\n", len(rs.Runs), rs.Dir, len(usable))
	for _, r := range rs.Runs {
		if r.Problem != "" {
			fmt.Fprintf(&b, "  %s left out: %s\n", runLabel(r), r.Detail)
		}
	}
	if len(usable) == 0 {
		_, err := io.WriteString(w, b.String())
		return err
	}
	header := []string{"metric", "median", "min", "max", "spread"}
	for _, r := range usable {
		header = append(header, runLabel(r))
	}
	rows := [][]string{header}
	for _, name := range metrics {
		m, err := metricOf(name)
		if err != nil {
			return err
		}
		st := sideStats(m, usable)
		unit := m.Kind.Unit()
		if st.N == 0 {
			rows = append(rows, []string{m.Metric, "no data"})
			continue
		}
		spread := strings.TrimPrefix(fmtSpread(unit, st), " ")
		if spread == "" {
			spread = "–"
		}
		row := []string{m.Metric, fmtValue(unit, st.Median), fmtValue(unit, st.Min), fmtValue(unit, st.Max), spread}
		for _, r := range usable {
			if v, _, ok := m.Measure(r.Summary); ok {
				row = append(row, fmtValue(unit, v))
			} else {
				row = append(row, "–")
			}
		}
		rows = append(rows, row)
	}
	b.WriteString("\n")
	table{rows: rows, right: func(col int) bool { return col > 0 }}.write(&b) // the metric's name, then numbers
	b.WriteString("(spread: ± half the range of the runs, relative to the median; percentage points for ratios)\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// firstColdstart is the first cold-start run of either side, or nil.
func firstColdstart(sets ...*RunSet) *report.ColdstartReport {
	for _, rs := range sets {
		for _, r := range rs.Runs {
			if r.Coldstart != nil {
				return r.Coldstart
			}
		}
	}
	return nil
}

// table is rows of cells for a terminal: columns two blanks apart, each as wide as its widest cell.
// Right-aligned columns are padded on the left, the others on the right, except a row's last cell
// when it is left-aligned (no blanks at the end of a line). Rows may have fewer cells than others.
type table struct {
	rows  [][]string
	right func(col int) bool // whether a column is right-aligned
}

func (t table) write(b *strings.Builder) {
	var widths []int
	for _, r := range t.rows {
		for i, cell := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	for _, r := range t.rows {
		for i, cell := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-len([]rune(cell)))
			switch {
			case t.right(i):
				b.WriteString(pad + cell)
			case i == len(r)-1:
				b.WriteString(cell)
			default:
				b.WriteString(cell + pad)
			}
		}
		b.WriteString("\n")
	}
}

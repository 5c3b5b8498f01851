package slo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fbench/fbench/report"
)

// Service-level objectives (SLOs): "METRIC OP VALUE", checked against a run's summary and,
// optionally, against every window of a given length of its time line.
//
// METRIC is one of:
//
//   - a latency, CLOCK.STAT, optionally restricted to one function with {fn=NAME}:
//     CLOCK is rtt, service, lag, cancel_settle or status_rtt (see report.Metrics) and STAT is min, mean,
//     p50, p90, p99, p999 or max; e.g. rtt.p99, service.p50, lag.max, rtt.p99{fn=echo}.
//     VALUE is a duration with a unit: µs (or us), ms or s, e.g. 50ms, 1.5s, 800us; 0 needs none.
//   - a ratio of invocation counts (see report.Counts), each a fraction between 0 and 1. VALUE is a
//     fraction (0.001) or a percentage (0.1%):
//     error_rate      = (failed + timed_out + lost + dropped) ÷ due
//     failure_rate    = failed ÷ due
//     timeout_rate    = timed_out ÷ due
//     lost_rate       = lost ÷ due
//     drop_rate       = dropped ÷ due
//     success_rate    = succeeded ÷ due
//     cancelled_ratio = cancelled ÷ cancel_sent (the share of cancels the worker honoured)
//     completed_after_cancel_ratio = completed_after_cancel ÷ cancel_sent
//     status_answered_ratio        = status_answered ÷ status_sent
//   - a rate in invocations per second: achieved_rps (see report.Summary.AchievedRPS) or offered_rps.
//     VALUE is a number (4900), or a percentage of the offered rate (achieved_rps>=98%).
//   - a count of invocations or messages, VALUE a whole number: due, sent, succeeded, failed,
//     cancel_sent, cancelled, completed_after_cancel, timed_out, dropped, lost, unmatched, duplicate,
//     late_responses, unknown_messages; e.g. lost==0, unmatched==0.
//
// OP is <, <=, >, >=, == or !=. Blanks between the parts are allowed.
//
// A metric without data (a latency nothing was recorded for, a ratio whose denominator is 0)
// fails its objective: an SLO cannot be met by measuring nothing.
//
// Over windows (NewEvaluator with a window length), every stretch of that many consecutive
// measured intervals is a window: histograms are merged and counts summed over the window, and
// ratios divide the window's counts (invocations due in the window against outcomes settled in it).
// The objective passes when every window passes; the result reports the worst window. Windows
// without data for the metric are skipped; if no window has data the objective fails.

// Kind is what an SLO's metric measures, and so the unit of its values.
type Kind int

// The kinds of objective.
const (
	Latency Kind = iota // microseconds
	Ratio               // a fraction between 0 and 1
	Rate                // invocations per second (or a fraction of the offered rate, with Relative)
	Count               // a whole number
)

// Unit is the unit of the kind's values in SLOResult: "us", "ratio", "rps" or "count".
func (k Kind) Unit() string {
	return [...]string{"us", "ratio", "rps", "count"}[k]
}

// Objective is one parsed objective.
type Objective struct {
	Expr     string  // as written, trimmed
	Metric   string  // canonical metric name: "rtt.p99", "rtt.p99{fn=echo}", "error_rate"...
	Kind     Kind    //
	Clock    string  // latency: the metric of report.Metrics (rtt, service, ...)
	Stat     string  // latency: min, mean, p50, p90, p99, p999 or max
	Function string  // latency: restricted to this function ("" = all)
	Op       string  // <, <=, >, >=, == or !=
	Value    float64 // the threshold: µs, a fraction, rps (or a fraction of offered_rps) or a count
	Relative bool    // rates: Value is a fraction of offered_rps (written as a percentage)
}

// String is the objective in canonical form, e.g. "rtt.p99<50ms".
func (o Objective) String() string { return o.Metric + o.Op + o.formatThreshold() }

// Tag is the histogram tag (hlog tag) a latency objective reads, e.g. "rtt" or "rtt.fn.echo"; "" for
// other kinds.
func (o Objective) Tag() string {
	if o.Kind != Latency {
		return ""
	}
	if o.Function != "" {
		return report.FunctionTag(o.Clock, o.Function)
	}
	return o.Clock
}

// Statistics are the statistics a latency objective can name, in order.
var Statistics = []string{"min", "mean", "p50", "p90", "p99", "p999", "max"}

// ratios are the ratio metrics: numerator and denominator over report.Counts.
var ratios = map[string]func(c report.Counts) (num, den int64){
	"error_rate": func(c report.Counts) (int64, int64) {
		return c.Failed + c.TimedOut + c.Lost + c.Dropped + c.Unsent, c.Due
	},
	"failure_rate": func(c report.Counts) (int64, int64) { return c.Failed, c.Due },
	"timeout_rate": func(c report.Counts) (int64, int64) { return c.TimedOut, c.Due },
	"lost_rate":    func(c report.Counts) (int64, int64) { return c.Lost, c.Due },
	"drop_rate":    func(c report.Counts) (int64, int64) { return c.Dropped, c.Due },
	"success_rate": func(c report.Counts) (int64, int64) { return c.Succeeded, c.Due },
	"cancelled_ratio": func(c report.Counts) (int64, int64) {
		return c.Cancelled, c.CancelSent
	},
	"completed_after_cancel_ratio": func(c report.Counts) (int64, int64) {
		return c.CompletedAfterCancel, c.CancelSent
	},
	"status_answered_ratio": func(c report.Counts) (int64, int64) { return c.StatusAnswered, c.StatusSent },
}

// counts are the count metrics.
var counts = map[string]func(c report.Counts) int64{
	"due":                    func(c report.Counts) int64 { return c.Due },
	"sent":                   func(c report.Counts) int64 { return c.Sent },
	"succeeded":              func(c report.Counts) int64 { return c.Succeeded },
	"failed":                 func(c report.Counts) int64 { return c.Failed },
	"cancel_sent":            func(c report.Counts) int64 { return c.CancelSent },
	"cancelled":              func(c report.Counts) int64 { return c.Cancelled },
	"completed_after_cancel": func(c report.Counts) int64 { return c.CompletedAfterCancel },
	"timed_out":              func(c report.Counts) int64 { return c.TimedOut },
	"dropped":                func(c report.Counts) int64 { return c.Dropped },
	"lost":                   func(c report.Counts) int64 { return c.Lost },
	"unsent":                 func(c report.Counts) int64 { return c.Unsent },
	"unmatched":              func(c report.Counts) int64 { return c.Unmatched },
	"duplicate":              func(c report.Counts) int64 { return c.Duplicate },
	"late_responses":         func(c report.Counts) int64 { return c.LateResponses },
	"unknown_messages":       func(c report.Counts) int64 { return c.UnknownMessages },
}

var rates = []string{"achieved_rps", "offered_rps"}

var ops = []string{"<=", ">=", "==", "!=", "<", ">"} // two-character operators first

// SyntaxError is a malformed SLO expression: Pos is the 1-based character position the
// problem was found at.
type SyntaxError struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid SLO %q at position %d: %s", e.Expr, e.Pos, e.Msg)
}

// ParseAll parses several expressions; the first error is returned.
func ParseAll(exprs []string) ([]Objective, error) { return parseEach(exprs, Parse) }

// parseEach parses every expression with parse; the first error is returned.
func parseEach(exprs []string, parse func(string) (Objective, error)) ([]Objective, error) {
	out := make([]Objective, 0, len(exprs))
	for _, e := range exprs {
		o, err := parse(e)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// Parse parses one objective, e.g. "rtt.p99<50ms", "error_rate<0.1%", "rtt.p99{fn=echo}<20ms".
// Errors are *SyntaxError.
func Parse(s string) (Objective, error) {
	p := &parser{expr: strings.TrimSpace(s)}
	p.r = []rune(p.expr)
	if len(p.r) == 0 {
		return Objective{}, p.fail(0, "empty expression; want METRIC OP VALUE, e.g. rtt.p99<50ms")
	}
	o := Objective{Expr: p.expr}
	for _, step := range []func(*Objective) error{p.metric, p.selector, p.operator, p.value} {
		if err := step(&o); err != nil {
			return Objective{}, err
		}
	}
	return o, nil
}

// parser reads one expression, METRIC OP VALUE, left to right.
type parser struct {
	expr string
	r    []rune
	i    int // the next rune to read
}

// fail is a syntax error at the 0-based rune position pos.
func (p *parser) fail(pos int, format string, args ...any) error {
	return &SyntaxError{Expr: p.expr, Pos: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.i < len(p.r) && unicode.IsSpace(p.r[p.i]) {
		p.i++
	}
}

// metric reads the metric's name and sets the objective's kind (and a latency's clock and
// statistic).
func (p *parser) metric(o *Objective) error {
	r := p.r
	isName := func(c rune) bool { return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for p.i < len(r) && isName(unicode.ToLower(r[p.i])) {
		p.i++
	}
	name := strings.ToLower(string(r[:p.i]))
	if name == "" {
		return p.fail(0, "want a metric name (e.g. rtt.p99, error_rate, achieved_rps), found %q", string(r[0]))
	}
	if clock, stat, ok := strings.Cut(name, "."); ok {
		if !slices.Contains(report.Metrics, clock) {
			return p.fail(0, "unknown latency clock %q (want %s)", clock, strings.Join(report.Metrics, ", "))
		}
		if !slices.Contains(Statistics, stat) {
			return p.fail(len(clock)+1, "unknown statistic %q (want %s)", stat, strings.Join(Statistics, ", "))
		}
		o.Kind, o.Clock, o.Stat = Latency, clock, stat
	} else if _, ok := ratios[name]; ok {
		o.Kind = Ratio
	} else if slices.Contains(rates, name) {
		o.Kind = Rate
	} else if _, ok := counts[name]; ok {
		o.Kind = Count
	} else if slices.Contains(report.Metrics, name) {
		return p.fail(len(r[:p.i]), "%s needs a statistic, e.g. %s.p99", name, name)
	} else {
		return p.fail(0, "unknown metric %q (want CLOCK.STAT such as rtt.p99, a ratio such as error_rate, a rate such as achieved_rps, or a count such as lost)", name)
	}
	o.Metric = name
	p.skipSpace()
	return nil
}

// selector reads a latency's optional {fn=NAME}.
func (p *parser) selector(o *Objective) error {
	r, i := p.r, p.i
	if i == len(r) || r[i] != '{' {
		return nil
	}
	if o.Kind != Latency {
		return p.fail(i, "only latency metrics take a {fn=NAME} selector")
	}
	end := slices.Index(r[i:], '}')
	if end < 0 {
		return p.fail(i, "unclosed {")
	}
	sel := string(r[i+1 : i+end])
	k, v, ok := strings.Cut(sel, "=")
	if !ok || strings.TrimSpace(k) != "fn" || strings.TrimSpace(v) == "" {
		return p.fail(i+1, "want {fn=NAME}, found {%s}", sel)
	}
	o.Function = strings.TrimSpace(v)
	o.Metric += "{fn=" + o.Function + "}"
	p.i += end + 1
	p.skipSpace()
	return nil
}

// operator reads the comparison: <, <=, >, >=, == or !=.
func (p *parser) operator(o *Objective) error {
	r, i := p.r, p.i
	if i == len(r) {
		return p.fail(i, "missing operator after %s (want <, <=, >, >=, == or !=)", string(r[:i]))
	}
	rest := string(r[i:])
	for _, op := range ops {
		if strings.HasPrefix(rest, op) {
			o.Op = op
			break
		}
	}
	if o.Op == "" {
		if r[i] == '=' {
			return p.fail(i, "unknown operator \"=\" (want == for equality)")
		}
		return p.fail(i, "want an operator (<, <=, >, >=, == or !=), found %q", string(r[i:]))
	}
	p.i += len(o.Op)
	if p.i < len(r) && strings.ContainsRune("<>=!", r[p.i]) {
		return p.fail(i, "unknown operator %q", o.Op+string(r[p.i]))
	}
	p.skipSpace()
	return nil
}

// number is the value of an expression as written: the number and its unit.
type number struct {
	val     string  // the whole value, e.g. "1.5 ms"
	digits  string  // the number, e.g. "1.5"
	num     float64 // the number
	unit    string  // e.g. "ms"; "" for none
	pos     int     // where the value starts
	unitPos int     // where the unit starts
}

// value reads the threshold and its unit, and sets o.Value in the unit of o's kind.
func (p *parser) value(o *Objective) error {
	r := p.r
	if p.i == len(r) {
		return p.fail(p.i, "missing value after %s", o.Op)
	}
	n := number{pos: p.i, val: strings.TrimSpace(string(r[p.i:]))}
	// The number: digits, one point, an optional exponent.
	j := 0
	vr := []rune(n.val)
	for j < len(vr) && (vr[j] >= '0' && vr[j] <= '9' || vr[j] == '.' || vr[j] == '-' && j == 0 || vr[j] == '+' && j == 0) {
		j++
	}
	n.digits = string(vr[:j])
	num, err := strconv.ParseFloat(n.digits, 64)
	if err != nil || math.IsNaN(num) || math.IsInf(num, 0) {
		return p.fail(n.pos, "want a number, found %q", n.val)
	}
	if num < 0 {
		return p.fail(n.pos, "the value must not be negative")
	}
	n.num, n.unit, n.unitPos = num, strings.TrimSpace(string(vr[j:])), n.pos+j
	for n.unitPos < len(r) && unicode.IsSpace(r[n.unitPos]) {
		n.unitPos++
	}
	switch o.Kind {
	case Latency:
		return p.latency(o, n)
	case Ratio:
		return p.ratio(o, n)
	case Rate:
		return p.rate(o, n)
	default:
		return p.count(o, n)
	}
}

// latency sets a latency's threshold in µs.
func (p *parser) latency(o *Objective, n number) error {
	var scale float64
	switch n.unit {
	case "µs", "μs", "us":
		scale = 1
	case "ms":
		scale = 1e3
	case "s":
		scale = 1e6
	case "":
		if n.num != 0 {
			return p.fail(n.unitPos, "latency %s needs a unit (µs, us, ms or s)", n.digits)
		}
	default:
		return p.fail(n.unitPos, "unknown unit %q for a latency (want µs, us, ms or s)", n.unit)
	}
	o.Value = n.num * scale
	return nil
}

// ratio sets a ratio's threshold as a fraction.
func (p *parser) ratio(o *Objective, n number) error {
	num := n.num
	switch n.unit {
	case "%":
		num /= 100
	case "":
	default:
		return p.fail(n.unitPos, "unknown unit %q for a ratio (want a fraction such as 0.001 or a percentage such as 0.1%%)", n.unit)
	}
	if num > 1 {
		return p.fail(n.pos, "a ratio is at most 1 (100%%), found %s", n.val)
	}
	o.Value = num
	return nil
}

// rate sets a rate's threshold in invocations per second, or as a fraction of offered_rps.
func (p *parser) rate(o *Objective, n number) error {
	switch n.unit {
	case "%":
		if o.Metric != "achieved_rps" {
			return p.fail(n.unitPos, "only achieved_rps takes a percentage (of offered_rps)")
		}
		o.Value, o.Relative = n.num/100, true
	case "", "rps", "/s":
		o.Value = n.num
	default:
		return p.fail(n.unitPos, "unknown unit %q for a rate (want a number of invocations per second, or a percentage of offered_rps)", n.unit)
	}
	return nil
}

// count sets a count's threshold, a whole number.
func (p *parser) count(o *Objective, n number) error {
	if n.unit != "" {
		return p.fail(n.unitPos, "a count takes no unit, found %q", n.unit)
	}
	if n.num != math.Trunc(n.num) {
		return p.fail(n.pos, "a count is a whole number, found %s", n.val)
	}
	o.Value = n.num
	return nil
}

// compare applies the operator to v and the threshold.
func (o Objective) compare(v float64) bool {
	t := o.Value
	switch o.Op {
	case "<":
		return v < t
	case "<=":
		return v <= t
	case ">":
		return v > t
	case ">=":
		return v >= t
	case "==":
		return v == t
	case "!=":
		return v != t
	}
	return false
}

// badness orders values from best to worst for the operator: the worst window has the largest.
func (o Objective) badness(v float64) float64 {
	switch o.Op {
	case "<", "<=":
		return v
	case ">", ">=":
		return -v
	case "==":
		return math.Abs(v - o.Value)
	default: // !=
		return -math.Abs(v - o.Value)
	}
}

func (o Objective) formatThreshold() string {
	switch o.Kind {
	case Latency:
		return report.FormatMicros(o.Value)
	case Ratio:
		return Percent(o.Value) + "%"
	case Rate:
		if o.Relative {
			return Percent(o.Value) + "%"
		}
		return report.FormatFloat(o.Value)
	}
	return strconv.FormatFloat(o.Value, 'f', -1, 64)
}

// Percent formats a fraction as a percentage rounded to 4 decimals, without the % sign: 0.0015
// gives "0.15" (NaN and infinities: "0").
func Percent(v float64) string {
	v *= 100
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	return strconv.FormatFloat(math.Round(v*1e4)/1e4, 'f', -1, 64)
}

// data is what an objective is measured on: a whole summary or one window.
type data struct {
	counts      report.Counts
	achievedRPS float64
	offeredRPS  float64
	latency     func(tag string) (report.Stats, bool) // the stats of a histogram tag
}

func summaryData(s *report.Summary) data {
	return data{
		counts: s.Counts, achievedRPS: s.AchievedRPS, offeredRPS: s.OfferedRPS,
		latency: func(tag string) (report.Stats, bool) {
			metric, kind, name := report.SplitTag(tag)
			var st report.Stats
			switch kind {
			case "":
				st = s.Latency[metric]
			case "fn":
				// Summary.Functions is keyed by the worker's own name; the tag by the sanitized one.
				if m, ok := s.Functions[name]; ok {
					st = m[metric]
				} else {
					for fn, m := range s.Functions {
						if report.SanitizeTag(fn) == name {
							st = m[metric]
							break
						}
					}
				}
				if len(s.Functions) == 0 && report.SanitizeTag(report.SingleFunction(s)) == name {
					st = s.Latency[metric] // one function invoked: the run's own figures are its
				}
			}
			return st, st.Count > 0
		},
	}
}

// Measure returns the objective's metric in s's totals (the measured phase), a description for
// people, and false when s has no data for it.
func (o Objective) Measure(s *report.Summary) (float64, string, bool) {
	return o.measure(summaryData(s))
}

// measure returns the objective's metric in d, a description for people, and false when d has
// no data for it.
func (o Objective) measure(d data) (float64, string, bool) {
	switch o.Kind {
	case Latency:
		st, ok := d.latency(o.Tag())
		if !ok {
			what := o.Clock
			if o.Function != "" {
				what += " of function " + o.Function
			}
			return 0, "no data (no " + what + " recorded)", false
		}
		var v float64
		switch o.Stat {
		case "min":
			v = float64(st.Min)
		case "mean":
			v = st.Mean
		case "p50":
			v = float64(st.P50)
		case "p90":
			v = float64(st.P90)
		case "p99":
			v = float64(st.P99)
		case "p999":
			v = float64(st.P999)
		case "max":
			v = float64(st.Max)
		}
		return v, report.FormatMicros(v), true
	case Ratio:
		num, den := ratios[o.Metric](d.counts)
		if den == 0 {
			return 0, "no data (denominator 0)", false
		}
		v := float64(num) / float64(den)
		return v, fmt.Sprintf("%s%% (%d of %d)", Percent(v), num, den), true
	case Rate:
		v := d.achievedRPS
		if o.Metric == "offered_rps" {
			v = d.offeredRPS
		}
		if o.Relative {
			if d.offeredRPS <= 0 {
				return 0, "no data (no offered rate)", false
			}
			r := v / d.offeredRPS
			return r, fmt.Sprintf("%s%% of offered (%s of %s rps)", Percent(r), report.FormatFloat(v), report.FormatFloat(d.offeredRPS)), true
		}
		return v, report.FormatFloat(v) + " rps", true
	default:
		v := float64(counts[o.Metric](d.counts))
		return v, strconv.FormatFloat(v, 'f', -1, 64), true
	}
}

func (o Objective) result() report.SLOResult {
	return report.SLOResult{Expression: o.Expr, Metric: o.Metric, Op: o.Op, Threshold: o.Value, Unit: o.unit()}
}

func (o Objective) unit() string {
	if o.Relative {
		return "ratio_of_offered"
	}
	return o.Kind.Unit()
}

// Check evaluates the objective on the summary's totals (the measured phase).
func (o Objective) Check(s *report.Summary) report.SLOResult {
	r := o.result()
	v, desc, ok := o.measure(summaryData(s))
	r.Observed = desc
	if ok {
		r.Value = &v
		r.Pass = o.compare(v)
	}
	return r
}

// Evaluate checks every objective on the summary's totals. It does not change s.
func Evaluate(s *report.Summary, slos []Objective) []report.SLOResult {
	out := make([]report.SLOResult, 0, len(slos))
	for _, o := range slos {
		out = append(out, o.Check(s))
	}
	return out
}

// Pass reports whether every result passed (true for none).
func Pass(results []report.SLOResult) bool {
	for _, r := range results {
		if !r.Pass {
			return false
		}
	}
	return true
}

// Evaluator checks objectives on a run's summary and, with a window length, on every window of
// its measured intervals. Its memory is bounded by the window: it keeps the intervals of one
// window (their non-empty histogram buckets, for the tags the objectives read) and their running
// sums. Feed it intervals as a report.IntervalObserver, then call Evaluate (a report.Evaluator) on
// the summary. It is not safe for concurrent use; report.RunWriter and report.RebuildWith call it
// under their own serialization.
type Evaluator struct {
	slos   []Objective
	all    []Objective // slos, then for each {fn=NAME} objective the same on the whole run (see report.SingleFunction)
	alias  []int       // for each of slos: its index in all of the whole-run variant, or -1
	window time.Duration
	tags   []string

	k      int // intervals per window; 0 until the first measured interval
	ring   []windowSlot
	head   int // index of the oldest slot
	n      int // slots in use
	sum    windowSum
	lastTo time.Duration
	full   bool // a full window was evaluated since the last gap
	done   bool // Evaluate flushed the last stretch
	worst  []worstWindow
	count  int // windows evaluated
}

// NewEvaluator returns an evaluator of slos; window > 0 also checks every window of that length
// (rounded to a whole number of intervals, at least one).
func NewEvaluator(slos []Objective, window time.Duration) *Evaluator {
	e := &Evaluator{slos: slos, window: max(window, 0), all: slices.Clone(slos)}
	for _, o := range slos {
		alias := -1
		if o.Function != "" {
			w := o
			w.Function, w.Metric = "", o.Clock+"."+o.Stat
			alias = len(e.all)
			e.all = append(e.all, w)
		}
		e.alias = append(e.alias, alias)
	}
	for _, o := range e.all {
		if t := o.Tag(); t != "" && !slices.Contains(e.tags, t) {
			e.tags = append(e.tags, t)
		}
	}
	e.worst = make([]worstWindow, len(e.all))
	return e
}

// Objectives are the evaluator's objectives.
func (e *Evaluator) Objectives() []Objective { return e.slos }

// Window is the window length asked for (0: none).
func (e *Evaluator) Window() time.Duration { return e.window }

type windowSlot struct {
	start, length time.Duration
	counts        report.Counts
	expected      float64
	responses     int64
	buckets       map[string]sparseCounts
}

// sparseCounts are the non-zero buckets of a histogram in fbench's geometry (report.NewHistogram).
type sparseCounts struct {
	idx []int32
	n   []int64
}

type windowSum struct {
	counts    report.Counts
	expected  float64
	responses int64
	seconds   float64
	buckets   map[string][]int64 // full bucket arrays of report.NewHistogram's geometry
}

type worstWindow struct {
	set      bool
	badness  float64
	value    float64
	desc     string
	start    time.Duration
	length   time.Duration
	failed   int
	withData int
	partial  bool
}

// ObserveInterval adds one interval (report.IntervalObserver).
func (e *Evaluator) ObserveInterval(rec *report.IntervalRecord, hists map[string]*hdrhistogram.Histogram) {
	if e.window <= 0 || rec.Warmup || rec.Length <= 0 {
		return
	}
	if e.k == 0 {
		e.k = max(1, int(math.Round(float64(e.window)/float64(rec.Length))))
		e.ring = make([]windowSlot, e.k)
		e.sum.buckets = map[string][]int64{}
	}
	// A gap in the time line (intervals missing) starts the windows afresh.
	if e.n > 0 && rec.Start-e.lastTo > rec.Length/2 {
		e.flush()
		for e.n > 0 {
			e.pop()
		}
		e.full = false
	}
	e.lastTo = rec.Start + rec.Length
	if e.n == e.k {
		e.pop()
	}
	slot := windowSlot{start: rec.Start, length: rec.Length, counts: rec.Counts,
		expected: rec.OfferedRPS * rec.Length.Seconds(), responses: rec.Counts.Responses(), buckets: map[string]sparseCounts{}}
	for _, tag := range e.tags {
		h := hists[tag]
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		slot.buckets[tag] = sparseOf(h)
	}
	e.ring[(e.head+e.n)%e.k] = slot
	e.n++
	e.sum.add(&slot, 1)
	if e.n == e.k {
		e.evaluateWindow(false)
		e.full = true
	}
}

// flush evaluates a stretch of consecutive intervals shorter than a window (the whole run, or the
// intervals between two gaps) as one partial window, so that no interval goes unchecked.
func (e *Evaluator) flush() {
	if !e.full && e.n > 0 {
		e.evaluateWindow(true)
	}
}

func (e *Evaluator) pop() {
	slot := &e.ring[e.head]
	e.sum.add(slot, -1)
	*slot = windowSlot{}
	e.head = (e.head + 1) % e.k
	e.n--
}

func sparseOf(h *hdrhistogram.Histogram) sparseCounts {
	if h.LowestTrackableValue() != report.HistLowest || h.SignificantFigures() != report.HistSigFigs {
		// Another geometry (a foreign log): re-record into fbench's.
		m := report.NewHistogram()
		m.Merge(h)
		h = m
	}
	var sc sparseCounts
	for i, c := range h.Export().Counts {
		if c != 0 {
			sc.idx = append(sc.idx, int32(i))
			sc.n = append(sc.n, c)
		}
	}
	return sc
}

// histCountsLen is the number of buckets of report.NewHistogram's geometry.
var histCountsLen = sync.OnceValue(func() int { return len(report.NewHistogram().Export().Counts) })

func (w *windowSum) add(s *windowSlot, sign int64) {
	c := s.counts
	neg := func(v int64) int64 { return sign * v }
	w.counts.Add(report.Counts{
		Due: neg(c.Due), Sent: neg(c.Sent), Succeeded: neg(c.Succeeded), Failed: neg(c.Failed),
		CancelSent: neg(c.CancelSent), CancelSkipped: neg(c.CancelSkipped), Cancelled: neg(c.Cancelled), CompletedAfterCancel: neg(c.CompletedAfterCancel),
		TimedOut: neg(c.TimedOut), Dropped: neg(c.Dropped), Lost: neg(c.Lost), Unsent: neg(c.Unsent), Unmatched: neg(c.Unmatched),
		Duplicate: neg(c.Duplicate), LateResponses: neg(c.LateResponses), StatusSent: neg(c.StatusSent),
		StatusAnswered: neg(c.StatusAnswered), Logs: neg(c.Logs), LogsDropped: neg(c.LogsDropped),
		EmptyMessages: neg(c.EmptyMessages), UnknownMessages: neg(c.UnknownMessages),
		WarmupSettled: neg(c.WarmupSettled),
	})
	w.expected += float64(sign) * s.expected
	w.responses += sign * s.responses
	w.seconds += float64(sign) * s.length.Seconds()
	for tag, sc := range s.buckets {
		arr := w.buckets[tag]
		if arr == nil {
			arr = make([]int64, histCountsLen())
			w.buckets[tag] = arr
		}
		for i, idx := range sc.idx {
			arr[idx] += sign * sc.n[i]
		}
	}
}

// evaluateWindow measures every objective on the current window.
func (e *Evaluator) evaluateWindow(partial bool) {
	e.count++
	first := e.ring[e.head]
	last := e.ring[(e.head+e.n-1)%e.k]
	start, length := first.start, last.start+last.length-first.start
	stats := map[string]report.Stats{}
	d := data{counts: e.sum.counts}
	if e.sum.seconds > 0 {
		d.achievedRPS = report.Round3(float64(e.sum.responses) / e.sum.seconds)
		d.offeredRPS = report.Round3(e.sum.expected / e.sum.seconds)
	}
	d.latency = func(tag string) (report.Stats, bool) {
		if st, ok := stats[tag]; ok {
			return st, st.Count > 0
		}
		var st report.Stats
		if arr := e.sum.buckets[tag]; arr != nil {
			st = report.StatsOf(hdrhistogram.Import(&hdrhistogram.Snapshot{LowestTrackableValue: report.HistLowest,
				HighestTrackableValue: report.HistHighest, SignificantFigures: report.HistSigFigs, Counts: arr}))
		}
		stats[tag] = st
		return st, st.Count > 0
	}
	for i, o := range e.all {
		v, desc, ok := o.measure(d)
		if !ok {
			continue
		}
		w := &e.worst[i]
		w.withData++
		if !o.compare(v) {
			w.failed++
		}
		if b := o.badness(v); !w.set || b > w.badness {
			*w = worstWindow{set: true, badness: b, value: v, desc: desc, start: start, length: length,
				failed: w.failed, withData: w.withData, partial: partial}
		}
	}
}

// Evaluate sets s.SLOs (a report.Evaluator): for each objective, its result on the summary's
// totals and, with a window, its result on the worst window right after it.
func (e *Evaluator) Evaluate(s *report.Summary) {
	if e.window > 0 && !e.done {
		e.done = true
		e.flush()
	}
	out := make([]report.SLOResult, 0, len(e.slos)*2)
	single := ""
	if len(s.Functions) == 0 {
		single = report.SanitizeTag(report.SingleFunction(s))
	}
	for i, o := range e.slos {
		out = append(out, o.Check(s))
		if e.window > 0 {
			w := i
			if e.alias[i] >= 0 && single != "" && report.SanitizeTag(o.Function) == single {
				w = e.alias[i]
			}
			out = append(out, e.windowResult(w, o))
		}
	}
	s.SLOs = out
}

func (e *Evaluator) windowResult(i int, o Objective) report.SLOResult {
	r := o.result()
	r.WindowS = report.Round3(e.window.Seconds())
	w := e.worst[i]
	if !w.set {
		r.Observed = fmt.Sprintf("no data in any %s window", fmtDurS(e.window))
		return r
	}
	v, start := w.value, report.Round3(w.start.Seconds())
	r.Value, r.WindowStartS = &v, &start
	r.Windows, r.FailedWindows = w.withData, w.failed
	r.Pass = w.failed == 0
	shown := e.window
	if w.partial || w.length != e.window {
		shown = w.length
	}
	r.Observed = fmt.Sprintf("worst %s in the %s window at %s s", w.desc, fmtDurS(shown), report.FormatFloat(w.start.Seconds()))
	if w.partial {
		r.Observed += fmt.Sprintf(" (partial: only %s of consecutive intervals there)", fmtDurS(w.length))
	}
	plural := "s"
	if w.withData == 1 {
		plural = ""
	}
	if w.failed > 0 {
		r.Observed += fmt.Sprintf("; %d of %d window%s failed", w.failed, w.withData, plural)
	} else {
		r.Observed += fmt.Sprintf("; %d window%s", w.withData, plural)
	}
	return r
}

func fmtDurS(d time.Duration) string { return report.FormatFloat(d.Seconds()) + " s" }

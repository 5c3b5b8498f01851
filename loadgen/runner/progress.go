package runner

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fbench/fbench/report"
)

// progress prints one live line per interval on a terminal, or a plain line every few seconds.
type progress struct {
	w       io.Writer // nil: nothing
	tty     bool
	total   time.Duration
	last    time.Time
	wrote   bool
	errors  int64
	cancels int64
}

func newProgress(w io.Writer, p *Plan) *progress {
	pr := &progress{w: w, tty: IsTerminal(w)}
	if p.Schedule != nil && p.Schedule.Bounded() {
		pr.total = p.Schedule.Duration()
	} else {
		pr.total = p.Config.Duration
	}
	return pr
}

func (p *progress) interval(rec *report.IntervalRecord) {
	if p.w == nil {
		return
	}
	c := rec.Counts
	p.errors += c.Failed + c.TimedOut + c.Dropped + c.Lost
	p.cancels += c.Cancelled
	if !p.tty && time.Since(p.last) < 5*time.Second {
		return
	}
	p.last = time.Now()
	var p50, p99 int64
	if h := rec.Histograms[report.MetricRTT]; h != nil {
		p50, p99 = h.ValueAtQuantile(50), h.ValueAtQuantile(99)
	}
	secs := rec.Length.Seconds()
	achieved := 0.0
	if secs > 0 {
		achieved = float64(c.Succeeded+c.Failed+c.Cancelled+c.CompletedAfterCancel) / secs
	}
	elapsed := rec.Start + rec.Length
	total := "?"
	if p.total > 0 {
		total = p.total.Round(time.Second).String()
	}
	line := fmt.Sprintf("%6s/%-6s %8.0f rps  in-flight %-6d rtt p50 %-8s p99 %-8s errors %d  cancelled %d  [%s]",
		elapsed.Round(time.Second), total, achieved, rec.InFlight,
		report.FormatDuration(time.Duration(p50)*time.Microsecond), report.FormatDuration(time.Duration(p99)*time.Microsecond), p.errors, p.cancels, rec.Phase)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.wrote = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if p.wrote {
		fmt.Fprintln(p.w)
	}
}

// describePlan is the start line's account of the load.
func describePlan(p *Plan) string {
	if p.Mode == "closed" {
		return fmt.Sprintf("closed loop, %d in flight", p.Config.Concurrency)
	}
	s := p.Schedule
	if s.Bounded() {
		return fmt.Sprintf("open loop, %s arrivals, %.0f invocations over %s", s.Arrival(), s.Expected(0, s.Duration()), s.Duration())
	}
	return fmt.Sprintf("open loop, %s arrivals at %.0f/s, %d invocations", s.Arrival(), s.RateAt(0), p.Config.Count)
}

// stampMs is RFC 3339 to the millisecond.
const stampMs = "2006-01-02T15:04:05.000Z07:00"

// startAtLine says, before the wait, when the measured phase starts and how long fbench waits.
func startAtLine(w io.Writer, p *Plan, now time.Time) {
	at := p.Config.StartAt
	if at.IsZero() {
		return
	}
	warm := p.Config.Warmup
	if p.Schedule != nil {
		warm = p.Schedule.WarmupEnd()
	}
	fmt.Fprintf(w, "fbench: the measured phase starts at %s (--start-at), the warm-up at %s: waiting %s with the worker ready\n",
		at.UTC().Format(stampMs), at.Add(-warm).UTC().Format(stampMs), at.Add(-warm).Sub(now).Round(time.Millisecond))
}

// IsTerminal says whether w is a terminal (a progress line may then rewrite itself in place).
func IsTerminal(w io.Writer) bool {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return true
		}
	}
	return false
}

package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fbench/fbench/report"
)

// progress prints one live line per interval on a terminal, or a plain line every few seconds.
type progress struct {
	w       io.Writer
	quiet   bool
	tty     bool
	total   time.Duration
	last    time.Time
	wrote   bool
	errors  int64
	cancels int64
	period  time.Duration
}

func newProgress(w io.Writer, p *plan) *progress {
	pr := &progress{w: w, quiet: p.quiet, period: p.cfg.Interval}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			pr.tty = true
		}
	}
	if p.schedule != nil && p.schedule.Bounded() {
		pr.total = p.schedule.Duration()
	} else {
		pr.total = p.cfg.Duration
	}
	return pr
}

func (p *progress) interval(rec *report.IntervalRecord) {
	if p.quiet {
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
		fmtDur(time.Duration(p50)*time.Microsecond), fmtDur(time.Duration(p99)*time.Microsecond), p.errors, p.cancels, rec.Phase)
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

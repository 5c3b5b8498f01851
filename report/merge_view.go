package report

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// outlierFactor: a machine whose rtt p99 is above this many times the machines' median p99 is
// flagged in the machines table.
const outlierFactor = 2.0

// outlier says how far machine r's rtt p99 is above the machines' median, when it is an outlier.
func outlier(runs []MergedRun, r MergedRun) string {
	var p99s []int64
	for _, x := range runs {
		if v := x.Latency[MetricRTT].P99; v > 0 {
			p99s = append(p99s, v)
		}
	}
	if len(p99s) < 3 {
		return ""
	}
	slices.Sort(p99s)
	med := float64(p99s[len(p99s)/2])
	if len(p99s)%2 == 0 {
		med = float64(p99s[len(p99s)/2-1]+p99s[len(p99s)/2]) / 2
	}
	v := float64(r.Latency[MetricRTT].P99)
	if med <= 0 || v <= outlierFactor*med {
		return ""
	}
	return "rtt p99 " + strconv.FormatFloat(v/med, 'f', 1, 64) + "× the machines' median"
}

// The merged run's per-machine view: a table in the text summary, and in report.html a chart of
// every machine's p50 and p99 as dots beside the merged figures, so that a bad node stands out.

// writeRuns writes the machines of a merged run, one line each.
func writeRuns(p func(format string, args ...any), s *Summary) {
	if len(s.Runs) == 0 {
		return
	}
	p("\nmachines (%d runs merged):\n", len(s.Runs))
	p("  %-3s %-24s %10s %10s %10s %10s %10s  %s\n", "#", "host", "achieved", "rtt p50", "rtt p99", "rtt max", "due", "run")
	for i, r := range s.Runs {
		rtt := r.Latency[MetricRTT]
		flags := ""
		if !r.Valid {
			flags += " INVALID"
		}
		if r.Crashed {
			flags += " CRASHED"
		}
		if r.LeftOut > 0 {
			flags += " (" + strconv.Itoa(r.LeftOut) + " intervals left out)"
		}
		if o := outlier(s.Runs, r); o != "" {
			flags += " (" + o + ")"
		}
		p("  %-3d %-24s %10s %10s %10s %10s %10d  %s%s\n", i+1, r.Hostname, FormatFloat(r.AchievedRPS), ms(rtt.P50), ms(rtt.P99), ms(rtt.Max), r.Counts.Due, r.Dir, flags)
	}
}

// runRow is one machine in report.html's machines table.
type runRow struct {
	N                     int
	Host, Dir             string
	Achieved, P50, P99    string
	Max, Due, Offset, Bad string
}

func runRows(s *Summary) []runRow {
	rows := make([]runRow, 0, len(s.Runs))
	for i, r := range s.Runs {
		rtt := r.Latency[MetricRTT]
		var bad []string
		if !r.Valid {
			bad = append(bad, "invalid: "+r.InvalidReason)
		}
		if r.Crashed {
			bad = append(bad, "worker crashed")
		}
		if r.LeftOut > 0 {
			bad = append(bad, strconv.Itoa(r.LeftOut)+" intervals left out (logs cut short)")
		}
		if r.Interrupted != "" {
			bad = append(bad, "interrupted")
		}
		if o := outlier(s.Runs, r); o != "" {
			bad = append(bad, o)
		}
		rows = append(rows, runRow{
			N: i + 1, Host: r.Hostname, Dir: r.Dir, Achieved: FormatFloat(r.AchievedRPS) + " rps",
			P50: fmtMicrosHTML(rtt.P50), P99: fmtMicrosHTML(rtt.P99), Max: fmtMicrosHTML(rtt.Max),
			Due: fmtInt(r.Counts.Due), Offset: FormatFloat(r.OffsetS) + " s", Bad: strings.Join(bad, "; "),
		})
	}
	return rows
}

// spreadChart is every machine's rtt p50 and p99 as dots (x: the machine's number in the table),
// with the merged run's p50 and p99 as reference lines; nil for a run that was not merged.
func spreadChart(s *Summary) *chart {
	if len(s.Runs) == 0 {
		return nil
	}
	c := newChart("machines", "rtt p50 and p99 of each machine")
	c.XLabel = "machine (# in the machines table)"
	c.YLabel = "latency"
	c.Note = "Each dot is one machine's own figure; the dashed lines are the merged run's (all samples of every machine in one histogram)."
	n := len(s.Runs)
	ticks := make([]float64, n)
	for i := range ticks {
		ticks[i] = float64(i)
	}
	if n > 40 { // keep the labels readable
		ticks = ticks[:0]
		step := int(niceStep(float64(n) / 20))
		for i := 0; i < n; i += max(step, 1) {
			ticks = append(ticks, float64(i))
		}
	}
	c.setX(-0.5, float64(n)-0.5, ticks, func(v float64) string { return strconv.Itoa(int(v) + 1) })
	lo, hi := math.Inf(1), 0.0
	merged := s.Latency[MetricRTT]
	for _, v := range []int64{merged.P50, merged.P99} {
		if v > 0 {
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
	}
	for _, r := range s.Runs {
		st := r.Latency[MetricRTT]
		for _, v := range []int64{st.P50, st.P99} {
			if v > 0 {
				lo, hi = min(lo, float64(v)), max(hi, float64(v))
			}
		}
	}
	if hi == 0 {
		return nil
	}
	c.setYLog(lo, hi, fmtLatencyTick)
	c.dots("p50", colBlue, s.Runs, func(st Stats) int64 { return st.P50 })
	c.dots("p99", colRed, s.Runs, func(st Stats) int64 { return st.P99 })
	if merged.P50 > 0 {
		c.refY(float64(merged.P50), colBlue, "merged p50 "+fmtMicros(merged.P50))
		c.refY(float64(merged.P99), colRed, "merged p99 "+fmtMicros(merged.P99))
	}
	return c
}

// dots adds a filled series of one dot per machine at its rtt figure.
func (c *chart) dots(name, color string, runs []MergedRun, of func(Stats) int64) {
	const r = 4.0
	var b strings.Builder
	for i, run := range runs {
		x, y := c.xs.at(float64(i)), c.ys.at(float64(of(run.Latency[MetricRTT])))
		if math.IsNaN(x) || math.IsNaN(y) {
			continue
		}
		b.WriteString("M" + f1(x-r) + "," + f1(y) + "a4,4 0 1,0 8,0a4,4 0 1,0 -8,0")
	}
	c.Series = append(c.Series, series{Name: name, Color: color, D: b.String(), Fill: true})
}

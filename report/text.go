package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteText writes the terminal summary of s: the figures of summary.json, latencies in
// milliseconds with three decimals (exact: they are whole microseconds).
func WriteText(w io.Writer, s *Summary) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	writeTextHeader(p, s)
	writeTextCounts(p, s)
	writeTextWorkerLogs(p, s)
	writeTextFailures(p, s)
	writeTextHTTP(p, s)
	writeTextLatencies(p, s)
	writeTextWorker(p, s)
	writeTextHarness(p, s)
	writeTextOutcomes(p, s)
	return bw.Flush()
}

// writeTextHeader prints the run's first lines: version, loop, measured time, window, validity and interruption.
func writeTextHeader(p func(format string, args ...any), s *Summary) {
	mode := s.Mode
	if mode == "" {
		mode = "unknown"
	}
	p("fbench %s · %s loop · %s s measured (%d intervals) · %s s warm-up excluded (%d intervals)\n",
		s.FbenchVersion, mode, FormatFloat(s.DurationS), s.Intervals, FormatFloat(s.WarmupS), s.WarmupIntervals)
	if s.Window != nil {
		to := "end"
		if s.Window.ToS != 0 {
			to = FormatFloat(s.Window.ToS) + " s"
		}
		p("window: %s s – %s\n", FormatFloat(s.Window.FromS), to)
	}
	if !s.Harness.Valid {
		p("\n*** HARNESS INVALID: %s ***\n", s.Harness.InvalidReason)
	}
	if s.Interrupted != "" {
		p("interrupted: %s\n", s.Interrupted)
	}
}

// writeTextCounts prints the rate, the invocation, cancel and protocol counts and the status pings.
func writeTextCounts(p func(format string, args ...any), s *Summary) {
	c := s.Counts
	if s.Mode == "closed" {
		p("\nrate: closed loop (no offered rate), achieved %s rps (responses ÷ time under load, drain excluded)\n", FormatFloat(s.AchievedRPS))
	} else {
		p("\nrate: offered %s rps, achieved %s rps (responses ÷ time under load, drain excluded)\n", FormatFloat(s.OfferedRPS), FormatFloat(s.AchievedRPS))
	}
	p("invocations: due %d, sent %d, succeeded %d, failed %d, timed out %d, dropped %d, lost %d",
		c.Due, c.Sent, c.Succeeded, c.Failed, c.TimedOut, c.Dropped, c.Lost)
	if c.Unsent > 0 {
		p(", unsent %d", c.Unsent)
	}
	p("\n")
	if c.WarmupSettled > 0 {
		p("             (and %d warm-up invocations settled after the warm-up, counted in none of these)\n", c.WarmupSettled)
	}
	p("cancels: sent %d, cancelled %d, completed after cancel %d", c.CancelSent, c.Cancelled, c.CompletedAfterCancel)
	if c.CancelSkipped > 0 {
		p(" (%d more drawn but not sent: their invocation had already settled)", c.CancelSkipped)
	}
	p("\n")
	if c.Unmatched+c.Duplicate+c.LateResponses+c.UnknownMessages+c.EmptyMessages > 0 {
		p("protocol: unmatched %d, duplicate %d, late %d, unknown messages %d, empty messages %d\n",
			c.Unmatched, c.Duplicate, c.LateResponses, c.UnknownMessages, c.EmptyMessages)
	}
	p("worker status: %d of %d answered · worker log lines: %d (%d dropped)\n", c.StatusAnswered, c.StatusSent, c.Logs, c.LogsDropped)
}

// writeTextWorkerLogs prints the worker's log lines by level and its first error, when it logged.
func writeTextWorkerLogs(p func(format string, args ...any), s *Summary) {
	l := s.WorkerLogs
	if l == nil {
		return
	}
	p("worker logs by level:")
	for _, k := range sortedKeys(l.ByLevel) {
		p(" %s %d", k, l.ByLevel[k])
	}
	if l.AfterSettle > 0 {
		p(" · %d after their invocation settled (the host drops them)", l.AfterSettle)
	}
	p("\n")
	if len(l.FirstErrors) > 0 {
		e := l.FirstErrors[0]
		p("first worker error (worker.log): at %s [%s] %s\n", fmtSeconds(Round3(e.At.Seconds())), e.Category, oneLineText(e.Message, 160))
	}
}

// writeTextFailures prints the top five failure groups and the count of the rest.
func writeTextFailures(p func(format string, args ...any), s *Summary) {
	f := s.Failures
	if f == nil {
		return
	}
	p("failures: %d, by reason (top %d of %d groups; all in summary.json and report.html):\n", f.Total, min(5, len(f.Groups)), len(f.Groups)+max(f.OtherGroups, 0))
	for i, g := range f.Groups {
		if i == 5 {
			break
		}
		fn := g.Function
		if fn == "" {
			fn = "–"
		}
		p("  %9d  %-16s %-11s %s\n", g.Count, fn, g.Kind, oneLineText(g.Pattern, 120))
	}
	if rest := f.Total - sumTop(f.Groups, 5); rest > 0 {
		p("  %9d  other\n", rest)
	}
}

// writeTextHTTP prints the HTTP mode's status classes and statuses, then the failure reasons.
func writeTextHTTP(p func(format string, args ...any), s *Summary) {
	c := s.Counts
	if s.HTTPMode != "" {
		p("http: %s; statuses 1xx %d, 2xx %d, 3xx %d, 4xx %d, 5xx %d", httpModeText(s.HTTPMode), c.HTTP1xx, c.HTTP2xx, c.HTTP3xx, c.HTTP4xx, c.HTTP5xx)
		if s.HTTPMode == "proxy" {
			p(", response bytes %d", c.HTTPResponseBytes)
		}
		p("\n")
		for _, l := range statusLines(s.HTTPStatus) {
			p("  status %s\n", l)
		}
	}
	if len(s.FailureReasons) > 0 {
		p("failure reasons:\n")
		for _, l := range reasonLines(s.FailureReasons) {
			p("  %s\n", l)
		}
	}
}

// latencyRows lists the latency table's lines: every metric, then each function's tags, then each status's rtt.
func latencyRows(s *Summary) []latencyRow {
	var rows []latencyRow
	for _, m := range Metrics {
		rows = append(rows, latencyRow{m, s.Latency[m]})
	}
	for _, fn := range sortedKeys(s.Functions) {
		for _, m := range sortedTags(s.Functions[fn]) {
			rows = append(rows, latencyRow{m + " " + oneLine(fn), s.Functions[fn][m]})
		}
	}
	for _, st := range sortedKeys(s.Statuses) {
		rows = append(rows, latencyRow{"rtt " + st, s.Statuses[st]})
	}
	return rows
}

// writeTextLatencies prints the latency table in milliseconds.
func writeTextLatencies(p func(format string, args ...any), s *Summary) {
	rows := latencyRows(s)
	nameW := len("latency (ms)")
	for _, r := range rows {
		nameW = max(nameW, len([]rune(r.Name)))
	}
	p("\n%-*s %9s %10s %10s %10s %10s %10s %10s %10s\n", nameW, "latency (ms)", "count", "min", "mean", "p50", "p90", "p99", "p99.9", "max")
	for _, r := range rows {
		st := r.St
		if st.Count == 0 {
			// Nothing was recorded on this clock: no figure to print, rather than zeros that read as measured.
			p("%s%s %9d %10s\n", r.Name, strings.Repeat(" ", nameW-len([]rune(r.Name))), 0, "-")
			continue
		}
		p("%s%s %9d %10s %10s %10s %10s %10s %10s %10s\n", r.Name, strings.Repeat(" ", nameW-len([]rune(r.Name))), st.Count, ms(st.Min),
			strconv.FormatFloat(st.Mean/1000, 'f', 3, 64), ms(st.P50), ms(st.P90), ms(st.P99), ms(st.P999), ms(st.Max))
	}
}

// writeTextWorker prints the worker's exit, restarts and footprint, then one line per worker process.
func writeTextWorker(p func(format string, args ...any), s *Summary) {
	wk := s.Worker
	exit := "running/unknown"
	if wk.ExitCode != nil {
		exit = strconv.Itoa(*wk.ExitCode)
	}
	p("\nworker: pid %d, exit code %s, restarts %d, crashed %t", wk.Pid, exit, wk.Restarts, wk.Crashed)
	if wk.PeakRSSBytes > 0 || wk.PeakCPUPct > 0 {
		p(", peak CPU %s%%, peak RSS %d B, final RSS %d B, peak threads %d, peak FDs %d",
			FormatFloat(wk.PeakCPUPct), wk.PeakRSSBytes, wk.FinalRSSBytes, wk.PeakThreads, wk.PeakFDs)
	}
	p("\n")
	if wk.Ended != "" {
		p("worker end: %s\n", wk.Ended)
	}
	for _, pr := range s.Processes {
		p("  process %d: pids %v, restarts %d, crashes %d, sent %d (%s%%), answered %d, lost %d, rtt p50 %s p99 %s ms, service p99 %s ms, mean CPU %s%%, peak RSS %d B\n",
			pr.Process, pr.Pids, pr.Restarts, pr.Crashes, pr.Counts.Sent, FormatFloat(100*pr.Share), pr.Invocations, pr.Counts.Lost,
			ms(pr.RTT.P50), ms(pr.RTT.P99), ms(pr.Service.P99), FormatFloat(pr.MeanCPUPct), pr.PeakRSS)
	}
}

// writeTextHarness prints the harness's validity, lag and footprint.
func writeTextHarness(p func(format string, args ...any), s *Summary) {
	h := s.Harness
	valid := "valid"
	if !h.Valid {
		valid = "INVALID"
	}
	budget := "none"
	if h.LagBudgetUS > 0 {
		budget = ms(h.LagBudgetUS) + " ms"
	}
	p("harness: %s, lag p99 %s ms, harness_lag p99 %s ms (budget %s)", valid, ms(h.LagP99US), ms(s.Latency[MetricHarnessLag].P99), budget)
	if h.PeakRSSBytes > 0 || h.PeakCPUPct > 0 {
		p(", peak CPU %s%%, peak RSS %d B", FormatFloat(h.PeakCPUPct), h.PeakRSSBytes)
	}
	p("\n")
	if h.MeanCPUPct > 0 {
		p("harness footprint: %s µs CPU per invocation, %s%% of a core (%s%% of the machine)",
			strconv.FormatFloat(h.CPUUsPerInvocation, 'f', 1, 64), strconv.FormatFloat(h.MeanCPUPct, 'f', 1, 64), strconv.FormatFloat(h.MachineSharePct, 'f', 1, 64))
		if h.WorkerMeanCPUPct > 0 {
			p("; the worker %s%% of a core", strconv.FormatFloat(h.WorkerMeanCPUPct, 'f', 1, 64))
		}
		p("\n")
	}
}

// writeTextOutcomes prints the run's events, SLO results, verdicts, merged runs and warnings.
func writeTextOutcomes(p func(format string, args ...any), s *Summary) {
	for _, ev := range s.Events {
		p("event %s s: %s %s\n", FormatFloat(ev.At.Seconds()), ev.Kind, oneLine(ev.Detail))
	}
	if len(s.SLOs) > 0 {
		p("\nSLOs:\n")
		for _, o := range s.SLOs {
			res := "FAIL"
			if o.Pass {
				res = "pass"
			}
			scope := ""
			if o.WindowS > 0 {
				scope = " in every " + FormatFloat(o.WindowS) + " s window"
			}
			p("  %-4s %s%s (observed %s)\n", res, o.Expression, scope, o.Observed)
		}
	}
	if len(s.Verdicts) > 0 {
		p("\nverdicts:\n")
		for _, v := range s.Verdicts {
			p("  %-4s %s: %s\n", v.Status, v.Name, oneLine(v.Detail))
		}
	}
	writeRuns(p, s)
	if len(s.Warnings) > 0 {
		p("\nwarnings:\n")
		for _, wn := range s.Warnings {
			p("  - %s\n", oneLine(wn))
		}
	}
}

// ms formats whole microseconds as milliseconds with three decimals.
func ms(us int64) string { return strconv.FormatFloat(float64(us)/1000, 'f', 3, 64) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// sumTop is the count of the first n groups.
func sumTop(gs []FailureGroup, n int) int64 {
	var t int64
	for i, g := range gs {
		if i == n {
			break
		}
		t += g.Count
	}
	return t
}

// oneLineText puts s on one line of at most n bytes.
func oneLineText(s string, n int) string {
	return clip(strings.Join(strings.Fields(s), " "), n)
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/report"
)

// intervalStarts lists the start offsets of a run's intervals (intervals.jsonl).
func intervalStarts(t *testing.T, dir string) []time.Duration {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, report.IntervalsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Duration
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec report.IntervalRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Start)
	}
	return out
}

// Three real runs started with one --start-at share their time zero and interval boundaries, and
// their merge holds, bucket for bucket, every sample they recorded: its percentiles are those of
// one histogram that recorded every sample.
func TestMergeRealRunsStartedTogether(t *testing.T) {
	root := t.TempDir()
	warmup := 500 * time.Millisecond
	startAt := time.Now().Add(5 * time.Second).UTC().Truncate(time.Millisecond) // room for 3 workers to start on a busy machine
	var procs []*cliProc
	var dirs []string
	for i := range 3 {
		dir := filepath.Join(root, "node-"+string(rune('a'+i)))
		dirs = append(dirs, dir)
		procs = append(procs, startFbench(t, "", runArgs(dir, "-rps", "300", "-d", "1500ms", "--warmup", warmup.String(),
			"--interval", "500ms", "--drain", "1s", "--start-at", startAt.Format(time.RFC3339Nano))...))
	}
	var counts report.Counts
	var starts [][]time.Duration
	for i, p := range procs {
		r := p.wait(hang)
		expectExit(t, r, 0)
		meta, err := report.LoadMeta(filepath.Join(dirs[i], report.RunFile))
		if err != nil {
			t.Fatal(err)
		}
		if want := startAt.Add(-warmup); !meta.TimeZero.Equal(want) {
			t.Errorf("%s: time zero %s, want --start-at minus the warm-up, %s", dirs[i], meta.TimeZero, want)
		}
		s := loadSummary(t, dirs[i])
		checkCountsAddUp(t, s.Counts)
		counts.Add(s.Counts)
		starts = append(starts, intervalStarts(t, dirs[i]))
	}
	for i := 1; i < len(starts); i++ {
		// The same offsets from the same time zero: the same wall-clock boundaries.
		n := min(len(starts[0]), len(starts[i]))
		if n < 4 || !slices.Equal(starts[0][:n], starts[i][:n]) {
			t.Errorf("interval starts differ: %v and %v", starts[0], starts[i])
		}
	}

	merged := filepath.Join(root, "merged")
	r := fbench(t, hang, append([]string{"merge", "-q", "--out", merged}, dirs...)...)
	expectExit(t, r, 0)
	if errorLine(t, r) != "" || strings.Contains(r.stderr, "note:") {
		t.Errorf("merge of runs started together said: %s", r.stderr)
	}
	// A run directory as fbench report rebuilds it (the workers' logs stay in the runs' own).
	for _, name := range []string{report.RunFile, report.HlogFile, report.IntervalsFile, report.SummaryFile,
		report.IntervalsCSV, report.PercentilesCSV, report.HTMLFile} {
		if _, err := os.Stat(filepath.Join(merged, name)); err != nil {
			t.Errorf("merged run: %v", err)
		}
	}
	before := loadSummary(t, merged)
	r = fbench(t, hang, "report", "-quiet", merged)
	expectExit(t, r, 0)
	s := loadSummary(t, merged)
	if s.Latency[report.MetricRTT] != before.Latency[report.MetricRTT] || s.Counts != before.Counts || len(s.Runs) != len(before.Runs) {
		t.Errorf("fbench report rebuilt the merged run differently: %+v vs %+v", s.Latency[report.MetricRTT], before.Latency[report.MetricRTT])
	}
	if s.Counts != counts {
		t.Errorf("merged counts %+v, want the runs' sum %+v", s.Counts, counts)
	}
	if len(intervalStarts(t, merged)) != max(len(starts[0]), len(starts[1]), len(starts[2])) {
		t.Errorf("merged %d intervals from runs of %d, %d and %d: their boundaries did not line up",
			len(intervalStarts(t, merged)), len(starts[0]), len(starts[1]), len(starts[2]))
	}
	got, err := report.MeasuredHistograms(merged)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{report.MetricRTT, report.MetricService, report.MetricLag} {
		every := report.NewHistogram() // one histogram that recorded every sample of every run
		for _, d := range dirs {
			own, err := report.MeasuredHistograms(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range own[tag].Distribution() {
				if b.Count > 0 {
					if err := every.RecordValues(b.From, b.Count); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if every.TotalCount() == 0 {
			t.Fatalf("%s: the runs recorded nothing", tag)
		}
		if !slices.Equal(got[tag].Export().Counts, every.Export().Counts) {
			t.Errorf("%s: the merged histogram differs from the one of every sample (%d vs %d values)", tag, got[tag].TotalCount(), every.TotalCount())
		}
		if st := s.Latency[tag]; st.Count != every.TotalCount() || st.P50 != every.ValueAtPercentile(50) ||
			st.P99 != every.ValueAtPercentile(99) || st.P999 != every.ValueAtPercentile(99.9) || st.Max != every.Max() {
			t.Errorf("%s: merged %+v, one histogram of every sample: p50 %d p99 %d p999 %d max %d", tag, st,
				every.ValueAtPercentile(50), every.ValueAtPercentile(99), every.ValueAtPercentile(99.9), every.Max())
		}
	}
	if len(s.Runs) != 3 {
		t.Fatalf("runs[]: %d, want 3", len(s.Runs))
	}
	for i, run := range s.Runs {
		own := loadSummary(t, dirs[i])
		if run.Hostname == "" || run.Latency[report.MetricRTT] != own.Latency[report.MetricRTT] || run.OffsetS != 0 {
			t.Errorf("runs[%d]: host %q rtt %+v offset %v, its own summary: rtt %+v", i, run.Hostname, run.Latency[report.MetricRTT], run.OffsetS, own.Latency[report.MetricRTT])
		}
	}
	// compare and --slo read the merged directory as any run.
	r = fbench(t, hang, "compare", dirs[0], merged)
	if r.code != 0 && r.code != 2 {
		t.Errorf("compare with the merged run: exit %d: %s", r.code, r.stderr)
	}
	r = fbench(t, hang, "report", "-quiet", merged, "--slo", "rtt.p99<1us")
	expectExit(t, r, 2)
}

func TestStartAtBadInput(t *testing.T) {
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"past", []string{"--start-at", past}, []string{"--start-at", past, "passed"}},
		{"garbage", []string{"--start-at", "tomorrow"}, []string{"--start-at", "RFC 3339"}},
		{"no room for the warm-up", []string{"--start-at", "+1s", "--warmup", "5s"}, []string{"--start-at", "--warmup of 5s"}},
		{"with --repeat", []string{"--start-at", "+1m", "--repeat", "2"}, []string{"--start-at", "--repeat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			r := fbench(t, hang, runArgs(dir, append([]string{"-rps", "100", "-d", "1s"}, tc.args...)...)...)
			expectExit(t, r, 1)
			expectLine(t, errorLine(t, r), tc.want...)
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("a run directory was left for bad input")
			}
		})
	}
}

func TestMergeCLIBadInput(t *testing.T) {
	root := t.TempDir()
	r := fbench(t, hang, "merge", "-q", "--out", filepath.Join(root, "m"), root, filepath.Join(root, "x"))
	expectExit(t, r, 1)
	expectLine(t, errorLine(t, r), root, "not a run directory")
	r = fbench(t, hang, "merge", root)
	expectExit(t, r, 1)
	expectLine(t, errorLine(t, r), "two or more")
}

// A run waiting for its --start-at with the worker ready is interrupted like any run: exit 130,
// the run directory written, nothing measured.
func TestStartAtInterruptedWhileWaiting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	p := startFbench(t, "", runArgs(dir, "-rps", "100", "-d", "1s", "--start-at", "+60s")...)
	if !waitFor(20*time.Second, func() bool {
		m, err := report.LoadMeta(filepath.Join(dir, report.RunFile))
		return err == nil && m.Worker.Pid > 0
	}) {
		t.Fatalf("the worker did not start: %s", p.err.String())
	}
	time.Sleep(200 * time.Millisecond)
	_ = p.cmd.Process.Signal(os.Interrupt)
	r := p.wait(hang)
	expectExit(t, r, 130)
	if r.took > 30*time.Second {
		t.Errorf("took %s: the interrupt did not end the wait for --start-at", r.took)
	}
	s := loadSummary(t, dir)
	if s.Interrupted == "" || s.Counts.Due != 0 {
		t.Errorf("interrupted %q, due %d: want an interrupted run that sent nothing", s.Interrupted, s.Counts.Due)
	}
}

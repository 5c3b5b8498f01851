package report

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fbench/fbench/report/internal/goldenfile"
)

// fixedClock stamps the tests' summaries (Meta.Clock, RebuildOptions.Clock) so golden files hold.
func fixedClock() time.Time { return time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC) }

// golden compares got with testdata/name (go test -update rewrites it).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, name, got)
}

func firstDiff(want, got string) string { return goldenfile.FirstDiff(want, got) }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	reChart   = regexp.MustCompile(`<svg class="chart" data-chart="([^"]+)"`)
	reHeading = regexp.MustCompile(`<h[23]>([^<]*)</h[23]>`)
	reTH      = regexp.MustCompile(`<th[^>]*>([^<]*)</th>`)
	reSeries  = regexp.MustCompile(`<path class="series" d="([^"]*)"`)
)

// htmlStructure lists the charts, headings and table headers of a report, one per line.
func htmlStructure(html string) string {
	var b strings.Builder
	for _, m := range reChart.FindAllStringSubmatch(html, -1) {
		b.WriteString("chart " + m[1] + "\n")
	}
	for _, m := range reHeading.FindAllStringSubmatch(html, -1) {
		b.WriteString("heading " + m[1] + "\n")
	}
	seen := map[string]bool{}
	for _, m := range reTH.FindAllStringSubmatch(html, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			b.WriteString("th " + m[1] + "\n")
		}
	}
	return b.String()
}

// chartSeries maps each chart of html to the d attributes of its series paths.
func chartSeries(t *testing.T, html string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	parts := strings.Split(html, `<svg class="chart" data-chart="`)
	for _, p := range parts[1:] {
		name := p[:strings.IndexByte(p, '"')]
		body := p[:strings.Index(p, "</svg>")]
		out[name] = nil
		for _, m := range reSeries.FindAllStringSubmatch(body, -1) {
			out[name] = append(out[name], m[1])
		}
	}
	return out
}

func TestSyntheticRunFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "r1")
	s := writeSynthetic(t, dir, synthMeta(), synthIntervals(t))

	if s.Intervals != 8 || s.WarmupIntervals != 2 || s.DurationS != 8 || s.WarmupS != 2 {
		t.Errorf("intervals %d warm-up %d duration %v warm-up %v; want 8, 2, 8, 2", s.Intervals, s.WarmupIntervals, s.DurationS, s.WarmupS)
	}
	if s.OfferedRPS != 200 {
		t.Errorf("offered_rps %v, want 200", s.OfferedRPS)
	}
	if want := Round3(float64(s.Counts.Responses()) / 8); s.AchievedRPS != want {
		t.Errorf("achieved_rps %v, want %v", s.AchievedRPS, want)
	}
	if _, ok := s.Functions["slow work"]; !ok {
		t.Errorf("functions %v: want the worker's own name %q for tag rtt.fn.slow_work", keys(s.Functions), "slow work")
	}
	if !s.Harness.Valid {
		t.Errorf("harness invalid: %s", s.Harness.InvalidReason)
	}
	for _, fi := range []string{"run.json", "latency.hlog", "intervals.jsonl", "summary.json", "intervals.csv", "percentiles.csv", "report.html"} {
		st, err := os.Stat(filepath.Join(dir, fi))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != filePerm {
			t.Errorf("%s mode %v, want %v", fi, st.Mode().Perm(), os.FileMode(filePerm))
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != dirPerm {
		t.Errorf("dir mode %v", st.Mode().Perm())
	}
	var text bytes.Buffer
	if err := WriteText(&text, s); err != nil {
		t.Fatal(err)
	}
	html := string(readFile(t, filepath.Join(dir, "report.html")))
	for _, tc := range []struct {
		golden string
		got    []byte
	}{
		{"intervals.csv", readFile(t, filepath.Join(dir, "intervals.csv"))},
		{"percentiles.csv", readFile(t, filepath.Join(dir, "percentiles.csv"))},
		{"summary.json", readFile(t, filepath.Join(dir, "summary.json"))},
		{"summary.txt", text.Bytes()},
		{"report_structure.txt", []byte(htmlStructure(html))},
	} {
		t.Run(tc.golden, func(t *testing.T) { golden(t, tc.golden, tc.got) })
	}
	// Every chart drew something, and the expected charts are there.
	series := chartSeries(t, html)
	for _, name := range []string{"latency", "spectrum", "throughput", "inflight", "errors", "cancels", "latency-service", "latency-lag", "cpu", "memory", "handles"} {
		if _, ok := series[name]; !ok {
			t.Errorf("chart %q missing", name)
		}
	}
	for name, ds := range series {
		if len(ds) == 0 {
			t.Errorf("chart %q has no series", name)
		}
		for _, d := range ds {
			if strings.TrimSpace(d) == "" {
				t.Errorf("chart %q has an empty series path", name)
			}
		}
	}
	for _, want := range []string{`class="warmup"`, "worker_restart", "lag budget 5ms"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?i)(src|href)\s*=|url\(|@import|<script|<link|<img|<iframe`).MatchString(html) {
		t.Error("report.html refers to an external resource or has a script")
	}

	loaded, err := LoadSummary(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, loaded), mustJSON(t, s); a != b {
		t.Error("LoadSummary differs from the summary Finish returned")
	}
}

func keys[V any](m map[string]V) []string { return sortedKeys(m) }

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// summaryJSON is s as JSON without the time-of-writing field generated_at.
func summaryJSON(t testing.TB, s *Summary) string {
	c := *s
	c.GeneratedAt = time.Time{}
	return mustJSON(t, &c)
}

func TestHlogRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	meta := synthMeta()
	recs := synthIntervals(t)
	writeSynthetic(t, dir, meta, recs)
	want := map[int64]map[string]*hdrhistogram.Histogram{}
	for _, r := range recs {
		want[intervalKey(r.Start)] = map[string]*hdrhistogram.Histogram{}
		for tag, h := range r.Histograms {
			want[intervalKey(r.Start)][SanitizeTag(tag)] = h
		}
	}
	raw := readFile(t, filepath.Join(dir, "latency.hlog"))
	for _, line := range []string{
		"#[Histogram log format version 1.3]",
		"#[StartTime: 1741944413.589 (seconds since epoch), 2025-03-14T09:26:53.589Z]",
		"#[BaseTime: 1741944413.589 (seconds since epoch)]",
		hlogLegend,
	} {
		if !bytes.Contains(raw, []byte(line+"\n")) {
			t.Errorf("latency.hlog lacks the line %s", line)
		}
	}

	t.Run("fbench reader", func(t *testing.T) {
		hr := newHlogReader(bytes.NewReader(raw))
		n := 0
		for {
			e, err := hr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			h, err := e.decode()
			if err != nil {
				t.Fatal(err)
			}
			w := want[e.key()][e.Tag]
			if w == nil {
				t.Fatalf("unexpected entry at %v tag %s", e.Offset, e.Tag)
			}
			if e.Length != 1 {
				t.Errorf("length %v", e.Length)
			}
			if !h.Equals(w) || !equalCounts(h, w) {
				t.Errorf("%v %s: histogram differs after the round trip", e.Offset, e.Tag)
			}
			n++
		}
		if n != countHists(want) || hr.Truncated {
			t.Errorf("read %d histograms (truncated %v), want %d", n, hr.Truncated, countHists(want))
		}
	})

	// hdrhistogram-go's own reader agrees (interoperability): same tags, histograms and times.
	t.Run("hdrhistogram-go reader", func(t *testing.T) {
		lr := hdrhistogram.NewHistogramLogReader(bytes.NewReader(raw))
		n := 0
		for {
			h, err := lr.NextIntervalHistogram()
			if err != nil {
				t.Fatal(err)
			}
			if h == nil {
				break
			}
			off := h.StartTimeMs() - synthStart.UnixMilli()
			w := want[off][h.Tag()]
			if w == nil {
				t.Fatalf("unexpected histogram at +%d ms tag %q", off, h.Tag())
			}
			if !equalCounts(h, w) || h.EndTimeMs()-h.StartTimeMs() != 1000 {
				t.Errorf("+%d ms %s: differs", off, h.Tag())
			}
			n++
		}
		if n != countHists(want) {
			t.Errorf("read %d histograms, want %d", n, countHists(want))
		}
	})

	// Interval_Max reads in milliseconds.
	t.Run("interval max in ms", func(t *testing.T) {
		line := ""
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(l, "Tag=rtt,0.000,") {
				line = l
			}
		}
		f := strings.Split(line, ",")
		if len(f) != 5 {
			t.Fatalf("line %q", line)
		}
		maxUS := want[0]["rtt"].Max()
		if want := strconv.FormatFloat(float64(maxUS)/1000, 'f', 3, 64); f[3] != want || maxUS < 1000 {
			t.Errorf("Interval_Max %s, want %s", f[3], want)
		}
	})
}

func equalCounts(a, b *hdrhistogram.Histogram) bool {
	sa, sb := a.Export(), b.Export()
	if sa.LowestTrackableValue != sb.LowestTrackableValue || sa.HighestTrackableValue != sb.HighestTrackableValue ||
		sa.SignificantFigures != sb.SignificantFigures || len(sa.Counts) != len(sb.Counts) {
		return false
	}
	for i := range sa.Counts {
		if sa.Counts[i] != sb.Counts[i] {
			return false
		}
	}
	return a.TotalCount() == b.TotalCount()
}

func countHists(m map[int64]map[string]*hdrhistogram.Histogram) int {
	n := 0
	for _, x := range m {
		n += len(x)
	}
	return n
}

func TestRebuildEqualsLive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	live := writeSynthetic(t, dir, synthMeta(), synthIntervals(t))
	files := map[string][]byte{}
	for _, f := range []string{"intervals.csv", "percentiles.csv", "report.html"} {
		files[f] = readFile(t, filepath.Join(dir, f))
	}
	rebuilt, err := RebuildWith(dir, RebuildOptions{Clock: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := summaryJSON(t, live), summaryJSON(t, rebuilt); a != b {
		t.Errorf("rebuilt summary differs from the live one:\n%s", firstDiff(a, b))
	}
	saved, err := LoadSummary(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := summaryJSON(t, live), summaryJSON(t, saved); a != b {
		t.Errorf("summary.json after rebuild differs:\n%s", firstDiff(a, b))
	}
	for f, want := range files {
		if got := readFile(t, filepath.Join(dir, f)); !bytes.Equal(got, want) {
			t.Errorf("%s differs after rebuild:\n%s", f, firstDiff(string(want), string(got)))
		}
	}
}

func TestRebuildWindow(t *testing.T) {
	recs := synthIntervals(t)
	dir := filepath.Join(t.TempDir(), "run")
	writeSynthetic(t, dir, synthMeta(), recs)
	for _, tc := range []struct {
		name      string
		from, to  time.Duration
		first, n  int // intervals used
		measured  int
		wantError bool
	}{
		{name: "all", first: 0, n: 10, measured: 8},
		{name: "from 4s", from: 4 * time.Second, first: 4, n: 6, measured: 6},
		{name: "to 5s", to: 5 * time.Second, first: 0, n: 5, measured: 3},
		{name: "3s to 7s", from: 3 * time.Second, to: 7 * time.Second, first: 3, n: 4, measured: 4},
		{name: "inverted", from: 7 * time.Second, to: 3 * time.Second, wantError: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Rebuild(dir, tc.from, tc.to)
			if tc.wantError {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var c Counts
			rtt := NewHistogram()
			for _, r := range recs[tc.first : tc.first+tc.n] {
				if !r.Warmup {
					c.Add(r.Counts)
					rtt.Merge(r.Histograms[MetricRTT])
				}
			}
			if s.Intervals != tc.measured || s.Counts != c || s.Latency[MetricRTT] != StatsOf(rtt) {
				t.Errorf("intervals %d counts %+v rtt %+v; want %d %+v %+v", s.Intervals, s.Counts, s.Latency[MetricRTT], tc.measured, c, StatsOf(rtt))
			}
			if (tc.from != 0 || tc.to != 0) != (s.Window != nil) {
				t.Errorf("window %+v", s.Window)
			}
			rows := strings.Count(string(readFile(t, filepath.Join(dir, "intervals.csv"))), "\n") - 1
			if rows != tc.n {
				t.Errorf("intervals.csv has %d rows, want %d", rows, tc.n)
			}
		})
	}
}

func truncateLastLine(t *testing.T, path string) {
	t.Helper()
	b := readFile(t, path)
	body := strings.TrimSuffix(string(b), "\n")
	last := strings.LastIndexByte(body, '\n')
	cut := body[:last+1+(len(body)-last-1)/2]
	if err := os.WriteFile(path, []byte(cut), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestRebuildAfterKill(t *testing.T) {
	for _, tc := range []struct {
		name      string
		truncate  []string
		intervals int
	}{
		{"jsonl and hlog cut", []string{IntervalsFile, HlogFile}, 7},
		{"jsonl cut", []string{IntervalsFile}, 7},
		{"nothing cut, no Finish", nil, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			meta := synthMeta()
			w, err := CreateRun(dir, meta)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range synthIntervals(t) {
				if err := w.WriteInterval(r); err != nil {
					t.Fatal(err)
				}
			}
			// No Finish: the process "died". Close the files as the kernel would.
			w.closeFiles()
			for _, f := range tc.truncate {
				truncateLastLine(t, filepath.Join(dir, f))
			}
			s, err := Rebuild(dir, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if s.Intervals != tc.intervals {
				t.Errorf("measured intervals %d, want %d", s.Intervals, tc.intervals)
			}
			for _, f := range tc.truncate {
				found := false
				for _, w := range s.Warnings {
					found = found || strings.Contains(w, f+": the last line was cut short")
				}
				if !found {
					t.Errorf("no warning about %s in %q", f, s.Warnings)
				}
			}
			assertNoTemps(t, dir)
		})
	}
}

func TestFinishZeroIntervals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	meta := synthMeta()
	w, err := CreateRun(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.Finish(meta)
	if err != nil {
		t.Fatal(err)
	}
	if s.Intervals != 0 || s.Latency[MetricRTT].Count != 0 || len(s.Latency) != len(Metrics) || !s.Harness.Valid {
		t.Errorf("summary %+v", s)
	}
	if _, err := w.Finish(meta); err == nil {
		t.Error("second Finish did not fail")
	}
	if err := w.WriteInterval(&IntervalRecord{}); err == nil {
		t.Error("WriteInterval after Finish did not fail")
	}
	html := string(readFile(t, filepath.Join(dir, "report.html")))
	if strings.Contains(html, "data-chart") || !strings.Contains(html, "No interval was recorded") {
		t.Error("report.html of an empty run")
	}
	if got := string(readFile(t, filepath.Join(dir, "intervals.csv"))); got != strings.Join(intervalsCSVHeader(), ",")+"\n" {
		t.Errorf("intervals.csv %q", got)
	}
	if _, err := Rebuild(dir, 0, 0); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteText(&b, s); err != nil || !strings.Contains(b.String(), "no measured intervals") {
		t.Errorf("WriteText: %v\n%s", err, b.String())
	}
	assertNoTemps(t, dir)
}

func TestInvalidHarness(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	meta := synthMeta()
	meta.Harness.LagBudget = 50 * time.Microsecond
	s := writeSynthetic(t, dir, meta, synthIntervals(t))
	if s.Harness.Valid || !strings.Contains(s.Harness.InvalidReason, "exceeds the lag budget 50µs") {
		t.Errorf("harness %+v", s.Harness)
	}
	html := string(readFile(t, filepath.Join(dir, "report.html")))
	if !strings.Contains(html, `class="banner bad"`) || !strings.Contains(html, "Harness invalid") {
		t.Error("no invalid-harness banner")
	}
	var b bytes.Buffer
	_ = WriteText(&b, s)
	if !strings.Contains(b.String(), "HARNESS INVALID") {
		t.Error(b.String())
	}
}

func TestHTMLEscaping(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	dir := filepath.Join(t.TempDir(), "run")
	meta := synthMeta()
	meta.Worker.Functions = append(meta.Worker.Functions, FunctionInfo{Name: evil, ID: evil, Trigger: evil, Bindings: []string{evil}})
	meta.Worker.Capabilities[evil] = evil
	meta.Worker.StderrTail = append(meta.Worker.StderrTail, evil, `"><img src=x onerror=alert(2)>`)
	meta.Worker.Command = []string{evil}
	meta.Events = append(meta.Events, Event{At: 3 * time.Second, Kind: evil, Detail: evil})
	meta.Config["note"] = evil
	meta.Interrupted = evil
	meta.Environment.Hostname = evil
	recs := synthIntervals(t)
	for _, r := range recs {
		h := NewHistogram()
		_ = h.RecordValue(1234)
		r.Histograms[FunctionTag(MetricRTT, evil)] = h
	}
	s := writeSynthetic(t, dir, meta, recs)
	if _, ok := s.Functions[evil]; !ok {
		t.Fatalf("functions %v", keys(s.Functions))
	}
	s.Verdicts = append(s.Verdicts, Verdict{Name: evil, Status: VerdictFail, Detail: evil})
	s.SLOs = append(s.SLOs, SLOResult{Expression: evil, Observed: evil})
	html := string(readFile(t, filepath.Join(dir, "report.html")))
	var b bytes.Buffer
	if err := renderHTML(&b, s, meta, newAggregator(nil, 0), nil); err != nil {
		t.Fatal(err)
	}
	for i, h := range []string{html, b.String()} {
		low := strings.ToLower(h)
		if strings.Contains(low, "<script") || strings.Contains(low, "<img") {
			t.Errorf("page %d contains unescaped markup from the worker", i)
		}
		if !strings.Contains(h, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("page %d lacks the escaped text", i)
		}
	}
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), tempInfix) {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestAtomicWrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	meta := synthMeta()
	w, err := CreateRun(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range synthIntervals(t) {
		if err := w.WriteInterval(r); err != nil {
			t.Fatal(err)
		}
	}
	meta.Worker.Restarts = 2
	if err := w.UpdateMeta(meta); err != nil {
		t.Fatal(err)
	}
	if m, err := LoadMeta(filepath.Join(dir, RunFile)); err != nil || m.Worker.Restarts != 2 || m.Schema != RunSchema {
		t.Fatalf("run.json after UpdateMeta: %+v %v", m.Worker, err)
	}
	if _, err := w.Finish(meta); err != nil {
		t.Fatal(err)
	}
	assertNoTemps(t, dir)
	if _, err := Rebuild(dir, 0, 0); err != nil {
		t.Fatal(err)
	}
	assertNoTemps(t, dir)

	// A failing write leaves the old file and no temporary file.
	path := filepath.Join(dir, SummaryFile)
	before := readFile(t, path)
	err = writeFileAtomic(path, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return io.ErrUnexpectedEOF
	})
	if err == nil {
		t.Fatal("no error")
	}
	if !bytes.Equal(readFile(t, path), before) {
		t.Error("failed write changed the file")
	}
	assertNoTemps(t, dir)

	// A stale temporary file of a killed process is removed by Rebuild.
	if err := os.WriteFile(filepath.Join(dir, ".report.html.tmp-123"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Rebuild(dir, 0, 0); err != nil {
		t.Fatal(err)
	}
	assertNoTemps(t, dir)
}

func TestCreateRunRefusesExisting(t *testing.T) {
	base := t.TempDir()
	nonEmpty := filepath.Join(base, "full")
	if err := os.MkdirAll(nonEmpty, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir     string
		wantErr string
	}{
		{nonEmpty, "not empty"},
		{file, "not a directory"},
		{filepath.Join(file, "sub"), "run directory"},
		{"", "empty run directory"},
		{empty, ""},
	} {
		w, err := CreateRun(tc.dir, synthMeta())
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.dir, err)
				continue
			}
			if _, err := w.Finish(synthMeta()); err != nil {
				t.Error(err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("CreateRun(%q) = %v, want an error with %q", tc.dir, err, tc.wantErr)
		}
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(base, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		if _, err := CreateRun(filepath.Join(ro, "run"), synthMeta()); err == nil {
			t.Error("CreateRun in a read-only directory succeeded")
		}
	}
}

// TestMemoryBounded feeds a day of 1 s intervals: the chart series stays bounded and spans the run.
func TestMemoryBounded(t *testing.T) {
	a := newAggregator(io.Discard, 0)
	h := NewHistogram()
	_ = h.RecordValue(500)
	hists := map[string]*hdrhistogram.Histogram{MetricRTT: h}
	const n = 86400
	for i := 0; i < n; i++ {
		a.add(&IntervalRecord{Index: i, Start: time.Duration(i) * time.Second, Length: time.Second, Warmup: i < 60,
			OfferedRPS: 100, Counts: Counts{Sent: 100, Succeeded: 100}}, hists)
	}
	if len(a.points) > maxPoints || len(a.points) < maxPoints/2 {
		t.Errorf("%d points", len(a.points))
	}
	total := 0
	for _, p := range a.points {
		total += p.N
	}
	if total != n || a.points[0].Start != 0 || a.points[len(a.points)-1].End != n*time.Second {
		t.Errorf("points cover %d intervals", total)
	}
	if len(a.totals) != 1 || len(a.warmSpans) != 1 || a.warmSpans[0].End != time.Minute {
		t.Errorf("totals %d warm spans %v", len(a.totals), a.warmSpans)
	}
	if s := a.summary(Meta{}, fixedClock()); s.Latency[MetricRTT].Count != n-60 || s.AchievedRPS != 100 {
		t.Errorf("summary %+v", s.Latency[MetricRTT])
	}
}

// TestHTMLRendersInChromium renders report.html in headless Chromium and checks that every chart
// drew a series in the rendered DOM. Set FBENCH_REPORT_PNG to also keep a screenshot there.
func TestHTMLRendersInChromium(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	writeSynthetic(t, dir, synthMeta(), synthIntervals(t))
	page := newChromiumPage(t, filepath.Join(dir, "report.html"))
	dom := page.dom()
	series := chartSeries(t, dom)
	if len(series) < 8 {
		t.Fatalf("rendered DOM has %d charts", len(series))
	}
	for name, ds := range series {
		ok := false
		for _, d := range ds {
			ok = ok || strings.TrimSpace(d) != ""
		}
		if !ok {
			t.Errorf("chart %q has no drawn series in the rendered DOM", name)
		}
	}
	page.screenshot("FBENCH_REPORT_PNG", "1200,6400")
}

// Rates are per second under load: a drain interval adds neither time nor responses to them.
func TestRatesExcludeDrain(t *testing.T) {
	meta := synthMeta()
	meta.Warmup = 0
	iv := func(i int, phase string, offered float64, due, resp int64, length time.Duration) *IntervalRecord {
		return &IntervalRecord{Index: i, Start: time.Duration(i) * time.Second, Length: length, Phase: phase, OfferedRPS: offered,
			Counts: Counts{Due: due, Sent: due, Succeeded: resp}}
	}
	for _, tc := range []struct {
		name              string
		recs              []*IntervalRecord
		offered, achieved float64
	}{
		// Keeps up: 100 in flight at the end settle during a short drain.
		{"keeps up", []*IntervalRecord{iv(0, "steady", 1000, 1000, 950, time.Second), iv(1, "steady", 1000, 1000, 950, time.Second),
			iv(2, PhaseDrain, 0, 0, 100, 50*time.Millisecond)}, 1000, 950},
		// Falls behind: half the load answered under load, the backlog during a long drain.
		{"falls behind", []*IntervalRecord{iv(0, "steady", 1000, 1000, 500, time.Second), iv(1, "steady", 1000, 1000, 500, time.Second),
			iv(2, PhaseDrain, 0, 0, 1000, 2*time.Second)}, 1000, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := writeSynthetic(t, filepath.Join(t.TempDir(), "run"), meta, tc.recs)
			if s.OfferedRPS != tc.offered || s.AchievedRPS != tc.achieved {
				t.Errorf("offered %v achieved %v, want %v and %v", s.OfferedRPS, s.AchievedRPS, tc.offered, tc.achieved)
			}
			if s.Counts.Succeeded != 2000 {
				t.Errorf("counts %+v: the drain's responses must still be counted", s.Counts)
			}
		})
	}
}

// A harness that uses more CPU than its budget makes the run invalid, as lag over its budget does.
func TestInvalidHarnessCPU(t *testing.T) {
	meta := synthMeta()
	meta.Harness.LagBudget = time.Hour
	meta.Harness.CPUBudgetPct = 0.001
	s := writeSynthetic(t, filepath.Join(t.TempDir(), "run"), meta, synthIntervals(t))
	if s.Harness.Valid || !strings.Contains(s.Harness.InvalidReason, "over its CPU budget of 0%") {
		t.Errorf("harness %+v", s.Harness)
	}
	meta.Harness.CPUBudgetPct = 10000
	if s := writeSynthetic(t, filepath.Join(t.TempDir(), "run"), meta, synthIntervals(t)); !s.Harness.Valid {
		t.Errorf("within its CPU budget, yet invalid: %s", s.Harness.InvalidReason)
	}
}

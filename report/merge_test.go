package report

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// machine is one synthetic run for the merge tests: what it recorded, and every sample it
// recorded in one histogram per tag (measured intervals only).
type machine struct {
	dir    string
	counts Counts
	all    map[string]*hdrhistogram.Histogram
	perInt []map[string]*hdrhistogram.Histogram // measured samples of each interval, by index
}

var mergeZero = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// writeMachine writes a run of n one-second intervals (the first 2 warm-up) whose time zero is
// zero+shift, on host, with latencies drawn from seed (scaled: a slow machine).
func writeMachine(t *testing.T, dir, host string, seed uint64, shift time.Duration, n int, scale float64, rps float64) *machine {
	t.Helper()
	meta := Meta{
		Version: "test", Mode: "open", StartedAt: mergeZero.Add(shift - time.Second), TimeZero: mergeZero.Add(shift),
		EndedAt:  mergeZero.Add(shift + time.Duration(n)*time.Second),
		Interval: time.Second, Warmup: 2 * time.Second,
		Config:      map[string]any{"rps": rps, "duration": "8s", "warmup": "2s", "mode": "open", "seed": seed, "function": "echo"},
		Environment: Environment{Hostname: host, Cores: 2},
		Worker:      WorkerInfo{Functions: []FunctionInfo{{Name: "echo"}, {Name: "work"}}},
		Harness:     HarnessInfo{LagBudget: 5 * time.Millisecond},
	}
	rw, err := CreateRun(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{dir: dir, all: map[string]*hdrhistogram.Histogram{}}
	rng := rand.New(rand.NewPCG(seed, 99))
	for i := 0; i < n; i++ {
		rec := &IntervalRecord{Index: i, Start: time.Duration(i) * time.Second, Length: time.Second, OfferedRPS: rps,
			Warmup: i < 2, Histograms: map[string]*hdrhistogram.Histogram{}}
		if i == n-1 {
			rec.Length, rec.LoadLength = 700*time.Millisecond, 500*time.Millisecond // a partial last interval
		}
		samples := map[string]*hdrhistogram.Histogram{}
		record := func(tag string, v int64) {
			for _, mm := range []map[string]*hdrhistogram.Histogram{rec.Histograms, samples} {
				if mm[tag] == nil {
					mm[tag] = NewHistogram()
				}
				if err := mm[tag].RecordValue(v); err != nil {
					t.Fatal(err)
				}
			}
		}
		k := 150 + rng.IntN(100)
		for j := 0; j < k; j++ {
			v := int64(scale * (200 + rng.ExpFloat64()*800))
			if rng.IntN(500) == 0 {
				v *= 40 // a tail
			}
			record(MetricRTT, v)
			record(MetricService, v*9/10)
			lag := 1 + int64(rng.IntN(50))
			if scale >= 10 && rng.IntN(25) == 0 {
				lag *= 1000 // a harness that fell behind 4% of the time: lag p99 over the 5 ms budget
			}
			record(MetricLag, lag)
			record(FunctionTag(MetricRTT, "echo"), v)
		}
		rec.Counts = Counts{Due: int64(k), Sent: int64(k), Succeeded: int64(k - 3), Failed: 3, StatusSent: 1, StatusAnswered: 1}
		rec.InFlight = int64(rng.IntN(10))
		rec.Resources = Resources{WorkerCPUPct: 10 * scale, WorkerRSSBytes: int64(scale * 50e6)}
		if err := rw.WriteInterval(rec); err != nil {
			t.Fatal(err)
		}
		m.perInt = append(m.perInt, nil)
		if rec.Warmup {
			continue
		}
		m.perInt[i] = samples
		m.counts.Add(rec.Counts)
		for tag, h := range samples {
			if m.all[tag] == nil {
				m.all[tag] = NewHistogram()
			}
			m.all[tag].Merge(h)
		}
	}
	if _, err := rw.Finish(meta); err != nil {
		t.Fatal(err)
	}
	return m
}

// oneHistogram records every value of hs, one by one, into one new histogram.
func oneHistogram(hs ...*hdrhistogram.Histogram) *hdrhistogram.Histogram {
	all := NewHistogram()
	for _, h := range hs {
		if h == nil {
			continue
		}
		for _, b := range h.Distribution() {
			if b.Count > 0 {
				_ = all.RecordValues(b.From, b.Count)
			}
		}
	}
	return all
}

// measuredTotals reads a run directory's latency.hlog back: its measured histograms merged per tag.
func measuredTotals(t *testing.T, dir string) map[string]*hdrhistogram.Histogram {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, HlogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, err := LoadMeta(filepath.Join(dir, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	warmEnd := intervalKey(meta.Warmup)
	out := map[string]*hdrhistogram.Histogram{}
	hr := newHlogReader(f)
	for {
		e, err := hr.next()
		if err != nil {
			break
		}
		if e.key() < warmEnd {
			continue
		}
		h, err := e.decode()
		if err != nil {
			t.Fatal(err)
		}
		if out[e.Tag] == nil {
			out[e.Tag] = NewHistogram()
		}
		out[e.Tag].Merge(h)
	}
	return out
}

// sameBuckets fails unless got and want hold the same count in every bucket.
func sameBuckets(t *testing.T, what string, got, want *hdrhistogram.Histogram) {
	t.Helper()
	if got == nil || want == nil {
		t.Fatalf("%s: missing histogram (got %v, want %v)", what, got != nil, want != nil)
	}
	g, w := got.Export().Counts, want.Export().Counts
	if len(g) != len(w) {
		t.Fatalf("%s: %d buckets, want %d", what, len(g), len(w))
	}
	for i := range w {
		if g[i] != w[i] {
			t.Fatalf("%s: bucket %d holds %d, want %d", what, i, g[i], w[i])
		}
	}
	if got.TotalCount() != want.TotalCount() || got.TotalCount() == 0 {
		t.Fatalf("%s: %d values, want %d (and more than none)", what, got.TotalCount(), want.TotalCount())
	}
}

func TestMergeIsExact(t *testing.T) {
	root := t.TempDir()
	var ms []*machine
	var dirs []string
	for i, host := range []string{"node-a", "node-b", "node-c"} {
		d := filepath.Join(root, host)
		scale := 1.0
		if host == "node-c" {
			scale = 4 // the bad node
		}
		ms = append(ms, writeMachine(t, d, host, uint64(i+1), 0, 10, scale, 100))
		dirs = append(dirs, d)
	}
	out := filepath.Join(root, "merged")
	res, err := Merge(dirs, MergeOptions{Out: out, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 0 {
		t.Errorf("notes for runs started together: %q", res.Notes)
	}
	s := res.Summary
	got := measuredTotals(t, out)
	for _, tag := range []string{MetricRTT, MetricService, MetricLag, FunctionTag(MetricRTT, "echo")} {
		var parts []*hdrhistogram.Histogram
		for _, m := range ms {
			parts = append(parts, m.all[tag])
		}
		want := oneHistogram(parts...)
		sameBuckets(t, tag, got[tag], want)
		if tag == MetricRTT || tag == MetricService || tag == MetricLag {
			if st := s.Latency[tag]; st != StatsOf(want) {
				t.Errorf("%s: merged stats %+v, one histogram of every sample %+v", tag, st, StatsOf(want))
			}
		}
	}
	var counts Counts
	for _, m := range ms {
		counts.Add(m.counts)
	}
	if s.Counts != counts {
		t.Errorf("counts %+v, want the sum %+v", s.Counts, counts)
	}
	if s.Intervals != 8 || s.WarmupIntervals != 2 {
		t.Errorf("%d measured and %d warm-up intervals, want 8 and 2 (runs started together share intervals)", s.Intervals, s.WarmupIntervals)
	}
	// The fleet's rate: 3 machines at 100/s.
	if s.OfferedRPS < 299.9 || s.OfferedRPS > 300.1 {
		t.Errorf("offered %v rps, want 300", s.OfferedRPS)
	}
	if len(s.Runs) != 3 {
		t.Fatalf("runs[]: %d, want 3", len(s.Runs))
	}
	for i, r := range s.Runs {
		own, err := LoadSummary(filepath.Join(dirs[i], SummaryFile))
		if err != nil {
			t.Fatal(err)
		}
		if r.Hostname != own.Environment.Hostname || r.Latency[MetricRTT] != own.Latency[MetricRTT] || r.Counts != own.Counts ||
			r.AchievedRPS != own.AchievedRPS || r.OfferedRPS != own.OfferedRPS {
			t.Errorf("runs[%d] = %s %+v %v rps, its own summary says %s %+v %v rps", i, r.Hostname, r.Latency[MetricRTT], r.AchievedRPS,
				own.Environment.Hostname, own.Latency[MetricRTT], own.AchievedRPS)
		}
	}
	if s.Runs[2].Latency[MetricRTT].P50 <= 2*s.Runs[0].Latency[MetricRTT].P50 {
		t.Errorf("the slow node's p50 %d is not above the others' %d", s.Runs[2].Latency[MetricRTT].P50, s.Runs[0].Latency[MetricRTT].P50)
	}
	// The merged directory is a run like any other: a rebuild from its logs gives the same figures.
	re, err := Rebuild(out, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if re.Counts != s.Counts || re.Latency[MetricRTT] != s.Latency[MetricRTT] || len(re.Runs) != 3 || re.Runs[1].Latency[MetricRTT] != s.Runs[1].Latency[MetricRTT] {
		t.Errorf("rebuilt merged run differs: counts %+v rtt %+v runs %d", re.Counts, re.Latency[MetricRTT], len(re.Runs))
	}
	html, err := os.ReadFile(filepath.Join(out, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-chart="machines"`, "<h2>Machines</h2>", "node-c", "merged p99"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	var text strings.Builder
	if err := WriteText(&text, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "machines (3 runs merged)") || !strings.Contains(text.String(), "node-b") ||
		strings.Count(text.String(), "× the machines' median") != 1 || !strings.Contains(string(html), "× the machines&#39; median") {
		t.Errorf("text summary lacks the machines:\n%s", text.String())
	}
}

// Runs whose time zeros are a whole number of intervals apart line up on wall-clock time; runs
// started apart by a fraction of one are matched to the nearest interval, and the merge says so.
func TestMergeAlignsOnWallClock(t *testing.T) {
	root := t.TempDir()
	a := writeMachine(t, filepath.Join(root, "a"), "a", 1, 0, 10, 1, 100)
	b := writeMachine(t, filepath.Join(root, "b"), "b", 2, 3*time.Second, 10, 1, 100)
	res, err := Merge([]string{a.dir, b.dir}, MergeOptions{Out: filepath.Join(root, "m")})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	// a measures 2..10 s, b 5..13 s of the merged time line; b's warm-up (3..5 s) falls in a's
	// measured phase and is left out, so the measured time line is 2..13 s.
	if s.Intervals != 11 {
		t.Errorf("%d measured intervals, want 11 (2 s to 13 s)", s.Intervals)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "2 warm-up intervals") {
		t.Errorf("notes %q, want one about the 2 warm-up intervals left out", res.Notes)
	}
	sameBuckets(t, "rtt", measuredTotals(t, filepath.Join(root, "m"))[MetricRTT], oneHistogram(a.all[MetricRTT], b.all[MetricRTT]))
	if got := s.Runs[1].OffsetS; got != 3 {
		t.Errorf("b's offset %v s, want 3", got)
	}

	c := writeMachine(t, filepath.Join(root, "c"), "c", 3, 300*time.Millisecond, 10, 1, 100)
	res, err = Merge([]string{a.dir, c.dir}, MergeOptions{Out: filepath.Join(root, "m2")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "300ms apart") && strings.Contains(n, "--start-at") }) {
		t.Errorf("notes %q, want one saying the boundaries were 300ms apart", res.Notes)
	}
	sameBuckets(t, "rtt", measuredTotals(t, filepath.Join(root, "m2"))[MetricRTT], oneHistogram(a.all[MetricRTT], c.all[MetricRTT]))
}

// A run killed mid-write leaves its last hlog line cut short: the merge takes its whole intervals,
// leaves out the cut one and those after it, and says so naming the directory.
func TestMergeTruncatedHlog(t *testing.T) {
	root := t.TempDir()
	a := writeMachine(t, filepath.Join(root, "a"), "a", 1, 0, 10, 1, 100)
	b := writeMachine(t, filepath.Join(root, "b"), "b", 2, 0, 10, 1, 100)
	hlog := filepath.Join(b.dir, HlogFile)
	data, err := os.ReadFile(hlog)
	if err != nil {
		t.Fatal(err)
	}
	// Cut in the middle of the first line of the interval at 6 s.
	i := strings.Index(string(data), "\nTag=rtt,6.000,")
	if i < 0 {
		t.Fatalf("no interval at 6 s in %s", hlog)
	}
	if err := os.WriteFile(hlog, data[:i+30], 0o640); err != nil {
		t.Fatal(err)
	}
	// Killed: run.json was never given its end.
	meta, err := LoadMeta(filepath.Join(b.dir, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	meta.EndedAt = time.Time{}
	if err := writeJSONAtomic(filepath.Join(b.dir, RunFile), meta); err != nil {
		t.Fatal(err)
	}
	res, err := Merge([]string{a.dir, b.dir}, MergeOptions{Out: filepath.Join(root, "m")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool {
		return strings.Contains(n, b.dir) && strings.Contains(n, "never finished") && strings.Contains(n, "6 whole intervals, to 6s")
	}) {
		t.Errorf("notes %q, want one naming %s as never finished", res.Notes, b.dir)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool {
		return strings.Contains(n, b.dir) && strings.Contains(n, "cut short") && strings.Contains(n, "4 interval(s)")
	}) {
		t.Errorf("notes %q, want one naming %s and the 4 intervals left out", res.Notes, b.dir)
	}
	// b's whole measured intervals are 2..5 s.
	parts := []*hdrhistogram.Histogram{a.all[MetricRTT]}
	for i := 2; i < 6; i++ {
		parts = append(parts, b.perInt[i][MetricRTT])
	}
	sameBuckets(t, "rtt", measuredTotals(t, filepath.Join(root, "m"))[MetricRTT], oneHistogram(parts...))
	if r := res.Summary.Runs[1]; r.LeftOut != 4 || r.Intervals != 4 {
		t.Errorf("runs[1]: %d merged, %d left out; want 4 and 4", r.Intervals, r.LeftOut)
	}
}

func TestMergeBadInput(t *testing.T) {
	root := t.TempDir()
	a := writeMachine(t, filepath.Join(root, "a"), "a", 1, 0, 4, 1, 100)
	b := writeMachine(t, filepath.Join(root, "b"), "b", 2, 0, 4, 1, 100)
	fast := writeMachine(t, filepath.Join(root, "fast"), "fast", 3, 0, 4, 1, 200)
	notRun := filepath.Join(root, "notrun")
	if err := os.MkdirAll(notRun, 0o750); err != nil {
		t.Fatal(err)
	}
	cold := filepath.Join(root, "cold")
	if err := os.MkdirAll(cold, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cold, ColdstartFile), []byte("{}"), 0o640); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(root, "copy")
	if err := os.MkdirAll(cp, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{RunFile, HlogFile, IntervalsFile} {
		data, _ := os.ReadFile(filepath.Join(a.dir, n))
		if err := os.WriteFile(filepath.Join(cp, n), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	half := writeMachine(t, filepath.Join(root, "half"), "half", 4, 0, 4, 1, 100)
	hm, err := LoadMeta(filepath.Join(half.dir, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	hm.Interval = 500 * time.Millisecond
	if err := writeJSONAtomic(filepath.Join(half.dir, RunFile), hm); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(root, "ab")
	if _, err := Merge([]string{a.dir, b.dir}, MergeOptions{Out: merged}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		dirs  []string
		force bool
		want  []string
	}{
		{"one run", []string{a.dir}, false, []string{"at least two"}},
		{"not a run", []string{a.dir, notRun}, false, []string{notRun, "not a run directory", "run.json"}},
		{"a cold-start run", []string{a.dir, cold}, false, []string{cold, "cold-start run", "not merged"}},
		{"missing", []string{a.dir, filepath.Join(root, "nope")}, false, []string{"nope", "not a run directory"}},
		{"twice", []string{a.dir, b.dir, a.dir}, false, []string{a.dir, "given twice"}},
		{"a copy", []string{a.dir, cp}, false, []string{cp, "same run as", a.dir}},
		{"other interval, even forced", []string{a.dir, half.dir}, true, []string{half.dir, "500ms", "different interval lengths"}},
		{"already merged", []string{b.dir, merged}, false, []string{b.dir, "already merged into", merged}},
		{"other plan", []string{a.dir, b.dir, fast.dir}, false, []string{fast.dir, "not the same plan", "rps", "100", "200", "--force"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Merge(tc.dirs, MergeOptions{Out: filepath.Join(root, "out-"+strings.ReplaceAll(tc.name, " ", "-")), Force: tc.force})
			if err == nil {
				t.Fatal("merged")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of more than one line: %q", err)
			}
		})
	}
	res, err := Merge([]string{a.dir, fast.dir}, MergeOptions{Out: filepath.Join(root, "forced"), Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "--force") || !strings.Contains(res.Notes[0], fast.dir) {
		t.Errorf("forced merge notes %q", res.Notes)
	}
	if !slices.ContainsFunc(res.Summary.Events, func(e Event) bool { return strings.Contains(e.Detail, "not the same plan") }) {
		t.Errorf("the forced merge is not recorded in the merged run's events")
	}
}

// A merged run holds the samples of every run: when one run's harness fell behind, the merged run
// is invalid too, naming that run, and stays so when fbench report rebuilds it.
func TestMergeOfAnInvalidRunIsInvalid(t *testing.T) {
	root := t.TempDir()
	var dirs []string
	for i, host := range []string{"good-node-1", "lagging-node", "good-node-2", "good-node-3"} {
		scale := 1.0
		if host == "lagging-node" {
			scale = 10
		}
		dirs = append(dirs, writeMachine(t, filepath.Join(root, host), host, uint64(i+1), 0, 5, scale, 100).dir)
	}
	out := filepath.Join(root, "m")
	res, err := Merge(dirs, MergeOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	// The merged lag p99 is within the budget (the lagging node's tail is 1% of all samples): the
	// merged run is invalid because of that run alone.
	if p99 := res.Summary.Latency[MetricLag].P99; p99 >= 5000 {
		t.Fatalf("merged lag p99 %dµs: the test wants it within the 5 ms budget", p99)
	}
	for _, s := range []*Summary{res.Summary, mustRebuild(t, out)} {
		if s.Harness.Valid || !strings.HasPrefix(s.Harness.InvalidReason, "1 of the 4 merged runs") ||
			!strings.Contains(s.Harness.InvalidReason, "lagging-node") || strings.Contains(s.Harness.InvalidReason, "good-node") {
			t.Errorf("valid %v, reason %q: want invalid, naming the lagging node only", s.Harness.Valid, s.Harness.InvalidReason)
		}
		for i, r := range s.Runs {
			if r.Valid != (i != 1) {
				t.Errorf("runs[%d] (%s) valid %v", i, r.Hostname, r.Valid)
			}
		}
	}
}

func mustRebuild(t *testing.T, dir string) *Summary {
	t.Helper()
	s, err := Rebuild(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The merged run's text summary and runs[], against golden files.
func TestMergeGolden(t *testing.T) {
	root := t.TempDir()
	var dirs []string
	for i, host := range []string{"node-a", "node-b", "node-c"} {
		scale := 1.0
		if host == "node-b" {
			scale = 3
		}
		dirs = append(dirs, writeMachine(t, filepath.Join(root, host), host, uint64(i+1), time.Duration(i)*time.Second, 6, scale, 100).dir)
	}
	res, err := Merge(dirs, MergeOptions{Out: filepath.Join(root, "merged"), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := WriteText(&text, res.Summary); err != nil {
		t.Fatal(err)
	}
	runs, err := json.MarshalIndent(res.Summary.Runs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	clean := func(s string) []byte { return []byte(strings.ReplaceAll(s, root+string(filepath.Separator), "")) }
	golden(t, "merge_summary.txt", clean(text.String()+"\nnotes:\n"+strings.Join(res.Notes, "\n")+"\n"))
	golden(t, "merge_runs.json", clean(string(runs)+"\n"))
}

// A log damaged in the middle (not cut short at its end) is an error naming the run.
func TestMergeDamagedHlog(t *testing.T) {
	root := t.TempDir()
	a := writeMachine(t, filepath.Join(root, "a"), "a", 1, 0, 6, 1, 100)
	b := writeMachine(t, filepath.Join(root, "b"), "b", 2, 0, 6, 1, 100)
	hlog := filepath.Join(b.dir, HlogFile)
	data, err := os.ReadFile(hlog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Tag=rtt,3.000,") {
			f := strings.Split(l, ",")
			f[len(f)-1] = "HISTFAAAAAAAAAAAAAAA"
			lines[i] = strings.Join(f, ",")
		}
	}
	if err := os.WriteFile(hlog, []byte(strings.Join(lines, "\n")), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = Merge([]string{a.dir, b.dir}, MergeOptions{Out: filepath.Join(root, "m")})
	if err == nil || !strings.Contains(err.Error(), b.dir) || !strings.Contains(err.Error(), "latency.hlog line") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %v, want one line naming %s and the damaged line", err, b.dir)
	}
}

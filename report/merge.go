package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Merging runs: one run directory from the runs of the same plan on many machines. The merged
// run is an ordinary run directory (fbench report, --slo and compare read it as any other):
//   - its time line starts at the earliest time zero of the runs, and each run's intervals go into
//     the merged interval that starts at the same wall-clock instant (runs started with one
//     --start-at share their boundaries exactly; others are matched to the nearest boundary and
//     the merge says how far apart they were);
//   - an interval's histograms are merged bucket by bucket from the runs' latency.hlog (every run
//     records with the same range and precision, so the merge is exact), its counts are summed, its
//     offered rate and in-flight figures too (the fleet's), its resource samples are the largest of
//     any machine;
//   - run.json's and summary.json's runs[] keep every machine's own figures.
// Memory is one interval of every run at a time: the logs are streamed side by side.

// MergedRun is one machine's run within a merged run: where it came from and its own figures over
// its measured intervals (warm-up excluded).
type MergedRun struct {
	Dir       string    `json:"dir"`
	Hostname  string    `json:"hostname"`
	StartedAt time.Time `json:"started_at"`
	TimeZero  time.Time `json:"time_zero"`
	// OffsetS is the run's time zero minus the merged run's, in seconds.
	OffsetS   float64 `json:"offset_s"`
	Intervals int     `json:"intervals"` // measured intervals merged
	// LeftOut counts the intervals that were not merged because the run's logs were cut short.
	LeftOut     int              `json:"left_out_intervals,omitempty"`
	DurationS   float64          `json:"duration_s"`
	OfferedRPS  float64          `json:"offered_rps"`
	AchievedRPS float64          `json:"achieved_rps"`
	Counts      Counts           `json:"counts"`
	Latency     map[string]Stats `json:"latency"` // rtt, service, lag, harness_lag...: those it recorded
	Valid       bool             `json:"valid"`   // its harness kept up: lag p99 within its lag budget, CPU within its budget
	// InvalidReason says why it was not valid.
	InvalidReason string `json:"invalid_reason,omitempty"`
	Crashed       bool   `json:"crashed,omitempty"`
	Interrupted   string `json:"interrupted,omitempty"`
}

// MergeOptions configure Merge.
type MergeOptions struct {
	Out       string // the merged run directory (must not exist, or be empty)
	Force     bool   // merge runs whose plans differ (the interval length must still agree)
	Version   string // fbench's version, recorded in the merged run.json
	Observers []IntervalObserver
	Evaluate  Evaluator
}

// MergeResult is what Merge wrote and what it has to say about its inputs.
type MergeResult struct {
	Summary *Summary
	Notes   []string // one line each: what was left out, how far apart the runs were, plan differences forced
}

// planFields are the run.json config entries that make two runs the same plan: what is invoked,
// how (loop, rates, profile, payload shape, cancels, limits) and for how long.
var planFields = []string{
	"mode", "rps", "profile", "arrival", "duration", "count", "warmup", "interval", "concurrency",
	"function", "mix", "targets", "method", "body_bytes", "headers", "query",
	"cancel_ratio", "cancel_after", "max_inflight", "on_full", "timeout",
}

// Merge merges the runs in dirs into the run directory opt.Out. A directory that is not a run, a run
// given twice, or runs of different plans (unless opt.Force) are errors naming the directory. A run
// whose logs were cut short (killed) contributes its whole intervals; the notes say what was left out.
func Merge(dirs []string, opt MergeOptions) (*MergeResult, error) {
	if len(dirs) < 2 {
		return nil, errors.New("merge: give at least two run directories")
	}
	if opt.Out == "" {
		return nil, errors.New("merge: no output directory")
	}
	res := &MergeResult{}
	srcs, err := openMergeSources(dirs, opt.Out)
	defer func() {
		for _, s := range srcs {
			s.close()
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if res.Notes, err = checkSamePlan(srcs, opt.Force); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	zero, err := alignSources(srcs)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	interval := srcs[0].meta.Interval

	meta := mergedMeta(srcs, zero, opt.Version)
	start := meta
	start.Runs = nil
	rw, err := CreateRun(opt.Out, start)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	for _, o := range opt.Observers {
		rw.Observe(o)
	}
	if opt.Evaluate != nil {
		rw.SetEvaluator(opt.Evaluate)
	}
	m := newMerger(interval)
	werr := m.mergeAll(srcs, rw)

	res.Notes = append(res.Notes, m.notes(srcs)...)
	for _, n := range res.Notes {
		meta.Events = append(meta.Events, Event{Kind: "notice", Detail: n})
	}
	for i, s := range srcs {
		meta.Runs[i] = s.figures()
	}
	s, ferr := rw.Finish(meta)
	res.Summary = s
	if err := errors.Join(werr, ferr); err != nil {
		return res, fmt.Errorf("merge: %w", err)
	}
	return res, nil
}

// openMergeSources opens the runs in dirs, refusing a run given twice and the output directory out
// among them. It returns the sources opened so far even with an error: the caller closes them.
func openMergeSources(dirs []string, out string) ([]*mergeSource, error) {
	srcs := make([]*mergeSource, 0, len(dirs))
	for _, d := range dirs {
		s, err := openMergeSource(d)
		if err != nil {
			return srcs, err
		}
		srcs = append(srcs, s)
		if err := checkDuplicate(srcs); err != nil {
			return srcs, err
		}
		if same, err := sameDir(d, out); err == nil && same {
			return srcs, fmt.Errorf("%s is one of the runs and cannot be the output directory", d)
		}
	}
	return srcs, nil
}

// checkSamePlan refuses runs with different interval lengths and, unless force, runs of different
// plans; the notes say which runs were merged anyway.
func checkSamePlan(srcs []*mergeSource, force bool) (notes []string, err error) {
	first := srcs[0]
	for _, s := range srcs[1:] {
		if s.meta.Interval != first.meta.Interval {
			return nil, fmt.Errorf("%s has intervals of %s and %s of %s: runs with different interval lengths cannot be merged",
				s.dir, s.meta.Interval, first.dir, first.meta.Interval)
		}
		if field, a, b, ok := planDiff(first.meta, s.meta); !ok {
			if !force {
				return nil, fmt.Errorf("%s is not the same plan as %s: %s is %s there and %s here (--force merges anyway)", s.dir, first.dir, field, a, b)
			}
			notes = append(notes, fmt.Sprintf("%s is not the same plan as %s (%s: %s vs %s); merged anyway (--force)", s.dir, first.dir, field, a, b))
		}
	}
	return notes, nil
}

// alignSources places every run on the merged time line, which starts at the earliest run's time
// zero (returned), and reads each run's first interval.
func alignSources(srcs []*mergeSource) (time.Time, error) {
	first := srcs[0]
	interval := first.meta.Interval
	if interval <= 0 {
		return time.Time{}, fmt.Errorf("%s records no interval length", first.dir)
	}
	zero := timeZero(first.meta)
	for _, s := range srcs[1:] {
		if t := timeZero(s.meta); t.Before(zero) {
			zero = t
		}
	}
	for _, s := range srcs {
		s.offset = timeZero(s.meta).Sub(zero)
		s.interval = interval
		if err := s.advance(); err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", s.dir, err)
		}
	}
	return zero, nil
}

// mergeAll merges the runs' intervals slot by slot, in time order, and writes each to rw. A run whose
// log fails to read is left out from there on; the error says so, the merge goes on.
func (m *merger) mergeAll(srcs []*mergeSource, rw *RunWriter) error {
	var werr error
	for index := 0; ; index++ {
		slot := int64(math.MaxInt64)
		for _, s := range srcs {
			if !s.done && s.slot < slot {
				slot = s.slot
			}
		}
		if slot == math.MaxInt64 {
			break
		}
		var parts []*mergeSource
		for _, s := range srcs {
			if !s.done && s.slot == slot {
				parts = append(parts, s)
			}
		}
		rec := m.merge(index, slot, parts)
		if err := rw.WriteInterval(rec); err != nil && werr == nil {
			werr = err
		}
		for _, s := range parts {
			if err := s.advance(); err != nil {
				werr = errors.Join(werr, fmt.Errorf("%s: %w (the merged run was written without the rest of it)", s.dir, err))
				s.done = true
			}
		}
	}
	return werr
}

// notes say what the merge left out or moved: each run's own notes, runs that never finished,
// skewed interval boundaries and dropped warm-up intervals.
func (m *merger) notes(srcs []*mergeSource) []string {
	var notes []string
	for _, s := range srcs {
		notes = append(notes, s.notes...)
		if s.meta.EndedAt.IsZero() {
			notes = append(notes, fmt.Sprintf("%s: the run never finished (run.json has no end: killed?): its %d whole intervals, to %ss, were merged",
				s.dir, s.yielded, FormatFloat(s.lastEnd.Seconds())))
		}
	}
	if m.skew > time.Millisecond {
		notes = append(notes, fmt.Sprintf("the runs' interval boundaries are up to %s apart (they were not started together): each interval was merged into the nearest one of the merged time line; start the runs with --start-at to align them",
			m.skew.Round(time.Millisecond)))
	}
	if m.warmDropped > 0 {
		notes = append(notes, fmt.Sprintf("%d warm-up intervals fell in another run's measured phase and were left out of the merged time line (the measured phase is merged whole)", m.warmDropped))
	}
	return notes
}

// mergeSource streams one run's intervals, each with its histograms, in order.
type mergeSource struct {
	dir      string
	meta     Meta
	offset   time.Duration // its time zero − the merged run's
	interval time.Duration
	jf, hf   *os.File
	jr       *bufio.Reader
	hl       hlogCursor
	jline    int

	// The next whole interval, in the merged time line's slot; done when there is none.
	rec   IntervalRecord
	hists map[string]*hdrhistogram.Histogram
	slot  int64
	skew  time.Duration // the interval's start − its slot's
	done  bool
	begun bool

	notes   []string
	leftOut int
	yielded int           // intervals handed to the merge
	lastEnd time.Duration // the end of the last of them
	totals  runTotals
}

func openMergeSource(dir string) (*mergeSource, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%s is not a run directory: %w", dir, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a run directory: it is a file", dir)
	}
	meta, err := LoadMeta(filepath.Join(dir, RunFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, cerr := os.Stat(filepath.Join(dir, ColdstartFile)); cerr == nil {
				return nil, fmt.Errorf("%s is a cold-start run (fbench coldstart), not a load run: cold starts are not merged", dir)
			}
			return nil, fmt.Errorf("%s is not a run directory: it has no %s", dir, RunFile)
		}
		return nil, fmt.Errorf("%s is not a run directory: %v", dir, err)
	}
	s := &mergeSource{dir: dir, meta: meta, totals: newRunTotals()}
	if s.jf, err = os.Open(filepath.Join(dir, IntervalsFile)); err != nil {
		return nil, fmt.Errorf("%s is not a run directory: it has no readable %s", dir, IntervalsFile)
	}
	if s.hf, err = os.Open(filepath.Join(dir, HlogFile)); err != nil {
		s.close()
		return nil, fmt.Errorf("%s is not a run directory: it has no readable %s", dir, HlogFile)
	}
	s.jr = bufio.NewReaderSize(s.jf, 64<<10)
	s.hl.r = newHlogReader(s.hf)
	return s, nil
}

func (s *mergeSource) close() {
	for _, f := range []*os.File{s.jf, s.hf} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// sameDir reports whether a and b are the same existing directory.
func sameDir(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// checkDuplicate fails when the last source is the same directory as an earlier one, or a copy of
// the same run (same host, start, time zero and seed).
func checkDuplicate(srcs []*mergeSource) error {
	last := srcs[len(srcs)-1]
	for _, s := range srcs[:len(srcs)-1] {
		if same, err := sameDir(s.dir, last.dir); err == nil && same {
			return fmt.Errorf("%s is given twice (also as %s): a run is merged once", last.dir, s.dir)
		}
		a, b := s.meta, last.meta
		if inside(a, b) {
			return fmt.Errorf("%s is already merged into %s: a run is merged once", last.dir, s.dir)
		}
		if inside(b, a) {
			return fmt.Errorf("%s is already merged into %s: a run is merged once", s.dir, last.dir)
		}
		if a.Environment.Hostname == b.Environment.Hostname && a.StartedAt.Equal(b.StartedAt) &&
			timeZero(a).Equal(timeZero(b)) && fmt.Sprint(a.Config["seed"]) == fmt.Sprint(b.Config["seed"]) {
			return fmt.Errorf("%s is the same run as %s (same host, start time and seed): a copy is merged once", last.dir, s.dir)
		}
	}
	return nil
}

// inside reports whether run is one of the runs merged into merged.
func inside(merged, run Meta) bool {
	for _, r := range merged.Runs {
		if r.StartedAt.Equal(run.StartedAt) && r.TimeZero.Equal(timeZero(run)) &&
			(r.Hostname == run.Environment.Hostname || run.Environment.Hostname == "") {
			return true
		}
	}
	return false
}

// planDiff returns the first plan field in which b differs from a.
func planDiff(a, b Meta) (field, va, vb string, same bool) {
	if a.Mode != b.Mode {
		return "mode", a.Mode, b.Mode, false
	}
	if a.HTTPMode != b.HTTPMode {
		return "http_mode", a.HTTPMode, b.HTTPMode, false
	}
	for _, f := range planFields {
		x, y := jsonText(a.Config[f]), jsonText(b.Config[f])
		if x != y {
			return f, x, y, false
		}
	}
	fa, fb := functionNames(a), functionNames(b)
	if fa != fb {
		return "functions", fa, fb, false
	}
	return "", "", "", true
}

func jsonText(v any) string {
	if v == nil {
		return "unset"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func functionNames(m Meta) string {
	names := make([]string, 0, len(m.Worker.Functions))
	for _, f := range m.Worker.Functions {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return "[" + strings.Join(names, ",") + "]"
}

// label names the run for people: its host, or its directory.
func (s *mergeSource) label() string {
	if h := s.meta.Environment.Hostname; h != "" {
		return h
	}
	return filepath.Base(filepath.Clean(s.dir))
}

// advance moves to the run's next whole interval (one whose every histogram line is complete), or
// marks the run done. An interval is whole when the log goes on past it without a cut.
func (s *mergeSource) advance() error {
	if s.begun && !s.rec.Warmup && s.hists != nil {
		s.totals.add(&s.rec, s.hists)
	}
	s.begun = true
	if s.done {
		return nil
	}
	line, cut, err := nextIntervalLine(s.jr, &s.jline)
	if err != nil {
		return err
	}
	if line == nil {
		if cut {
			s.leftOut++
			s.notes = append(s.notes, fmt.Sprintf("%s: %s was cut short (run killed?): its last interval was left out", s.dir, IntervalsFile))
		}
		s.finish()
		return nil
	}
	return s.take(line)
}

// take reads the interval of one intervals.jsonl line and its histograms, and makes it the run's
// next interval; an interval that is not whole ends the run there.
func (s *mergeSource) take(line []byte) error {
	var rec IntervalRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		return fmt.Errorf("%s line %d: %w", IntervalsFile, s.jline, err)
	}
	key := intervalKey(rec.Start)
	hists := map[string]*hdrhistogram.Histogram{}
	if err := s.hl.collect(key, hists, true); err != nil {
		return err
	}
	whole, err := s.whole(key)
	if err != nil {
		return err
	}
	if !whole {
		s.leaveOutFrom(rec.Start)
		s.finish()
		return nil
	}
	return s.place(&rec, hists)
}

// whole tells whether the interval at key has every histogram line: the log goes on past it, or
// was cut after it.
func (s *mergeSource) whole(key int64) (bool, error) {
	e, err := s.hl.peek()
	if err != nil {
		return false, err
	}
	if e != nil || !s.hl.r.Truncated {
		return true, nil
	}
	ck, ok := s.hl.r.cutKey()
	return ok && ck > key, nil
}

// leaveOutFrom leaves out the interval at start and every one after it (the hlog was cut short in
// it), and notes how many.
func (s *mergeSource) leaveOutFrom(start time.Duration) {
	n := 1
	for {
		l, err := s.jr.ReadBytes('\n')
		if len(bytes.TrimSpace(l)) > 0 && err == nil {
			n++
		}
		if err != nil {
			break
		}
	}
	s.leftOut += n
	s.notes = append(s.notes, fmt.Sprintf("%s: %s was cut short (run killed?) in the interval at %ss: %d interval(s) from there on were left out, the %d before it merged",
		s.dir, HlogFile, FormatFloat(start.Seconds()), n, s.yielded))
}

// place makes rec, with its histograms, the run's next interval, in the merged time line's nearest
// slot; an interval not after the one before it is an error.
func (s *mergeSource) place(rec *IntervalRecord, hists map[string]*hdrhistogram.Histogram) error {
	abs := s.offset + rec.Start
	slot := int64(math.Round(float64(abs) / float64(s.interval)))
	if s.hists != nil && slot <= s.slot {
		return fmt.Errorf("%s line %d: interval at %s is not after the one before it", IntervalsFile, s.jline, rec.Start)
	}
	s.rec, s.hists, s.slot = *rec, hists, slot
	s.yielded++
	s.lastEnd = rec.Start + rec.Length
	s.skew = abs - time.Duration(slot)*s.interval
	return nil
}

// finish ends the run's stream and notes histograms that matched no interval.
func (s *mergeSource) finish() {
	s.done = true
	s.hists = nil
	if s.hl.orphans > 0 {
		s.notes = append(s.notes, fmt.Sprintf("%s: %d histograms of %s matched no interval of %s and were ignored", s.dir, s.hl.orphans, HlogFile, IntervalsFile))
	}
}

// figures are the run's own figures for runs[].
func (s *mergeSource) figures() MergedRun {
	t := &s.totals
	r := MergedRun{
		Dir: s.dir, Hostname: s.label(), StartedAt: s.meta.StartedAt, TimeZero: timeZero(s.meta),
		OffsetS: Round3(s.offset.Seconds()), Intervals: t.n, LeftOut: s.leftOut,
		DurationS: Round3(t.measured.Seconds()), Counts: t.counts, Latency: map[string]Stats{},
		Crashed: s.meta.Worker.Crashed, Interrupted: s.meta.Interrupted, Valid: true,
	}
	if sec := t.loadTime.Seconds(); sec > 0 {
		r.OfferedRPS, r.AchievedRPS = Round3(t.expected/sec), Round3(float64(t.loadResp)/sec)
	}
	for _, m := range Metrics {
		if h := t.hists[m]; h != nil && h.TotalCount() > 0 {
			r.Latency[m] = StatsOf(h)
		}
	}
	judged, what := r.Latency[MetricLag].P99, "lag"
	if hl, ok := r.Latency[MetricHarnessLag]; ok && hl.Count > 0 {
		judged, what = hl.P99, "harness_lag"
	}
	if b := s.meta.Harness.LagBudget.Microseconds(); b > 0 && judged > b {
		r.Valid, r.InvalidReason = false, fmt.Sprintf("%s p99 %s over the lag budget %s", what, fmtMicros(judged), fmtMicros(b))
	} else if b := s.meta.Harness.CPUBudgetPct; b > 0 && t.cpuSec > 0 && t.cpu/t.cpuSec > b {
		r.Valid, r.InvalidReason = false, fmt.Sprintf("fbench CPU %.0f%% of a core over its budget %.0f%%", t.cpu/t.cpuSec, b)
	}
	return r
}

// runTotals are one run's measured totals, as the aggregator counts them, for its main metrics.
type runTotals struct {
	counts   Counts
	measured time.Duration
	loadTime time.Duration
	expected float64
	loadResp int64
	n        int
	cpu      float64 // fbench's CPU: Σ percent × seconds, over cpuSec sampled seconds
	cpuSec   float64
	hists    map[string]*hdrhistogram.Histogram
}

func newRunTotals() runTotals { return runTotals{hists: map[string]*hdrhistogram.Histogram{}} }

func (t *runTotals) add(rec *IntervalRecord, hists map[string]*hdrhistogram.Histogram) {
	loadLen := loadLength(rec)
	t.n++
	t.measured += rec.Length
	t.expected += rec.OfferedRPS * loadLen.Seconds()
	if rec.Phase != PhaseDrain {
		t.loadTime += loadLen
		t.loadResp += rec.Counts.Responses()
	}
	t.counts.Add(rec.Counts)
	if r := rec.Resources; r.FbenchRSSBytes > 0 || r.FbenchCPUPct > 0 {
		t.cpu += r.FbenchCPUPct * rec.Length.Seconds()
		t.cpuSec += rec.Length.Seconds()
	}
	for _, m := range Metrics {
		h := hists[m]
		if h == nil {
			continue
		}
		if t.hists[m] == nil {
			t.hists[m] = NewHistogram()
		}
		t.hists[m].Merge(h)
	}
}

// loadLength is the part of rec under load (the aggregator's rule).
func loadLength(rec *IntervalRecord) time.Duration {
	if rec.LoadLength > 0 && rec.LoadLength < rec.Length {
		return rec.LoadLength
	}
	return rec.Length
}

// merger combines the runs' intervals of one slot into one interval of the merged run.
type merger struct {
	interval    time.Duration
	pool        map[string]*hdrhistogram.Histogram
	hists       map[string]*hdrhistogram.Histogram
	skew        time.Duration
	warmDropped int
}

func newMerger(interval time.Duration) *merger {
	return &merger{interval: interval, pool: map[string]*hdrhistogram.Histogram{}, hists: map[string]*hdrhistogram.Histogram{}}
}

// merge returns the merged interval of slot from the runs' intervals parts (the histograms are
// reused by the next call). When some parts are measured and others warm-up, the warm-up ones are
// left out: the measured phase is merged whole.
func (m *merger) merge(index int, slot int64, parts []*mergeSource) *IntervalRecord {
	measured := slices.ContainsFunc(parts, func(s *mergeSource) bool { return !s.rec.Warmup })
	clear(m.hists)
	rec := &IntervalRecord{Index: index, Start: time.Duration(slot) * m.interval, Histograms: m.hists}
	var expected float64
	var load, anyLoad time.Duration
	drain := true
	for _, s := range parts {
		p := &s.rec
		if measured && p.Warmup {
			m.warmDropped++
			continue
		}
		m.skew = max(m.skew, s.skew, -s.skew)
		rec.Length = max(rec.Length, p.Length)
		rec.Warmup = p.Warmup
		l := loadLength(p)
		expected += p.OfferedRPS * l.Seconds()
		anyLoad = max(anyLoad, l)
		if p.Phase != PhaseDrain {
			drain = false
			load = max(load, l)
			if rec.Phase == "" || rec.Phase == PhaseDrain {
				rec.Phase = p.Phase
			}
		} else if rec.Phase == "" {
			rec.Phase = p.Phase
		}
		rec.InFlight += p.InFlight
		rec.Counts.Add(p.Counts)
		if len(p.HTTPStatus) > 0 {
			if rec.HTTPStatus == nil {
				rec.HTTPStatus = HTTPStatusCounts{}
			}
			rec.HTTPStatus.Add(p.HTTPStatus)
		}
		for r, n := range p.Failures {
			if rec.Failures == nil {
				rec.Failures = map[string]int64{}
			}
			rec.Failures[r] += n
		}
		r, o := &rec.Resources, p.Resources
		r.WorkerCPUPct, r.WorkerRSSBytes = max(r.WorkerCPUPct, o.WorkerCPUPct), max(r.WorkerRSSBytes, o.WorkerRSSBytes)
		r.WorkerThreads, r.WorkerFDs = max(r.WorkerThreads, o.WorkerThreads), max(r.WorkerFDs, o.WorkerFDs)
		r.FbenchCPUPct, r.FbenchRSSBytes = max(r.FbenchCPUPct, o.FbenchCPUPct), max(r.FbenchRSSBytes, o.FbenchRSSBytes)
		r.Goroutines = max(r.Goroutines, o.Goroutines)
		for tag, h := range s.hists {
			mh := m.hists[tag]
			if mh == nil {
				if mh = m.pool[tag]; mh == nil {
					mh = NewHistogram()
					m.pool[tag] = mh
				} else {
					mh.Reset()
				}
				m.hists[tag] = mh
			}
			mh.Merge(h)
		}
	}
	if drain {
		load = anyLoad
	}
	// The aggregator counts OfferedRPS × the load length as the interval's expected arrivals: the
	// merged rate keeps that sum the runs' sum.
	if load > 0 {
		rec.OfferedRPS = expected / load.Seconds()
		if load < rec.Length {
			rec.LoadLength = load
		}
	}
	return rec
}

// mergedMeta describes the merged run: the first run's plan and worker, every run's events on the
// merged time line, and a place for every run's figures.
func mergedMeta(srcs []*mergeSource, zero time.Time, version string) Meta {
	first := srcs[0].meta
	m := Meta{
		Schema: RunSchema, Version: version, Mode: first.Mode, HTTPMode: first.HTTPMode, StartedAt: first.StartedAt, TimeZero: zero,
		Interval: first.Interval, Warmup: first.Warmup + srcs[0].offset, VerdictThresholds: first.VerdictThresholds,
		Environment: first.Environment, Worker: first.Worker, Harness: first.Harness,
		Config: map[string]any{}, Runs: make([]MergedRun, len(srcs)),
	}
	if m.Version == "" {
		m.Version = first.Version
	}
	for k, v := range first.Config {
		m.Config[k] = v
	}
	dirs := make([]string, len(srcs))
	for i, s := range srcs {
		dirs[i] = s.dir
	}
	m.Config["merged_from"] = dirs
	for _, p := range first.Phases {
		p.Start += srcs[0].offset
		if p.End > 0 {
			p.End += srcs[0].offset
		}
		m.Phases = append(m.Phases, p)
	}
	var hosts []string
	var interrupted []string
	w := &m.Worker
	w.Pid, w.Restarts, w.CPUSeconds = 0, 0, 0
	m.Harness.CPUSeconds = 0
	for _, s := range srcs {
		sm := s.meta
		if sm.StartedAt.Before(m.StartedAt) {
			m.StartedAt = sm.StartedAt
		}
		if sm.EndedAt.After(m.EndedAt) {
			m.EndedAt = sm.EndedAt
		}
		if !slices.Contains(hosts, s.label()) {
			hosts = append(hosts, s.label())
		}
		if sm.Interrupted != "" {
			interrupted = append(interrupted, s.label()+": "+sm.Interrupted)
		}
		sw := sm.Worker
		w.Restarts += sw.Restarts
		w.CPUSeconds += sw.CPUSeconds
		if sw.Crashed && !w.Crashed {
			w.Crashed, w.StderrTail = true, sw.StderrTail
		}
		w.KilledByFbench = w.KilledByFbench || sw.KilledByFbench
		if sw.ExitCode != nil && *sw.ExitCode != 0 && (w.ExitCode == nil || *w.ExitCode == 0) {
			w.ExitCode = sw.ExitCode
		}
		w.PeakRSSBytes, w.PeakCPUPct = max(w.PeakRSSBytes, sw.PeakRSSBytes), max(w.PeakCPUPct, sw.PeakCPUPct)
		w.PeakThreads, w.PeakFDs = max(w.PeakThreads, sw.PeakThreads), max(w.PeakFDs, sw.PeakFDs)
		w.FinalRSSBytes = max(w.FinalRSSBytes, sw.FinalRSSBytes)
		h := &m.Harness
		h.CPUSeconds += sm.Harness.CPUSeconds
		h.PeakCPUPct, h.PeakRSSBytes = max(h.PeakCPUPct, sm.Harness.PeakCPUPct), max(h.PeakRSSBytes, sm.Harness.PeakRSSBytes)
		h.FinalRSSBytes, h.PeakGoroutines = max(h.FinalRSSBytes, sm.Harness.FinalRSSBytes), max(h.PeakGoroutines, sm.Harness.PeakGoroutines)
		for _, ev := range sm.Events {
			ev.At += s.offset
			ev.Detail = s.label() + ": " + ev.Detail
			m.Events = append(m.Events, ev)
		}
		m.Failures = mergeFailures(m.Failures, sm.Failures, s.offset)
		m.WorkerLogs = mergeWorkerLogs(m.WorkerLogs, sm.WorkerLogs, s.offset)
	}
	slices.SortStableFunc(m.Events, func(a, b Event) int { return cmp.Compare(a.At, b.At) })
	m.Environment.Hostname = fmt.Sprintf("%d machines: %s", len(hosts), strings.Join(hosts, ", "))
	m.Interrupted = strings.Join(interrupted, "; ")
	return m
}

// MeasuredHistograms reads the run in dir back from its logs: the histograms of its measured
// intervals (warm-up excluded), merged per hlog tag. A cut-short log gives its whole intervals.
func MeasuredHistograms(dir string) (map[string]*hdrhistogram.Histogram, error) {
	s, err := openMergeSource(dir)
	if err != nil {
		return nil, err
	}
	defer s.close()
	s.interval = max(s.meta.Interval, time.Millisecond)
	out := map[string]*hdrhistogram.Histogram{}
	for {
		if err := s.advance(); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if s.done {
			return out, nil
		}
		if s.rec.Warmup {
			continue
		}
		for tag, h := range s.hists {
			if out[tag] == nil {
				out[tag] = NewHistogram()
			}
			out[tag].Merge(h)
		}
	}
}

// mergedValidity makes a merged run invalid when one of its runs was: its samples are in the
// merged figures, and the harness that measured them fell behind.
func mergedValidity(h *HarnessSummary, runs []MergedRun) {
	var bad []string
	for _, r := range runs {
		if !r.Valid {
			bad = append(bad, r.Hostname+" ("+r.Dir+": "+r.InvalidReason+")")
		}
	}
	if len(bad) == 0 {
		return
	}
	what := fmt.Sprintf("%d of the %d merged runs were invalid on their own: %s", len(bad), len(runs), strings.Join(bad, ", "))
	if !h.Valid {
		h.InvalidReason += "; " + what
		return
	}
	h.Valid = false
	h.InvalidReason = what + "; fbench, not the worker, fell behind there, and those samples are in the merged figures"
}

package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// IntervalObserver sees every interval fed to a run's aggregate, warm-up included (rec.Warmup),
// in order, live (RunWriter.Observe) or replayed (RebuildOptions.Observers). hists are the
// interval's non-empty histograms keyed by hlog tag; rec and hists are only valid during the call.
type IntervalObserver interface {
	ObserveInterval(rec *IntervalRecord, hists map[string]*hdrhistogram.Histogram)
}

// Evaluator adds judgements (SLOs, verdicts, warnings) to a summary before the report files are
// written from it.
type Evaluator func(*Summary)

// RunWriter streams a run to its directory as it goes: latency.hlog and intervals.jsonl grow by one
// interval per WriteInterval; Finish writes the derived files. Its methods are safe for concurrent use.
type RunWriter struct {
	mu         sync.Mutex
	dir        string
	meta       Meta
	hlogF      *os.File
	jsonlF     *os.File
	hlog       *bufio.Writer
	jsonl      *bufio.Writer
	csvTmp     *os.File
	agg        *aggregator
	buf        []byte
	enc        hlogEncoder // latency.hlog's payloads, its compressor reused
	err        error       // first error of WriteInterval
	failed     int         // intervals that could not be written
	finished   bool
	headerDone bool // latency.hlog header written
	evaluate   Evaluator
}

// CreateRun creates the run directory dir (mode 0750, parents too) and starts writing the run: it
// fails if dir exists and is not an empty directory. It writes run.json and the header of
// latency.hlog, and opens intervals.jsonl.
func CreateRun(dir string, meta Meta) (*RunWriter, error) {
	if dir == "" {
		return nil, errors.New("report: empty run directory")
	}
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return nil, fmt.Errorf("report: run directory %s exists and is not a directory", dir)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("report: run directory %s: %w", dir, err)
		}
		if len(entries) > 0 {
			return nil, fmt.Errorf("report: run directory %s already exists and is not empty (%d entries); choose a new directory", dir, len(entries))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("report: run directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("report: create run directory: %w", err)
	}
	if meta.Schema == "" {
		meta.Schema = RunSchema
	}
	w := &RunWriter{dir: dir, meta: meta}
	err := w.open()
	if err != nil {
		w.closeFiles()
		for _, n := range []string{RunFile, HlogFile, IntervalsFile} {
			_ = os.Remove(filepath.Join(dir, n))
		}
		if w.csvTmp != nil {
			_ = os.Remove(w.csvTmp.Name())
		}
		return nil, fmt.Errorf("report: %w", err)
	}
	return w, nil
}

func (w *RunWriter) open() error {
	if err := writeJSONAtomic(filepath.Join(w.dir, RunFile), w.meta); err != nil {
		return err
	}
	var err error
	create := func(name string) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(filepath.Join(w.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		return f
	}
	w.hlogF = create(HlogFile)
	w.jsonlF = create(IntervalsFile)
	if err != nil {
		return err
	}
	w.hlog = bufio.NewWriterSize(w.hlogF, 256<<10)
	w.jsonl = bufio.NewWriterSize(w.jsonlF, 16<<10)
	if w.csvTmp, err = createTemp(filepath.Join(w.dir, IntervalsCSV)); err != nil {
		return err
	}
	w.agg = newAggregator(w.csvTmp, len(w.meta.Processes))
	return nil
}

func timeZero(m Meta) time.Time {
	if !m.TimeZero.IsZero() {
		return m.TimeZero
	}
	if !m.StartedAt.IsZero() {
		return m.StartedAt
	}
	return time.Unix(0, 0)
}

// SetEvaluator sets a function Finish calls on the summary before writing the files.
func (w *RunWriter) SetEvaluator(f Evaluator) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.evaluate = f
}

// Observe adds an observer that sees every interval as it is written (after it was added to the
// totals' input), e.g. an SLOEvaluator checking windows.
func (w *RunWriter) Observe(o IntervalObserver) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.agg.observers = append(w.agg.observers, o)
}

// Dir is the run directory.
func (w *RunWriter) Dir() string { return w.dir }

// normalizeHistograms returns the non-empty histograms of rec keyed by sanitized tag (histograms
// whose tags sanitize to the same one are merged) and the number of histograms without a tag.
func normalizeHistograms(rec *IntervalRecord) (map[string]*hdrhistogram.Histogram, int) {
	out := make(map[string]*hdrhistogram.Histogram, len(rec.Histograms))
	empty := 0
	for tag, h := range rec.Histograms {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		if tag == "" {
			empty++
			continue
		}
		t := SanitizeTag(tag)
		if prev, ok := out[t]; ok {
			m := NewHistogram()
			m.Merge(prev)
			m.Merge(h)
			h = m
		}
		out[t] = h
	}
	return out, empty
}

// WriteInterval appends rec to latency.hlog (one line per non-empty histogram) and
// intervals.jsonl, flushes both and adds rec to the run's totals. rec's histograms are only read
// during the call.
func (w *RunWriter) WriteInterval(rec *IntervalRecord) error {
	if rec == nil {
		return errors.New("report: nil interval")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return errors.New("report: WriteInterval after Finish")
	}
	err := w.writeInterval(rec)
	if err != nil {
		err = fmt.Errorf("report: interval %d: %w", rec.Index, err)
		w.failed++
		if w.err == nil {
			w.err = err
		}
	}
	return err
}

// writeHeader writes latency.hlog's header once: lazily, so that the time zero the engine sets
// (Meta.TimeZero, via UpdateMeta) after the worker's handshake is the log's StartTime.
func (w *RunWriter) writeHeader() error {
	if w.headerDone {
		return nil
	}
	w.headerDone = true
	return writeHlogHeader(w.hlog, timeZero(w.meta), w.meta.Version)
}

func (w *RunWriter) writeInterval(rec *IntervalRecord) error {
	if err := w.writeHeader(); err != nil {
		return err
	}
	hists, empty := normalizeHistograms(rec)
	b := w.buf[:0]
	var err error
	for _, tag := range sortedTags(hists) {
		if b, err = w.enc.appendLine(b, tag, rec.Start, rec.Length, hists[tag]); err != nil {
			return err
		}
	}
	w.buf = b
	if _, err := w.hlog.Write(b); err != nil {
		return err
	}
	if err := w.hlog.Flush(); err != nil {
		return err
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if _, err := w.jsonl.Write(line); err != nil {
		return err
	}
	if err := w.jsonl.Flush(); err != nil {
		return err
	}
	w.agg.emptyTags += empty
	w.agg.add(rec, hists)
	return nil
}

// UpdateMeta rewrites run.json (atomically) with meta.
func (w *RunWriter) UpdateMeta(meta Meta) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if meta.Schema == "" {
		meta.Schema = RunSchema
	}
	w.meta = meta
	if err := writeJSONAtomic(filepath.Join(w.dir, RunFile), meta); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// Finish ends the run: it closes latency.hlog and intervals.jsonl and writes the final run.json,
// summary.json, intervals.csv, percentiles.csv and report.html, each atomically. It returns the
// summary even when writing some file failed (the error says which). It may be called after a
// failed WriteInterval and with no interval at all, but only once.
func (w *RunWriter) Finish(meta Meta) (*Summary, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return nil, errors.New("report: Finish called twice")
	}
	w.finished = true
	if meta.Schema == "" {
		meta.Schema = RunSchema
	}
	if w.meta.TimeZero.IsZero() {
		w.meta.TimeZero = meta.TimeZero
	}
	var errs []error
	if w.hlog != nil {
		errs = append(errs, w.writeHeader())
	}
	w.meta = meta
	for _, b := range []*bufio.Writer{w.hlog, w.jsonl} {
		errs = append(errs, b.Flush())
	}
	errs = append(errs, w.closeFiles())
	errs = append(errs, writeJSONAtomic(filepath.Join(w.dir, RunFile), meta))

	s := w.agg.summary(meta, meta.generatedAt())
	if w.failed > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d intervals could not be written and are missing from the report (first error: %v)", w.failed, w.err))
	}
	if w.evaluate != nil {
		w.evaluate(s)
	}
	errs = append(errs, writeOutputs(w.dir, s, meta, w.agg, w.csvTmp))
	if err := errors.Join(errs...); err != nil {
		return s, fmt.Errorf("report: %w", err)
	}
	return s, nil
}

func (w *RunWriter) closeFiles() error {
	var errs []error
	for _, f := range []*os.File{w.hlogF, w.jsonlF} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	w.hlogF, w.jsonlF = nil, nil
	return errors.Join(errs...)
}

// writeOutputs writes the files derived from the aggregate: summary.json, intervals.csv (from its
// temporary file csvTmp, which the aggregator has been writing), percentiles.csv and report.html.
func writeOutputs(dir string, s *Summary, meta Meta, agg *aggregator, csvTmp *os.File) error {
	var errs []error
	errs = append(errs, WriteSummaryFile(filepath.Join(dir, SummaryFile), s))
	if err := agg.flushCSV(); err != nil {
		discardTemp(csvTmp)
		errs = append(errs, fmt.Errorf("write %s: %w", IntervalsCSV, err))
	} else {
		errs = append(errs, commitTemp(csvTmp, filepath.Join(dir, IntervalsCSV)))
	}
	spectra := agg.spectrum()
	errs = append(errs, writeFileAtomic(filepath.Join(dir, PercentilesCSV), func(w io.Writer) error {
		return writePercentilesCSV(w, spectra)
	}))
	errs = append(errs, writeFileAtomic(filepath.Join(dir, HTMLFile), func(w io.Writer) error {
		return renderHTML(w, s, meta, agg, spectra)
	}))
	return errors.Join(errs...)
}

// RebuildOptions restrict and extend a rebuild.
type RebuildOptions struct {
	From, To  time.Duration // offsets from time zero; 0 = unbounded
	Evaluate  Evaluator
	Observers []IntervalObserver // see every interval of the range, in order, before Evaluate
	Clock     func() time.Time   // stamps Summary.GeneratedAt (nil: the current time)
}

// Rebuild recomputes summary.json, intervals.csv, percentiles.csv and report.html of the run in dir
// from run.json, latency.hlog and intervals.jsonl, using only the intervals that lie within
// [from, to] (0 = unbounded). A last line cut short in either log (a run killed with kill -9) is
// ignored, so such a run loses at most its last interval.
func Rebuild(dir string, from, to time.Duration) (*Summary, error) {
	return RebuildWith(dir, RebuildOptions{From: from, To: to})
}

// RebuildWith is Rebuild with options.
func RebuildWith(dir string, opt RebuildOptions) (*Summary, error) {
	if opt.From < 0 || opt.To < 0 || (opt.To != 0 && opt.To <= opt.From) {
		return nil, fmt.Errorf("report: bad window from %v to %v", opt.From, opt.To)
	}
	meta, err := LoadMeta(filepath.Join(dir, RunFile))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	removeStaleTemps(dir)
	csvTmp, err := createTemp(filepath.Join(dir, IntervalsCSV))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	agg := newAggregator(csvTmp, len(meta.Processes))
	agg.observers = opt.Observers
	notes, err := replay(dir, opt.From, opt.To, agg)
	if err != nil {
		discardTemp(csvTmp)
		return nil, fmt.Errorf("report: rebuild %s: %w", dir, err)
	}
	meta.Clock = opt.Clock
	s := agg.summary(meta, meta.generatedAt())
	s.Warnings = append(s.Warnings, notes...)
	if opt.From != 0 || opt.To != 0 {
		s.Window = &Window{FromS: opt.From.Seconds(), ToS: opt.To.Seconds()}
	}
	if opt.Evaluate != nil {
		opt.Evaluate(s)
	}
	if err := writeOutputs(dir, s, meta, agg, csvTmp); err != nil {
		return s, fmt.Errorf("report: %w", err)
	}
	return s, nil
}

// replay reads intervals.jsonl and latency.hlog side by side (both are in interval order) and feeds
// the intervals within [from, to] to agg. It returns notes on what it had to skip.
func replay(dir string, from, to time.Duration, agg *aggregator) ([]string, error) {
	jf, err := os.Open(filepath.Join(dir, IntervalsFile))
	if err != nil {
		return nil, err
	}
	defer jf.Close()
	hf, err := os.Open(filepath.Join(dir, HlogFile))
	if err != nil {
		return nil, err
	}
	defer hf.Close()

	hl := &hlogCursor{r: newHlogReader(hf)}
	var notes []string
	cut, err := replayIntervals(bufio.NewReaderSize(jf, 64<<10), hl, from, to, agg)
	if err != nil {
		return nil, err
	}
	if cut {
		notes = append(notes, fmt.Sprintf("%s: the last line was cut short (run killed?) and was ignored", IntervalsFile))
	}
	// A final hlog line cut short only matters if its interval made it to intervals.jsonl.
	hl.drain()
	if hl.r.Truncated {
		notes = append(notes, fmt.Sprintf("%s: the last line was cut short (run killed?) and was ignored", HlogFile))
	}
	if hl.orphans > 0 {
		notes = append(notes, fmt.Sprintf("%s: %d histograms matched no interval of %s and were ignored", HlogFile, hl.orphans, IntervalsFile))
	}
	return notes, nil
}

// replayIntervals feeds agg each interval of intervals.jsonl (read from jr) that lies within
// [from, to], with its histograms from hl; cut tells that the file's last line was cut short (it
// is ignored).
func replayIntervals(jr *bufio.Reader, hl *hlogCursor, from, to time.Duration, agg *aggregator) (cut bool, err error) {
	lineNo := 0
	for {
		line, cut, err := nextIntervalLine(jr, &lineNo)
		if err != nil || line == nil {
			return cut, err
		}
		var rec IntervalRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return false, fmt.Errorf("%s line %d: %w", IntervalsFile, lineNo, err)
		}
		use := rec.Start >= from && (to == 0 || rec.Start+rec.Length <= to)
		hists := map[string]*hdrhistogram.Histogram{}
		if err := hl.collect(intervalKey(rec.Start), hists, use); err != nil {
			return false, err
		}
		if use {
			agg.add(&rec, hists)
		}
	}
}

// nextIntervalLine returns the next non-blank line of intervals.jsonl, counting the lines read in
// *lineNo. At the end it returns a nil line, with cut telling that a last line had no newline (a
// killed writer's).
func nextIntervalLine(jr *bufio.Reader, lineNo *int) (line []byte, cut bool, err error) {
	for {
		line, err := jr.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil, len(bytes.TrimSpace(line)) > 0, nil
		}
		if err != nil {
			return nil, false, err
		}
		*lineNo++
		if len(bytes.TrimSpace(line)) > 0 {
			return line, false, nil
		}
	}
}

// generatedAt is when a summary of the run is computed: m.Clock's time, else now to the millisecond.
func (m Meta) generatedAt() time.Time {
	if m.Clock != nil {
		return m.Clock()
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// latency.hlog is written by fbench itself, not by hdrhistogram-go's HistogramLogWriter, because
// in v1.3.0 that writer
//   - writes #[StartTime:] and #[BaseTime:] in whole seconds (Java writes %.3f), so an interval's
//     absolute time loses up to a second;
//   - scales Interval_Max by a maxValueUnitRatio that cannot be set from outside the package
//     (HistogramLogOptions has unexported fields) and defaults to 1e6: our values are µs, so the
//     column would read in seconds instead of milliseconds;
//   - checks tags with a regexp that misses a comma at either end of the tag.
// The lines below follow Java's HistogramLogWriter byte for byte (%.3f for times and max) and the
// payload is hdrhistogram-go's V2 compressed encoding, which since v1.3.0 writes the normalizing
// index offset Java and C readers expect.
//
// The reader is fbench's own as well: hdrhistogram-go's reader adds StartTime where Java subtracts
// it, and fails on a truncated last line, which is what a run killed with kill -9 leaves.

const (
	hlogVersionLine = "#[Histogram log format version 1.3]"
	hlogLegend      = `"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"`
	// hlogMaxUnitRatio scales Interval_Max: values are µs, the column reads in ms.
	hlogMaxUnitRatio = 1000.0
)

// writeHlogHeader writes the header of an interval log whose time stamps are offsets from the run's
// time zero: the format version, StartTime and BaseTime (both time zero, so a line's absolute start
// is StartTime + its time stamp, as Java's reader computes it) and the legend.
func writeHlogHeader(w io.Writer, zero time.Time, version string) error {
	sec := secondsMs(zero)
	var b bytes.Buffer
	if version != "" {
		fmt.Fprintf(&b, "#[Logged with fbench %s]\n", sanitizeComment(version))
	}
	b.WriteString(hlogVersionLine + "\n")
	fmt.Fprintf(&b, "#[StartTime: %.3f (seconds since epoch), %s]\n", sec, zero.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	fmt.Fprintf(&b, "#[BaseTime: %.3f (seconds since epoch)]\n", sec)
	b.WriteString("#[Values in microseconds; Interval_Max in milliseconds]\n")
	b.WriteString(hlogLegend + "\n")
	_, err := w.Write(b.Bytes())
	return err
}

// secondsMs is t in seconds since the epoch, truncated to the millisecond.
func secondsMs(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func sanitizeComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ']' {
			return ' '
		}
		return r
	}, s)
}

// appendLine appends one interval line, Tag=<tag>,<start s>,<length s>,<max ms>,<payload>, with
// e's reused compressor.
func (e *hlogEncoder) appendLine(b []byte, tag string, start, length time.Duration, h *hdrhistogram.Histogram) ([]byte, error) {
	if tag != "" {
		b = append(b, "Tag="...)
		b = append(b, tag...)
		b = append(b, ',')
	}
	b = strconv.AppendFloat(b, start.Seconds(), 'f', 3, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, length.Seconds(), 'f', 3, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, float64(h.Max())/hlogMaxUnitRatio, 'f', 3, 64)
	b = append(b, ',')
	b, err := e.appendPayload(b, h)
	if err != nil {
		return b, fmt.Errorf("encode histogram %q: %w", tag, err)
	}
	b = append(b, '\n')
	return b, nil
}

// hlogEntry is one interval line of a log, not yet decoded.
type hlogEntry struct {
	Tag     string
	Offset  float64 // seconds from the log's StartTime
	Length  float64 // seconds
	payload string
	line    int
}

// key identifies the interval an entry belongs to: its start offset in whole milliseconds.
func (e hlogEntry) key() int64 { return int64(math.Round(e.Offset * 1000)) }

// decode decodes the entry's histogram.
func (e hlogEntry) decode() (*hdrhistogram.Histogram, error) {
	h, err := hdrhistogram.Decode([]byte(e.payload))
	if err != nil {
		return nil, fmt.Errorf("latency.hlog line %d (tag %q): %w", e.line, e.Tag, err)
	}
	h.SetTag(e.Tag)
	return h, nil
}

// intervalKey is the key of the hlog entries of an interval starting at start.
func intervalKey(start time.Duration) int64 { return int64(math.Round(start.Seconds() * 1000)) }

// hlogReader reads interval lines one at a time (a log can be hundreds of MB).
type hlogReader struct {
	r             *bufio.Reader
	line          int
	startSec      float64
	baseSec       float64
	observedStart bool
	observedBase  bool
	// Truncated is set when the last line had no newline and was ignored (a killed writer).
	Truncated bool
	cut       string // that last line
}

func newHlogReader(r io.Reader) *hlogReader {
	return &hlogReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next interval line, or io.EOF.
func (hr *hlogReader) next() (hlogEntry, error) {
	for {
		line, err := hr.r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return hlogEntry{}, err
		}
		if errors.Is(err, io.EOF) {
			if strings.TrimSpace(line) != "" {
				// The writer ends every line with a newline: a last line without one was cut short.
				hr.Truncated, hr.cut = true, line
			}
			return hlogEntry{}, io.EOF
		}
		hr.line++
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "", line[0] == '"':
			continue
		case line[0] == '#':
			if v, ok := headerSeconds(line, "#[StartTime: "); ok {
				hr.startSec, hr.observedStart = v, true
			} else if v, ok := headerSeconds(line, "#[BaseTime: "); ok {
				hr.baseSec, hr.observedBase = v, true
			}
			continue
		}
		e, err := hr.parse(line)
		if err != nil {
			return hlogEntry{}, fmt.Errorf("latency.hlog line %d: %w", hr.line, err)
		}
		return e, nil
	}
}

func headerSeconds(line, prefix string) (float64, bool) {
	if !strings.HasPrefix(line, prefix) {
		return 0, false
	}
	rest := line[len(prefix):]
	end := strings.IndexAny(rest, " ,]")
	if end >= 0 {
		rest = rest[:end]
	}
	v, err := strconv.ParseFloat(rest, 64)
	return v, err == nil
}

func (hr *hlogReader) parse(line string) (hlogEntry, error) {
	e := hlogEntry{line: hr.line}
	if strings.HasPrefix(line, "Tag=") {
		comma := strings.IndexByte(line, ',')
		if comma < 0 {
			return e, errors.New("tag without a comma")
		}
		e.Tag, line = line[4:comma], line[comma+1:]
	}
	f := strings.SplitN(line, ",", 4)
	if len(f) != 4 {
		return e, fmt.Errorf("want 4 comma-separated fields, got %d", len(f))
	}
	stamp, err1 := strconv.ParseFloat(f[0], 64)
	length, err2 := strconv.ParseFloat(f[1], 64)
	if err := errors.Join(err1, err2); err != nil {
		return e, err
	}
	// Java's HistogramLogReader rules: no StartTime means the first time stamp; no BaseTime means
	// relative time stamps when they are more than a year before StartTime, absolute otherwise.
	if !hr.observedStart {
		hr.startSec, hr.observedStart = stamp, true
	}
	if !hr.observedBase {
		if stamp < hr.startSec-365*24*3600 {
			hr.baseSec = hr.startSec
		}
		hr.observedBase = true
	}
	e.Offset = stamp + hr.baseSec - hr.startSec
	e.Length = length
	e.payload = f[3]
	return e, nil
}

// cutKey is the interval key of the line that was cut short, when enough of it is left to tell.
func (hr *hlogReader) cutKey() (int64, bool) {
	line := hr.cut
	if strings.HasPrefix(line, "Tag=") {
		comma := strings.IndexByte(line, ',')
		if comma < 0 {
			return 0, false
		}
		line = line[comma+1:]
	}
	stamp, _, ok := strings.Cut(line, ",")
	if !ok || !hr.observedStart {
		return 0, false // the time stamp itself may be cut
	}
	v, err := strconv.ParseFloat(stamp, 64)
	if err != nil {
		return 0, false
	}
	return hlogEntry{Offset: v + hr.baseSec - hr.startSec}.key(), true
}

// hlogCursor reads an hlog one interval at a time, in step with intervals.jsonl: it peeks at the
// next complete line and hands over the histograms of the interval asked for.
type hlogCursor struct {
	r       *hlogReader
	pending *hlogEntry // the line peeked at and not yet consumed
	done    bool       // the log is read to its end
	orphans int        // histograms of an interval intervals.jsonl does not have
}

// peek returns the next complete hlog line without consuming it (nil at the end).
func (c *hlogCursor) peek() (*hlogEntry, error) {
	if c.pending == nil && !c.done {
		e, err := c.r.next()
		if errors.Is(err, io.EOF) {
			c.done = true
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		c.pending = &e
	}
	return c.pending, nil
}

// collect consumes the lines up to the interval at key, counting those before it as orphans, and
// merges the interval's histograms into hists by tag; with decode false they are skipped unread.
func (c *hlogCursor) collect(key int64, hists map[string]*hdrhistogram.Histogram, decode bool) error {
	for {
		e, err := c.peek()
		if err != nil {
			return err
		}
		if e == nil || e.key() > key {
			return nil
		}
		c.pending = nil
		if e.key() < key {
			c.orphans++
			continue
		}
		if !decode {
			continue
		}
		h, err := e.decode()
		if err != nil {
			return err
		}
		if prev := hists[e.Tag]; prev != nil {
			prev.Merge(h)
		} else {
			hists[e.Tag] = h
		}
	}
}

// drain consumes the rest of the log, so that a last line cut short is noticed (Truncated); it
// stops at the first error.
func (c *hlogCursor) drain() {
	if c.done {
		return
	}
	for {
		e, err := c.peek()
		if err != nil || e == nil {
			return
		}
		c.pending = nil
	}
}

package report

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Failure kinds: why an invocation counted in error_rate did not succeed.
const (
	FailureException  = "exception"   // the worker answered Failure (StatusResult.exception)
	FailureHTTPStatus = "http_status" // the HTTP response's status was not a success (--http-ok)
	FailureHTTPProxy  = "http_proxy"  // proxying the HTTP request to the worker's HttpUri failed
	FailureTimeout    = "timeout"     // no answer within --timeout
	FailureLost       = "lost"        // in flight when the worker's stream or the run ended
	FailureUnsent     = "unsent"      // due, and the stream would not take it
	FailureDropped    = "dropped"     // due, and --max-inflight was full (--on-full drop)
)

// FailureReason is why one invocation failed, as it was observed. Message is what groups it
// (numbers and ids masked); the rest is kept for the group's first example.
type FailureReason struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Type    string `json:"type,omitempty"`   // exception type
	Source  string `json:"source,omitempty"` // exception source
	Stack   string `json:"stack,omitempty"`  // the first lines of the stack trace
}

// FailureGroup is one row of the failures table: a function's failures of one kind whose
// messages normalise to the same pattern.
type FailureGroup struct {
	Function     string        `json:"function"` // "" when no function was chosen yet (dropped, unsent)
	Kind         string        `json:"kind"`
	Pattern      string        `json:"pattern"`
	Count        int64         `json:"count"`
	First        FailureReason `json:"first"`         // the first failure of the group, as observed
	FirstAt      time.Duration `json:"first_at_ns"`   // since the run's time zero
	InvocationID string        `json:"invocation_id"` // of the first failure (the worker log names it)
}

// Failures is the bounded failures table of a run: the MaxFailureGroups largest groups, the rest
// counted as "other".
type Failures struct {
	Total       int64          `json:"total"`
	Groups      []FailureGroup `json:"groups"`       // by count, largest first
	Other       int64          `json:"other"`        // failures in no listed group
	OtherGroups int            `json:"other_groups"` // groups not listed (-1: more than were told apart)
}

// MaxFailureGroups is how many groups a failures table lists.
const MaxFailureGroups = 50

// maxTrackedGroups bounds the groups a FailureTable tells apart; a failure of any further
// pattern is counted as other.
const maxTrackedGroups = 1000

// FailureTable groups failures as they happen. It is safe for concurrent use and bounded in
// memory whatever the worker says: a failure costs a lock and a map lookup, and only failures
// pay it.
type FailureTable struct {
	mu        sync.Mutex
	groups    map[failureKey]*FailureGroup
	total     int64
	untracked int64
	// seen maps a reason as it came (before normalising) to its group: a message repeated verbatim
	// skips the normalising expressions. Bounded like groups.
	seen map[rawFailureKey]*FailureGroup
}

type rawFailureKey struct{ function, kind, typ, message string }

type failureKey struct{ function, kind, pattern string }

// NewFailureTable returns an empty table.
func NewFailureTable() *FailureTable {
	return &FailureTable{groups: map[failureKey]*FailureGroup{}, seen: map[rawFailureKey]*FailureGroup{}}
}

// Add counts one failure of function (by name) at `at` since the run's time zero.
func (t *FailureTable) Add(function string, r FailureReason, at time.Duration, invocationID string) {
	if t == nil {
		return
	}
	raw := rawFailureKey{function, r.Kind, r.Type, r.Message}
	t.mu.Lock()
	if g := t.seen[raw]; g != nil {
		t.total++
		g.Count++
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	pattern := NormaliseFailureMessage(r.Type, r.Message)
	if r.Kind == FailureHTTPStatus {
		pattern = r.Message // "HTTP 503": the status is the reason, not a number to mask
	}
	k := failureKey{function, r.Kind, pattern}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total++
	g, ok := t.groups[k]
	if ok && len(t.seen) < maxTrackedGroups*4 && len(r.Message) <= 2000 {
		t.seen[raw] = g
	}
	if !ok {
		if len(t.groups) >= maxTrackedGroups {
			t.untracked++
			return
		}
		r.Message = clip(r.Message, 2000)
		r.Stack = clip(r.Stack, 2000)
		g = &FailureGroup{Function: function, Kind: r.Kind, Pattern: pattern, First: r, FirstAt: at, InvocationID: invocationID}
		t.groups[k] = g
		if len(raw.message) <= 2000 {
			t.seen[raw] = g
		}
	}
	g.Count++
}

// Table returns the table as reports show it.
func (t *FailureTable) Table() *Failures {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total == 0 {
		return nil
	}
	out := &Failures{Total: t.total, Other: t.untracked}
	for _, g := range t.groups {
		out.Groups = append(out.Groups, *g)
	}
	sort.Slice(out.Groups, func(i, j int) bool {
		a, b := out.Groups[i], out.Groups[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.FirstAt < b.FirstAt
	})
	if len(out.Groups) > MaxFailureGroups {
		for _, g := range out.Groups[MaxFailureGroups:] {
			out.Other += g.Count
		}
		out.OtherGroups = len(out.Groups) - MaxFailureGroups
		out.Groups = out.Groups[:MaxFailureGroups]
	}
	if t.untracked > 0 {
		out.OtherGroups = -1
	}
	return out
}

var (
	guidPattern   = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	hexPattern    = regexp.MustCompile(`\b(?:0x)?[0-9a-fA-F]{8,}\b`)
	numberPattern = regexp.MustCompile(`\d+(\.\d+)?`)
	blankPattern  = regexp.MustCompile(`\s+`)
)

// NormaliseFailureMessage is the pattern failures are grouped by: the exception type and the
// message with ids (GUIDs, hexadecimal tokens) and numbers masked, blanks collapsed, at most 200
// characters.
func NormaliseFailureMessage(typ, msg string) string {
	s := msg
	s = guidPattern.ReplaceAllString(s, "<id>")
	s = hexPattern.ReplaceAllStringFunc(s, func(h string) string {
		if !strings.ContainsAny(h, "0123456789") {
			return h // a word such as "deadbeef" or "accessed" is no id
		}
		return "<hex>"
	})
	s = numberPattern.ReplaceAllString(s, "<n>")
	s = strings.TrimSpace(blankPattern.ReplaceAllString(s, " "))
	if typ != "" {
		s = typ + ": " + s
	}
	return clip(s, 200)
}

// clip shortens s to at most n bytes (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// FirstStackLines is the first n lines of a stack trace, for a failure example.
func FirstStackLines(stack string, n int) string {
	lines := strings.SplitN(strings.TrimRight(strings.TrimLeft(stack, "\r\n"), " \r\n"), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], "\r ")
	}
	return strings.Join(lines, "\n")
}

// WorkerLogStats counts the worker's RpcLog messages of the measured run.
type WorkerLogStats struct {
	Total      int64            `json:"total"`
	ByLevel    map[string]int64 `json:"by_level"`
	ByCategory map[string]int64 `json:"by_category"` // at most maxLogCategories, the rest under "other"
	// AfterSettle counts logs naming an invocation that had already settled: the host drops them.
	AfterSettle int64 `json:"after_settle"`
	// FirstErrors are the first Error and Critical logs, as the worker log has them.
	FirstErrors []LogLine `json:"first_errors,omitempty"`
}

// LogLine is one worker log message kept for the report.
type LogLine struct {
	At           time.Duration `json:"at_ns"` // since the run's time zero
	Level        string        `json:"level"`
	Category     string        `json:"category"`
	InvocationID string        `json:"invocation_id,omitempty"`
	Message      string        `json:"message"`
}

const (
	maxLogCategories = 50
	maxFirstErrors   = 5
)

// LogCounter counts RpcLogs as they arrive (safe for concurrent use, bounded).
type LogCounter struct {
	mu sync.Mutex
	s  WorkerLogStats
}

// NewLogCounter returns an empty counter.
func NewLogCounter() *LogCounter {
	return &LogCounter{s: WorkerLogStats{ByLevel: map[string]int64{}, ByCategory: map[string]int64{}}}
}

// Add counts one log; message is read only for Error and Critical logs.
func (c *LogCounter) Add(at time.Duration, level, category, invocationID string, afterSettle bool, message func() string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Total++
	c.s.ByLevel[level]++
	if _, ok := c.s.ByCategory[category]; ok || len(c.s.ByCategory) < maxLogCategories {
		c.s.ByCategory[category]++
	} else {
		c.s.ByCategory["other"]++
	}
	if afterSettle {
		c.s.AfterSettle++
	}
	if (level == "Error" || level == "Critical") && len(c.s.FirstErrors) < maxFirstErrors {
		c.s.FirstErrors = append(c.s.FirstErrors, LogLine{At: at, Level: level, Category: category, InvocationID: invocationID, Message: clip(message(), 500)})
	}
}

// Stats returns a copy of the counts (nil when nothing was logged).
func (c *LogCounter) Stats() *WorkerLogStats {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.Total == 0 {
		return nil
	}
	s := c.s
	s.ByLevel = make(map[string]int64, len(c.s.ByLevel))
	for k, v := range c.s.ByLevel {
		s.ByLevel[k] = v
	}
	s.ByCategory = make(map[string]int64, len(c.s.ByCategory))
	for k, v := range c.s.ByCategory {
		s.ByCategory[k] = v
	}
	s.FirstErrors = append([]LogLine(nil), c.s.FirstErrors...)
	return &s
}

// mergeFailures adds run b's failures table (its times shifted by offset) to a (nil: none): groups
// of the same function, kind and pattern add up and keep the earlier first example; the merged
// table keeps the MaxFailureGroups largest groups and counts the rest as other.
func mergeFailures(a, b *Failures, offset time.Duration) *Failures {
	if b == nil {
		return a
	}
	out := &Failures{}
	if a != nil {
		*out = *a
		out.Groups = append([]FailureGroup(nil), a.Groups...)
	}
	out.Total += b.Total
	out.Other += b.Other
	if b.OtherGroups < 0 || out.OtherGroups < 0 {
		out.OtherGroups = -1
	} else {
		out.OtherGroups += b.OtherGroups
	}
	for _, g := range b.Groups {
		g.FirstAt += offset
		i := slices.IndexFunc(out.Groups, func(o FailureGroup) bool {
			return o.Function == g.Function && o.Kind == g.Kind && o.Pattern == g.Pattern
		})
		if i < 0 {
			out.Groups = append(out.Groups, g)
			continue
		}
		o := &out.Groups[i]
		o.Count += g.Count
		if g.FirstAt < o.FirstAt {
			o.First, o.FirstAt, o.InvocationID = g.First, g.FirstAt, g.InvocationID
		}
	}
	sort.SliceStable(out.Groups, func(i, j int) bool { return out.Groups[i].Count > out.Groups[j].Count })
	if len(out.Groups) > MaxFailureGroups {
		for _, g := range out.Groups[MaxFailureGroups:] {
			out.Other += g.Count
		}
		if out.OtherGroups >= 0 {
			out.OtherGroups += len(out.Groups) - MaxFailureGroups
		}
		out.Groups = out.Groups[:MaxFailureGroups]
	}
	return out
}

// mergeWorkerLogs adds run b's worker log counts (times shifted by offset) to a (nil: none).
func mergeWorkerLogs(a, b *WorkerLogStats, offset time.Duration) *WorkerLogStats {
	if b == nil {
		return a
	}
	out := &WorkerLogStats{ByLevel: map[string]int64{}, ByCategory: map[string]int64{}}
	for _, s := range []*WorkerLogStats{a, b} {
		if s == nil {
			continue
		}
		out.Total += s.Total
		out.AfterSettle += s.AfterSettle
		for k, v := range s.ByLevel {
			out.ByLevel[k] += v
		}
		for k, v := range s.ByCategory {
			out.ByCategory[k] += v
		}
	}
	if a != nil {
		out.FirstErrors = append(out.FirstErrors, a.FirstErrors...)
	}
	for _, e := range b.FirstErrors {
		e.At += offset
		out.FirstErrors = append(out.FirstErrors, e)
	}
	sort.SliceStable(out.FirstErrors, func(i, j int) bool { return out.FirstErrors[i].At < out.FirstErrors[j].At })
	if len(out.FirstErrors) > maxFirstErrors {
		out.FirstErrors = out.FirstErrors[:maxFirstErrors]
	}
	return out
}

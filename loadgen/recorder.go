package loadgen

import (
	"maps"
	"strconv"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fbench/fbench/report"
)

// Outcome statuses used in the per-status histograms.
const (
	statusSucceeded            = "succeeded"
	statusFailed               = "failed"
	statusCancelled            = "cancelled"
	statusCompletedAfterCancel = "completed_after_cancel"
	statusTimedOut             = "timed_out" // what settled returns for an answer past its deadline
)

// statuses lists the outcome statuses in a fixed order.
var statuses = []string{statusSucceeded, statusFailed, statusCancelled, statusCompletedAfterCancel}

// histSet is one interval's histograms and counts.
type histSet struct {
	rtt, service, lag, cancelSettle, statusRTT, harnessLag *hdrhistogram.Histogram
	httpTTFB, httpTotal                                    *hdrhistogram.Histogram   // proxied HTTP responses
	httpStatus                                             []map[int]int64           // per target function: HTTP status → count
	failures                                               map[string]int64          // failure reason → count
	fnRTT, fnService                                       []*hdrhistogram.Histogram // per target function (nil with one function)
	fnHTTPTTFB, fnHTTPTotal                                []*hdrhistogram.Histogram // per target function (nil with one function)
	byStatus                                               map[string]*hdrhistogram.Histogram
	counts                                                 report.Counts
	procRTT, procService                                   []*hdrhistogram.Histogram // per worker process (nil with one)
	procCounts                                             []report.ProcessCounts
}

func newHistSet(functions, processes int) *histSet {
	s := &histSet{
		rtt: report.NewHistogram(), service: report.NewHistogram(), lag: report.NewHistogram(),
		cancelSettle: report.NewHistogram(), statusRTT: report.NewHistogram(), harnessLag: report.NewHistogram(),
		byStatus: map[string]*hdrhistogram.Histogram{},
		httpTTFB: report.NewHistogram(), httpTotal: report.NewHistogram(),
		httpStatus: make([]map[int]int64, functions), failures: map[string]int64{},
	}
	if functions > 1 {
		for i := 0; i < functions; i++ {
			s.fnRTT = append(s.fnRTT, report.NewHistogram())
			s.fnService = append(s.fnService, report.NewHistogram())
			s.fnHTTPTTFB = append(s.fnHTTPTTFB, report.NewHistogram())
			s.fnHTTPTotal = append(s.fnHTTPTotal, report.NewHistogram())
		}
	}
	for _, st := range statuses {
		s.byStatus[st] = report.NewHistogram()
	}
	if processes > 1 {
		for i := 0; i < processes; i++ {
			s.procRTT = append(s.procRTT, report.NewHistogram())
			s.procService = append(s.procService, report.NewHistogram())
		}
		s.procCounts = make([]report.ProcessCounts, processes)
	}
	return s
}

func (s *histSet) reset() {
	for _, h := range s.all() {
		// An empty histogram's counts are all zero already: clearing them (tens of KiB each) is
		// skipped, most of an idle interval's cost.
		if h.TotalCount() != 0 {
			h.Reset()
		}
	}
	s.counts = report.Counts{}
	clear(s.procCounts)
	for _, m := range s.httpStatus {
		clear(m)
	}
	clear(s.failures)
}

func (s *histSet) all() []*hdrhistogram.Histogram {
	out := []*hdrhistogram.Histogram{s.rtt, s.service, s.lag, s.cancelSettle, s.statusRTT, s.harnessLag, s.httpTTFB, s.httpTotal}
	out = append(out, s.fnRTT...)
	out = append(out, s.fnService...)
	out = append(out, s.fnHTTPTTFB...)
	out = append(out, s.fnHTTPTotal...)
	for _, st := range statuses {
		out = append(out, s.byStatus[st])
	}
	out = append(out, s.procRTT...)
	out = append(out, s.procService...)
	return out
}

// tagged returns the set's histograms keyed by hlog tag, leaving out empty ones.
func (s *histSet) tagged(fnNames []string) map[string]*hdrhistogram.Histogram {
	m := map[string]*hdrhistogram.Histogram{}
	add := func(tag string, h *hdrhistogram.Histogram) {
		if h.TotalCount() > 0 {
			m[tag] = h
		}
	}
	add(report.MetricRTT, s.rtt)
	add(report.MetricService, s.service)
	add(report.MetricLag, s.lag)
	add(report.MetricCancelSettle, s.cancelSettle)
	add(report.MetricStatusRTT, s.statusRTT)
	add(report.MetricHarnessLag, s.harnessLag)
	add(report.MetricHTTPTTFB, s.httpTTFB)
	add(report.MetricHTTPTotal, s.httpTotal)
	for i, h := range s.fnRTT {
		add(report.FunctionTag(report.MetricRTT, fnNames[i]), h)
		add(report.FunctionTag(report.MetricService, fnNames[i]), s.fnService[i])
		add(report.FunctionTag(report.MetricHTTPTTFB, fnNames[i]), s.fnHTTPTTFB[i])
		add(report.FunctionTag(report.MetricHTTPTotal, fnNames[i]), s.fnHTTPTotal[i])
	}
	for st, h := range s.byStatus {
		add(report.StatusTag(report.MetricRTT, st), h)
	}
	for i, h := range s.procRTT {
		add(report.ProcessTag(report.MetricRTT, i+1), h)
		add(report.ProcessTag(report.MetricService, i+1), s.procService[i])
	}
	return m
}

// httpCounts returns the set's HTTP statuses by function name, nil when there are none.
func (s *histSet) httpCounts(fnNames []string) report.HTTPStatusCounts {
	var out report.HTTPStatusCounts
	for i, m := range s.httpStatus {
		if len(m) == 0 || i >= len(fnNames) {
			continue
		}
		if out == nil {
			out = report.HTTPStatusCounts{}
		}
		codes := make(map[string]int64, len(m))
		for code, n := range m {
			codes[strconv.Itoa(code)] = n
		}
		out[fnNames[i]] = codes
	}
	return out
}

// failureCounts copies the set's failure reasons, nil when there are none.
func (s *histSet) failureCounts() map[string]int64 {
	if len(s.failures) == 0 {
		return nil
	}
	return maps.Clone(s.failures)
}

// httpResult is what an HTTP function's invocation told about its HTTP response: the status a
// caller would get (0: not an HTTP function, or none) and, in proxying mode, when the response's
// head and last byte were read (ns since t0; 0: not read) and its body bytes.
type httpResult struct {
	code      int
	head, end int64
	bytes     int64
}

// recorder turns settled invocations into interval histograms and counts. Every method takes its
// mutex; rotate swaps the current set for a clean one so the caller can write the old set out
// without holding up the sender or receiver.
//
// An event goes to the interval its own timestamp falls in, not to whichever set is current when
// it is recorded: an event stamped at or after the current interval's end (the run loop has not
// rotated yet) goes to the next set. And an invocation belongs to the phase of its intended send
// time: one intended during the warm-up that settles in the measured window is counted as
// WarmupSettled and kept out of every measured figure, so the measured counts add up (each
// invocation due in the window ends in exactly one outcome) and its latencies are the window's.
type recorder struct {
	mu           sync.Mutex
	cur, next    *histSet
	spare        *histSet
	curEnd       int64        // ns since t0: events at or after it belong to next
	length       int64        // interval length, ns
	measuredFrom int64        // ns since t0: where the first measured interval starts
	now          func() int64 // ns since t0, for counts without a timestamp of their own
}

// newRecorder records intervals of the given length for functions targets sent to processes
// worker processes; measuredFrom is where the first measured interval starts (0: no warm-up).
func newRecorder(functions, processes int, length, measuredFrom time.Duration, now func() int64) *recorder {
	if length <= 0 {
		length = time.Second
	}
	r := &recorder{cur: newHistSet(functions, processes), next: newHistSet(functions, processes), spare: newHistSet(functions, processes),
		curEnd: int64(length), length: int64(length), measuredFrom: int64(measuredFrom), now: now}
	return r
}

// at is the set an event stamped ts belongs to (the caller holds mu).
func (r *recorder) at(ts int64) *histSet {
	if ts >= r.curEnd {
		return r.next
	}
	return r.cur
}

// warmupCarry reports whether f is a warm-up invocation ending at now, in the measured window; if
// so it is counted as such, and nothing else of it is recorded (mu held).
func (r *recorder) warmupCarry(f flight, now int64) bool {
	if !f.warm || now < r.measuredFrom {
		return false
	}
	r.at(now).counts.WarmupSettled++
	return true
}

// µs converts nanoseconds to the histograms' microseconds, clamped into their range.
func µs(ns int64) int64 {
	v := ns / 1000
	if v < report.HistLowest {
		return report.HistLowest
	}
	if v > report.HistHighest {
		return report.HistHighest
	}
	return v
}

// warmupArrival reports whether an arrival intended at intendedNs, handled now, belongs to the
// warm-up: intended before the measured window while the warm-up's last interval is still open, so
// that it is counted there (mu held).
func (r *recorder) warmupArrival(intendedNs int64) bool {
	return intendedNs < r.measuredFrom && r.curEnd <= r.measuredFrom
}

// sent records one arrival intended at intendedNs and handed to the stream at sentNs; freeNs is
// when the last wait the worker imposed ended (see report.MetricHarnessLag). It reports whether
// the invocation belongs to the warm-up: intended before the measured window while the warm-up's
// last interval is still open (one sent after that is measured, whatever its intended time). The
// decision and the counting happen under one lock, so that an invocation is due, sent and settled
// in one phase. The arrival is due in the interval of its intended time and sent in that of its
// sending; a warm-up invocation is all in the open warm-up interval.
func (r *recorder) sent(intendedNs, sentNs, freeNs int64, proc uint16) (warm bool) {
	r.mu.Lock()
	warm = r.warmupArrival(intendedNs)
	due, s := r.at(intendedNs), r.at(sentNs)
	if warm {
		due, s = r.cur, r.cur
	}
	due.counts.Due++
	s.counts.Sent++
	if s.procCounts != nil {
		s.procCounts[proc].Sent++
	}
	_ = s.lag.RecordValue(µs(sentNs - intendedNs))
	_ = s.harnessLag.RecordValue(µs(sentNs - max(intendedNs, freeNs)))
	r.mu.Unlock()
	return warm
}

// notSent records an arrival intended at intendedNs that was due and not sent: dropped at the
// in-flight limit, or unsent when the stream would not take it before the run ended.
func (r *recorder) notSent(intendedNs int64, unsent bool) {
	r.mu.Lock()
	s := r.at(intendedNs)
	if r.warmupArrival(intendedNs) {
		s = r.cur
	}
	s.counts.Due++
	if unsent {
		s.counts.Unsent++
	} else {
		s.counts.Dropped++
	}
	r.mu.Unlock()
}

// response records a matched response at nowNs with the given outcome; reason, when not empty,
// is why it failed (counted per reason); h is its HTTP side (zero for other triggers).
func (r *recorder) response(f flight, nowNs int64, status, reason string, h httpResult) {
	rtt, svc := µs(nowNs-f.intended), µs(nowNs-f.sent)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.warmupCarry(f, nowNs) {
		return
	}
	s := r.at(nowNs)
	c := &s.counts
	if reason != "" && status == statusFailed {
		s.failures[reason]++
	}
	if h.code != 0 || h.head > 0 || h.end > 0 {
		s.recordHTTP(f, h)
	}
	switch status {
	case statusSucceeded:
		c.Succeeded++
	case statusFailed:
		c.Failed++
	case statusCancelled:
		c.Cancelled++
	case statusCompletedAfterCancel:
		c.CompletedAfterCancel++
	}
	_ = s.rtt.RecordValue(rtt)
	_ = s.service.RecordValue(svc)
	if s.fnRTT != nil {
		_ = s.fnRTT[f.fn].RecordValue(rtt)
		_ = s.fnService[f.fn].RecordValue(svc)
	}
	_ = s.byStatus[status].RecordValue(rtt)
	if s.procCounts != nil {
		s.recordProcess(f, status, rtt, svc)
	}
	if f.cancelSent != 0 {
		_ = s.cancelSettle.RecordValue(µs(nowNs - f.cancelSent))
	}
}

// recordHTTP records the HTTP side h of f's response in s: its status, and in proxying mode when
// its head and last byte were read and its body bytes.
func (s *histSet) recordHTTP(f flight, h httpResult) {
	c := &s.counts
	if h.code != 0 {
		c.AddHTTPStatus(h.code)
		m := s.httpStatus[f.fn]
		if m == nil {
			m = map[int]int64{}
			s.httpStatus[f.fn] = m
		}
		m[h.code]++
	}
	if h.head > 0 {
		v := µs(h.head - f.intended)
		_ = s.httpTTFB.RecordValue(v)
		if s.fnHTTPTTFB != nil {
			_ = s.fnHTTPTTFB[f.fn].RecordValue(v)
		}
	}
	if h.end > 0 {
		v := µs(h.end - f.intended)
		_ = s.httpTotal.RecordValue(v)
		if s.fnHTTPTotal != nil {
			_ = s.fnHTTPTotal[f.fn].RecordValue(v)
		}
		c.HTTPResponseBytes += h.bytes
	}
}

// recordProcess records the outcome status of f's response and its clocks (µs) in the figures of
// its worker process (several processes).
func (s *histSet) recordProcess(f flight, status string, rtt, svc int64) {
	pc := &s.procCounts[f.proc]
	switch status {
	case statusSucceeded:
		pc.Succeeded++
	case statusFailed:
		pc.Failed++
	case statusCancelled:
		pc.Cancelled++
	case statusCompletedAfterCancel:
		pc.CompletedAfterCancel++
	}
	_ = s.procRTT[f.proc].RecordValue(rtt)
	_ = s.procService[f.proc].RecordValue(svc)
}

// timedOut counts invocations given up at nowNs (their deadline passed; late reports whether an
// answer came after it) and puts them in rtt at that moment: a lower bound of what they took, so
// that timeouts weigh on the tail instead of vanishing from it.
func (r *recorder) timedOut(fs []flight, nowNs int64, late bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fs {
		if r.warmupCarry(f, nowNs) {
			continue
		}
		s := r.at(nowNs)
		s.counts.TimedOut++
		if late {
			s.counts.LateResponses++
		}
		rtt := µs(nowNs - f.intended)
		_ = s.rtt.RecordValue(rtt)
		if s.fnRTT != nil {
			_ = s.fnRTT[f.fn].RecordValue(rtt)
		}
		if s.procCounts != nil {
			s.procCounts[f.proc].TimedOut++
			_ = s.procRTT[f.proc].RecordValue(rtt)
		}
	}
}

// lost counts invocations never answered, given up at nowNs (in flight when the run or the worker
// ended, or never reaching the worker).
func (r *recorder) lost(fs []flight, nowNs int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fs {
		if !r.warmupCarry(f, nowNs) {
			s := r.at(nowNs)
			s.counts.Lost++
			if s.procCounts != nil {
				s.procCounts[f.proc].Lost++
			}
		}
	}
}

// statusRTT records one WorkerStatus round trip: sent at sentNs, answered at nowNs. A ping sent
// during the warm-up and answered after it is left out, as its requests are.
func (r *recorder) statusRTT(sentNs, nowNs int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sentNs < r.measuredFrom && nowNs >= r.measuredFrom {
		return
	}
	s := r.at(nowNs)
	s.counts.StatusAnswered++
	_ = s.statusRTT.RecordValue(µs(nowNs - sentNs))
}

// count applies fn, under the lock, to the counts of the interval it is now.
func (r *recorder) count(fn func(c *report.Counts)) {
	r.mu.Lock()
	s := r.cur
	if r.now != nil {
		s = r.at(r.now())
	}
	fn(&s.counts)
	r.mu.Unlock()
}

// rotate returns the interval recorded so far and starts the next. With final, events already
// stamped past the interval's end are folded into it (the run's last interval ends when it ends).
// The returned set must be handed back with release before the next rotate.
func (r *recorder) rotate(final bool) *histSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur
	if final {
		into := old.all()
		for i, h := range r.next.all() {
			if h.TotalCount() > 0 {
				into[i].Merge(h)
			}
		}
		old.counts.Add(r.next.counts)
		for i := range old.procCounts {
			old.procCounts[i].Add(r.next.procCounts[i])
		}
		for i, m := range r.next.httpStatus {
			for code, n := range m {
				if old.httpStatus[i] == nil {
					old.httpStatus[i] = map[int]int64{}
				}
				old.httpStatus[i][code] += n
			}
		}
		for k, n := range r.next.failures {
			old.failures[k] += n
		}
		r.next.reset()
		return old
	}
	r.cur, r.next, r.spare = r.next, r.spare, nil
	r.curEnd += r.length
	return old
}

// release gives a set back for reuse.
func (r *recorder) release(s *histSet) {
	s.reset()
	r.mu.Lock()
	if s != r.cur { // a final rotate hands back the current set
		r.spare = s
	}
	r.mu.Unlock()
}

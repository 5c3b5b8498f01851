package loadgen

import (
	"sync"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fbench/fbench/report"
)

// Outcome statuses used in the per-status histograms.
const (
	statusSucceeded            = "succeeded"
	statusFailed               = "failed"
	statusCancelled            = "cancelled"
	statusCompletedAfterCancel = "completed_after_cancel"
)

// histSet is one interval's histograms and counts.
type histSet struct {
	rtt, service, lag, cancelSettle, statusRTT, harnessLag *hdrhistogram.Histogram
	fnRTT, fnService                                       []*hdrhistogram.Histogram // per target function (nil with one function)
	byStatus                                               map[string]*hdrhistogram.Histogram
	counts                                                 report.Counts
}

func newHistSet(functions int) *histSet {
	s := &histSet{
		rtt: report.NewHistogram(), service: report.NewHistogram(), lag: report.NewHistogram(),
		cancelSettle: report.NewHistogram(), statusRTT: report.NewHistogram(), harnessLag: report.NewHistogram(),
		byStatus: map[string]*hdrhistogram.Histogram{},
	}
	if functions > 1 {
		for i := 0; i < functions; i++ {
			s.fnRTT = append(s.fnRTT, report.NewHistogram())
			s.fnService = append(s.fnService, report.NewHistogram())
		}
	}
	for _, st := range []string{statusSucceeded, statusFailed, statusCancelled, statusCompletedAfterCancel} {
		s.byStatus[st] = report.NewHistogram()
	}
	return s
}

func (s *histSet) reset() {
	for _, h := range s.all() {
		h.Reset()
	}
	s.counts = report.Counts{}
}

func (s *histSet) all() []*hdrhistogram.Histogram {
	out := []*hdrhistogram.Histogram{s.rtt, s.service, s.lag, s.cancelSettle, s.statusRTT, s.harnessLag}
	out = append(out, s.fnRTT...)
	out = append(out, s.fnService...)
	for _, h := range s.byStatus {
		out = append(out, h)
	}
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
	for i, h := range s.fnRTT {
		add(report.FunctionTag(report.MetricRTT, fnNames[i]), h)
		add(report.FunctionTag(report.MetricService, fnNames[i]), s.fnService[i])
	}
	for st, h := range s.byStatus {
		add(report.StatusTag(report.MetricRTT, st), h)
	}
	return m
}

// recorder turns settled invocations into interval histograms and counts. Every method takes its
// mutex; rotate swaps the current set for a clean one so the caller can write the old set out
// without holding up the sender or receiver.
type recorder struct {
	mu    sync.Mutex
	cur   *histSet
	spare *histSet
}

func newRecorder(functions int) *recorder {
	return &recorder{cur: newHistSet(functions), spare: newHistSet(functions)}
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

// sent records one arrival made due and written at sentNs, intended at intendedNs; freeNs is when
// the last wait the worker imposed ended (see report.MetricHarnessLag).
func (r *recorder) sent(intendedNs, sentNs, freeNs int64) {
	r.mu.Lock()
	r.cur.counts.Due++
	r.cur.counts.Sent++
	_ = r.cur.lag.RecordValue(µs(sentNs - intendedNs))
	_ = r.cur.harnessLag.RecordValue(µs(sentNs - max(intendedNs, freeNs)))
	r.mu.Unlock()
}

// response records a matched response at nowNs with the given outcome.
func (r *recorder) response(f flight, nowNs int64, status string) {
	rtt, svc := µs(nowNs-f.intended), µs(nowNs-f.sent)
	r.mu.Lock()
	c := &r.cur.counts
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
	_ = r.cur.rtt.RecordValue(rtt)
	_ = r.cur.service.RecordValue(svc)
	if r.cur.fnRTT != nil {
		_ = r.cur.fnRTT[f.fn].RecordValue(rtt)
		_ = r.cur.fnService[f.fn].RecordValue(svc)
	}
	_ = r.cur.byStatus[status].RecordValue(rtt)
	if f.cancelSent != 0 {
		_ = r.cur.cancelSettle.RecordValue(µs(nowNs - f.cancelSent))
	}
	r.mu.Unlock()
}

// statusRTT records one WorkerStatus round trip.
func (r *recorder) statusRTT(ns int64) {
	r.mu.Lock()
	r.cur.counts.StatusAnswered++
	_ = r.cur.statusRTT.RecordValue(µs(ns))
	r.mu.Unlock()
}

// count applies fn to the current counts under the lock.
func (r *recorder) count(fn func(c *report.Counts)) {
	r.mu.Lock()
	fn(&r.cur.counts)
	r.mu.Unlock()
}

// rotate returns the set recorded so far and starts a clean one. The returned set must be handed
// back with release before the next rotate.
func (r *recorder) rotate() *histSet {
	r.mu.Lock()
	old := r.cur
	r.cur = r.spare
	r.spare = nil
	r.mu.Unlock()
	return old
}

// release gives a set back for reuse.
func (r *recorder) release(s *histSet) {
	s.reset()
	r.mu.Lock()
	r.spare = s
	r.mu.Unlock()
}

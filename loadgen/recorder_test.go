package loadgen

import (
	"testing"
	"time"

	"github.com/fbench/fbench/report"
)

const sec = int64(time.Second)

// Events go to the interval of their own timestamp, whenever the run loop rotates.
func TestRecorderBucketsByTimestamp(t *testing.T) {
	clock := int64(0)
	r := newRecorder(1, 1, time.Second, 0, func() int64 { return clock })
	r.sent(sec/2, sec/2+1000, 0, 0)  // interval 0
	r.sent(sec-1000, sec+5000, 0, 0) // due in 0, written in 1 (rotation not yet done)
	r.response(flight{intended: sec / 2, sent: sec/2 + 1000}, sec+2000, statusSucceeded, "", httpResult{})
	clock = sec + 3000
	r.count(func(c *report.Counts) { c.StatusSent++ }) // now is in interval 1
	first := r.rotate(false)
	if c := first.counts; c.Due != 2 || c.Sent != 1 || c.Succeeded != 0 || c.StatusSent != 0 || first.lag.TotalCount() != 1 {
		t.Fatalf("interval 0: %+v (lag count %d)", c, first.lag.TotalCount())
	}
	r.release(first)
	r.sent(2*sec+10, 2*sec+20, 0, 0) // interval 2, seen before interval 1 is rotated
	second := r.rotate(false)
	if c := second.counts; c.Due != 0 || c.Sent != 1 || c.Succeeded != 1 || c.StatusSent != 1 || second.rtt.TotalCount() != 1 {
		t.Fatalf("interval 1: %+v", c)
	}
	if got := second.rtt.Max(); got < 500000 || got > 502000 {
		t.Errorf("rtt %dµs, want about 500 ms", got)
	}
	r.release(second)
	r.sent(3*sec+10, 3*sec+20, 0, 0) // interval 3; the run ends before interval 2 rotates
	last := r.rotate(true)
	if c := last.counts; c.Due != 2 || c.Sent != 2 || last.lag.TotalCount() != 2 {
		t.Fatalf("final interval must fold in what was stamped after it: %+v", c)
	}
	r.release(last)
	if c := r.rotate(true).counts; c != (report.Counts{}) {
		t.Fatalf("after the final rotate the recorder still holds %+v", c)
	}
}

// Warm-up invocations (intended in the warm-up while it is open) stay out of the measured window.
func TestRecorderKeepsWarmupOutOfMeasuredWindow(t *testing.T) {
	r := newRecorder(2, 1, time.Second, time.Second, nil) // first measured interval starts at 1 s
	warm := flight{intended: sec - 100, sent: sec - 50, fn: 1, cancelSent: sec - 10, warm: true}
	late := flight{intended: sec - 20, sent: sec + 30, warm: true} // intended in the warm-up, handed over after it
	meas := flight{intended: sec + 100, sent: sec + 150}
	if !r.sent(warm.intended, warm.sent, 0, 0) || !r.sent(late.intended, late.sent, 0, 0) {
		t.Fatal("invocations intended in the open warm-up must be warm-up")
	}
	r.response(flight{intended: 100, sent: 200, warm: true}, sec/2, statusSucceeded, "", httpResult{}) // settles in the warm-up: counted there
	r.statusRTT(sec/2, sec/2+10)
	warmup := r.rotate(false)
	if c := warmup.counts; c.Due != 2 || c.Sent != 2 || c.Succeeded != 1 || c.StatusAnswered != 1 || c.WarmupSettled != 0 {
		t.Fatalf("warm-up interval %+v", c)
	}
	r.release(warmup)
	if r.sent(meas.intended, meas.sent, 0, 0) {
		t.Fatal("an invocation intended in the measured window must be measured")
	}
	// Intended in the warm-up but handed over after its last interval closed: measured.
	tardy := flight{intended: sec - 1, sent: sec + 200}
	if r.sent(tardy.intended, tardy.sent, 0, 0) {
		t.Fatal("an invocation sent after the warm-up closed must be measured")
	}
	r.response(tardy, sec+300, statusSucceeded, "", httpResult{})
	r.response(warm, sec+sec/10, statusCancelled, "", httpResult{})
	r.response(late, sec+sec/10, statusSucceeded, "", httpResult{})
	r.response(meas, sec+sec/5, statusSucceeded, "", httpResult{})
	r.lost([]flight{warm, meas}, sec+sec/2)
	r.statusRTT(sec-5, sec+5)   // sent in the warm-up: left out
	r.statusRTT(sec+10, sec+20) // counted
	m := r.rotate(false)
	c := m.counts
	if c.Due != 2 || c.Sent != 2 || c.Succeeded != 2 || c.Cancelled != 0 || c.Lost != 1 || c.WarmupSettled != 3 || c.StatusAnswered != 1 {
		t.Fatalf("measured interval %+v", c)
	}
	if m.rtt.TotalCount() != 2 || m.lag.TotalCount() != 2 || m.byStatus[statusCancelled].TotalCount() != 0 ||
		m.cancelSettle.TotalCount() != 0 || m.fnRTT[1].TotalCount() != 0 || m.statusRTT.TotalCount() != 1 {
		t.Fatal("a warm-up invocation reached the measured histograms")
	}
}

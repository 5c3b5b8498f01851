package main

import (
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fbench/fbench/loadgen/guid"
	"github.com/fbench/fbench/loadgen/precise"
)

// The paced raw sender: open loop at a constant rate with the pacing fbench uses (its own OS
// thread with 1 ns timer slack, a Go timer for waits longer than precise.Window, nanosleep for the
// rest), and nothing else: no tracker, no recorder, no schedule object. Its CPU per invocation is
// the floor fbench's open loop is compared with at the rates real workers run; its lag (actual −
// intended send time) shows it paces as precisely as fbench does.

// pacedLag is the lag of the sends whose intended time falls in [from, to) (ns since base).
type pacedLag struct {
	from, to atomic.Int64
	hist     *hdrhistogram.Histogram // µs; the sender goroutine only, read after it ended
}

func newPacedLag() *pacedLag {
	l := &pacedLag{hist: hdrhistogram.New(1, 60_000_000, 3)}
	l.from.Store(-1)
	l.to.Store(-1)
	return l
}

// sendPaced sends at rate per second until stop, the i-th invocation intended at start + i/rate.
func (h *host) sendPaced(rate float64, stop *atomic.Bool, lag *pacedLag) error {
	unpin, _ := precise.PinThread(false) // an error is only ever about realtime
	defer unpin()
	period := float64(time.Second) / rate
	start := h.now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := int64(0); !stop.Load(); i++ {
		intended := start + int64(float64(i)*period)
		if d := time.Duration(intended - h.now()); d > precise.Window {
			timer.Reset(d - precise.Window)
			<-timer.C
		}
		if d := time.Duration(intended - h.now()); d > 0 {
			precise.Sleep(d)
		}
		h.seq++
		now := h.now()
		id := makeID(h.seq, now)
		h.req.InvocationId = id
		h.req.TraceContext.TraceParent = guid.TraceParent(id)
		h.sent.Add(1)
		if err := h.stream.Send(h.msg); err != nil {
			return err
		}
		if from, to := lag.from.Load(), lag.to.Load(); from >= 0 && intended >= from && (to < 0 || intended < to) {
			_ = lag.hist.RecordValue(max((now-intended)/1000, 1))
		}
	}
	return nil
}

package main

import (
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fbench/fbench/loadgen/guid"
)

// The paced raw sender: open loop at a constant rate with the pacing fbench uses (its own OS
// thread with 1 ns timer slack, a Go timer for waits longer than preciseWindow, nanosleep for the
// rest), and nothing else: no tracker, no recorder, no schedule object. Its CPU per invocation is
// the floor fbench's open loop is compared with at the rates real workers run; its lag (actual −
// intended send time) shows it paces as precisely as fbench does.

// preciseWindow is fbench's: how long before an arrival the sender stops using Go timers.
const preciseWindow = 2 * time.Millisecond

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
	unpin := pinThread()
	defer unpin()
	period := float64(time.Second) / rate
	start := h.now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := int64(0); !stop.Load(); i++ {
		intended := start + int64(float64(i)*period)
		if d := time.Duration(intended - h.now()); d > preciseWindow {
			timer.Reset(d - preciseWindow)
			<-timer.C
		}
		if d := time.Duration(intended - h.now()); d > 0 {
			nanosleep(d)
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

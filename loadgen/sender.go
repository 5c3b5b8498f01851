package loadgen

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/fbench/fbench/loadgen/guid"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/precise"
	"github.com/fbench/fbench/protos/rpc"
	"github.com/fbench/fbench/report"
)

// sender is the one goroutine that writes to the streams: invocations at their intended times, each
// to the process the dispatcher picks; cancels when due, on the stream of the process holding the
// invocation; status pings every StatusInterval, one to every ready process.
//
// Open loop takes each intended time from the Schedule and paces to it; closed loop sends when a
// slot is freed (a token on closedTok) and takes the slot's settle time as the intended time.
type sender struct {
	e   *engine
	cfg *Config // e.cfg

	ids *guid.Generator
	rng *rand.Rand // mix and cancel choices

	// The next arrival (open loop: nextAt, its intended time; closed loop: the next free slot).
	haveNext bool
	nextAt   int64
	sent     int64 // arrivals made (sent, dropped, failed to send): what Count counts
	endAt    int64 // Duration's end (ns since t0; -1: none)

	frame host.Frame // reused; its bytes are fresh for every send (gRPC owns them once sent)
	// freeSince is when the last wait the worker imposed ended (harness_lag counts from it).
	freeSince int64
	// joinedAt is when the sender last waited for a process to come back (closed loop's slots freed
	// before it start afresh then).
	joinedAt int64

	// The ready processes, refreshed when the pool's version moves from seen.
	ready []*generation
	seen  int64

	cancels   cancelHeap
	cancelMsg *rpc.InvocationCancel
	cancelSM  *rpc.StreamingMessage
	statusSM  *rpc.StreamingMessage
	nextPing  int64 // when the next status pings are due (ns since t0; -1: no pings)

	timer *time.Timer // pace's coarse wait
}

// pendingCancel is a cancel due at a time.
type pendingCancel struct {
	at int64
	id string
	g  *generation // the process holding the invocation
}

type cancelHeap []pendingCancel

func (h cancelHeap) Len() int           { return len(h) }
func (h cancelHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h cancelHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cancelHeap) Push(x any)        { *h = append(*h, x.(pendingCancel)) }
func (h *cancelHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// blockedSend is how long a Send must take to count as held up by the worker (flow control).
const blockedSend = int64(200 * time.Microsecond)

// never is a wake-up time no arrival reaches.
const never = int64(1) << 62

func newSender(e *engine) *sender {
	cfg := &e.cfg
	s := &sender{e: e, cfg: cfg, ids: guid.NewGenerator(cfg.Seed), rng: rand.New(rand.NewPCG(cfg.Seed, 0x63616e63656c)),
		endAt: -1, seen: -1, nextPing: -1, cancelMsg: &rpc.InvocationCancel{}}
	s.cancelSM = &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationCancel{InvocationCancel: s.cancelMsg}}
	s.statusSM = &rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerStatusRequest{WorkerStatusRequest: &rpc.WorkerStatusRequest{}}}
	if cfg.StatusInterval > 0 {
		s.nextPing = int64(cfg.StatusInterval)
	}
	if cfg.Duration > 0 {
		s.endAt = int64(cfg.Duration)
	}
	return s
}

// send runs the sender until the load ends, the context is cancelled or the run loop stops it.
func (e *engine) send(ctx context.Context) {
	s := newSender(e)
	defer s.pinThread()()
	s.timer = time.NewTimer(time.Hour)
	defer s.timer.Stop()
	if e.closedTok != nil {
		for i := 0; i < s.cfg.Concurrency; i++ {
			e.closedTok <- 0 // every slot is free at time zero
		}
	}
	s.advance()
	defer s.countUnsent()
	if s.arrivals(ctx) {
		s.drainCancels(ctx)
	}
}

// pinThread puts an open-loop sender on a thread of its own, which paces arrivals with precise
// sleeps (realtime if asked); closed loop only waits on freed slots and is cheaper on an ordinary
// goroutine. It returns what undoes it.
func (s *sender) pinThread() (unpin func()) {
	if s.e.closedTok != nil {
		if s.cfg.RealtimeSender {
			s.e.senderNotice = "realtime sender ignored: it applies to open loop only"
		}
		return func() {}
	}
	unpin, err := precise.PinThread(s.cfg.RealtimeSender)
	if err != nil {
		s.e.senderNotice = fmt.Sprintf("realtime sender refused (%v): it needs CAP_SYS_NICE or an RLIMIT_RTPRIO above 0; the sender ran at ordinary priority", err)
	}
	return unpin
}

// arrivals makes the load's arrivals: true once there are none left, false when the sender must
// end (the context or the run loop stopped it, or no process is left).
func (s *sender) arrivals(ctx context.Context) bool {
	for s.haveNext {
		if ctx.Err() != nil || !s.waitReady(ctx) {
			return false
		}
		var goOn bool
		if s.e.closedTok != nil {
			goOn = s.closedLoopArrival(ctx)
		} else {
			goOn = s.openLoopArrival(ctx)
		}
		if !goOn {
			return false
		}
	}
	return true
}

// closedLoopArrival waits for a free slot (a closed-loop token) and sends an invocation in it; the
// slot's settle time is the invocation's intended time. false: the sender must end.
func (s *sender) closedLoopArrival(ctx context.Context) bool {
	e := s.e
	var freedAt int64
	select {
	case freedAt = <-e.closedTok:
	case <-ctx.Done():
		return false
	case <-e.stopSend:
		return false
	}
	now := e.now()
	if s.endAt >= 0 && now >= s.endAt {
		return false
	}
	if freedAt == 0 || freedAt < s.joinedAt {
		freedAt = now
	}
	s.sendDue(now)
	if !s.waitReady(ctx) {
		return false
	}
	s.sendInvocation(freedAt)
	s.advance()
	return true
}

// openLoopArrival paces towards the next arrival (sending due cancels and pings meanwhile) or,
// once it is due, sends it, within --max-inflight. false: the sender must end.
func (s *sender) openLoopArrival(ctx context.Context) bool {
	e := s.e
	now := e.now()
	if s.nextAt > now {
		s.sendDue(now)
		return s.pace(ctx, s.wakeAt(s.nextAt), nil)
	}
	if s.cfg.MaxInFlight > 0 && e.inflight.Load() >= int64(s.cfg.MaxInFlight) {
		return s.full(ctx)
	}
	s.sendInvocation(s.nextAt)
	s.advance()
	if len(s.cancels) > 0 || s.nextPing >= 0 {
		s.sendDue(e.now())
	}
	return true
}

// full applies --on-full to the due arrival, --max-inflight invocations being in flight: drop it,
// or wait for a slot (still sending cancels and pings), its intended time kept. false: the sender
// must end.
func (s *sender) full(ctx context.Context) bool {
	e := s.e
	if s.cfg.OnFull == OnFullDrop {
		e.rec.notSent(s.nextAt, false)
		e.failNotSent(s.nextAt, false)
		s.sent++ // counts towards -n: it was an arrival
		s.advance()
		return true
	}
	s.sendDue(e.now())
	if !s.pace(ctx, s.wakeAt(never), e.slotFree) {
		return false
	}
	s.freeSince = e.now()
	return true
}

// drainCancels keeps sending due cancels, arrivals over, while in-flight invocations drain.
func (s *sender) drainCancels(ctx context.Context) {
	for len(s.cancels) > 0 && s.e.inflight.Load() > 0 {
		s.sendDue(s.e.now())
		if len(s.cancels) > 0 && !s.pace(ctx, s.cancels[0].at, nil) {
			return
		}
	}
}

// advance moves on to the next arrival: closed loop's next free slot, or open loop's next intended
// time from the schedule. With none left (the count made, the schedule or the duration over) it
// sets where the load ended.
func (s *sender) advance() {
	e := s.e
	if s.cfg.Count > 0 && s.sent >= s.cfg.Count {
		// The count is made: the load ends where the first arrival not made would have been.
		s.haveNext = false
		if e.closedTok != nil {
			e.loadEnd.Store(e.now())
		} else {
			e.loadEnd.Store(s.endOfLoad(s.cfg.Schedule.Next()))
		}
		return
	}
	if e.closedTok != nil {
		s.haveNext = true
		return
	}
	at, ok := s.cfg.Schedule.Next()
	s.nextAt = int64(at)
	s.haveNext = ok && (s.endAt < 0 || s.nextAt < s.endAt)
	if s.haveNext {
		e.nextDue.Store(s.nextAt)
		return
	}
	e.loadEnd.Store(s.endOfLoad(at, ok))
	e.nextDue.Store(math.MaxInt64)
}

// endOfLoad is where an open-loop load ends when the arrival after its last is at (ok false: the
// schedule has none): there, or at the duration's end if that comes first, or at the schedule's
// end.
func (s *sender) endOfLoad(at time.Duration, ok bool) int64 {
	switch {
	case !ok && s.cfg.Schedule.Bounded():
		return int64(s.cfg.Schedule.Duration())
	case !ok:
		return s.e.now()
	case s.endAt >= 0 && int64(at) >= s.endAt:
		return s.endAt
	}
	return int64(at)
}

// countUnsent settles the load's end as the sender stops. The load ends where the next arrival
// would have been: the count's first arrival not made, the schedule's or the duration's end; cut
// short (an interrupt, a stream that ended), when the sender stopped. Arrivals due before then that
// the sender never got to (held in a Send the worker's stream would not take) are counted as due
// and unsent.
func (s *sender) countUnsent() {
	e := s.e
	stop := e.now()
	if s.endAt >= 0 && stop > s.endAt {
		stop = s.endAt
	}
	if e.closedTok == nil {
		for s.haveNext && s.nextAt < stop {
			e.rec.notSent(s.nextAt, true)
			e.failNotSent(s.nextAt, true)
			s.sent++
			s.advance()
		}
	}
	e.loadEnd.CompareAndSwap(-1, stop)
}

// refresh takes a new snapshot of the ready processes if the pool changed.
func (s *sender) refresh() {
	if v := s.e.pool.version.Load(); v != s.seen {
		s.seen = v
		s.ready = s.e.pool.ready(s.ready)
	}
}

// broken takes a process whose Send failed out of the dispatch (the run loop hears of its stream's
// end from its receiver).
func (s *sender) broken(g *generation) {
	g.dead.Store(true)
	s.e.pool.version.Add(1)
}

// waitReady waits until a process is ready (one being relaunched, --restart-worker); false ends
// the sender.
func (s *sender) waitReady(ctx context.Context) bool {
	for {
		s.refresh()
		if len(s.ready) > 0 {
			return true
		}
		if s.cfg.Relaunch == nil {
			return false
		}
		select {
		case <-s.e.pool.joined:
			s.freeSince = s.e.now()
			s.joinedAt = s.freeSince
		case <-ctx.Done():
			return false
		case <-s.e.stopSend:
			return false
		}
	}
}

// sendInvocation sends one invocation intended at intended (ns since t0) to the process the
// dispatcher picks, a function picked by weight, and draws whether it is to be cancelled.
func (s *sender) sendInvocation(intended int64) {
	e := s.e
	g := e.pool.pick(s.ready)
	ti := e.pick(s.rng)
	t := &g.targets[ti]
	id := s.ids.Next()
	s.frame.Bytes = t.tmpl.frame(id, guid.TraceParent(id))
	now := e.now()
	// Recorded before the Send so that a fast answer never finds it unrecorded; "sent" is
	// handed to the stream.
	warm := e.rec.sent(intended, now, s.freeSince, g.proc)
	f := flight{intended: intended, sent: now, fn: int32(ti), proc: g.proc, warm: warm, proxy: t.proxy != nil}
	e.tracker.start(id, f)
	e.inflight.Add(1)
	if t.proxy != nil {
		// As the host: the HTTP request is started, not awaited, before the InvocationRequest is written.
		go e.forward(g.fwd, t.proxy, id)
	}
	e.inSend.Store(now)
	err := g.stream.SendMsg(&s.frame)
	e.inSend.Store(0)
	if err != nil {
		s.sendFailed(g, id, f, err)
		s.sent++
		return
	}
	if after := e.now(); after-now > blockedSend {
		s.freeSince = after // a Send held up by flow control: the worker's wait, not ours
	}
	s.sent++
	if e.cancels && s.rng.Float64() < s.cfg.CancelRatio {
		heap.Push(&s.cancels, pendingCancel{at: now + int64(s.cfg.CancelAfter.Sample(s.rng)), id: id, g: g})
	}
}

// sendFailed counts invocation f (id), whose Send to g failed, as lost with g's stream: it never
// reached the worker (unless the run loop already counted it lost with everything else in flight
// on that process). g leaves the dispatch.
func (s *sender) sendFailed(g *generation, id string, f flight, err error) {
	e := s.e
	if _, ok := e.tracker.remove(id); ok {
		now := e.now()
		e.freeSlots(1, now)
		e.rec.lost([]flight{f}, now)
		e.fail(f, report.FailureReason{Kind: report.FailureLost, Message: "never reached the worker: sending it failed: " + err.Error()}, now, id)
	}
	s.broken(g)
}

// sendDue sends the cancels and the status pings due by now.
func (s *sender) sendDue(now int64) {
	s.sendDueCancels(now)
	s.pingIfDue(now)
}

// sendDueCancels sends every cancel due by now whose invocation is still in flight.
func (s *sender) sendDueCancels(now int64) {
	for len(s.cancels) > 0 && s.cancels[0].at <= now {
		s.sendCancel(heap.Pop(&s.cancels).(pendingCancel), now)
	}
}

// sendCancel sends cancel c on the stream of the process holding its invocation.
func (s *sender) sendCancel(c pendingCancel, now int64) {
	e := s.e
	if c.g.dead.Load() {
		return // its invocation was lost with its process
	}
	if !e.tracker.markCancel(c.id, now) {
		e.rec.count(func(c *report.Counts) { c.CancelSkipped++ }) // already settled: nothing to cancel
		return
	}
	s.cancelMsg.InvocationId = c.id
	e.inSend.Store(now)
	err := c.g.stream.Send(s.cancelSM)
	e.inSend.Store(0)
	if err != nil {
		s.broken(c.g)
		return
	}
	e.rec.count(func(c *report.Counts) { c.CancelSent++ })
}

// pingIfDue sends a status ping to every ready process when one is due by now.
func (s *sender) pingIfDue(now int64) {
	if s.nextPing < 0 || s.nextPing > now {
		return
	}
	s.refresh()
	for _, g := range s.ready {
		if !g.dead.Load() {
			s.ping(g, now)
		}
	}
	for s.nextPing <= now {
		s.nextPing += int64(s.cfg.StatusInterval)
	}
}

// ping sends one WorkerStatusRequest to g; the receiver matches the answer by its request id.
func (s *sender) ping(g *generation, now int64) {
	e := s.e
	id := guid.New()
	s.statusSM.RequestId = id
	e.pingMu.Lock()
	e.pings[id] = e.now()
	if len(e.pool.chans) > 1 {
		e.pingFrom[id] = g.proc
	}
	e.pingMu.Unlock()
	e.inSend.Store(now)
	err := g.stream.Send(s.statusSM)
	e.inSend.Store(0)
	if err != nil {
		e.pingMu.Lock()
		delete(e.pings, id)
		delete(e.pingFrom, id)
		e.pingMu.Unlock()
		s.broken(g)
		return
	}
	e.rec.count(func(c *report.Counts) { c.StatusSent++ })
}

// wakeAt is the earliest of arrival, the next cancel and the next ping.
func (s *sender) wakeAt(arrival int64) int64 {
	at := arrival
	if len(s.cancels) > 0 && s.cancels[0].at < at {
		at = s.cancels[0].at
	}
	if s.nextPing >= 0 && s.nextPing < at {
		at = s.nextPing
	}
	return at
}

// pace waits until at (ns since t0), a wake signal or the end of the run (false). Long waits use a
// Go timer (which can be woken) up to precise.Window before at; the rest is a precise nanosleep.
func (s *sender) pace(ctx context.Context, at int64, wake <-chan struct{}) bool {
	d := time.Duration(at - s.e.now())
	if d <= 0 {
		return true
	}
	if d > precise.Window || wake != nil {
		coarse := d - precise.Window
		if wake != nil {
			coarse = d
		}
		if coarse > 0 {
			s.timer.Reset(coarse)
			select {
			case <-s.timer.C:
			case <-wake:
				if !s.timer.Stop() {
					<-s.timer.C
				}
				return true
			case <-ctx.Done():
				return false
			case <-s.e.stopSend:
				return false
			}
		}
		d = time.Duration(at - s.e.now())
	}
	if d > 0 {
		precise.Sleep(d)
	}
	return true
}

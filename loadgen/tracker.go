package loadgen

import "sync"

// flight is one invocation in flight. Times are nanoseconds since the run's monotonic time zero.
type flight struct {
	intended   int64
	sent       int64
	cancelSent int64 // 0: no cancel sent
	fn         int32 // index into the run's targets
}

// Outcome of a response looked up in the tracker.
type settleKind uint8

const (
	settleMatched   settleKind = iota // it was in flight
	settleDuplicate                   // already settled (a second response)
	settleLate                        // it had timed out
	settleUnknown                     // never sent by this run
)

// tracker is the in-flight table keyed by invocation id: starts, settles, timeouts and the memory
// of recently settled ids that tells duplicates and late answers from strangers. Everything it
// remembers is bounded: in-flight entries, plus recentMax settled and timed-out ids.
type tracker struct {
	mu       sync.Mutex
	inflight map[string]flight
	// order of sends, for timeouts: ids leave in send order (a FIFO of id + sent time).
	fifo     []fifoEntry
	fifoHead int
	// recently settled and timed-out ids, each with a ring to forget the oldest.
	settled  recentSet
	timedOut recentSet
}

type fifoEntry struct {
	id   string
	sent int64
}

const recentMax = 1 << 16

func newTracker() *tracker {
	return &tracker{
		inflight: make(map[string]flight, 1024),
		settled:  newRecentSet(recentMax),
		timedOut: newRecentSet(recentMax),
	}
}

// start records an invocation as sent.
func (t *tracker) start(id string, f flight, trackTimeout bool) {
	t.mu.Lock()
	t.inflight[id] = f
	if trackTimeout {
		t.fifo = append(t.fifo, fifoEntry{id, f.sent})
	}
	t.mu.Unlock()
}

// settle removes id from the in-flight table.
func (t *tracker) settle(id string) (flight, settleKind) {
	t.mu.Lock()
	f, ok := t.inflight[id]
	if ok {
		delete(t.inflight, id)
		t.settled.add(id)
		t.mu.Unlock()
		return f, settleMatched
	}
	kind := settleUnknown
	switch {
	case t.settled.has(id):
		kind = settleDuplicate
	case t.timedOut.has(id):
		kind = settleLate
	}
	t.mu.Unlock()
	return f, kind
}

// markCancel records that a cancel was sent at now; false if id is no longer in flight.
func (t *tracker) markCancel(id string, now int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.inflight[id]
	if !ok {
		return false
	}
	f.cancelSent = now
	t.inflight[id] = f
	return true
}

// expire removes every invocation sent before deadline and calls fn for each (under the lock).
func (t *tracker) expire(deadline int64, fn func(id string, f flight)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.fifoHead < len(t.fifo) && t.fifo[t.fifoHead].sent < deadline {
		e := t.fifo[t.fifoHead]
		t.fifo[t.fifoHead] = fifoEntry{}
		t.fifoHead++
		if f, ok := t.inflight[e.id]; ok && f.sent == e.sent {
			delete(t.inflight, e.id)
			t.timedOut.add(e.id)
			fn(e.id, f)
		}
	}
	// Compact the FIFO once its consumed head is large.
	if t.fifoHead > 4096 && t.fifoHead*2 > len(t.fifo) {
		n := copy(t.fifo, t.fifo[t.fifoHead:])
		t.fifo = t.fifo[:n]
		t.fifoHead = 0
	}
}

// drainAll removes every in-flight invocation and calls fn for each.
func (t *tracker) drainAll(fn func(id string, f flight)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, f := range t.inflight {
		delete(t.inflight, id)
		fn(id, f)
	}
	t.fifo, t.fifoHead = nil, 0
}

// len is the number of invocations in flight.
func (t *tracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.inflight)
}

// recentSet remembers the last max ids added.
type recentSet struct {
	m    map[string]struct{}
	ring []string
	next int
}

func newRecentSet(max int) recentSet {
	return recentSet{m: make(map[string]struct{}, max), ring: make([]string, max)}
}

func (r *recentSet) add(id string) {
	if old := r.ring[r.next]; old != "" {
		delete(r.m, old)
	}
	r.ring[r.next] = id
	r.m[id] = struct{}{}
	r.next++
	if r.next == len(r.ring) {
		r.next = 0
	}
}

func (r *recentSet) has(id string) bool {
	_, ok := r.m[id]
	return ok
}

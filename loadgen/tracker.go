package loadgen

import (
	"sync"

	"github.com/fbench/fbench/protos/rpc"
)

// flight is one invocation in flight. Times are nanoseconds since the run's monotonic time zero.
type flight struct {
	intended   int64
	sent       int64
	cancelSent int64  // 0: no cancel sent
	fn         int32  // index into the run's targets
	proc       uint16 // the worker process (pool channel) it was sent to
	warm       bool   // a warm-up invocation (recorder.warm)
	// HTTP proxying mode: the invocation settles when both answers are in, the InvocationResponse
	// and the HTTP response (see answerHTTP); what came first waits here.
	proxy      bool
	got        uint8 // gotGRPC | gotHTTP
	grpcStatus rpc.StatusResult_Status
	grpcAt     int64
	http       httpAnswer
}

// Answers a proxied invocation waits for.
const (
	gotGRPC uint8 = 1 << iota
	gotHTTP
)

// Outcome of a response looked up in the tracker.
type settleKind uint8

const (
	settleMatched   settleKind = iota // it was in flight (and is now settled)
	settleDuplicate                   // already settled (a second response)
	settleLate                        // it had timed out
	settleUnknown                     // never sent by this run
	settlePartial                     // one of a proxied invocation's two answers: it waits for the other
)

// idKey is an invocation id as the tracker keys it: the 128 bits of the canonical GUID string
// fbench sent. Keys hold no pointers, so the in-flight table and the memories of settled and
// timed-out ids cost the garbage collector nothing to scan, and a response's id is looked up from
// its bytes without making a string.
type idKey [2]uint64

// keyOf parses a canonical GUID (8-4-4-4-12 hex digits, either case). Anything else cannot be an id
// fbench sent: ok is false.
func keyOf[T string | []byte](id T) (k idKey, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return k, false
	}
	n := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		c := id[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return k, false
		}
		k[n/16] = k[n/16]<<4 | uint64(v)
		n++
	}
	return k, true
}

// tracker is the in-flight table keyed by invocation id: starts, settles, timeouts and the memory
// of recently settled ids that tells duplicates and late answers from strangers. Everything it
// remembers is bounded: in-flight entries, plus recentMax settled and timed-out ids.
type tracker struct {
	mu       sync.Mutex
	inflight map[idKey]flight
	// recently settled and timed-out ids, each with a ring to forget the oldest.
	settled  recentSet
	timedOut recentSet
}

// recentMax is how many settled (and timed-out) ids the tracker remembers to tell a duplicate or
// late response from a stranger. A larger memory costs cache misses on every response; a duplicate
// arriving after more than recentMax other responses is counted as unmatched (still counted).
const recentMax = 1 << 14

func newTracker() *tracker {
	return &tracker{
		inflight: make(map[idKey]flight, 1024),
		settled:  newRecentSet(recentMax),
		timedOut: newRecentSet(recentMax),
	}
}

// start records an invocation as sent; id must be a canonical GUID (fbench makes them).
func (t *tracker) start(id string, f flight) {
	k, _ := keyOf(id)
	t.mu.Lock()
	t.inflight[k] = f
	t.mu.Unlock()
}

// settle takes id's InvocationResponse (status st, received at now) out of the in-flight table.
func (t *tracker) settle(id string, st rpc.StatusResult_Status, now int64) (flight, settleKind) {
	k, ok := keyOf(id)
	if !ok {
		return flight{}, settleUnknown
	}
	return t.settleKey(k, st, now)
}

// settleBytes is settle for an id still in a received frame.
func (t *tracker) settleBytes(id []byte, st rpc.StatusResult_Status, now int64) (flight, settleKind) {
	k, ok := keyOf(id)
	if !ok {
		return flight{}, settleUnknown
	}
	return t.settleKey(k, st, now)
}

func (t *tracker) settleKey(k idKey, st rpc.StatusResult_Status, now int64) (flight, settleKind) {
	t.mu.Lock()
	f, ok := t.inflight[k]
	if ok {
		if f.proxy && f.got&gotHTTP == 0 {
			// The HTTP response is still to come: keep the InvocationResponse's part.
			kind := settleDuplicate
			if f.got&gotGRPC == 0 {
				f.got |= gotGRPC
				f.grpcStatus, f.grpcAt = st, now
				t.inflight[k] = f
				kind = settlePartial
			}
			t.mu.Unlock()
			return f, kind
		}
		if f.proxy && f.got&gotGRPC != 0 {
			t.mu.Unlock()
			return f, settleDuplicate
		}
		f.got |= gotGRPC
		f.grpcStatus, f.grpcAt = st, now
		delete(t.inflight, k)
		t.settled.add(k)
		t.mu.Unlock()
		return f, settleMatched
	}
	kind := t.forgotten(k)
	t.mu.Unlock()
	return f, kind
}

// forgotten says what an id no longer in flight was (mu held).
func (t *tracker) forgotten(k idKey) settleKind {
	switch {
	case t.settled.has(k):
		return settleDuplicate
	case t.timedOut.has(k):
		return settleLate
	}
	return settleUnknown
}

// answerHTTP records a proxied invocation's HTTP answer: settleMatched when its InvocationResponse
// is already in (it is settled now), settlePartial when that is still to come.
func (t *tracker) answerHTTP(k idKey, a httpAnswer) (flight, settleKind) {
	t.mu.Lock()
	f, ok := t.inflight[k]
	if !ok {
		kind := t.forgotten(k)
		t.mu.Unlock()
		return f, kind
	}
	f.got |= gotHTTP
	f.http = a
	if f.got&gotGRPC == 0 {
		t.inflight[k] = f
		t.mu.Unlock()
		return f, settlePartial
	}
	delete(t.inflight, k)
	t.settled.add(k)
	t.mu.Unlock()
	return f, settleMatched
}

// noteHTTPRetry records that a proxied invocation's HTTP request is being retried after err, so
// that a deadline passing meanwhile names it.
func (t *tracker) noteHTTPRetry(k idKey, err proxyErr) {
	t.mu.Lock()
	if f, ok := t.inflight[k]; ok && f.got&gotHTTP == 0 {
		f.http.err = err
		t.inflight[k] = f
	}
	t.mu.Unlock()
}

// remove takes id out of the in-flight table whatever it awaits (an invocation that never
// reached the worker); false when it was no longer there.
func (t *tracker) remove(id string) (flight, bool) {
	k, _ := keyOf(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.inflight[k]
	if ok {
		delete(t.inflight, k)
		t.settled.add(k)
	}
	return f, ok
}

// markCancel records that a cancel was sent at now; false if id is no longer in flight.
func (t *tracker) markCancel(id string, now int64) bool {
	k, _ := keyOf(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.inflight[k]
	if !ok {
		return false
	}
	f.cancelSent = now
	t.inflight[k] = f
	return true
}

// expire removes every invocation sent before deadline and calls fn for each (under the lock). It
// scans the in-flight table, so what the tracker holds is only what is in flight: memory follows
// the in-flight count, never the rate times the timeout.
func (t *tracker) expire(deadline int64, fn func(f flight)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, f := range t.inflight {
		if f.sent < deadline {
			delete(t.inflight, k)
			t.timedOut.add(k)
			fn(f)
		}
	}
}

// drainAll removes every in-flight invocation and calls fn for each.
func (t *tracker) drainAll(fn func(f flight)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, f := range t.inflight {
		delete(t.inflight, k)
		fn(f)
	}
}

// drainProc removes every in-flight invocation sent to worker process proc and calls fn for each.
func (t *tracker) drainProc(proc uint16, fn func(f flight)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, f := range t.inflight {
		if f.proc == proc {
			delete(t.inflight, k)
			fn(f)
		}
	}
}

// len is the number of invocations in flight.
func (t *tracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.inflight)
}

// recentSet remembers the last max ids added.
type recentSet struct {
	m    map[idKey]struct{}
	ring []idKey
	full []bool
	next int
}

func newRecentSet(max int) recentSet {
	return recentSet{m: make(map[idKey]struct{}, max), ring: make([]idKey, max), full: make([]bool, max)}
}

func (r *recentSet) add(k idKey) {
	if r.full[r.next] {
		delete(r.m, r.ring[r.next])
	}
	r.ring[r.next], r.full[r.next] = k, true
	r.m[k] = struct{}{}
	r.next++
	if r.next == len(r.ring) {
		r.next = 0
	}
}

func (r *recentSet) has(k idKey) bool {
	_, ok := r.m[k]
	return ok
}

// settledAlready reports whether id is an invocation that settled (or timed out) recently and is
// no longer in flight: a log naming it comes after the host stopped listening for it.
func (t *tracker) settledAlready(id []byte) bool {
	k, ok := keyOf(id)
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, in := t.inflight[k]; in {
		return false
	}
	return t.settled.has(k) || t.timedOut.has(k)
}

package loadgen

import (
	"sync/atomic"
	"time"

	"github.com/fbench/fbench/loadgen/host"
)

// The worker processes of a run, as the host's dispatcher sees them: each process is a channel
// (one worker, one stream, its own worker id) that is either ready for invocations or down
// (crashed, or being restarted). The sender spreads invocations over the ready channels as the
// host's RpcFunctionInvocationDispatcher does: with one ready channel it is always used; with n > 1,
// a counter global to the dispatcher is incremented and the channel at counter % n (in the
// channels' order) is chosen, so the first pick is the second channel. Cancels go to the channel
// holding the invocation; status pings go to every ready channel.

// channel is one worker process slot of the pool. Its generation changes when the process is
// relaunched; it is nil while the process is down.
type channel struct {
	index    int // 0-based; reports number processes from 1
	gen      atomic.Pointer[generation]
	restarts int   // relaunches (run loop only)
	pids     []int // every process that held the slot, in order (bounded by the restart budget)
	crashes  int   // streams that ended mid-run (run loop only)
	// Worker log lines already reported as dropped, and whose log they were.
	logDropped     int64
	logDroppedFrom *host.WorkerLog
	lastWorker     *host.Worker // the latest worker, alive or not (for shutdown and reports)
}

// pool is the run's channels. The run loop changes membership (a channel going down or coming
// back); the sender reads a snapshot of the ready generations, refreshed when the version moves.
type pool struct {
	chans   []*channel
	version atomic.Int64
	joined  chan struct{}    // signalled (capacity 1) when a channel comes back
	ended   chan *generation // every generation's end, once (capacity: one per channel)
	counter uint64           // the dispatcher's global counter (sender only)
}

func newPool(n int) *pool {
	p := &pool{joined: make(chan struct{}, 1), ended: make(chan *generation, n)}
	for i := 0; i < n; i++ {
		p.chans = append(p.chans, &channel{index: i})
	}
	return p
}

// set makes g the channel's current generation (nil: the channel is down).
func (p *pool) set(c *channel, g *generation) {
	c.gen.Store(g)
	if g != nil {
		c.lastWorker = g.w
		c.pids = append(c.pids, g.w.Pid)
	}
	p.version.Add(1)
	if g != nil {
		select {
		case p.joined <- struct{}{}:
		default:
		}
	}
}

// alive is the number of channels up.
func (p *pool) alive() int {
	n := 0
	for _, c := range p.chans {
		if g := c.gen.Load(); g != nil && !g.dead.Load() {
			n++
		}
	}
	return n
}

// ready fills dst with the generations ready for invocations, in channel order.
func (p *pool) ready(dst []*generation) []*generation {
	dst = dst[:0]
	for _, c := range p.chans {
		if g := c.gen.Load(); g != nil && !g.dead.Load() {
			dst = append(dst, g)
		}
	}
	return dst
}

// pick is the dispatcher's choice among the ready channels (sender only).
func (p *pool) pick(ready []*generation) *generation {
	if len(ready) == 1 {
		return ready[0]
	}
	p.counter++
	return ready[p.counter%uint64(len(ready))]
}

// restartPlan paces relaunches as the host does: one at a time, and after each the next waits
// RestartInterval; relaunches stop once the error budget is spent.
type restartPlan struct {
	queue     []*channel
	busy      *channel // relaunching now
	notUntil  time.Time
	errors    int       // worker errors tracked (channel deaths and failed relaunches)
	lastError time.Time // when the last one was tracked
}

// errorMemory is how long the host remembers worker errors: one coming longer after the last
// tracked one clears the list first.
const errorMemory = 30 * time.Minute

// workerError tracks one worker error at now, as the host's error list does.
func (rp *restartPlan) workerError(now time.Time) {
	if !rp.lastError.IsZero() && now.Sub(rp.lastError) > errorMemory {
		rp.errors = 0
	}
	rp.errors++
	rp.lastError = now
}

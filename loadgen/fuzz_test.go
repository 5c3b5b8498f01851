package loadgen

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
	"github.com/fbench/fbench/report"
)

// Invocation and ping ids the dispatch fuzz target keeps armed: in flight, already settled, timed out.
const (
	fuzzInFlight = "11111111-1111-4111-8111-111111111111"
	fuzzSettled  = "22222222-2222-4222-8222-222222222222"
	fuzzTimedOut = "33333333-3333-4333-8333-333333333333"
	fuzzPing     = "ping-1"
)

// fuzzEngine is an engine with no stream: enough state for dispatch.
func fuzzEngine() *engine {
	e := &engine{
		cfg:      Config{Timeout: time.Second, Interval: time.Second},
		tracker:  newTracker(),
		pings:    map[string]int64{},
		slotFree: make(chan struct{}, 1),
		rec:      newRecorder(1, 1, time.Second, 0, nil),
		t0:       time.Now(),
	}
	// A settled id and a timed-out id, remembered by the tracker.
	e.tracker.start(fuzzSettled, flight{intended: 1, sent: 2})
	e.tracker.settle(fuzzSettled, 0, 0)
	e.tracker.start(fuzzTimedOut, flight{intended: 1, sent: 2})
	e.tracker.expire(3, func(flight) {})
	return e
}

// arm puts the known in-flight invocation and ping back in place.
func (e *engine) arm() {
	if _, kind := e.tracker.settle(fuzzInFlight, 0, 0); kind == settleMatched {
		e.inflight.Add(-1)
	}
	e.tracker.start(fuzzInFlight, flight{intended: 1000, sent: 2000, cancelSent: 0})
	e.inflight.Add(1)
	e.pingMu.Lock()
	e.pings[fuzzPing] = 500
	e.pingMu.Unlock()
}

func (e *engine) snapshot() report.Counts {
	var c report.Counts
	e.rec.count(func(cur *report.Counts) { c = *cur })
	return c
}

// outcomes sums the counts of which exactly one must grow per message from the worker.
func outcomes(c report.Counts) int64 {
	return c.Succeeded + c.Failed + c.Cancelled + c.CompletedAfterCancel + c.Duplicate + c.LateResponses +
		c.Unmatched + c.StatusAnswered + c.UnknownMessages + c.Logs + c.EmptyMessages
}

// dispatchSeeds are messages a worker may send during a run, good and bad.
func dispatchSeeds() []*rpc.StreamingMessage {
	resp := func(id string, st rpc.StatusResult_Status) *rpc.StreamingMessage {
		return &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationResponse{InvocationResponse: &rpc.InvocationResponse{
			InvocationId: id, Result: &rpc.StatusResult{Status: st}}}}
	}
	return []*rpc.StreamingMessage{
		resp(fuzzInFlight, rpc.StatusResult_Success),
		resp(fuzzInFlight, rpc.StatusResult_Failure),
		resp(fuzzInFlight, rpc.StatusResult_Cancelled),
		resp(fuzzSettled, rpc.StatusResult_Success),
		resp(fuzzTimedOut, rpc.StatusResult_Success),
		resp("never-sent", rpc.StatusResult_Success),
		resp("", rpc.StatusResult_Success),
		{Content: &rpc.StreamingMessage_InvocationResponse{InvocationResponse: &rpc.InvocationResponse{InvocationId: fuzzInFlight}}},
		{Content: &rpc.StreamingMessage_InvocationResponse{}},
		{RequestId: fuzzPing, Content: &rpc.StreamingMessage_WorkerStatusResponse{WorkerStatusResponse: &rpc.WorkerStatusResponse{}}},
		{RequestId: "other", Content: &rpc.StreamingMessage_WorkerStatusResponse{WorkerStatusResponse: &rpc.WorkerStatusResponse{}}},
		{Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{Message: "a\nb", InvocationId: fuzzInFlight, Level: rpc.RpcLog_Critical,
			Exception: &rpc.RpcException{Message: "x\ny"}}}},
		{Content: &rpc.StreamingMessage_RpcLog{}},
		{RequestId: "r", Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{Message: "m", Category: "c", LogCategory: rpc.RpcLog_System}}},
		{},
		{RequestId: "r"},
		{Content: &rpc.StreamingMessage_WorkerInitRequest{WorkerInitRequest: &rpc.WorkerInitRequest{}}},
		{Content: &rpc.StreamingMessage_FunctionLoadResponse{FunctionLoadResponse: &rpc.FunctionLoadResponse{FunctionId: "f"}}},
	}
}

// FuzzDispatch feeds arbitrary bytes, as they come off the wire, to the engine's receive side
// (receiveFrame: the hand parse of invocation responses and RpcLogs, else proto.Unmarshal and
// dispatch): it must never panic, count each message exactly once, and keep the in-flight count
// consistent with the tracker. The bytes are also unmarshalled as a StreamingMessage and handed to
// dispatch, and the RpcLog shortcut is checked against proto.
func FuzzDispatch(f *testing.F) {
	for _, m := range dispatchSeeds() {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	e := fuzzEngine()
	w := &host.Worker{Log: host.NewWorkerLog(nil)}
	f.Cleanup(w.Log.Close)
	execs := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(what string, handle func()) {
			e.arm()
			before := e.snapshot()
			handle()
			after := e.snapshot()
			if d := outcomes(after) - outcomes(before); d != 1 {
				t.Fatalf("%s: message %x counted %d times\nbefore %+v\nafter  %+v", what, data, d, before, after)
			}
			if n := e.inflight.Load(); n < 0 || n != int64(e.tracker.len()) {
				t.Fatalf("%s: in flight %d, tracker holds %d", what, n, e.tracker.len())
			}
		}
		check("receiveFrame", func() { e.receiveFrame(w, data, 5000) })
		var m rpc.StreamingMessage
		if err := proto.Unmarshal(data, &m); err == nil {
			check("dispatch", func() { e.dispatch(w, &m, 5000) })
			// The reader's RpcLog shortcut agrees with proto on what proto decodes.
			if raw, ok := rpcLogBytes(data); ok {
				var l rpc.RpcLog
				if m.GetRpcLog() == nil || proto.Unmarshal(raw, &l) != nil || !proto.Equal(&l, m.GetRpcLog()) {
					t.Fatalf("rpcLogBytes(%x) = %x, proto decodes %v", data, raw, &m)
				}
			}
		}
		if execs++; execs%4096 == 0 {
			// Now and then (a reset is costly) an interval closes: quantiles answer.
			set := e.rec.rotate(false)
			_ = set.rtt.ValueAtQuantile(99)
			e.rec.release(set)
		}
	})
}

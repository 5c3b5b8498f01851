package loadgen

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
	"github.com/fbench/fbench/report"
)

// receive is the one goroutine that reads the stream.
func (e *engine) receive(g *generation) {
	defer func() {
		g.dead.Store(true)
		e.pool.version.Add(1)
		e.pool.ended <- g
	}()
	var frame host.Frame
	for {
		if err := g.stream.RecvMsg(&frame); err != nil {
			g.recvErr = err
			return
		}
		e.receiveFrame(g.w, frame.Bytes, e.now())
	}
}

// receiveFrame handles one message from worker w as it came off the wire, received at now (ns
// since t0): any bytes at all are settled, logged or counted (FuzzDispatch holds it to that).
func (e *engine) receiveFrame(w *host.Worker, b []byte, now int64) {
	e.lastRecv.Store(now)
	// The hot path: an invocation response is settled from its id and status alone.
	if id, status, ok := parseInvocationResponse(b); ok {
		f, kind := e.tracker.settleBytes(id, status, now)
		code := 0
		if kind == settleMatched && !f.proxy && e.httpFunction(f.fn) {
			code = 500 // a failed invocation: the host answers 500
			if status == rpc.StatusResult_Success {
				if code, ok = responseHTTPStatus(b, e.httpOut[f.fn]); !ok {
					code = 500
				}
			} else if status == rpc.StatusResult_Cancelled {
				code = 0
			}
		}
		if out, reason := e.settled(f, kind, status, now, code); out == statusFailed && reason == "" {
			r, invID := exceptionReason(b) // failures only: the whole response is decoded for its reason
			e.fail(f, r, now, invID)
		}
		return
	}
	if raw, ok := rpcLogBytes(b); ok {
		e.rec.count(func(c *report.Counts) { c.Logs++ })
		e.countLog(raw, now)
		w.Log.RPCLogBytes(raw)
		return
	}
	m := new(rpc.StreamingMessage)
	if err := proto.Unmarshal(b, m); err != nil {
		e.rec.count(func(c *report.Counts) { c.UnknownMessages++ })
		return
	}
	e.dispatch(w, m, now)
}

// rpcLogBytes returns the encoded RpcLog of a StreamingMessage whose content is an rpc_log (the
// last oneof field, present once) without decoding it: a worker's logs then cost the stream's
// reader a scan, and decoding and formatting them is left to the worker log's writer, which drops
// (and counts) what it cannot keep up with, so a log flood does not hold up responses.
func rpcLogBytes(b []byte) ([]byte, bool) {
	return streamingContent(b, fieldStreamingRPCLog)
}

// dispatch handles one message from worker w, received at now (ns since t0). It never blocks on
// the stream and never fails: whatever the worker sends is settled, logged or counted.
func (e *engine) dispatch(w *host.Worker, m *rpc.StreamingMessage, now int64) {
	switch c := m.Content.(type) {
	case *rpc.StreamingMessage_InvocationResponse:
		e.settle(c.InvocationResponse, now)
	case *rpc.StreamingMessage_WorkerStatusResponse:
		e.pingMu.Lock()
		sent, ok := e.pings[m.RequestId]
		delete(e.pings, m.RequestId)
		delete(e.pingFrom, m.RequestId)
		e.pingMu.Unlock()
		if ok {
			e.rec.statusRTT(sent, now)
		} else {
			e.rec.count(func(c *report.Counts) { c.UnknownMessages++ })
		}
	case *rpc.StreamingMessage_RpcLog:
		e.rec.count(func(c *report.Counts) { c.Logs++ })
		if raw, err := proto.Marshal(c.RpcLog); err == nil {
			e.countLog(raw, now)
		}
		w.WriteLog(c.RpcLog)
	case nil:
		e.rec.count(func(c *report.Counts) { c.EmptyMessages++ })
	default:
		e.rec.count(func(c *report.Counts) { c.UnknownMessages++ })
	}
}

// settle matches a response to its invocation and records it.
func (e *engine) settle(r *rpc.InvocationResponse, now int64) {
	st := r.GetResult().GetStatus()
	f, kind := e.tracker.settle(r.InvocationId, st, now)
	code := 0
	if kind == settleMatched && !f.proxy && e.httpFunction(f.fn) {
		switch st {
		case rpc.StatusResult_Success:
			code = messageHTTPStatus(r, e.httpOut[f.fn])
		case rpc.StatusResult_Failure:
			code = 500
		}
	}
	if out, reason := e.settled(f, kind, st, now, code); out == statusFailed && reason == "" {
		e.fail(f, resultReason(r.GetResult()), now, r.InvocationId)
	}
}

// httpFunction reports whether target fn is HTTP-triggered.
func (e *engine) httpFunction(fn int32) bool { return int(fn) < len(e.isHTTP) && e.isHTTP[fn] }

// forward sends a proxied invocation's HTTP request and settles the invocation if its
// InvocationResponse is already in.
func (e *engine) forward(fw *forwarder, pr *proxyRequest, id string) {
	k, _ := keyOf(id)
	a := fw.forward(pr, id, e.now, func() { e.tracker.noteHTTPRetry(k, proxyRefused) })
	if fw.ctx.Err() != nil {
		return // the run (or this worker) ended: what was in flight is counted there
	}
	if f, kind := e.tracker.answerHTTP(k, a); kind == settleMatched {
		e.settledProxy(f, max(a.end, f.grpcAt))
	}
}

// settledProxy records a proxied invocation whose two answers are in, at now: failed when the
// forwarding failed (even if the worker reported success, as the host fails it), else by the
// InvocationResponse's status and then the HTTP status.
func (e *engine) settledProxy(f flight, now int64) {
	if t := e.cfg.Timeout; t > 0 && now-f.sent > int64(t) {
		e.rec.timedOut([]flight{f}, now, true)
		e.freeSlots(1, now)
		e.fail(f, report.FailureReason{Kind: report.FailureTimeout, Message: fmt.Sprintf("answered after --timeout %s", t)}, now, "")
		return
	}
	status, reason, h := e.proxyOutcome(f)
	e.respond(f, now, status, reason, h)
	e.freeSlots(1, now)
}

// proxyOutcome judges a proxied invocation from what of its two answers is in.
func (e *engine) proxyOutcome(f flight) (status, reason string, h httpResult) {
	a := f.http
	if f.got&gotHTTP != 0 {
		h = httpResult{code: int(a.status), head: a.head, bytes: a.bytes}
		if a.err == proxyOK {
			h.end = a.end
		} else if a.status == 0 {
			h.code = 500 // forwarding failed before a response: the function fails, the host answers 500
		}
	}
	switch {
	case f.got&gotHTTP != 0 && a.err != proxyOK:
		return statusFailed, a.err.reason(), h
	case f.got&gotHTTP == 0 && a.err != proxyOK:
		return statusFailed, a.err.reason() + " (still retrying at --timeout)", h
	case f.got&gotHTTP == 0:
		return statusFailed, reasonNoHTTPResponse, h
	case f.got&gotGRPC == 0:
		return statusFailed, reasonNoInvocationResponse, h
	}
	switch f.grpcStatus {
	case rpc.StatusResult_Success:
		if !e.cfg.HTTPOK.Has(h.code) {
			return statusFailed, httpReason(h.code), h
		}
		if f.cancelSent != 0 {
			return statusCompletedAfterCancel, "", h
		}
		return statusSucceeded, "", h
	case rpc.StatusResult_Cancelled:
		return statusCancelled, "", h
	}
	return statusFailed, "", h
}

// settled records what settling an id in the tracker found; code is the HTTP status the host
// would answer with (0: not an HTTP function, or none). It returns the outcome status it recorded
// ("" when the response settled nothing here, statusTimedOut past its deadline) and the failure
// reason it gave ("" for a Failure from the worker: the caller reads its exception).
func (e *engine) settled(f flight, kind settleKind, st rpc.StatusResult_Status, now int64, code int) (string, string) {
	switch kind {
	case settlePartial:
		return "", "" // a proxied invocation waiting for its HTTP response
	case settleMatched:
		if f.proxy {
			e.settledProxy(f, max(now, f.http.end))
			return "", "" // settledProxy records its outcome and reason
		}
	case settleDuplicate:
		e.rec.count(func(c *report.Counts) { c.Duplicate++ })
		return "", ""
	case settleLate:
		e.rec.count(func(c *report.Counts) { c.LateResponses++ })
		return "", ""
	case settleUnknown:
		e.rec.count(func(c *report.Counts) { c.Unmatched++ })
		return "", ""
	}
	if t := e.cfg.Timeout; t > 0 && now-f.sent > int64(t) {
		// Answered after its deadline but before the periodic scan found it: timed out all the
		// same (as the scan would have judged it), and the answer is late.
		e.rec.timedOut([]flight{f}, now, true)
		e.freeSlots(1, now)
		e.fail(f, report.FailureReason{Kind: report.FailureTimeout, Message: fmt.Sprintf("answered after --timeout %s", t)}, now, "")
		return statusTimedOut, ""
	}
	status, reason := statusFailed, ""
	switch st {
	case rpc.StatusResult_Success:
		status = statusSucceeded
		if f.cancelSent != 0 {
			status = statusCompletedAfterCancel
		}
		if code != 0 && !e.cfg.HTTPOK.Has(code) {
			status, reason = statusFailed, httpReason(code)
		}
	case rpc.StatusResult_Cancelled:
		status = statusCancelled
	}
	e.respond(f, now, status, reason, httpResult{code: code})
	e.freeSlots(1, now)
	return status, reason
}

// freeSlots returns n settled invocations' slots: the in-flight count, closed loop's tokens (their
// settle time is the next invocation's intended time) and the queue's wake-up.
func (e *engine) freeSlots(n, now int64) {
	e.inflight.Add(-n)
	if e.closedTok != nil {
		for i := int64(0); i < n; i++ {
			select {
			case e.closedTok <- now:
			default:
			}
		}
	}
	select {
	case e.slotFree <- struct{}{}:
	default:
	}
}

// expire times out invocations older than the timeout.
func (e *engine) expire() {
	if e.cfg.Timeout <= 0 {
		return
	}
	now := e.now()
	var expired []flight
	n := int64(0)
	e.tracker.expire(now-int64(e.cfg.Timeout), func(f flight) {
		n++
		if f.proxy && (f.got != 0 || f.http.err != proxyOK) {
			// One of its two answers came: failed, with the missing side as its reason.
			status, reason, h := e.proxyOutcome(f)
			e.respond(f, now, status, reason, h)
			return
		}
		expired = append(expired, f)
	})
	if n == 0 {
		return
	}
	if len(expired) > 0 {
		e.rec.timedOut(expired, now, false)
	}
	e.freeSlots(n, now)
	for _, f := range expired {
		e.fail(f, report.FailureReason{Kind: report.FailureTimeout, Message: fmt.Sprintf("no answer within --timeout %s", e.cfg.Timeout)}, now, "")
	}
}

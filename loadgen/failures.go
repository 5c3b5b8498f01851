package loadgen

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/protos/rpc"
	"github.com/fbench/fbench/report"
)

// Why invocations failed, and what the worker logged. Only failures and logs pay for this: a
// successful response is settled from its id and status alone (see receiveFrame).

// fnName is the function a flight invoked.
func (e *engine) fnName(f flight) string {
	if int(f.fn) < len(e.names) {
		return e.names[f.fn]
	}
	return ""
}

// fail records the reason of one measured invocation that did not succeed. It is the one entry
// point of the failures table: every outcome counted in error_rate passes here with its reason.
func (e *engine) fail(f flight, r report.FailureReason, now int64, invocationID string) {
	if f.warm {
		return // warm-up invocations are kept out of every measured figure
	}
	e.failures.Add(e.fnName(f), r, time.Duration(now), invocationID)
}

// respond records a response's outcome (recorder.response) and, for a failure with a reason
// (an HTTP status, a proxying error), that reason in the failures table. A Failure from the worker
// has no reason here: its caller decodes the exception (a proxied one's is not kept).
func (e *engine) respond(f flight, now int64, status, reason string, h httpResult) {
	e.rec.response(f, now, status, reason, h)
	if status != statusFailed {
		return
	}
	switch {
	case strings.HasPrefix(reason, "HTTP ") && len(reason) == len("HTTP 000"):
		e.fail(f, report.FailureReason{Kind: report.FailureHTTPStatus, Message: reason}, now, "")
	case reason != "":
		e.fail(f, report.FailureReason{Kind: report.FailureHTTPProxy, Message: reason}, now, "")
	case f.proxy:
		e.fail(f, report.FailureReason{Kind: report.FailureException, Message: "the worker answered Failure (a proxied invocation: its exception is not kept)"}, now, "")
	}
}

// failNotSent records an arrival that was due and never sent (no function was chosen for it).
func (e *engine) failNotSent(intended int64, unsent bool) {
	if intended < e.rec.measuredFrom {
		return
	}
	r := report.FailureReason{Kind: report.FailureDropped, Message: fmt.Sprintf("dropped: %d invocations already in flight (--max-inflight, --on-full drop)", e.cfg.MaxInFlight)}
	if unsent {
		r = report.FailureReason{Kind: report.FailureUnsent, Message: "due but not sent: the worker's stream would not take it before the run ended"}
	}
	e.failures.Add("", r, time.Duration(intended), "")
}

// exceptionReason is the failure reason of a Failure response (encoded StreamingMessage b).
func exceptionReason(b []byte) (report.FailureReason, string) {
	var m rpc.StreamingMessage
	if err := proto.Unmarshal(b, &m); err != nil {
		return report.FailureReason{Kind: report.FailureException, Message: "malformed InvocationResponse: " + err.Error()}, ""
	}
	r := m.GetInvocationResponse()
	return resultReason(r.GetResult()), r.GetInvocationId()
}

// resultReason describes a StatusResult that is not Success.
func resultReason(res *rpc.StatusResult) report.FailureReason {
	r := report.FailureReason{Kind: report.FailureException}
	if ex := res.GetException(); ex != nil {
		r.Message, r.Type, r.Source = ex.GetMessage(), ex.GetType(), ex.GetSource()
		r.Stack = report.FirstStackLines(ex.GetStackTrace(), 5)
	}
	if r.Message == "" {
		r.Message = res.GetResult()
	}
	if r.Message == "" {
		r.Message = fmt.Sprintf("status %s with no exception", res.GetStatus())
	}
	return r
}

// Field numbers of RpcLog read by countLog.
const (
	fieldLogInvocationID = 1
	fieldLogCategory     = 2
	fieldLogLevel        = 3
	fieldLogMessage      = 4
	fieldLogLogCategory  = 8
)

// countLog counts an encoded RpcLog by level and category, flags one naming an invocation that
// has already settled, and keeps the first errors. It reads the few fields it needs without
// decoding the message (a log flood costs the reader a scan).
func (e *engine) countLog(raw []byte, now int64) {
	var invID, category, message []byte
	level, logCat := rpc.RpcLog_Trace, rpc.RpcLog_User
	for b := raw; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return // malformed: the log writer says so
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && (num == fieldLogInvocationID || num == fieldLogCategory || num == fieldLogMessage):
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return
			}
			switch num {
			case fieldLogInvocationID:
				invID = v
			case fieldLogCategory:
				category = v
			default:
				message = v
			}
			b = b[m:]
		case typ == protowire.VarintType && (num == fieldLogLevel || num == fieldLogLogCategory):
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return
			}
			if num == fieldLogLevel {
				level = rpc.RpcLog_Level(v)
			} else {
				logCat = rpc.RpcLog_RpcLogCategory(v)
			}
			b = b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return
			}
			b = b[m:]
		}
	}
	cat := string(category)
	if cat == "" {
		cat = logCat.String()
	}
	after := len(invID) > 0 && e.tracker.settledAlready(invID)
	e.logs.Add(time.Duration(now), level.String(), cat, string(invID), after, func() string { return string(message) })
}

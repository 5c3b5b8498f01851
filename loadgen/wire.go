package loadgen

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/protos/rpc"
)

// Field numbers the hot path encodes and decodes by hand (FunctionRpc.proto).
const (
	fieldStreamingRequestID          = 1 // StreamingMessage.request_id
	fieldStreamingRPCLog             = 2 // StreamingMessage.rpc_log
	fieldStreamingInvocationRequest  = 4 // StreamingMessage.invocation_request
	fieldStreamingInvocationResponse = 5 // StreamingMessage.invocation_response
	fieldInvocationID                = 1 // InvocationRequest.invocation_id / InvocationResponse.invocation_id
	fieldInvocationTraceContext      = 5 // InvocationRequest.trace_context
	fieldTraceParent                 = 1 // RpcTraceContext.trace_parent
	fieldResponseResult              = 3 // InvocationResponse.result
	fieldResultStatus                = 4 // StatusResult.status
)

// requestTemplate is an InvocationRequest encoded once, without invocation_id and trace_context:
// every invocation's frame is those two fields followed by the template's bytes (protobuf allows
// fields in any order; a parser sees exactly the message proto.Marshal would have produced).
type requestTemplate struct {
	tail  []byte // the InvocationRequest's other fields
	attrs []byte // RpcTraceContext fields after trace_parent (attributes, baggage), usually empty
}

// newRequestTemplate encodes req, which must have no invocation_id; its trace context, if any,
// contributes everything but trace_parent.
func newRequestTemplate(req *rpc.InvocationRequest) (*requestTemplate, error) {
	if req.InvocationId != "" {
		return nil, errors.New("request template must not carry an invocation id")
	}
	body := proto.Clone(req).(*rpc.InvocationRequest)
	tc := body.TraceContext
	body.TraceContext = nil
	tail, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	if err != nil {
		return nil, err
	}
	t := &requestTemplate{tail: tail}
	if tc != nil {
		tc = proto.Clone(tc).(*rpc.RpcTraceContext)
		tc.TraceParent = ""
		if t.attrs, err = (proto.MarshalOptions{Deterministic: true}).Marshal(tc); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// frame encodes the StreamingMessage{invocation_request: template + id + trace context} into a
// fresh buffer (gRPC owns it once sent).
func (t *requestTemplate) frame(id, traceParent string) []byte {
	tcLen := protowire.SizeTag(fieldTraceParent) + protowire.SizeBytes(len(traceParent)) + len(t.attrs)
	inner := protowire.SizeTag(fieldInvocationID) + protowire.SizeBytes(len(id)) +
		protowire.SizeTag(fieldInvocationTraceContext) + protowire.SizeBytes(tcLen) + len(t.tail)
	total := protowire.SizeTag(fieldStreamingInvocationRequest) + protowire.SizeBytes(inner)
	b := make([]byte, 0, total)
	b = protowire.AppendTag(b, fieldStreamingInvocationRequest, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(inner))
	b = protowire.AppendTag(b, fieldInvocationID, protowire.BytesType)
	b = protowire.AppendString(b, id)
	b = protowire.AppendTag(b, fieldInvocationTraceContext, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(tcLen))
	b = protowire.AppendTag(b, fieldTraceParent, protowire.BytesType)
	b = protowire.AppendString(b, traceParent)
	b = append(b, t.attrs...)
	b = append(b, t.tail...)
	return b
}

// parseInvocationResponse reads an encoded StreamingMessage far enough to settle an invocation:
// ok is true when its content (the last oneof field, as proto decides) is an invocation_response,
// giving its invocation_id (a sub-slice of b) and result.status (Failure when absent, as the
// proto default). Anything else, or malformed bytes, gives ok=false: decode it fully instead.
func parseInvocationResponse(b []byte) (id []byte, status rpc.StatusResult_Status, ok bool) {
	resp, ok := streamingContent(b, fieldStreamingInvocationResponse)
	if !ok {
		return nil, 0, false
	}
	status = rpc.StatusResult_Failure
	for len(resp) > 0 {
		num, typ, n := protowire.ConsumeTag(resp)
		if n < 0 {
			return nil, 0, false
		}
		resp = resp[n:]
		switch {
		case num == fieldInvocationID && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(resp)
			if m < 0 {
				return nil, 0, false
			}
			id, resp = v, resp[m:]
		case num == fieldResponseResult && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(resp)
			if m < 0 {
				return nil, 0, false
			}
			resp = resp[m:]
			st, good := parseStatus(v)
			if !good {
				return nil, 0, false
			}
			status = st
		default:
			m := protowire.ConsumeFieldValue(num, typ, resp)
			if m < 0 {
				return nil, 0, false
			}
			resp = resp[m:]
		}
	}
	return id, status, true
}

// streamingContent returns the bytes of field want of an encoded StreamingMessage when want is its
// content (the last oneof field, as proto decides) and appears once, without decoding anything.
// Any other message, one whose content is split over several occurrences (proto merges them), or
// malformed bytes give ok=false: decode those fully instead.
func streamingContent(b []byte, want protowire.Number) (field []byte, ok bool) {
	seen := 0
	last := protowire.Number(0)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false
		}
		b = b[n:]
		if num != fieldStreamingRequestID && num >= 2 && num <= 34 {
			last = num
		}
		if num == want && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false
			}
			field, b = v, b[m:]
			seen++
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, false
		}
		b = b[m:]
	}
	if last != want || seen != 1 {
		return nil, false
	}
	return field, true
}

// parseStatus reads StatusResult.status (the last occurrence wins; absent is Failure).
func parseStatus(b []byte) (rpc.StatusResult_Status, bool) {
	st := rpc.StatusResult_Failure
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == fieldResultStatus && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return 0, false
			}
			st = rpc.StatusResult_Status(int32(v))
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, false
		}
		b = b[m:]
	}
	return st, true
}

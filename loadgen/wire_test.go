package loadgen

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/loadgen/guid"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
)

// The hand-encoded frame must decode to exactly the message proto.Marshal would have sent.
func TestRequestFrameEqualsProto(t *testing.T) {
	http := &host.Function{Name: "echo", ID: "f-1", Bindings: []host.Binding{{Name: "req", Type: "httpTrigger", Raw: map[string]any{}}}}
	queue := &host.Function{Name: "q", ID: "f-2", Bindings: []host.Binding{{Name: "msg", Type: "queueTrigger", DataType: "string", Raw: map[string]any{}}}}
	dotnet := map[string]string{"RpcHttpBodyOnly": "True", "RawHttpBodyBytes": "True", "UseNullableValueDictionaryForHttp": "True", "RpcHttpTriggerMetadataRemoved": "True"}
	for _, tc := range []struct {
		name string
		fn   *host.Function
		caps map[string]string
		p    Payload
	}{
		{"http dotnet", http, dotnet, Payload{Body: []byte(`{"a":"b"}`), Headers: [][2]string{{"Content-Type", "application/json"}}, Query: [][2]string{{"name", "x"}}}},
		{"http plain maps", http, map[string]string{}, Payload{Body: []byte("hello"), Method: "PUT"}},
		{"http get", http, dotnet, Payload{}},
		{"queue", queue, dotnet, Payload{Body: []byte("message")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := BuildRequest(tc.fn, tc.caps, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			req.TraceContext = &rpc.RpcTraceContext{Attributes: map[string]string{}}
			tmpl, err := newRequestTemplate(req)
			if err != nil {
				t.Fatal(err)
			}
			id := "1d6c0f7e-8b1c-4a56-9d7e-0123456789ab"
			var got rpc.StreamingMessage
			if err := proto.Unmarshal(tmpl.frame(id, guid.TraceParent(id)), &got); err != nil {
				t.Fatal(err)
			}
			want := proto.Clone(req).(*rpc.InvocationRequest)
			want.InvocationId = id
			want.TraceContext.TraceParent = guid.TraceParent(id)
			if !proto.Equal(got.GetInvocationRequest(), want) {
				t.Fatalf("frame decodes to\n%v\nwant\n%v", got.GetInvocationRequest(), want)
			}
			if got.GetInvocationRequest().GetTraceContext() == nil {
				t.Fatal("trace_context must always be present")
			}
		})
	}
}

func responseBytes(t testing.TB, m *rpc.StreamingMessage) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseInvocationResponse(t *testing.T) {
	ok := func(id string, st rpc.StatusResult_Status) *rpc.StreamingMessage {
		return &rpc.StreamingMessage{RequestId: "r", Content: &rpc.StreamingMessage_InvocationResponse{InvocationResponse: &rpc.InvocationResponse{
			InvocationId: id, Result: &rpc.StatusResult{Status: st, Result: "x"},
			ReturnValue: &rpc.TypedData{Data: &rpc.TypedData_Http{Http: &rpc.RpcHttp{StatusCode: "200", Body: &rpc.TypedData{Data: &rpc.TypedData_Bytes{Bytes: []byte("hi")}}}}},
		}}}
	}
	for _, tc := range []struct {
		name   string
		b      []byte
		id     string
		status rpc.StatusResult_Status
		fast   bool
	}{
		{"success", responseBytes(t, ok("a", rpc.StatusResult_Success)), "a", rpc.StatusResult_Success, true},
		{"cancelled", responseBytes(t, ok("b", rpc.StatusResult_Cancelled)), "b", rpc.StatusResult_Cancelled, true},
		{"no result is failure", responseBytes(t, &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationResponse{InvocationResponse: &rpc.InvocationResponse{InvocationId: "c"}}}), "c", rpc.StatusResult_Failure, true},
		{"empty id", responseBytes(t, ok("", rpc.StatusResult_Success)), "", rpc.StatusResult_Success, true},
		{"status response", responseBytes(t, &rpc.StreamingMessage{RequestId: "p", Content: &rpc.StreamingMessage_WorkerStatusResponse{WorkerStatusResponse: &rpc.WorkerStatusResponse{}}}), "", 0, false},
		{"empty message", nil, "", 0, false},
		{"response then log: the log wins", append(responseBytes(t, ok("d", rpc.StatusResult_Success)), responseBytes(t, &rpc.StreamingMessage{Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{Message: "m"}}})...), "", 0, false},
		{"two partial responses are merged by proto", append(responseBytes(t, ok("e", rpc.StatusResult_Success)), responseBytes(t, ok("f", rpc.StatusResult_Success))...), "", 0, false},
		{"garbage", []byte{0xff, 0xff, 0xff}, "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, st, fast := parseInvocationResponse(tc.b)
			if fast != tc.fast || (fast && (string(id) != tc.id || st != tc.status)) {
				t.Fatalf("got (%q, %v, %v), want (%q, %v, %v)", id, st, fast, tc.id, tc.status, tc.fast)
			}
		})
	}
}

// FuzzParseInvocationResponse checks the hand parser against proto.Unmarshal: whenever proto
// decodes the bytes and the parser takes the fast path, they must agree on the content type, the
// id and the status. (The parser does not validate fields it skips, such as a malformed
// return_value: such a response still settles its invocation by id and status.)
func FuzzParseInvocationResponse(f *testing.F) {
	for _, m := range []*rpc.StreamingMessage{
		{Content: &rpc.StreamingMessage_InvocationResponse{InvocationResponse: &rpc.InvocationResponse{InvocationId: "a", Result: &rpc.StatusResult{Status: rpc.StatusResult_Success}}}},
		{RequestId: "x", Content: &rpc.StreamingMessage_InvocationResponse{InvocationResponse: &rpc.InvocationResponse{InvocationId: "b", Result: &rpc.StatusResult{Status: rpc.StatusResult_Cancelled, Exception: &rpc.RpcException{Message: "m"}}}}},
		{Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{InvocationId: "c", Message: "log"}}},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, st, fast := parseInvocationResponse(b)
		var m rpc.StreamingMessage
		err := proto.Unmarshal(b, &m)
		if !fast {
			return
		}
		if err != nil {
			return
		}
		r := m.GetInvocationResponse()
		if r == nil {
			t.Fatalf("fast path took a %T for an invocation response", m.Content)
		}
		if r.InvocationId != string(id) || r.GetResult().GetStatus() != st {
			t.Fatalf("fast path (%q, %v), proto (%q, %v)", id, st, r.InvocationId, r.GetResult().GetStatus())
		}
	})
}

func BenchmarkRequestFrame(b *testing.B) {
	fn := &host.Function{Name: "echo", ID: "f-1", Bindings: []host.Binding{{Name: "req", Type: "httpTrigger", Raw: map[string]any{}}}}
	req, _ := BuildRequest(fn, map[string]string{"RpcHttpBodyOnly": "1", "UseNullableValueDictionaryForHttp": "1"}, Payload{Body: bytes.Repeat([]byte("x"), 64)})
	req.TraceContext = &rpc.RpcTraceContext{}
	tmpl, _ := newRequestTemplate(req)
	id := "1d6c0f7e-8b1c-4a56-9d7e-0123456789ab"
	b.Run("template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = tmpl.frame(id, guid.TraceParent(id))
		}
	})
	b.Run("proto.Marshal", func(b *testing.B) {
		msg := &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationRequest{InvocationRequest: req}}
		b.ReportAllocs()
		for b.Loop() {
			req.InvocationId = id
			req.TraceContext.TraceParent = guid.TraceParent(id)
			_, _ = proto.Marshal(msg)
		}
	})
}

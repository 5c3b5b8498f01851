package loadgen

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/protos/rpc"
)

// benchmarkSettle settles one response per iteration through receiveFrame (the receiver's path),
// its invocation registered just before: what the failures table adds to a successful response
// (nothing but a comparison) and what a failure costs (decoding it for its reason).
func benchmarkSettle(b *testing.B, result *rpc.StatusResult) {
	e := fuzzEngine()
	withFailureTable(e)
	frame, err := proto.Marshal(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationResponse{
		InvocationResponse: &rpc.InvocationResponse{InvocationId: fuzzInFlight, Result: result}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.tracker.start(fuzzInFlight, flight{intended: 1000, sent: 2000})
		e.inflight.Add(1)
		e.receiveFrame(nil, frame, 3000)
	}
}

func BenchmarkSettleSuccess(b *testing.B) {
	benchmarkSettle(b, &rpc.StatusResult{Status: rpc.StatusResult_Success})
}

func BenchmarkSettleFailure(b *testing.B) {
	benchmarkSettle(b, &rpc.StatusResult{Status: rpc.StatusResult_Failure, Exception: &rpc.RpcException{
		Message: "order 123 not found", Type: "System.InvalidOperationException", Source: "Shop", StackTrace: "   at A()\n   at B()"}})
}

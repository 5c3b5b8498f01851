package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/fbench/fbench/protos/rpc"
)

// The host side of the Functions handshake, for driving a worker other than the raw one (the
// reference worker, `fbench worker`): its command line gets the host's arguments, and after
// StartStream the host sends WorkerInitRequest, FunctionsMetadataRequest and one
// FunctionLoadRequest for the function it will invoke, each answered before the next. These are the
// protocol's messages, built here; of fbench's host only HostArgs is used (the worker's command
// line, outside what is measured), so both hosts launch a worker alike.

// recvUntil reads the stream until want accepts a message (others, such as logs, are skipped).
func recvUntil(st rpc.FunctionRpc_EventStreamServer, what string, want func(*rpc.StreamingMessage) bool) (*rpc.StreamingMessage, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m, err := st.Recv()
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", what, err)
		}
		if want(m) {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no %s within 30s", what)
}

// handshake initializes the worker, asks for its functions and loads the one named function; it
// returns that function's id.
func handshake(st rpc.FunctionRpc_EventStreamServer, function string) (string, error) {
	init := &rpc.WorkerInitRequest{HostVersion: "4.1037.0.0", Capabilities: map[string]string{}}
	if err := st.Send(&rpc.StreamingMessage{RequestId: "init", Content: &rpc.StreamingMessage_WorkerInitRequest{WorkerInitRequest: init}}); err != nil {
		return "", err
	}
	m, err := recvUntil(st, "WorkerInitResponse", func(m *rpc.StreamingMessage) bool { return m.GetWorkerInitResponse() != nil })
	if err != nil {
		return "", err
	}
	if s := m.GetWorkerInitResponse().GetResult().GetStatus(); s != rpc.StatusResult_Success {
		return "", fmt.Errorf("worker initialization: status %v", s)
	}
	if err := st.Send(&rpc.StreamingMessage{RequestId: "metadata", Content: &rpc.StreamingMessage_FunctionsMetadataRequest{
		FunctionsMetadataRequest: &rpc.FunctionsMetadataRequest{}}}); err != nil {
		return "", err
	}
	m, err = recvUntil(st, "FunctionMetadataResponse", func(m *rpc.StreamingMessage) bool { return m.GetFunctionMetadataResponse() != nil })
	if err != nil {
		return "", err
	}
	var md *rpc.RpcFunctionMetadata
	for _, f := range m.GetFunctionMetadataResponse().GetFunctionMetadataResults() {
		if f.GetName() == function {
			md = f
		}
	}
	if md == nil || md.GetFunctionId() == "" {
		return "", fmt.Errorf("the worker's metadata has no function %q with an id", function)
	}
	load := &rpc.RpcFunctionMetadata{Name: md.Name, Directory: md.Directory, ScriptFile: md.ScriptFile, EntryPoint: md.EntryPoint,
		Bindings: map[string]*rpc.BindingInfo{}, Properties: map[string]string{"FunctionId": md.FunctionId}}
	for _, rb := range md.GetRawBindings() {
		var b struct{ Name, Type, Direction string }
		if json.Unmarshal([]byte(rb), &b) == nil && b.Name != "" {
			dir := rpc.BindingInfo_in
			if b.Direction == "out" {
				dir = rpc.BindingInfo_out
			}
			load.Bindings[b.Name] = &rpc.BindingInfo{Type: b.Type, Direction: dir}
		}
	}
	if err := st.Send(&rpc.StreamingMessage{RequestId: "load", Content: &rpc.StreamingMessage_FunctionLoadRequest{
		FunctionLoadRequest: &rpc.FunctionLoadRequest{FunctionId: md.FunctionId, Metadata: load}}}); err != nil {
		return "", err
	}
	m, err = recvUntil(st, "FunctionLoadResponse", func(m *rpc.StreamingMessage) bool { return m.GetFunctionLoadResponse() != nil })
	if err != nil {
		return "", err
	}
	if s := m.GetFunctionLoadResponse().GetResult().GetStatus(); s != rpc.StatusResult_Success {
		return "", fmt.Errorf("loading %q: status %v", function, s)
	}
	return md.FunctionId, nil
}

// The worker side: the raw worker answers the host's handshake (as fbench's host runs it) besides
// invocations, so that fbench can drive it. It advertises the .NET isolated worker's HTTP
// capabilities, so that fbench sends it the same bytes per invocation as the raw host does
// (TestFbenchDrivesRawWorker), and indexes one function, "echo", with the raw template's id.

// rawFunctionID is the echo function's id (the raw host's template carries it).
const rawFunctionID = "5f0c6a3e-8b1d-4c2a-9e7f-0123456789ab"

// errTerminated ends the worker on WorkerTerminate.
var errTerminated = errors.New("WorkerTerminate")

// answerControl answers one message that is not an invocation request.
func answerControl(stream grpc.BidiStreamingClient[rpc.StreamingMessage, rpc.StreamingMessage], m *rpc.StreamingMessage) error {
	ok := &rpc.StatusResult{Status: rpc.StatusResult_Success}
	var out *rpc.StreamingMessage
	switch c := m.Content.(type) {
	case *rpc.StreamingMessage_WorkerInitRequest:
		out = &rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerInitResponse{WorkerInitResponse: &rpc.WorkerInitResponse{
			Result: ok, WorkerVersion: "rawceiling",
			Capabilities: map[string]string{
				"RpcHttpBodyOnly": "True", "RawHttpBodyBytes": "True", "RpcHttpTriggerMetadataRemoved": "True",
				"UseNullableValueDictionaryForHttp": "True", "HandlesWorkerTerminateMessage": "True",
			}}}}
	case *rpc.StreamingMessage_FunctionsMetadataRequest:
		out = &rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionMetadataResponse{FunctionMetadataResponse: &rpc.FunctionMetadataResponse{
			Result: ok,
			FunctionMetadataResults: []*rpc.RpcFunctionMetadata{{
				Name: "echo", FunctionId: rawFunctionID, Language: "rawceiling", EntryPoint: "echo",
				RawBindings: []string{`{"name":"req","type":"httpTrigger","direction":"in"}`, `{"name":"$return","type":"http","direction":"out"}`},
			}}}}}
	case *rpc.StreamingMessage_FunctionLoadRequest:
		res := ok
		if c.FunctionLoadRequest.GetFunctionId() != rawFunctionID {
			res = &rpc.StatusResult{Status: rpc.StatusResult_Failure, Result: "unknown function"}
		}
		out = &rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionLoadResponse{FunctionLoadResponse: &rpc.FunctionLoadResponse{
			FunctionId: c.FunctionLoadRequest.GetFunctionId(), Result: res}}}
	case *rpc.StreamingMessage_WorkerStatusRequest:
		out = &rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerStatusResponse{WorkerStatusResponse: &rpc.WorkerStatusResponse{}}}
	case *rpc.StreamingMessage_WorkerTerminate:
		return errTerminated
	default:
		return nil
	}
	out.RequestId = m.RequestId
	return stream.Send(out)
}

package refworker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fbench/fbench/loadgen/refworker/workertest"
	"github.com/fbench/fbench/protos/rpc"
)

// Re-executed test binary: run the worker as a real process (for faults that
// call os.Exit or never return), see workertest.
func TestMain(m *testing.M) { workertest.Main(m, workertest.Worker(Main)) }

const waitTimeout = 5 * time.Second

// fakeHost is a minimal FunctionRpc server: one stream, messages in and out
// through channels. The handler returns when the worker half-closes or end
// is closed.
type fakeHost struct {
	rpc.UnimplementedFunctionRpcServer
	srv        *grpc.Server
	port       int
	in         chan *rpc.StreamingMessage
	out        chan *rpc.StreamingMessage
	end        chan struct{}
	endOnce    sync.Once
	streamDone chan struct{}
}

func newHost(t testing.TB) *fakeHost {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHost{
		srv:        grpc.NewServer(grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32)),
		port:       lis.Addr().(*net.TCPAddr).Port,
		in:         make(chan *rpc.StreamingMessage, 100000),
		out:        make(chan *rpc.StreamingMessage, 1000),
		end:        make(chan struct{}),
		streamDone: make(chan struct{}),
	}
	rpc.RegisterFunctionRpcServer(h.srv, h)
	go h.srv.Serve(lis)
	t.Cleanup(h.srv.Stop)
	return h
}

func (h *fakeHost) EventStream(s grpc.BidiStreamingServer[rpc.StreamingMessage, rpc.StreamingMessage]) error {
	defer close(h.streamDone)
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			m, err := s.Recv()
			if err != nil {
				return
			}
			h.in <- m
		}
	}()
	for {
		select {
		case m := <-h.out:
			if err := s.Send(m); err != nil {
				return err
			}
		case <-h.end:
			return nil
		case <-recvDone:
			return nil
		}
	}
}

func (h *fakeHost) endStream() { h.endOnce.Do(func() { close(h.end) }) }

// args is the exact host argument list (protocol.md §2.2) plus extra worker flags first.
func (h *fakeHost) args(workerID string, extra ...string) []string {
	p := strconv.Itoa(h.port)
	return append(extra,
		"--host", "127.0.0.1", "--port", p, "--workerId", workerID, "--requestId", "req-"+workerID,
		"--grpcMaxMessageLength", "2147483647", "--functions-uri", "http://127.0.0.1:"+p+"/",
		"--functions-worker-id", workerID, "--functions-request-id", "req-"+workerID,
		"--functions-grpc-max-message-length", "2147483647")
}

func (h *fakeHost) send(m *rpc.StreamingMessage) { h.out <- m }

// next returns the next message from the worker.
func (h *fakeHost) next(t testing.TB) *rpc.StreamingMessage {
	t.Helper()
	select {
	case m := <-h.in:
		return m
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a message from the worker")
		return nil
	}
}

// waitFor skips messages until one matches.
func (h *fakeHost) waitFor(t testing.TB, what string, match func(*rpc.StreamingMessage) bool) *rpc.StreamingMessage {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case m := <-h.in:
			if match(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
			return nil
		}
	}
}

func (h *fakeHost) response(t testing.TB) *rpc.InvocationResponse {
	t.Helper()
	return h.waitFor(t, "InvocationResponse", func(m *rpc.StreamingMessage) bool {
		return m.GetInvocationResponse() != nil
	}).GetInvocationResponse()
}

// noMessage checks that nothing matching arrives within d.
func (h *fakeHost) noMessage(t testing.TB, d time.Duration, match func(*rpc.StreamingMessage) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-h.in:
			if match(m) {
				t.Fatalf("unexpected message %v", m)
			}
		case <-deadline:
			return
		}
	}
}

// syncBuffer is a goroutine-safe stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type running struct {
	code   chan int
	stderr *syncBuffer
}

// start runs Main in a goroutine.
func start(t testing.TB, args []string) *running {
	t.Helper()
	r := &running{code: make(chan int, 1), stderr: &syncBuffer{}}
	go func() { r.code <- Main(args, os.Stdout, r.stderr) }()
	return r
}

func (r *running) wait(t testing.TB) int {
	t.Helper()
	select {
	case c := <-r.code:
		return c
	case <-time.After(waitTimeout):
		t.Fatalf("worker did not exit; stderr:\n%s", r.stderr)
		return -1
	}
}

// stop terminates a worker that is still running and checks it exits 0.
func (h *fakeHost) stop(t testing.TB, r *running) {
	t.Helper()
	h.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerTerminate{WorkerTerminate: &rpc.WorkerTerminate{
		GracePeriod: durationpb.New(time.Second)}}})
	if c := r.wait(t); c != 0 {
		t.Fatalf("exit code after WorkerTerminate = %d, want 0; stderr:\n%s", c, r.stderr)
	}
}

func initRequest() *rpc.StreamingMessage {
	return &rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerInitRequest{WorkerInitRequest: &rpc.WorkerInitRequest{
		HostVersion: "4.1037.0.0", Capabilities: map[string]string{"MultiStream": "10"},
		WorkerDirectory: "/w", FunctionAppDirectory: "/app"}}}
}

func loadRequest(id, name string) *rpc.StreamingMessage {
	return &rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionLoadRequest{FunctionLoadRequest: &rpc.FunctionLoadRequest{
		FunctionId: id, Metadata: &rpc.RpcFunctionMetadata{Name: name, ScriptFile: "fbench"}}}}
}

// handshake runs StartStream → init → metadata → loads and returns name → function id.
func (h *fakeHost) handshake(t testing.TB) map[string]string {
	t.Helper()
	if h.next(t).GetStartStream() == nil {
		t.Fatal("first message is not StartStream")
	}
	h.send(initRequest())
	if st := h.next(t).GetWorkerInitResponse().GetResult().GetStatus(); st != rpc.StatusResult_Success {
		t.Fatalf("init status %v", st)
	}
	h.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionsMetadataRequest{
		FunctionsMetadataRequest: &rpc.FunctionsMetadataRequest{FunctionAppDirectory: "/app"}}})
	md := h.next(t).GetFunctionMetadataResponse()
	ids := map[string]string{}
	for _, f := range md.GetFunctionMetadataResults() {
		ids[f.Name] = f.FunctionId
		h.send(loadRequest(f.FunctionId, f.Name))
	}
	for range ids {
		if r := h.next(t).GetFunctionLoadResponse(); r.GetResult().GetStatus() != rpc.StatusResult_Success {
			t.Fatalf("load response %v", r)
		}
	}
	return ids
}

func httpInvocation(invocationID, functionID string, body []byte) *rpc.StreamingMessage {
	return &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationRequest{InvocationRequest: &rpc.InvocationRequest{
		InvocationId: invocationID, FunctionId: functionID,
		InputData: []*rpc.ParameterBinding{{Name: "req", RpcData: &rpc.ParameterBinding_Data{Data: &rpc.TypedData{
			Data: &rpc.TypedData_Http{Http: &rpc.RpcHttp{
				Method: "POST", Url: "http://localhost/api/echo",
				NullableHeaders: map[string]*rpc.NullableString{"content-type": {String_: &rpc.NullableString_Value{Value: "text/plain"}}},
				Body:            &rpc.TypedData{Data: &rpc.TypedData_Bytes{Bytes: body}},
			}}}}}},
		TraceContext: &rpc.RpcTraceContext{},
	}}}
}

func cancelMsg(id string) *rpc.StreamingMessage {
	return &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationCancel{InvocationCancel: &rpc.InvocationCancel{InvocationId: id}}}
}

func httpBody(r *rpc.InvocationResponse) []byte {
	return r.GetReturnValue().GetHttp().GetBody().GetBytes()
}

func TestHandshakeAndFunctions(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	r := start(t, h.args("w-1"))

	ss := h.next(t)
	if ss.GetStartStream().GetWorkerId() != "w-1" || ss.RequestId != "req-w-1" {
		t.Fatalf("StartStream = %v", ss)
	}
	h.send(initRequest())
	ir := h.next(t).GetWorkerInitResponse()
	if ir.GetResult().GetStatus() != rpc.StatusResult_Success {
		t.Fatalf("init result %v", ir.GetResult())
	}
	want := []string{"HandlesWorkerTerminateMessage", "HandlesInvocationCancelMessage", "IncludeEmptyEntriesInMessagePayload",
		"EnableUserCodeException", "RpcHttpBodyOnly", "RawHttpBodyBytes", "RpcHttpTriggerMetadataRemoved",
		"UseNullableValueDictionaryForHttp", "TypedDataCollection", "WorkerStatus"}
	if len(ir.Capabilities) != len(want) {
		t.Errorf("capabilities %v, want %v", ir.Capabilities, want)
	}
	for _, k := range want {
		if ir.Capabilities[k] != "True" {
			t.Errorf("capability %s = %q, want True", k, ir.Capabilities[k])
		}
	}
	if md := ir.GetWorkerMetadata(); md.GetRuntimeName() != RuntimeName || md.GetRuntimeVersion() == "" || md.GetWorkerBitness() == "" {
		t.Errorf("worker metadata %v", md)
	}

	h.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionsMetadataRequest{
		FunctionsMetadataRequest: &rpc.FunctionsMetadataRequest{FunctionAppDirectory: "/app"}}})
	md := h.next(t).GetFunctionMetadataResponse()
	if md.GetResult().GetStatus() != rpc.StatusResult_Success || md.UseDefaultMetadataIndexing {
		t.Fatalf("metadata response %v", md)
	}
	ids := map[string]string{}
	for _, f := range md.FunctionMetadataResults {
		ids[f.Name] = f.FunctionId
		if f.FunctionId != functionID(f.Name) || f.ScriptFile == "" || f.Status.GetStatus() != rpc.StatusResult_Success {
			t.Errorf("metadata %v", f)
		}
		var trigger bool
		for _, raw := range f.RawBindings {
			var b map[string]any
			if err := json.Unmarshal([]byte(raw), &b); err != nil {
				t.Errorf("%s raw binding %q: %v", f.Name, raw, err)
			}
			if b["direction"] == "in" && strings.HasSuffix(b["type"].(string), "Trigger") {
				trigger = true
			}
		}
		if !trigger {
			t.Errorf("%s has no trigger binding", f.Name)
		}
	}
	// Deterministic: Python's uuid5(NAMESPACE_OID, "echo").
	if ids["echo"] != "eff861b9-cefd-5038-aded-592adea792d9" || len(ids) != 6 || ids["work"] == "" || ids["fail"] == "" || ids["queue"] == "" {
		t.Fatalf("function ids %v", ids)
	}
	for name, id := range ids {
		h.send(loadRequest(id, name))
		lr := h.next(t).GetFunctionLoadResponse()
		if lr.GetFunctionId() != id || lr.GetResult().GetStatus() != rpc.StatusResult_Success {
			t.Fatalf("load %s: %v", name, lr)
		}
	}
	// Host-indexed load: the host's own id and a function.json name.
	h.send(loadRequest("host-guid-1", "Echo"))
	if lr := h.next(t).GetFunctionLoadResponse(); lr.GetFunctionId() != "host-guid-1" || lr.GetResult().GetStatus() != rpc.StatusResult_Success {
		t.Fatalf("host-indexed load: %v", lr)
	}
	h.send(loadRequest("x-1", "nosuch"))
	if lr := h.next(t).GetFunctionLoadResponse(); lr.GetResult().GetStatus() != rpc.StatusResult_Failure ||
		!strings.Contains(lr.GetResult().GetException().GetMessage(), `no built-in function named "nosuch"`) {
		t.Fatalf("unknown load: %v", lr)
	}

	// echo, via both ids.
	for i, id := range []string{ids["echo"], "host-guid-1"} {
		inv := fmt.Sprintf("inv-echo-%d", i)
		h.send(httpInvocation(inv, id, []byte("hello")))
		resp := h.response(t)
		hr := resp.GetReturnValue().GetHttp()
		if resp.InvocationId != inv || resp.GetResult().GetStatus() != rpc.StatusResult_Success ||
			hr.GetStatusCode() != "200" || string(httpBody(resp)) != "hello" || hr.Headers["Content-Type"] != "text/plain" {
			t.Fatalf("echo response %v", resp)
		}
	}
	// fail
	h.send(httpInvocation("inv-fail", ids["fail"], nil))
	if resp := h.response(t); resp.InvocationId != "inv-fail" || resp.GetResult().GetStatus() != rpc.StatusResult_Failure ||
		resp.GetResult().GetException().GetType() != "System.InvalidOperationException" || !resp.GetResult().GetException().GetIsUserException() {
		t.Fatalf("fail response %v", resp)
	}
	// queue
	h.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationRequest{InvocationRequest: &rpc.InvocationRequest{
		InvocationId: "inv-q", FunctionId: ids["queue"], TraceContext: &rpc.RpcTraceContext{},
		InputData: []*rpc.ParameterBinding{{Name: "msg", RpcData: &rpc.ParameterBinding_Data{Data: &rpc.TypedData{
			Data: &rpc.TypedData_String_{String_: "queued"}}}}}}}})
	if resp := h.response(t); resp.GetResult().GetStatus() != rpc.StatusResult_Success || resp.GetReturnValue().GetString_() != "queued" {
		t.Fatalf("queue response %v", resp)
	}
	// never-loaded id
	h.send(httpInvocation("inv-unloaded", "no-such-id", nil))
	if resp := h.response(t); resp.InvocationId != "inv-unloaded" || resp.GetResult().GetStatus() != rpc.StatusResult_Failure {
		t.Fatalf("unloaded response %v", resp)
	}
	// status ping
	h.send(&rpc.StreamingMessage{RequestId: "ping-7", Content: &rpc.StreamingMessage_WorkerStatusRequest{WorkerStatusRequest: &rpc.WorkerStatusRequest{}}})
	if m := h.next(t); m.RequestId != "ping-7" || m.GetWorkerStatusResponse() == nil {
		t.Fatalf("status response %v", m)
	}
	h.stop(t, r)
	if s := r.stderr.String(); !strings.Contains(s, "started pid=") || !strings.Contains(s, "exiting code=0") {
		t.Errorf("stderr:\n%s", s)
	}
}

func TestWorkServiceTimeAndCancel(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	r := start(t, h.args("w-work", "--service-time", "20ms"))
	ids := h.handshake(t)

	t0 := time.Now()
	h.send(httpInvocation("inv-w", ids["work"], []byte("x")))
	resp := h.response(t)
	if el := time.Since(t0); el < 20*time.Millisecond || resp.GetResult().GetStatus() != rpc.StatusResult_Success || string(httpBody(resp)) != "x" {
		t.Fatalf("work: %v after %v", resp, el)
	}
	h.stop(t, r)

	// Cancel mid-work: Cancelled plus one empty message.
	h2 := newHost(t)
	r2 := start(t, h2.args("w-cancel", "--service-time", "10s"))
	ids = h2.handshake(t)
	h2.send(httpInvocation("inv-c", ids["work"], nil))
	time.Sleep(30 * time.Millisecond)
	t0 = time.Now()
	h2.send(cancelMsg("inv-c"))
	h2.send(cancelMsg("inv-unknown")) // no-op, still one empty message
	var cancelled bool
	var empties int
	for !cancelled || empties < 2 {
		m := h2.next(t)
		switch {
		case m.GetInvocationResponse() != nil:
			ir := m.GetInvocationResponse()
			if ir.InvocationId != "inv-c" || ir.GetResult().GetStatus() != rpc.StatusResult_Cancelled {
				t.Fatalf("cancel response %v", ir)
			}
			cancelled = true
		case m.Content == nil:
			empties++
		}
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Fatalf("cancel took %v", el)
	}
	h2.stop(t, r2)
}

func TestCPUWork(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	r := start(t, h.args("w-cpu", "--service-time=uniform:20ms-30ms", "--work=cpu", "--response-size=10", "--logs-per-invocation=2"))
	ids := h.handshake(t)
	t0 := time.Now()
	h.send(httpInvocation("inv-cpu", ids["work"], []byte("ab")))
	var logs int
	for {
		m := h.next(t)
		if l := m.GetRpcLog(); l != nil {
			if l.InvocationId != "inv-cpu" || l.LogCategory != rpc.RpcLog_User {
				t.Fatalf("log %v", l)
			}
			logs++
			continue
		}
		if resp := m.GetInvocationResponse(); resp != nil {
			if el := time.Since(t0); el < 20*time.Millisecond || string(httpBody(resp)) != "ab"+string(pattern(10)) {
				t.Fatalf("cpu work: %v after %v", resp, el)
			}
			break
		}
	}
	if logs != 2 {
		t.Fatalf("got %d logs before the response, want 2", logs)
	}
	h.stop(t, r)
}

func TestMaxConcurrency(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	r := start(t, h.args("w-mc", "--service-time", "500ms", "--max-concurrency", "1"))
	ids := h.handshake(t)
	t0 := time.Now()
	h.send(httpInvocation("a", ids["work"], nil))
	h.send(httpInvocation("b", ids["work"], nil))
	h.send(httpInvocation("c", ids["work"], nil))
	h.send(cancelMsg("c")) // waiting for a slot: still cancellable
	got := map[string]time.Duration{}
	for len(got) < 3 {
		resp := h.response(t)
		got[resp.InvocationId] = time.Since(t0)
		if resp.InvocationId == "c" && resp.GetResult().GetStatus() != rpc.StatusResult_Cancelled {
			t.Fatalf("c: %v", resp)
		}
	}
	last := max(got["a"], got["b"])
	if last < time.Second {
		t.Fatalf("two 500ms invocations with max-concurrency=1 done after %v, want >= 1s", last)
	}
	// c waited behind a and b; cancelled while waiting, it is answered before either finishes.
	if got["c"] >= got["a"] || got["c"] >= got["b"] {
		t.Errorf("cancelled waiting invocation answered after %v (a %v, b %v)", got["c"], got["a"], got["b"])
	}
	h.stop(t, r)
}

func TestTerminateWaitsForInFlight(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	r := start(t, h.args("w-term", "--service-time", "100ms"))
	ids := h.handshake(t)
	h.send(httpInvocation("slow", ids["work"], nil))
	time.Sleep(10 * time.Millisecond)
	h.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerTerminate{WorkerTerminate: &rpc.WorkerTerminate{
		GracePeriod: durationpb.New(5 * time.Second)}}})
	if resp := h.response(t); resp.InvocationId != "slow" || resp.GetResult().GetStatus() != rpc.StatusResult_Success {
		t.Fatalf("in-flight response %v", resp)
	}
	if c := r.wait(t); c != 0 {
		t.Fatalf("exit code %d", c)
	}
}

func TestStreamEnd(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	r := start(t, h.args("w-end"))
	h.handshake(t)
	h.endStream()
	if c := r.wait(t); c != 0 || !strings.Contains(r.stderr.String(), "host closed the stream") {
		t.Fatalf("exit code %d, stderr:\n%s", c, r.stderr)
	}

	// Server torn down abruptly → exit 1.
	h2 := newHost(t)
	r2 := start(t, h2.args("w-kill"))
	h2.handshake(t)
	h2.srv.Stop()
	if c := r2.wait(t); c != 1 || !strings.Contains(r2.stderr.String(), "stream error") {
		t.Fatalf("exit code %d, stderr:\n%s", c, r2.stderr)
	}
}

func TestLegacyArgsOnly(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	r := start(t, []string{"--host", "127.0.0.1", "--port", strconv.Itoa(h.port), "--workerId", "legacy", "--requestId", "lr",
		"--grpcMaxMessageLength", "2147483647", "--mimic", "java"})
	ss := h.next(t)
	if ss.GetStartStream().GetWorkerId() != "legacy" || ss.RequestId != "lr" {
		t.Fatalf("StartStream %v", ss)
	}
	h.send(initRequest())
	ir := h.next(t).GetWorkerInitResponse()
	if ir.Capabilities["HandlesWorkerWarmupMessage"] != "HandlesWorkerWarmupMessage" || ir.Capabilities["HandlesInvocationCancelMessage"] != "" {
		t.Fatalf("java capabilities %v", ir.Capabilities)
	}
	h.stop(t, r)
}

func TestArgErrors(t *testing.T) {
	t.Parallel()
	full := (&fakeHost{port: 1}).args("w")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no args", nil, "missing host endpoint"},
		{"no worker id", []string{"--functions-uri", "http://127.0.0.1:1/"}, "missing worker id"},
		{"host without port", []string{"--host", "127.0.0.1", "--workerId", "w"}, "missing host endpoint"},
		{"unknown flag", append([]string{"--bogus=1"}, full...), "unknown flag: --bogus"},
		{"positional", append([]string{"extra"}, full...), `unexpected argument "extra"`},
		{"bad dist", append([]string{"--service-time", "uniform:5ms"}, full...), `invalid distribution "uniform:5ms": want uniform:MIN-MAX`},
		{"negative concurrency", append([]string{"--max-concurrency=-1"}, full...), "--max-concurrency -1"},
		{"negative logs", append([]string{"--logs-per-invocation=-2"}, full...), "--logs-per-invocation -2"},
		{"bad work", append([]string{"--work=spin"}, full...), `invalid --work "spin"`},
		{"bad mimic", append([]string{"--mimic=go"}, full...), `invalid --mimic "go"`},
		{"bad size", append([]string{"--response-size=-5"}, full...), `invalid --response-size`},
		{"bad fault", append([]string{"--fault", "explode"}, full...), `unknown fault "explode"`},
		{"bad fault value", append([]string{"--fault", "crash-after=0"}, full...), `invalid --fault "crash-after=0"`},
		{"bad pause", append([]string{"--fault", "pause=1s"}, full...), `want pause=DURATION@N`},
		{"bad max msg", append(full, "--functions-grpc-max-message-length=0"), "want > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr syncBuffer
			if c := Main(tt.args, os.Stdout, &stderr); c != 1 {
				t.Fatalf("exit code %d, want 1", c)
			}
			s := stderr.String()
			if !strings.Contains(s, tt.want) || strings.Count(s, "\n") != 1 {
				t.Fatalf("stderr %q, want one line containing %q", s, tt.want)
			}
		})
	}
}

func TestHelpAndUsage(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if c := Main([]string{"--help"}, &out, nil); c != 0 {
		t.Fatalf("--help exit %d", c)
	}
	for _, s := range []string{"--service-time", "--max-concurrency", "--mimic", "--fault", "crash-after=N", "--functions-uri", "stop-reading@N"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("usage lacks %q", s)
		}
	}
	if out.String() != FlagUsage() {
		t.Error("--help output differs from FlagUsage()")
	}
}

func TestExitAtStart(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		fault string
		code  int
	}{{"exit-at-start", 3}, {"exit-at-start=7", 7}} {
		var stderr syncBuffer
		if c := Main((&fakeHost{port: 1}).args("w", "--fault", tt.fault), os.Stdout, &stderr); c != tt.code ||
			!strings.Contains(stderr.String(), "fault exit-at-start") {
			t.Errorf("%s: exit %d, stderr %q", tt.fault, c, stderr.String())
		}
	}
}

func TestInitFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra []string
		init  *rpc.StreamingMessage
		want  string
	}{
		{"fail-init", []string{"--fault=fail-init"}, initRequest(), "fail-init"},
		{"empty host version", nil, &rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerInitRequest{
			WorkerInitRequest: &rpc.WorkerInitRequest{}}}, "host_version is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHost(t)
			r := start(t, h.args("w-"+tt.name, tt.extra...))
			h.next(t) // StartStream
			h.send(tt.init)
			res := h.next(t).GetWorkerInitResponse().GetResult()
			if res.GetStatus() != rpc.StatusResult_Failure || !strings.Contains(res.GetException().GetMessage(), tt.want) {
				t.Fatalf("init result %v", res)
			}
			h.stop(t, r)
		})
	}
}

func TestFailLoadAndDefaultIndexing(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	r := start(t, h.args("w-fl", "--fault", "fail-load=work", "--use-default-indexing"))
	h.next(t)
	h.send(initRequest())
	h.next(t)
	h.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionsMetadataRequest{FunctionsMetadataRequest: &rpc.FunctionsMetadataRequest{}}})
	if md := h.next(t).GetFunctionMetadataResponse(); !md.UseDefaultMetadataIndexing || len(md.FunctionMetadataResults) != 0 ||
		md.GetResult().GetStatus() != rpc.StatusResult_Success {
		t.Fatalf("metadata %v", md)
	}
	h.send(loadRequest("g-work", "work"))
	if lr := h.next(t).GetFunctionLoadResponse(); lr.GetFunctionId() != "g-work" || lr.GetResult().GetStatus() != rpc.StatusResult_Failure {
		t.Fatalf("fail-load: %v", lr)
	}
	h.send(loadRequest("g-echo", "echo"))
	if lr := h.next(t).GetFunctionLoadResponse(); lr.GetResult().GetStatus() != rpc.StatusResult_Success {
		t.Fatalf("echo load: %v", lr)
	}
	h.send(httpInvocation("i-w", "g-work", nil))
	if resp := h.response(t); resp.GetResult().GetStatus() != rpc.StatusResult_Failure {
		t.Fatalf("invocation of a failed load: %v", resp)
	}
	h.stop(t, r)
}

func TestResponseFaults(t *testing.T) {
	t.Parallel()
	type got struct {
		responses []*rpc.InvocationResponse
		empties   int
		unknown   int
	}
	tests := []struct {
		fault string
		n     int // messages to collect after one invocation
		check func(t *testing.T, g got)
	}{
		{"unknown-ids", 1, func(t *testing.T, g got) {
			if id := g.responses[0].InvocationId; id == "inv-1" || len(id) != 36 {
				t.Fatalf("id %q", id)
			}
		}},
		{"duplicate-ids", 2, func(t *testing.T, g got) {
			if len(g.responses) != 2 || g.responses[0].InvocationId != "inv-1" || g.responses[1].InvocationId != "inv-1" {
				t.Fatalf("responses %v", g.responses)
			}
		}},
		{"empty-ids", 1, func(t *testing.T, g got) {
			if g.responses[0].InvocationId != "" {
				t.Fatalf("id %q", g.responses[0].InvocationId)
			}
		}},
		{"empty-messages", 2, func(t *testing.T, g got) {
			if g.empties != 1 || len(g.responses) != 1 {
				t.Fatalf("%+v", g)
			}
		}},
		{"unknown-messages", 2, func(t *testing.T, g got) {
			if g.unknown != 1 || len(g.responses) != 1 {
				t.Fatalf("%+v", g)
			}
		}},
		{"big-response=100000", 1, func(t *testing.T, g got) {
			if len(httpBody(g.responses[0])) != 100000 {
				t.Fatalf("body %d bytes", len(httpBody(g.responses[0])))
			}
		}},
		{"leak=1Mi", 1, func(t *testing.T, g got) {
			if g.responses[0].GetResult().GetStatus() != rpc.StatusResult_Success {
				t.Fatalf("%v", g.responses[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			t.Parallel()
			h := newHost(t)
			r := start(t, h.args("w-"+tt.fault, "--fault", tt.fault))
			ids := h.handshake(t)
			h.send(httpInvocation("inv-1", ids["echo"], []byte("b")))
			var g got
			for range tt.n {
				m := h.next(t)
				switch {
				case m.GetInvocationResponse() != nil:
					g.responses = append(g.responses, m.GetInvocationResponse())
				case m.Content == nil:
					g.empties++
				case m.GetWorkerInitRequest() != nil:
					g.unknown++
				}
			}
			tt.check(t, g)
			h.stop(t, r)
		})
	}
}

func TestTimingFaults(t *testing.T) {
	t.Parallel()
	t.Run("late", func(t *testing.T) {
		t.Parallel()
		h := newHost(t)
		r := start(t, h.args("w-late", "--fault=late=80ms"))
		ids := h.handshake(t)
		t0 := time.Now()
		h.send(httpInvocation("i", ids["echo"], nil))
		h.response(t)
		if el := time.Since(t0); el < 80*time.Millisecond {
			t.Fatalf("answered after %v", el)
		}
		h.stop(t, r)
	})
	t.Run("pause", func(t *testing.T) {
		t.Parallel()
		h := newHost(t)
		r := start(t, h.args("w-pause", "--fault=pause=150ms@2"))
		ids := h.handshake(t)
		h.send(httpInvocation("i1", ids["echo"], nil))
		h.response(t)
		t0 := time.Now()
		h.send(httpInvocation("i2", ids["echo"], nil))
		h.send(&rpc.StreamingMessage{RequestId: "p", Content: &rpc.StreamingMessage_WorkerStatusRequest{WorkerStatusRequest: &rpc.WorkerStatusRequest{}}})
		h.waitFor(t, "status", func(m *rpc.StreamingMessage) bool { return m.GetWorkerStatusResponse() != nil })
		if el := time.Since(t0); el < 150*time.Millisecond {
			t.Fatalf("status answered after %v during pause", el)
		}
		h.stop(t, r)
	})
	t.Run("drop-every", func(t *testing.T) {
		t.Parallel()
		h := newHost(t)
		r := start(t, h.args("w-drop", "--fault=drop-every=2"))
		ids := h.handshake(t)
		for i := 1; i <= 4; i++ {
			h.send(httpInvocation("i"+strconv.Itoa(i), ids["echo"], nil))
		}
		seen := map[string]bool{}
		seen[h.response(t).InvocationId] = true
		seen[h.response(t).InvocationId] = true
		if !seen["i1"] || !seen["i3"] {
			t.Fatalf("answered %v", seen)
		}
		h.noMessage(t, 50*time.Millisecond, func(m *rpc.StreamingMessage) bool { return m.GetInvocationResponse() != nil })
		h.stop(t, r)
	})
	t.Run("log-flood", func(t *testing.T) {
		t.Parallel()
		h := newHost(t)
		r := start(t, h.args("w-flood", "--fault=log-flood=1000"))
		h.next(t)
		h.waitFor(t, "flood log", func(m *rpc.StreamingMessage) bool {
			return m.GetRpcLog().GetLogCategory() == rpc.RpcLog_System
		})
		h.stop(t, r)
	})
}

func TestCloseStream(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	r := start(t, h.args("w-close", "--fault=close-stream@2", "--service-time=1s"))
	ids := h.handshake(t)
	h.send(httpInvocation("i1", ids["work"], nil))
	h.send(httpInvocation("i2", ids["work"], nil))
	if c := r.wait(t); c != 0 || !strings.Contains(r.stderr.String(), "fault close-stream@2") {
		t.Fatalf("exit %d, stderr:\n%s", c, r.stderr)
	}
	select {
	case <-h.streamDone:
	case <-time.After(waitTimeout):
		t.Fatal("host stream did not end")
	}
	h.noMessage(t, 10*time.Millisecond, func(m *rpc.StreamingMessage) bool { return m.GetInvocationResponse() != nil })
}

// Faults that exit the process or never return run in a re-executed test binary.
func TestProcessFaults(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, args []string) (*exec.Cmd, *syncBuffer) {
		cmd := workertest.Command(args...)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, stderr
	}
	t.Run("crash-after", func(t *testing.T) {
		t.Parallel()
		h := newHost(t)
		cmd, stderr := run(t, h.args("w-crash", "--fault=crash-after=2"))
		ids := h.handshake(t)
		h.send(httpInvocation("i1", ids["echo"], nil))
		if id := h.response(t).InvocationId; id != "i1" {
			t.Fatalf("response %s", id)
		}
		h.send(httpInvocation("i2", ids["echo"], nil))
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(stderr.String(), "fault crash-after=2") {
			t.Fatalf("exit %v, stderr:\n%s", err, stderr)
		}
		h.noMessage(t, 20*time.Millisecond, func(m *rpc.StreamingMessage) bool { return m.GetInvocationResponse() != nil })
	})
	t.Run("no-start-stream", func(t *testing.T) {
		t.Parallel()
		h := newHost(t)
		cmd, _ := run(t, h.args("w-nss", "--fault=no-start-stream"))
		h.noMessage(t, 300*time.Millisecond, func(*rpc.StreamingMessage) bool { return true })
		if !processRunning(cmd.Process.Pid) {
			t.Fatal("worker exited")
		}
	})
	t.Run("stop-reading", func(t *testing.T) {
		t.Parallel()
		h := newHost(t)
		cmd, stderr := run(t, h.args("w-sr", "--fault=stop-reading@1"))
		ids := h.handshake(t)
		h.send(httpInvocation("i1", ids["echo"], nil))
		h.response(t)
		h.send(&rpc.StreamingMessage{RequestId: "p", Content: &rpc.StreamingMessage_WorkerStatusRequest{WorkerStatusRequest: &rpc.WorkerStatusRequest{}}})
		h.noMessage(t, 200*time.Millisecond, func(*rpc.StreamingMessage) bool { return true })
		if !processRunning(cmd.Process.Pid) || !strings.Contains(stderr.String(), "fault stop-reading@1") {
			t.Fatalf("stderr:\n%s", stderr)
		}
	})
}

// processRunning reports whether process pid (a child not yet waited for) has not exited: it exists and
// is not a zombie.
func processRunning(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

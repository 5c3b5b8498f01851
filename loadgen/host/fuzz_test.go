package host

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/protos/rpc"
)

// Seed corpora live in testdata/fuzz/<Target>/; the f.Add seeds below are the minimum that keeps a
// plain 'go test' meaningful without them.

// oneLine fails t when an error message spans more than one line.
func oneLineErr(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error is not one line: %q", msg)
	}
}

// FuzzParseWorkerConfig: worker.config.json never panics the parser, an error is one line naming
// the file, and a config that parses has what a launch needs.
func FuzzParseWorkerConfig(f *testing.F) {
	f.Add([]byte(`{"description":{"language":"node","defaultExecutablePath":"node","defaultWorkerPath":"%FUNCTIONS_WORKER_RUNTIME_VERSION%/dist/src/nodejsWorker.js","arguments":["--max-old-space-size=2048"],"workerIndexing":"true"},"processOptions":{"initializationTimeout":"00:02:00"}}`))
	f.Add([]byte(`{"description":{"defaultExecutablePath":"x","workerIndexing":{
"a":1}}}`))
	f.Add([]byte("{\n\"description\": {\n\"arguments\": [1]\n}\n}"))
	f.Add([]byte(`{"description":{"defaultExecutablePath":"x"},"processOptions":{"processStartupTimeout":"1.00:00:00"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "w/worker.config.json"
		cfg, err := ParseWorkerConfig(path, data)
		if err != nil {
			oneLineErr(t, err)
			if !strings.HasPrefix(err.Error(), path) {
				t.Fatalf("error does not name the file: %q", err)
			}
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		if cfg.Description.DefaultExecutablePath == "" {
			t.Fatal("parsed a config without defaultExecutablePath")
		}
		for _, s := range []string{cfg.ProcessOptions.InitializationTimeout, cfg.ProcessOptions.ProcessStartupTimeout} {
			if s == "" {
				continue
			}
			if _, err := ParseTimeSpan(s); err != nil {
				t.Fatalf("accepted time span %q that ParseTimeSpan rejects: %v", s, err)
			}
		}
	})
}

// FuzzFunctionMetadata: a function.json (host indexing) and a worker's raw_bindings (worker
// indexing) never panic the parsers; errors are one line; what parses builds a load request.
func FuzzFunctionMetadata(f *testing.F) {
	f.Add("echo", "id-1", []byte(`{"name":"req","type":"httpTrigger","direction":"in","authLevel":"anonymous","methods":["get","post"]}`),
		[]byte(`{"bindings":[{"name":"req","type":"httpTrigger","direction":"in"},{"name":"$return","type":"http","direction":"out"}],"scriptFile":"../dist/index.js","disabled":"false"}`))
	f.Add("q", "id-2", []byte(`{"name":"msg","type":"queueTrigger","direction":"sideways","dataType":"Binary"}`),
		[]byte(`{"bindings":[{"type":"queueTrigger"}],"disabled":true}`))
	f.Add("", "", []byte(`[]`), []byte(`{"bindings":[{"name":1}]}`))
	f.Add("x", "y", []byte(`{"name":"o","type":"blob","direction":"out","dataType":"stream"}`), []byte(`{"bindings":{}}`))
	app := f.TempDir()
	fnDir := filepath.Join(app, "fn")
	if err := os.Mkdir(fnDir, 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, id string, rawBinding, functionJSON []byte) {
		// Worker indexing: the raw binding as given, and the whole function.json's bindings.
		md := &rpc.RpcFunctionMetadata{Name: name, FunctionId: id, RawBindings: []string{string(rawBinding)}}
		var fj struct {
			Bindings []json.RawMessage `json:"bindings"`
		}
		if json.Unmarshal(functionJSON, &fj) == nil {
			for _, b := range fj.Bindings {
				md.RawBindings = append(md.RawBindings, string(b))
			}
		}
		if fn, err := fromWorkerMetadata(md); err != nil {
			oneLineErr(t, err)
		} else {
			checkFunction(t, fn)
		}
		// Host indexing: APP/fn/function.json.
		if err := os.WriteFile(filepath.Join(fnDir, "function.json"), functionJSON, 0o644); err != nil {
			t.Fatal(err)
		}
		n := 0
		fns, err := ScanFunctionJSON(app, func() string { n++; return "id-" + string(rune('a'+n)) })
		if err != nil {
			oneLineErr(t, err)
			return
		}
		if len(fns) != 1 || fns[0].Name != "fn" {
			t.Fatalf("scanned %d functions, want fn", len(fns))
		}
		checkFunction(t, fns[0])
	})
}

// checkFunction exercises what the handshake and the engine do with a parsed function.
func checkFunction(t *testing.T, fn *Function) {
	t.Helper()
	if fn.Name == "" || fn.ID == "" {
		t.Fatalf("function without a name or id: %+v", fn)
	}
	for _, b := range fn.Bindings {
		if b.Name == "" || b.Type == "" {
			t.Fatalf("binding without a name or type: %+v", b)
		}
	}
	lr := fn.loadRequest()
	if lr.GetFunctionId() != fn.ID || lr.GetMetadata().GetProperties()["FunctionId"] != fn.ID {
		t.Fatalf("load request does not carry the function id: %v", lr)
	}
	if _, err := proto.Marshal(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionLoadRequest{FunctionLoadRequest: lr}}); err != nil {
		// Invalid UTF-8 in a name cannot be marshalled: the send would fail with an error, not a panic.
		if !strings.Contains(err.Error(), "UTF-8") {
			t.Fatalf("marshalling the load request: %v", err)
		}
	}
	_ = fn.TriggerType()
	_ = fn.BindingNames()
}

// FuzzTolerate: any message a worker sends during the handshake (arbitrary bytes unmarshalled as a
// StreamingMessage) is counted exactly once, logged if it is an RpcLog, and never panics.
func FuzzTolerate(f *testing.F) {
	for _, m := range tolerateSeeds() {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	w := &Worker{Log: NewWorkerLog(nil)}
	f.Cleanup(w.Log.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m rpc.StreamingMessage
		if err := proto.Unmarshal(data, &m); err != nil {
			return
		}
		before := w.EmptyMessages + w.UnknownMessages + w.Logs
		w.tolerate(&m)
		if after := w.EmptyMessages + w.UnknownMessages + w.Logs; after != before+1 {
			t.Fatalf("message counted %d times: %v", after-before, &m)
		}
		// What the handshake waits for must never panic on such a message either.
		_ = m.GetWorkerInitResponse().GetResult().GetStatus()
		_ = resultText(m.GetWorkerInitResponse().GetResult())
		for _, md := range m.GetFunctionMetadataResponse().GetFunctionMetadataResults() {
			if fn, err := fromWorkerMetadata(md); err != nil {
				oneLineErr(t, err)
			} else {
				checkFunction(t, fn)
			}
		}
		_ = resultText(m.GetFunctionLoadResponse().GetResult())
	})
}

// tolerateSeeds are messages a worker may send during the handshake, good and bad.
func tolerateSeeds() []*rpc.StreamingMessage {
	return []*rpc.StreamingMessage{
		{},
		{RequestId: "r", Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{Message: "line1\nline2", Level: rpc.RpcLog_Error,
			Category: "Host.Function", InvocationId: "i", Exception: &rpc.RpcException{Message: "boom\n at x"}}}},
		{Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{}}},
		{Content: &rpc.StreamingMessage_WorkerInitResponse{WorkerInitResponse: &rpc.WorkerInitResponse{
			Capabilities: map[string]string{"HttpUri": "http://127.0.0.1:1/", "WorkerStatus": "true"},
			Result:       &rpc.StatusResult{Status: rpc.StatusResult_Failure, Result: "r", Exception: &rpc.RpcException{Message: "m"}}}}},
		{Content: &rpc.StreamingMessage_FunctionMetadataResponse{FunctionMetadataResponse: &rpc.FunctionMetadataResponse{
			FunctionMetadataResults: []*rpc.RpcFunctionMetadata{{Name: "echo", FunctionId: "1",
				RawBindings: []string{`{"name":"req","type":"httpTrigger","direction":"in"}`, `{"name":"$return","type":"http","direction":"out"}`}},
				{Name: "bad", FunctionId: "2", RawBindings: []string{`{`}}}}}},
		{Content: &rpc.StreamingMessage_FunctionLoadResponse{FunctionLoadResponse: &rpc.FunctionLoadResponse{FunctionId: "1"}}},
		{Content: &rpc.StreamingMessage_InvocationResponse{InvocationResponse: &rpc.InvocationResponse{InvocationId: "x"}}},
		{Content: &rpc.StreamingMessage_WorkerInitRequest{WorkerInitRequest: &rpc.WorkerInitRequest{}}},
	}
}

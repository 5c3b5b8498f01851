package refworker

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/fbench/fbench/protos/rpc"
)

// builtin is one built-in function.
type builtin struct {
	name     string
	id       string // deterministic, derived from the name
	entry    string
	bindings []string // function.json-style JSON, one per binding
	// run executes one invocation; c is nil when the invocation is not
	// cancellable (see worker.invoke).
	run func(w *worker, c *call, reqID string, req *rpc.InvocationRequest) *response
	// serve answers the forwarded HTTP request of an invocation in HTTP proxying mode (nil for
	// non-HTTP functions); false when the invocation fails.
	serve func(w *worker, c *call, rw http.ResponseWriter, r *http.Request, req *rpc.InvocationRequest) bool
}

const (
	httpTriggerBinding = `{"name":"req","type":"httpTrigger","direction":"in","methods":["get","post"],"authLevel":"anonymous"}`
	httpReturnBinding  = `{"name":"$return","type":"http","direction":"out"}`
)

// builtins maps a lower-cased function name to its implementation.
var builtins = func() map[string]*builtin {
	fns := []*builtin{
		{name: "echo", run: runEcho, serve: serveEcho},
		{name: "work", run: runWork, serve: serveWork},
		{name: "fail", run: runFail, serve: serveFail},
		{name: "status", run: runStatus, serve: serveStatus},
		{name: "item", run: runItem, serve: serveItem, bindings: []string{
			`{"name":"req","type":"httpTrigger","direction":"in","methods":["get","post"],"authLevel":"anonymous","route":"items/{id}"}`,
			httpReturnBinding,
		}},
		{name: "queue", run: runQueue, bindings: []string{
			`{"name":"msg","type":"queueTrigger","direction":"in","dataType":"string","queueName":"fbench-in","connection":"AzureWebJobsStorage"}`,
			`{"name":"$return","type":"queue","direction":"out","queueName":"fbench-out","connection":"AzureWebJobsStorage"}`,
		}},
	}
	m := make(map[string]*builtin, len(fns))
	for _, f := range fns {
		f.id = functionID(f.name)
		f.entry = "Fbench.Reference." + strings.ToUpper(f.name[:1]) + f.name[1:]
		if f.bindings == nil {
			f.bindings = []string{httpTriggerBinding, httpReturnBinding}
		}
		m[f.name] = f
	}
	return m
}()

// functionID is uuid5(NAMESPACE_OID, name), the scheme the Python worker uses:
// stable across processes, so extra worker processes (which get load
// requests without a metadata request) agree on the ids.
func functionID(name string) string {
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x12, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// metadataResults lists the built-ins in name order for FunctionMetadataResponse.
func metadataResults(appDir string) []*rpc.RpcFunctionMetadata {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*rpc.RpcFunctionMetadata, 0, len(names))
	for _, n := range names {
		f := builtins[n]
		out = append(out, &rpc.RpcFunctionMetadata{
			Name:        f.name,
			FunctionId:  f.id,
			Directory:   appDir,
			ScriptFile:  "fbench",
			EntryPoint:  f.entry,
			Language:    RuntimeName,
			RawBindings: append([]string(nil), f.bindings...),
			Status:      &rpc.StatusResult{Status: rpc.StatusResult_Success},
		})
	}
	return out
}

// capabilitySets are the WorkerInitResponse capabilities per --mimic
// (protocol.md §2.5 "Full default sets").
var capabilitySets = map[string]map[string]string{
	"dotnet": setOf("True",
		"HandlesWorkerTerminateMessage", "HandlesInvocationCancelMessage", "IncludeEmptyEntriesInMessagePayload",
		"EnableUserCodeException", "RpcHttpBodyOnly", "RawHttpBodyBytes", "RpcHttpTriggerMetadataRemoved",
		"UseNullableValueDictionaryForHttp", "TypedDataCollection", "WorkerStatus"),
	"node": setOf("true",
		"RawHttpBodyBytes", "RpcHttpTriggerMetadataRemoved", "RpcHttpBodyOnly", "IgnoreEmptyValuedRpcHttpHeaders",
		"UseNullableValueDictionaryForHttp", "WorkerStatus", "TypedDataCollection", "HandlesWorkerTerminateMessage"),
	"python": setOf("true",
		"RawHttpBodyBytes", "TypedDataCollection", "RpcHttpBodyOnly", "WorkerStatus", "RpcHttpTriggerMetadataRemoved",
		"SharedMemoryDataTransfer"),
	"java": setOf("", // value = key name
		"TypedDataCollection", "WorkerStatus", "RpcHttpBodyOnly", "RpcHttpTriggerMetadataRemoved",
		"HandlesWorkerTerminateMessage", "HandlesWorkerWarmupMessage"),
	"powershell": setOf("true", "RpcHttpBodyOnly", "WorkerStatus"),
}

func init() {
	// HTTP streaming workers advertise their usual set plus HttpUri (filled in at init); Python's
	// also RequiresRouteParameters (protocol.md §8.2).
	capabilitySets["node-stream"] = maps.Clone(capabilitySets["node"])
	capabilitySets["python-stream"] = maps.Clone(capabilitySets["python"])
	capabilitySets["python-stream"]["RequiresRouteParameters"] = "true"
}

func setOf(value string, keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		v := value
		if v == "" {
			v = k
		}
		m[k] = v
	}
	return m
}

func workerMetadata(mimic string) *rpc.WorkerMetadata {
	bitness := map[string]string{"amd64": "X64", "386": "X86", "arm64": "Arm64", "arm": "Arm"}[runtime.GOARCH]
	if bitness == "" {
		bitness = runtime.GOARCH
	}
	return &rpc.WorkerMetadata{
		RuntimeName:      RuntimeName,
		RuntimeVersion:   runtime.Version(),
		WorkerVersion:    WorkerVersion,
		WorkerBitness:    bitness,
		CustomProperties: map[string]string{"mimic": mimic},
	}
}

// Shared, never-mutated result values (marshalling only reads them).
var (
	resultSuccess = &rpc.StatusResult{Status: rpc.StatusResult_Success}
	resultFail    = &rpc.StatusResult{Status: rpc.StatusResult_Failure, Exception: &rpc.RpcException{
		Message:         "fbench reference worker: function 'fail' always fails",
		Type:            "System.InvalidOperationException",
		Source:          RuntimeName,
		StackTrace:      "   at Fbench.Reference.Fail()",
		IsUserException: true,
	}}
	resultCancelled = &rpc.StatusResult{Status: rpc.StatusResult_Cancelled, Exception: &rpc.RpcException{
		Message:         "A task was canceled.",
		Type:            "System.Threading.Tasks.TaskCanceledException",
		Source:          RuntimeName,
		IsUserException: true,
	}}
	defaultHeaders = map[string]string{"Content-Type": "application/octet-stream"}
)

func failure(msg string) *rpc.StatusResult {
	return &rpc.StatusResult{Status: rpc.StatusResult_Failure, Result: msg,
		Exception: &rpc.RpcException{Message: msg, Source: RuntimeName}}
}

// response holds an InvocationResponse and every message it points to in one
// allocation. It is never copied; the sender only reads it.
type response struct {
	sm        rpc.StreamingMessage
	wrap      rpc.StreamingMessage_InvocationResponse
	ir        rpc.InvocationResponse
	rv        rpc.TypedData
	rvHTTP    rpc.TypedData_Http
	rvString  rpc.TypedData_String_
	http      rpc.RpcHttp
	body      rpc.TypedData
	bodyBytes rpc.TypedData_Bytes
}

func newResponse(reqID, invocationID string, result *rpc.StatusResult) *response {
	r := new(response)
	r.sm.RequestId = reqID
	r.sm.Content = &r.wrap
	r.wrap.InvocationResponse = &r.ir
	r.ir.InvocationId = invocationID
	r.ir.Result = result
	return r
}

// setHTTP makes the $return value an HTTP response with a bytes body.
func (r *response) setHTTP(status string, headers map[string]string, body []byte) {
	r.bodyBytes.Bytes = body
	r.body.Data = &r.bodyBytes
	r.http.StatusCode = status
	r.http.Headers = headers
	r.http.Body = &r.body
	r.rvHTTP.Http = &r.http
	r.rv.Data = &r.rvHTTP
	r.ir.ReturnValue = &r.rv
}

// setString makes the $return value a string.
func (r *response) setString(s string) {
	r.rvString.String_ = s
	r.rv.Data = &r.rvString
	r.ir.ReturnValue = &r.rv
}

// httpInput returns the first HTTP input binding, or nil.
func httpInput(req *rpc.InvocationRequest) *rpc.RpcHttp {
	for _, p := range req.InputData {
		if h := p.GetData().GetHttp(); h != nil {
			return h
		}
	}
	return nil
}

// bodyOf returns the request body as bytes (bytes, string, json or stream).
func bodyOf(h *rpc.RpcHttp) []byte {
	switch d := h.GetBody().GetData().(type) {
	case *rpc.TypedData_Bytes:
		return d.Bytes
	case *rpc.TypedData_String_:
		return []byte(d.String_)
	case *rpc.TypedData_Json:
		return []byte(d.Json)
	case *rpc.TypedData_Stream:
		return d.Stream
	}
	return nil
}

// contentTypeOf reads the request content type from the nullable or plain headers.
func contentTypeOf(h *rpc.RpcHttp) string {
	if h == nil {
		return ""
	}
	if v := h.NullableHeaders["content-type"].GetValue(); v != "" {
		return v
	}
	if v := h.Headers["content-type"]; v != "" {
		return v
	}
	return h.Headers["Content-Type"]
}

// httpResponse answers 200 with the echoed body (plus padding) and the
// request's content type.
func (w *worker) httpResponse(reqID string, req *rpc.InvocationRequest) *response {
	h := httpInput(req)
	r := newResponse(reqID, req.InvocationId, resultSuccess)
	r.setHTTP("200", w.headersFor(contentTypeOf(h)), w.responseBody(bodyOf(h)))
	return r
}

// echo: HTTP trigger; returns the request body.
func runEcho(w *worker, _ *call, reqID string, req *rpc.InvocationRequest) *response {
	return w.httpResponse(reqID, req)
}

// work: HTTP trigger; spends --service-time (sleep or cpu), then echoes.
// Cancelled mid-work → status Cancelled.
func runWork(w *worker, c *call, reqID string, req *rpc.InvocationRequest) *response {
	if d := w.sampleServiceTime(); d > 0 && !w.spend(d, c) {
		return newResponse(reqID, req.InvocationId, resultCancelled)
	}
	return w.httpResponse(reqID, req)
}

// fail: HTTP trigger; always fails with a user exception (--fail-mode varied: one of three, see
// variedFailure, with an Error log before the response).
func runFail(w *worker, _ *call, reqID string, req *rpc.InvocationRequest) *response {
	if !w.cfg.failVaried {
		return newResponse(reqID, req.InvocationId, resultFail)
	}
	res := variedFailure(req.InvocationId)
	w.q.push(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{
		InvocationId: req.InvocationId, Category: "Function.fail.User", Level: rpc.RpcLog_Error,
		LogCategory: rpc.RpcLog_User, Message: "Executed 'Functions.fail' (Failed): " + res.Exception.Message,
		Exception: res.Exception}}})
	return newResponse(reqID, req.InvocationId, res)
}

// variedFailure is one of three exceptions, chosen by the invocation id, whose messages carry
// numbers and ids as real ones do (the failures table masks them to group).
func variedFailure(id string) *rpc.StatusResult {
	var h uint32
	for i := 0; i < len(id); i++ {
		h = h*31 + uint32(id[i])
	}
	ex := &rpc.RpcException{Source: RuntimeName, IsUserException: true}
	switch h % 3 {
	case 0:
		ex.Type, ex.Message = "System.InvalidOperationException", fmt.Sprintf("order %d not found for customer %s", h%100000, id)
		ex.StackTrace = "   at Shop.Orders.Find(Int32 id)\n   at Shop.Functions.Fail(HttpRequestData req)\n   at Worker.Invoke()\n   at Worker.Run()"
	case 1:
		ex.Type, ex.Message = "System.TimeoutException", fmt.Sprintf("the database did not answer within %d ms", 100+h%900)
		ex.StackTrace = "   at Db.Query()\n   at Shop.Functions.Fail(HttpRequestData req)"
	default:
		ex.Type, ex.Message = "System.NullReferenceException", "Object reference not set to an instance of an object."
		ex.StackTrace = "   at Shop.Functions.Fail(HttpRequestData req)"
	}
	return &rpc.StatusResult{Status: rpc.StatusResult_Failure, Exception: ex}
}

// queue: queue trigger; returns the message text as the $return string.
func runQueue(_ *worker, _ *call, reqID string, req *rpc.InvocationRequest) *response {
	var msg string
	if len(req.InputData) > 0 {
		switch d := req.InputData[0].GetData().GetData().(type) {
		case *rpc.TypedData_String_:
			msg = d.String_
		case *rpc.TypedData_Json:
			msg = d.Json
		case *rpc.TypedData_Bytes:
			msg = string(d.Bytes)
		}
	}
	r := newResponse(reqID, req.InvocationId, resultSuccess)
	r.setString(msg)
	return r
}

// spend spends d per --work; false if c was cancelled first.
func (w *worker) spend(d time.Duration, c *call) bool {
	if w.cfg.cpuWork {
		return burn(d, c)
	}
	if c == nil {
		time.Sleep(d)
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}

var burnSink uint64

// burn keeps one core busy for d, checking c now and then.
func burn(d time.Duration, c *call) bool {
	deadline := time.Now().Add(d)
	x := uint64(d)
	for i := 0; ; i++ {
		for range 2000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		if !time.Now().Before(deadline) {
			break
		}
		if c != nil && i%4 == 0 {
			select {
			case <-c.done:
				return false
			default:
			}
		}
	}
	if x == 42 {
		burnSink = x
	}
	return true
}

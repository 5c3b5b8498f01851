package refworker

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/protos/rpc"
)

// proxyHandshake is handshake, returning the capabilities too.
func (h *fakeHost) proxyHandshake(t *testing.T) (map[string]string, map[string]string) {
	t.Helper()
	if h.next(t).GetStartStream() == nil {
		t.Fatal("first message is not StartStream")
	}
	h.send(initRequest())
	caps := h.next(t).GetWorkerInitResponse().GetCapabilities()
	h.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionsMetadataRequest{
		FunctionsMetadataRequest: &rpc.FunctionsMetadataRequest{FunctionAppDirectory: "/app"}}})
	ids := map[string]string{}
	for _, f := range h.next(t).GetFunctionMetadataResponse().GetFunctionMetadataResults() {
		ids[f.Name] = f.FunctionId
		h.send(loadRequest(f.FunctionId, f.Name))
	}
	for range ids {
		h.next(t)
	}
	return caps, ids
}

// forwarded sends the request the host forwards for invocation id (no id: no header).
func forwarded(t *testing.T, uri, path, id string, forwardedHeaders bool, timeout time.Duration) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest("POST", strings.TrimSuffix(uri, "/")+path, strings.NewReader("body"))
	if id != "" {
		req.Header.Set("x-ms-invocation-id", id)
	}
	if forwardedHeaders {
		req.Header.Set("X-Forwarded-Host", "localhost:7071")
		req.Header.Set("X-Forwarded-Proto", "http")
	}
	c := &http.Client{Timeout: timeout}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func invocation(id, fn string) *rpc.StreamingMessage {
	return &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationRequest{InvocationRequest: &rpc.InvocationRequest{
		InvocationId: id, FunctionId: fn,
		InputData: []*rpc.ParameterBinding{{Name: "req", RpcData: &rpc.ParameterBinding_Data{Data: &rpc.TypedData{
			Data: &rpc.TypedData_Http{Http: &rpc.RpcHttp{}}}}}}}}}
}

func TestProxyModeCapabilities(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		prefix string
		params bool
	}{
		{[]string{"--http=proxy"}, "http://localhost:", false},
		{[]string{"--mimic=node-stream"}, "http://localhost:", false},
		{[]string{"--mimic=python-stream"}, "http://127.0.0.1:", true},
	} {
		h := newHost(t)
		r := start(t, h.args("w-caps", tc.args...))
		caps, _ := h.proxyHandshake(t)
		uri := caps["HttpUri"]
		if !strings.HasPrefix(uri, tc.prefix) || (caps["RequiresRouteParameters"] != "") != tc.params {
			t.Errorf("%v: HttpUri %q, RequiresRouteParameters %q", tc.args, uri, caps["RequiresRouteParameters"])
		}
		if strings.HasPrefix(tc.prefix, "http://127") == strings.HasSuffix(uri, "/") {
			t.Errorf("%v: HttpUri %q: Python advertises no trailing slash, .NET and Node one", tc.args, uri)
		}
		h.stop(t, r)
	}
}

func TestProxyModePairing(t *testing.T) {
	h := newHost(t)
	r := start(t, h.args("w-pair", "--http=proxy", "--http-pair-timeout=150ms"))
	caps, ids := h.proxyHandshake(t)
	uri := caps["HttpUri"]

	// Invocation first, then the HTTP request; and the other way round.
	h.send(invocation("inv-1", ids["echo"]))
	code, body, err := forwarded(t, uri, "/api/echo", "inv-1", false, 5*time.Second)
	if err != nil || code != 200 || body != "body" {
		t.Fatalf("forwarded request: %d %q %v", code, body, err)
	}
	if resp := h.response(t); resp.InvocationId != "inv-1" || resp.GetResult().GetStatus() != rpc.StatusResult_Success || resp.ReturnValue != nil {
		t.Fatalf("invocation response %v: want Success without an HTTP output", resp)
	}
	done := make(chan int, 1)
	go func() { c, _, _ := forwarded(t, uri, "/api/status?code=418", "inv-2", false, 5*time.Second); done <- c }()
	time.Sleep(20 * time.Millisecond)
	h.send(invocation("inv-2", ids["status"]))
	if c := <-done; c != 418 {
		t.Errorf("status function answered %d, want 418", c)
	}
	h.response(t)

	// The HTTP request never comes: the invocation fails after the pairing timeout.
	h.send(invocation("inv-3", ids["echo"]))
	resp := h.response(t)
	if resp.GetResult().GetStatus() != rpc.StatusResult_Failure || !strings.Contains(resp.GetResult().GetResult(), "Timed out waiting for the HTTP context") {
		t.Errorf("without its HTTP request: %v", resp.GetResult())
	}
	// The invocation never comes: the HTTP request gets 500.
	if code, _, err := forwarded(t, uri, "/api/echo", "inv-4", false, 5*time.Second); err != nil || code != 500 {
		t.Errorf("without its invocation: %d %v, want 500", code, err)
	}
	// No x-ms-invocation-id: .NET answers 500.
	if code, _, err := forwarded(t, uri, "/api/echo", "", false, 5*time.Second); err != nil || code != 500 {
		t.Errorf("without x-ms-invocation-id: %d %v, want 500", code, err)
	}
	h.stop(t, r)
}

func TestNodeStreamProxyQuirks(t *testing.T) {
	h := newHost(t)
	r := start(t, h.args("w-node", "--mimic=node-stream", "--http-pair-timeout=150ms"))
	caps, ids := h.proxyHandshake(t)
	uri := caps["HttpUri"]
	// Without x-forwarded-host/-proto Node throws.
	h.send(invocation("inv-n1", ids["echo"]))
	if code, _, err := forwarded(t, uri, "/api/echo", "inv-n1", false, 5*time.Second); err != nil || code != 500 {
		t.Errorf("without X-Forwarded-*: %d %v, want 500", code, err)
	}
	h.response(t)
	// Without x-ms-invocation-id Node never answers.
	if _, _, err := forwarded(t, uri, "/api/echo", "", true, 300*time.Millisecond); err == nil {
		t.Error("a request without x-ms-invocation-id was answered")
	}
	h.stop(t, r)
}

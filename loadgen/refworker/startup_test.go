package refworker

import (
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen/refworker/workertest"
	"github.com/fbench/fbench/protos/rpc"
)

// Each mimic answers FunctionEnvironmentReloadRequest as its real worker does (protocol.md §8.5),
// and the worker still serves invocations afterwards. The worker runs as its own process: Node and
// Python clear and replace the process environment and change directory.
func TestReloadAnswersPerMimic(t *testing.T) {
	for _, tc := range []struct {
		mimic     string
		strategy  rpc.FunctionEnvironmentReloadResponse_CapabilitiesUpdateStrategy
		caps      int
		requestID string // "" = echoed
		log       bool
	}{
		{"node", rpc.FunctionEnvironmentReloadResponse_replace, len(capabilitySets["node"]), "", true},
		{"python", rpc.FunctionEnvironmentReloadResponse_merge, 0, "req-w-python", false},
		{"dotnet", rpc.FunctionEnvironmentReloadResponse_merge, len(capabilitySets["dotnet"]), "", false},
	} {
		t.Run(tc.mimic, func(t *testing.T) {
			h := newHost(t)
			cmd := workertest.Command(h.args("w-"+tc.mimic, "--mimic="+tc.mimic, "--reload-delay=20ms")...)
			stderr := &syncBuffer{}
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			ids := h.handshake(t)
			app := t.TempDir()
			sent := time.Now()
			h.send(&rpc.StreamingMessage{RequestId: "reload-1", Content: &rpc.StreamingMessage_FunctionEnvironmentReloadRequest{
				FunctionEnvironmentReloadRequest: &rpc.FunctionEnvironmentReloadRequest{
					EnvironmentVariables: map[string]string{"APP_SETTING": "1", "WEBSITE_PLACEHOLDER_MODE": "0"}, FunctionAppDirectory: app}}})
			sawLog := false
			m := h.waitFor(t, "FunctionEnvironmentReloadResponse", func(m *rpc.StreamingMessage) bool {
				if l := m.GetRpcLog(); l != nil && strings.HasPrefix(l.GetMessage(), "Reloading environment variables. Found 2 variables") {
					sawLog = true
				}
				return m.GetFunctionEnvironmentReloadResponse() != nil
			})
			if took := time.Since(sent); took < 20*time.Millisecond {
				t.Errorf("answered in %s despite --reload-delay=20ms", took)
			}
			r := m.GetFunctionEnvironmentReloadResponse()
			want := tc.requestID
			if want == "" {
				want = "reload-1"
			}
			if r.GetResult().GetStatus() != rpc.StatusResult_Success || r.GetCapabilitiesUpdateStrategy() != tc.strategy ||
				len(r.GetCapabilities()) != tc.caps || m.GetRequestId() != want || sawLog != tc.log || r.GetWorkerMetadata() == nil {
				t.Errorf("answer %v, request_id %q (want %q), log %v", r, m.GetRequestId(), want, sawLog)
			}
			h.send(httpInvocation("inv-1", ids["echo"], []byte("after reload")))
			if resp := h.response(t); resp.GetResult().GetStatus() != rpc.StatusResult_Success || string(httpBody(resp)) != "after reload" {
				t.Errorf("invocation after the reload: %v", resp)
			}
			if !strings.Contains(stderr.String(), "received FunctionEnvironmentReloadRequest: 2 variables, function_app_directory="+app) {
				t.Errorf("stderr lacks the reload line:\n%s", stderr)
			}
		})
	}
}

func TestFailReloadAndFailInitEvery(t *testing.T) {
	h := newHost(t)
	r := start(t, h.args("w-fr", "--fault=fail-reload"))
	h.handshake(t)
	h.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionEnvironmentReloadRequest{
		FunctionEnvironmentReloadRequest: &rpc.FunctionEnvironmentReloadRequest{FunctionAppDirectory: "/app"}}})
	m := h.waitFor(t, "reload answer", func(m *rpc.StreamingMessage) bool { return m.GetFunctionEnvironmentReloadResponse() != nil })
	if res := m.GetFunctionEnvironmentReloadResponse().GetResult(); res.GetStatus() != rpc.StatusResult_Failure || !strings.Contains(res.GetResult(), "fail-reload") {
		t.Errorf("fail-reload answered %v", res)
	}
	h.stop(t, r)

	// Every 2nd start (counted in the file) fails its init.
	counter := t.TempDir() + "/starts"
	for i := 1; i <= 4; i++ {
		h := newHost(t)
		r := start(t, h.args("w-fie", "--fault=fail-init-every=2:"+counter))
		if h.next(t).GetStartStream() == nil {
			t.Fatal("no StartStream")
		}
		h.send(initRequest())
		st := h.next(t).GetWorkerInitResponse().GetResult().GetStatus()
		if want := map[bool]rpc.StatusResult_Status{true: rpc.StatusResult_Failure, false: rpc.StatusResult_Success}[i%2 == 0]; st != want {
			t.Errorf("start %d: init %v, want %v", i, st, want)
		}
		h.stop(t, r)
	}
	if _, err := parseFaults([]string{"fail-init-every=0:x"}); err == nil {
		t.Error("fail-init-every=0 accepted")
	}
	if _, err := parseFaults([]string{"fail-init-every=2"}); err == nil {
		t.Error("fail-init-every without a file accepted")
	}
}

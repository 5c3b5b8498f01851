package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/guid"
	fhost "github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/refworker/workertest"
	"github.com/fbench/fbench/protos/rpc"
)

// TestMain lets the test binary stand in for the worker: the host re-executes os.Executable() (this
// binary) as `worker --port P`, with RAWCEILING_CHILD=1 in its environment.
func TestMain(m *testing.M) {
	workertest.Main(m, workertest.Role{Env: "RAWCEILING_CHILD", Verb: "worker", Run: func(args []string) int { return workerMain(args, os.Stderr) }})
}

func TestHostJSON(t *testing.T) {
	t.Setenv("RAWCEILING_CHILD", "1")
	var out, errb bytes.Buffer
	start := time.Now()
	code := hostMain([]string{"--duration", "1s", "--warmup", "300ms", "--pingpong", "300ms", "--body-bytes", "64", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("host exited %d; stderr:\n%s", code, errb.String())
	}
	t.Logf("%s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out.String()))
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"invocations_per_s", "host_cpu_us_per_inv", "worker_cpu_us_per_inv", "depth", "duration_s", "mean_rtt_us", "pingpong"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
	if v, _ := m["invocations_per_s"].(float64); v <= 0 {
		t.Errorf("invocations_per_s = %v, want > 0", m["invocations_per_s"])
	}
	if v, _ := m["host_cpu_us_per_inv"].(float64); v <= 0 {
		t.Errorf("host_cpu_us_per_inv = %v, want > 0", m["host_cpu_us_per_inv"])
	}
	if v, _ := m["depth"].(float64); v != 4096 {
		t.Errorf("depth = %v, want the default 4096", m["depth"])
	}
	if v, _ := m["failed"].(float64); v != 0 {
		t.Errorf("failed = %v, want 0", v)
	}
	pp, _ := m["pingpong"].(map[string]any)
	if v, _ := pp["invocations_per_s"].(float64); v <= 0 {
		t.Errorf("pingpong.invocations_per_s = %v, want > 0", pp["invocations_per_s"])
	}
}

func TestUnboundedChanWorker(t *testing.T) {
	res, err := runHost(hostConfig{
		Duration:   500 * time.Millisecond,
		Warmup:     100 * time.Millisecond,
		Depth:      0,
		WorkerArgs: []string{"--mode", "chan"},
		Env:        []string{"RAWCEILING_CHILD=1"},
		Stderr:     os.Stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.InvocationsPerS <= 0 || res.Failed != 0 || res.PingPong != nil {
		t.Errorf("result %+v", res)
	}
}

func TestIDCarriesSendTime(t *testing.T) {
	for _, ts := range []int64{0, 1, 123456789, 1<<62 + 12345} {
		id := makeID(0xdeadbeef12345678, ts)
		if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
			t.Fatalf("id %q is not GUID-shaped", id)
		}
		if got, ok := idTime(id); !ok || got != ts {
			t.Errorf("idTime(%q) = %d, %v; want %d", id, got, ok, ts)
		}
	}
	if _, ok := idTime("not-an-id"); ok {
		t.Error("idTime accepted a foreign id")
	}
	tp := guid.TraceParent(makeID(7, 9))
	if len(tp) != 55 || !strings.HasPrefix(tp, "00-") || !strings.HasSuffix(tp, "-01") {
		t.Errorf("traceparent %q", tp)
	}
}

func TestParseStatCPU(t *testing.T) {
	stat := "1234 (raw ceil) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 5 0 100 0 0"
	if got := parseStatCPU(stat); got != 3800*time.Millisecond {
		t.Errorf("parseStatCPU = %v, want 3.8s", got)
	}
	if got := procCPU(os.Getpid()); got < 0 {
		t.Errorf("procCPU(self) = %v", got)
	}
}

// The raw pair must move the same bytes per invocation as fbench: its template equals what
// fbench builds for the reference worker's echo function under the .NET isolated capabilities.
func TestTemplateMatchesFbench(t *testing.T) {
	echo := &fhost.Function{Name: "echo", ID: "5f0c6a3e-8b1d-4c2a-9e7f-0123456789ab",
		Bindings: []fhost.Binding{{Name: "req", Type: "httpTrigger", Raw: map[string]any{}}}}
	dotnet := map[string]string{
		"RpcHttpBodyOnly": "True", "RawHttpBodyBytes": "True", "RpcHttpTriggerMetadataRemoved": "True",
		"UseNullableValueDictionaryForHttp": "True",
	}
	for _, n := range []int{0, 64, 1024} {
		var p loadgen.Payload
		if n > 0 {
			p.Body = requestTemplate(n).InputData[0].GetData().GetHttp().GetBody().GetBytes()
		}
		want, err := loadgen.BuildRequest(echo, dotnet, p)
		if err != nil {
			t.Fatal(err)
		}
		want.TraceContext = &rpc.RpcTraceContext{Attributes: map[string]string{}}
		got := requestTemplate(n)
		if !proto.Equal(got, want) {
			t.Errorf("body %d: raw template differs from fbench's request\nraw:    %v\nfbench: %v", n, got, want)
		}
	}
}

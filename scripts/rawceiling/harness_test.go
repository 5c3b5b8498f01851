package main

import (
	"context"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/loadgen"
	fhost "github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
)

// fbench's host launches the raw worker like any worker, completes its handshake (worker
// indexing) and, from the capabilities it advertises, builds the very request the raw host sends:
// fbench driving the raw worker moves the same bytes as the raw pair.
func TestFbenchDrivesRawWorker(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fhost.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := fhost.Start(ctx, srv, fhost.Options{Indexing: fhost.IndexingWorker,
		Launch: fhost.Launch{Worker: exe, Args: []string{"worker"}, Env: []string{"RAWCEILING_CHILD=1"}}})
	if err != nil {
		t.Fatalf("fbench's handshake with the raw worker: %v", err)
	}
	defer func() {
		if code := w.Shutdown(5 * time.Second); code != 0 || w.KilledAtShutdown() {
			t.Errorf("the raw worker ended with code %d (killed %v), want 0 on WorkerTerminate", code, w.KilledAtShutdown())
		}
	}()
	if len(w.Functions) != 1 || w.Functions[0].Name != "echo" || w.Functions[0].ID != rawFunctionID {
		t.Fatalf("functions loaded: %+v", w.Functions)
	}
	for _, n := range []int{0, 64} {
		var p loadgen.Payload
		if n > 0 {
			p.Body = requestTemplate(n).InputData[0].GetData().GetHttp().GetBody().GetBytes()
		}
		got, err := loadgen.BuildRequest(w.Functions[0], w.Capabilities, p)
		if err != nil {
			t.Fatal(err)
		}
		got.TraceContext = &rpc.RpcTraceContext{Attributes: map[string]string{}}
		if want := requestTemplate(n); !proto.Equal(got, want) {
			t.Errorf("body %d: fbench's request to the raw worker differs from the raw host's\nfbench: %v\nraw:    %v", n, got, want)
		}
	}
}

// The raw host drives another worker through the Functions handshake (here the raw worker
// launched as an external command), and --rate paces its sends: the achieved rate follows the
// offered one and the lag is reported.
func TestRawHostDrivesExternalWorkerPaced(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	res, err := runHost(hostConfig{
		Duration:  time.Second,
		Warmup:    200 * time.Millisecond,
		Depth:     4096,
		Rate:      2000,
		WorkerCmd: []string{exe, "worker"},
		Function:  "echo",
		Env:       []string{"RAWCEILING_CHILD=1"},
		Stderr:    os.Stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", res.String())
	if res.Failed != 0 || res.Completed == 0 {
		t.Fatalf("completed %d, failed %d", res.Completed, res.Failed)
	}
	// Paced: never more than the offered rate over the window (a closed loop would be far above).
	if res.InvocationsPerS > 2000*1.2 {
		t.Errorf("%.0f invocations/s at --rate 2000: not paced", res.InvocationsPerS)
	}
	if res.LagMaxUs <= 0 || res.LagP99Us > res.LagMaxUs {
		t.Errorf("lag p99 %d µs, max %d µs: not measured", res.LagP99Us, res.LagMaxUs)
	}
	if _, err := runHost(hostConfig{Duration: 200 * time.Millisecond, WorkerCmd: []string{exe, "worker"}, Function: "nope",
		Env: []string{"RAWCEILING_CHILD=1"}, Stderr: os.Stderr}); err == nil {
		t.Error("an unknown --function was accepted")
	}
}

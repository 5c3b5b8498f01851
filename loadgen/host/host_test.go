package host

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/fbench/fbench/loadgen/refworker"
	"github.com/fbench/fbench/loadgen/refworker/workertest"
	"github.com/fbench/fbench/protos/rpc"
)

// The test binary doubles as the reference worker (see workertest), and, with
// FBENCH_TEST_EMIT_LONG_LINES=1, as a program that writes a very long line (emitLongLines).
func TestMain(m *testing.M) {
	workertest.Main(m, workertest.Role{Env: "FBENCH_TEST_EMIT_LONG_LINES", Run: func([]string) int { emitLongLines(); return 0 }},
		workertest.Worker(refworker.Main))
}

// testWorker returns options that launch the test binary as a reference worker.
func testWorker(t *testing.T, refArgs string, extraEnv ...string) Options {
	t.Helper()
	env := append(workertest.Env(refArgs), extraEnv...)
	return Options{
		Launch:       Launch{Worker: workertest.Executable(t), Language: "fbench-test", Env: env},
		Indexing:     IndexingWorker,
		StartTimeout: 20 * time.Second,
		InitTimeout:  10 * time.Second,
	}
}

func newServer(t *testing.T) *Server {
	t.Helper()
	srv, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestHandshakeWithReferenceWorker(t *testing.T) {
	srv := newServer(t)
	w, err := Start(context.Background(), srv, testWorker(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"HandlesInvocationCancelMessage", "HandlesWorkerTerminateMessage", "WorkerStatus", "RpcHttpBodyOnly"} {
		if !w.Has(c) {
			t.Errorf("capability %s missing: %v", c, w.Capabilities)
		}
	}
	var names []string
	for _, f := range w.Functions {
		names = append(names, f.Name)
		if f.ID == "" || f.Trigger() == nil {
			t.Errorf("function %s: id %q trigger %v", f.Name, f.ID, f.Trigger())
		}
	}
	for _, want := range []string{"echo", "work", "fail"} {
		if !slices.Contains(names, want) {
			t.Errorf("function %s not loaded (loaded %v)", want, names)
		}
	}
	if rtt, err := w.Ping(context.Background(), 5*time.Second); err != nil || rtt <= 0 {
		t.Fatalf("ping: %v %v", rtt, err)
	}
	var steps []string
	for _, s := range w.Timeline {
		steps = append(steps, strings.Fields(s.Name)[0])
	}
	for _, want := range []string{"spawn", "start_stream", "init", "metadata", "load", "ping"} {
		if !slices.Contains(steps, want) {
			t.Errorf("timeline lacks %s: %v", want, steps)
		}
	}
	if code := w.Shutdown(TerminateGrace); code != 0 {
		t.Fatalf("exit code after WorkerTerminate = %d, want 0 (%s)", code, w.ExitState())
	}
	if steps := w.Timeline; steps[len(steps)-2].Name != "terminate" {
		t.Errorf("WorkerTerminate not sent: %v", steps)
	}
}

func TestLaunchArgumentsAndEnvironment(t *testing.T) {
	srv := newServer(t)
	dump := filepath.Join(t.TempDir(), "dump.json")
	app := t.TempDir()
	opt := testWorker(t, "", workertest.DumpTo(dump), "EXTRA=1")
	opt.Launch.AppDir = app
	w, err := Start(context.Background(), srv, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(TerminateGrace)
	var d workertest.Launched
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	p := srv.Port()
	want := []string{"--host", "127.0.0.1", "--port", itoa(p), "--workerId", w.ID, "--requestId", w.RequestID,
		"--grpcMaxMessageLength", "2147483647", "--functions-uri", "http://127.0.0.1:" + itoa(p) + "/",
		"--functions-worker-id", w.ID, "--functions-request-id", w.RequestID, "--functions-grpc-max-message-length", "2147483647"}
	if !slices.Equal(d.Args[1:], want) {
		t.Fatalf("arguments\n got %q\nwant %q", d.Args[1:], want)
	}
	if w.ID == w.RequestID {
		t.Fatal("worker id and request id must differ")
	}
	if d.Cwd != app {
		t.Errorf("cwd = %s, want the app directory %s", d.Cwd, app)
	}
	exe, _ := os.Executable()
	for _, kv := range []string{"FUNCTIONS_WORKER_RUNTIME=fbench-test", "FUNCTIONS_WORKER_DIRECTORY=" + filepath.Dir(exe),
		"FUNCTIONS_APPLICATION_DIRECTORY=" + app, "AzureWebJobsScriptRoot=" + app, "EXTRA=1"} {
		if !slices.Contains(d.Env, kv) {
			t.Errorf("environment lacks %s", kv)
		}
	}
}

func itoa(i int) string { return jsonNum(i) }

func jsonNum(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestWorkerConfigDirectoryLaunch(t *testing.T) {
	srv := newServer(t)
	exe, _ := os.Executable()
	wdir := t.TempDir()
	cfg := `{
  "description": {
    "language": "fbtest",
    "defaultExecutablePath": "%FBENCH_TEST_EXE%",
    "arguments": ["--pre", "%FBENCH_TEST_MISSING%", "%FBENCH_TEST_VAL%"],
    "defaultWorkerPath": "worker.js",
    "workerArguments": ["--post"],
    "workerIndexing": "true"
  },
  "processOptions": {"initializationTimeout": "00:00:30"}
}`
	if err := os.WriteFile(filepath.Join(wdir, WorkerConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(wdir, "worker.js"), "", 0o644)
	dump := filepath.Join(t.TempDir(), "dump.json")
	opt := testWorker(t, "", workertest.DumpTo(dump), "FBENCH_TEST_EXE="+exe, "FBENCH_TEST_VAL=a b; rm -rf /")
	opt.Launch.Worker = wdir
	opt.Indexing = IndexingAuto
	w, err := Start(context.Background(), srv, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(TerminateGrace)
	if !w.Command.WorkerIndexing || w.Command.Language != "fbtest" {
		t.Errorf("worker config not honoured: indexing %v language %q", w.Command.WorkerIndexing, w.Command.Language)
	}
	var d workertest.Launched
	b, _ := os.ReadFile(dump)
	_ = json.Unmarshal(b, &d)
	// As the host: %FBENCH_TEST_MISSING% disappears, the arguments are joined into one command line
	// that is split on blanks (never run by a shell), the worker path is quoted, workerArguments
	// are ignored.
	want := []string{exe, "--pre", "a", "b;", "rm", "-rf", "/", filepath.Join(wdir, "worker.js"), "--host"}
	if len(d.Args) < len(want) || !slices.Equal(d.Args[:len(want)], want) {
		t.Fatalf("command line\n got %q\nwant prefix %q", d.Args, want)
	}
	if d.Cwd != wdir {
		t.Errorf("cwd %s, want the worker directory %s (no --app)", d.Cwd, wdir)
	}
}

func writeFunctionJSON(t *testing.T, app, name, body string) {
	t.Helper()
	dir := filepath.Join(app, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "function.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

const echoFunctionJSON = `{"scriptFile": "index.js", "bindings": [
  {"name": "req", "type": "httpTrigger", "direction": "in", "methods": ["get", "post"]},
  {"name": "$return", "type": "http", "direction": "out"}]}`

const queueFunctionJSON = `{"bindings": [{"name": "msg", "type": "queueTrigger", "direction": "in", "dataType": "string", "queueName": "q"}]}`

func TestDiscoveryFromFunctionJSON(t *testing.T) {
	for _, tc := range []struct {
		name     string
		refArgs  string
		indexing Indexing
	}{
		{"host indexing", "", IndexingHost},
		{"worker asks for function.json", "--use-default-indexing", IndexingWorker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			app := t.TempDir()
			writeFunctionJSON(t, app, "echo", echoFunctionJSON)
			writeFunctionJSON(t, app, "queue", queueFunctionJSON)
			opt := testWorker(t, tc.refArgs)
			opt.Indexing = tc.indexing
			opt.Launch.AppDir = app
			w, err := Start(context.Background(), srv, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Shutdown(TerminateGrace)
			if len(w.Functions) != 2 {
				t.Fatalf("loaded %d functions, want 2 (failed: %v)", len(w.Functions), w.Failed)
			}
			echo, queue := w.Functions[0], w.Functions[1]
			if echo.Name != "echo" || echo.ScriptFile != filepath.Join(app, "echo", "index.js") || echo.Directory != filepath.Join(app, "echo") {
				t.Errorf("echo metadata: %+v", echo)
			}
			if got := echo.BindingNames(); !slices.Equal(got, []string{"req", "$return"}) || echo.TriggerType() != "httpTrigger" {
				t.Errorf("echo bindings %v trigger %s", got, echo.TriggerType())
			}
			if queue.Trigger().DataType != "string" || len(echo.ID) != 36 {
				t.Errorf("queue trigger %+v, echo id %q", queue.Trigger(), echo.ID)
			}
			lr := echo.loadRequest()
			if lr.Metadata.Bindings["req"].GetType() != "httpTrigger" || lr.Metadata.Properties["FunctionId"] != echo.ID {
				t.Errorf("load request metadata: %v", lr.Metadata)
			}
			if queue.loadRequest().Metadata.Bindings["msg"].GetDataType() != rpc.BindingInfo_string {
				t.Errorf("dataType not carried into BindingInfo")
			}
		})
	}
}

func TestHandshakeFailures(t *testing.T) {
	exe, _ := os.Executable()
	notExec := filepath.Join(t.TempDir(), "worker")
	_ = os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	badCfg := t.TempDir()
	_ = os.WriteFile(filepath.Join(badCfg, WorkerConfigFile), []byte("{\n \"description\": {\n  \"defaultExecutablePath\": 5\n}}"), 0o644)
	for _, tc := range []struct {
		name     string
		mutate   func(*Options)
		refArgs  string
		phase    string
		contains []string
		exit     int // -2: not checked
	}{
		{"not found", func(o *Options) { o.Launch.Worker = "/nonexistent/worker" }, "", "launch", []string{"/nonexistent/worker: not found"}, -2},
		{"not executable", func(o *Options) { o.Launch.Worker = notExec }, "", "launch", []string{"not executable"}, -2},
		{"malformed worker.config.json", func(o *Options) { o.Launch.Worker = badCfg }, "", "launch", []string{"worker.config.json:3", "defaultExecutablePath"}, -2},
		{"exits at start", nil, "--fault exit-at-start=7", "start", []string{"exited before sending StartStream", "exit code 7", "last stderr"}, 7},
		{"never connects", func(o *Options) { o.StartTimeout = 1500 * time.Millisecond }, "--fault no-start-stream", "start", []string{"no StartStream within 1.5s (--start-timeout)"}, -2},
		{"fails init", nil, "--fault fail-init", "init", []string{"worker failed initialization", "status Failure"}, -2},
		{"discovery finds nothing", func(o *Options) { o.Indexing = IndexingHost; o.Launch.AppDir = os.TempDir() + "/" }, "", "discovery", []string{"no function.json found"}, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			opt := testWorker(t, tc.refArgs)
			if tc.mutate != nil {
				tc.mutate(&opt)
			}
			if tc.name == "discovery finds nothing" {
				opt.Launch.AppDir = t.TempDir()
			}
			_ = exe
			w, err := Start(context.Background(), srv, opt)
			if err == nil {
				w.Shutdown(TerminateGrace)
				t.Fatal("handshake succeeded, want an error")
			}
			var he *Error
			if !errors.As(err, &he) || he.Phase != tc.phase {
				t.Fatalf("error %v: want phase %s", err, tc.phase)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, c := range tc.contains {
				if !strings.Contains(msg, c) {
					t.Errorf("error %q lacks %q", msg, c)
				}
			}
			if tc.exit != -2 && (he.ExitCode == nil || *he.ExitCode != tc.exit) {
				t.Errorf("exit code %v, want %d", he.ExitCode, tc.exit)
			}
		})
	}
}

func TestFailedLoadIsRecorded(t *testing.T) {
	srv := newServer(t)
	w, err := Start(context.Background(), srv, testWorker(t, "--fault fail-load=echo"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(TerminateGrace)
	if len(w.Failed) != 1 || w.Failed[0].Name != "echo" || w.Failed[0].LoadError == "" {
		t.Fatalf("failed functions: %+v", w.Failed)
	}
	for _, f := range w.Functions {
		if f.Name == "echo" {
			t.Fatal("echo failed to load but is listed as loaded")
		}
	}
}

func TestStrangerStreamIsRefused(t *testing.T) {
	srv := newServer(t)
	conn, err := grpc.NewClient(srv.URI()[len("http://"):len(srv.URI())-1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, first := range []*rpc.StreamingMessage{
		{Content: &rpc.StreamingMessage_StartStream{StartStream: &rpc.StartStream{WorkerId: "stranger"}}},
		{Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{Message: "hello"}}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := rpc.NewFunctionRpcClient(conn).EventStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Send(first)
		_, err = st.Recv()
		cancel()
		if c := status.Code(err); c != codes.PermissionDenied && c != codes.FailedPrecondition {
			t.Fatalf("stranger stream: %v, want PermissionDenied or FailedPrecondition", err)
		}
	}
	if srv.Refused() != 2 {
		t.Fatalf("refused = %d, want 2", srv.Refused())
	}
}

func TestParseTimeSpan(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"00:02:00", 2 * time.Minute, true}, {"1.00:00:01", 24*time.Hour + time.Second, true},
		{"90s", 90 * time.Second, true}, {"00:00:00.5", 500 * time.Millisecond, true},
		{"two minutes", 0, false}, {"-1:00:00", 0, false},
	} {
		got, err := ParseTimeSpan(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseTimeSpan(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestExpandPercentCannotInject(t *testing.T) {
	env := map[string]string{"A": "x y --port 1", "B": "%A%"}
	if got := expandPercent("%A%", env); got != "x y --port 1" {
		t.Errorf("got %q", got)
	}
	if got := expandPercent("pre%B%post", env); got != "pre%A%post" {
		t.Errorf("expansion must not recurse: got %q", got)
	}
	if got := expandPercent("%NOPE%", env); got != "" {
		t.Errorf("unresolved token must vanish: got %q", got)
	}
}

package host

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/fbench/fbench/loadgen/guid"
	"github.com/fbench/fbench/protos/rpc"
)

// A staged start runs the host's start-up one step at a time, so that each step can be timed as the
// host sees it and the placeholder ("standby") path can put its own steps between them: Spawn
// (process start and StartStream), Initialize, Warmup, Reload, Discover, LoadFunctions, then
// Invoke. Each step returns an Exchange: when fbench's request went out and when the worker's
// answer came in, so the time fbench itself took between a worker's message and its own next one
// (its share of a cold start) is measured, not assumed.

// Host timeouts of the placeholder steps (protocol.md §2.14).
const (
	DefaultReloadTimeout = 30 * time.Second
	DefaultWarmupTimeout = 90 * time.Second
)

// StandbyDirName is the placeholder host's script root under the temporary directory:
// Path.Combine(Path.GetTempPath(), @"functions\standby\wwwroot"), which on Linux is one directory
// whose name holds backslashes.
const StandbyDirName = `functions\standby\wwwroot`

// Exchange is one request/response of a staged start.
type Exchange struct {
	Sent     time.Time // fbench's request was handed to gRPC (its Send returned)
	Answered time.Time // the worker's answer was received
}

// Spawned is what Spawn observed of the process start.
type Spawned struct {
	Begin   time.Time // just before the process was started
	Started time.Time // the process started (fork/exec returned)
	Stream  time.Time // StartStream was received
}

// CapabilityUpdate is how a FunctionEnvironmentReloadResponse's capabilities were applied.
type CapabilityUpdate string

const (
	CapabilitiesMerged   CapabilityUpdate = "merge"   // overwrite and add (strategy absent or merge)
	CapabilitiesReplaced CapabilityUpdate = "replace" // cleared first
)

// Reloaded describes a FunctionEnvironmentReloadResponse that succeeded.
type Reloaded struct {
	Strategy     CapabilityUpdate
	Capabilities int // capabilities in the response
	Before       int // capabilities held before
	After        int // capabilities held after applying them
}

// Spawn resolves and starts the worker and waits for its StartStream: the first step of a staged
// start. On failure the process is killed and reaped and the error is an *Error; call Shutdown (or
// Abort) on the returned worker when done.
func Spawn(ctx context.Context, srv *Server, opt Options) (*Worker, Spawned, error) {
	var sp Spawned
	w := &Worker{ID: guid.New(), RequestID: guid.New(), srv: srv, recvCh: make(chan recvResult, 1)}
	if opt.Launch.HostVersion == "" {
		opt.Launch.HostVersion = opt.HostVersion
	}
	cmd, err := Resolve(opt.Launch, srv.Port(), w.ID, w.RequestID)
	if err != nil {
		return nil, sp, &Error{Phase: "launch", Msg: err.Error()}
	}
	w.Command = cmd
	opt = opt.withDefaults(cmd)
	w.sess = srv.expect(w.ID)
	w.Log = NewWorkerLog(opt.Log)
	sp.Begin = time.Now()
	w.proc, err = startProcess(cmd, w.Log, srv.guard, srv.guardErr)
	if err != nil {
		srv.forget(w.ID)
		w.Log.Close()
		return nil, sp, &Error{Phase: "launch", Msg: err.Error()}
	}
	sp.Started = time.Now()
	w.Pid = w.proc.pid()
	if opt.LabelLog {
		w.Log.SetLabel(fmt.Sprintf("[pid %d] ", w.Pid))
	}
	w.last = w.proc.start
	w.step("spawn", fmt.Sprintf("pid %d: %s", w.Pid, strings.Join(cmd.Args, " ")))

	timer := time.NewTimer(opt.StartTimeout)
	defer timer.Stop()
	select {
	case st := <-w.sess.stream:
		w.stream = &endingStream{Stream: st, end: w.endStream}
		sp.Stream = w.sess.firstAt
	case <-w.proc.exited:
		err = &Error{Phase: "start", Msg: "worker exited before sending StartStream"}
	case <-timer.C:
		err = &Error{Phase: "start", Msg: fmt.Sprintf("no StartStream within %s (--start-timeout)", opt.StartTimeout)}
	case <-ctx.Done():
		err = &Error{Phase: "start", Msg: "interrupted while waiting for StartStream"}
	}
	if err != nil {
		return nil, sp, w.fail(err)
	}
	w.step("start_stream", "worker id "+w.ID)
	return w, sp, nil
}

// withDefaults fills zero timeouts and the host version as the host does, and applies --indexing.
func (opt Options) withDefaults(cmd *Command) Options {
	if opt.HostVersion == "" {
		opt.HostVersion = DefaultHostVersion
	}
	if opt.Indexing == IndexingWorker {
		cmd.WorkerIndexing = true
		cmd.IndexingRule = ""
	} else if opt.Indexing == IndexingHost {
		cmd.WorkerIndexing = false
		cmd.IndexingRule = ""
	}
	var po ProcessOptions
	if cmd.Config != nil {
		po = cmd.Config.ProcessOptions
	}
	// worker.config.json's time spans were validated when it was read.
	if opt.StartTimeout <= 0 {
		opt.StartTimeout = po.Duration("processStartupTimeout", DefaultStartTimeout)
	}
	if opt.InitTimeout <= 0 {
		opt.InitTimeout = po.Duration("initializationTimeout", DefaultInitTimeout)
	}
	if opt.MetadataTimeout <= 0 {
		opt.MetadataTimeout = DefaultMetadataTimeout
	}
	if opt.LoadTimeout <= 0 {
		opt.LoadTimeout = DefaultLoadTimeout
	}
	return opt
}

// ReloadTimeout is the host's FunctionEnvironmentReloadRequest timeout for this worker: its
// worker.config.json's processOptions.environmentReloadTimeout, else 30 s.
func (w *Worker) ReloadTimeout() time.Duration {
	if w.Command.Config == nil {
		return DefaultReloadTimeout
	}
	var cfg struct {
		ProcessOptions struct {
			EnvironmentReloadTimeout string `json:"environmentReloadTimeout"`
		} `json:"processOptions"`
	}
	b, err := os.ReadFile(filepath.Join(w.Command.WorkerDir, WorkerConfigFile))
	if err != nil || json.Unmarshal(b, &cfg) != nil || cfg.ProcessOptions.EnvironmentReloadTimeout == "" {
		return DefaultReloadTimeout
	}
	if d, err := ParseTimeSpan(cfg.ProcessOptions.EnvironmentReloadTimeout); err == nil && d > 0 {
		return d
	}
	return DefaultReloadTimeout
}

// fail attaches the exit code and the stderr tail to a staged step's error and kills the worker.
func (w *Worker) fail(err error) error {
	exited := !w.proc.alive()
	w.abort()
	if he, ok := err.(*Error); ok {
		he.Tail = w.Log.Tail()
		if exited {
			code := w.proc.code
			he.ExitCode = &code
		}
	}
	return err
}

// exchange sends m and waits for the answer want accepts, within d.
func (w *Worker) exchange(ctx context.Context, m *rpc.StreamingMessage, d time.Duration, phase, expected, flag string, want func(*rpc.StreamingMessage) bool) (*rpc.StreamingMessage, Exchange, error) {
	var ex Exchange
	if err := w.send(m); err != nil {
		kind := strings.TrimPrefix(reflect.TypeOf(m.GetContent()).Elem().Name(), "StreamingMessage_")
		return nil, ex, w.fail(&Error{Phase: phase, Msg: fmt.Sprintf("sending %s: %v", kind, err)})
	}
	ex.Sent = time.Now()
	r, err := w.recvKind(ctx, d, phase, expected, flag, want)
	if err != nil {
		return nil, ex, w.fail(err)
	}
	ex.Answered = w.recvAt
	return r, ex, nil
}

// Initialize sends WorkerInitRequest with appDir as the function app directory and takes the
// worker's capabilities from its answer. A failed or missing answer ends the worker.
func (w *Worker) Initialize(ctx context.Context, opt Options, appDir string) (Exchange, error) {
	opt = opt.withDefaults(w.Command)
	init := &rpc.WorkerInitRequest{
		HostVersion:          opt.HostVersion,
		Capabilities:         map[string]string{"MultiStream": "10"},
		WorkerDirectory:      w.Command.WorkerDir,
		FunctionAppDirectory: appDir,
	}
	m, ex, err := w.exchange(ctx, &rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerInitRequest{WorkerInitRequest: init}},
		opt.InitTimeout, "init", "WorkerInitResponse", "--init-timeout", func(m *rpc.StreamingMessage) bool { return m.GetWorkerInitResponse() != nil })
	if err != nil {
		return ex, err
	}
	resp := m.GetWorkerInitResponse()
	if resp.GetResult().GetStatus() != rpc.StatusResult_Success {
		return ex, w.fail(&Error{Phase: "init", Msg: "worker failed initialization: " + resultText(resp.GetResult())})
	}
	w.Capabilities = map[string]string{}
	for k, v := range resp.GetCapabilities() {
		w.Capabilities[k] = v
	}
	if err := w.checkHTTPURI("init"); err != nil {
		return ex, err
	}
	w.Metadata = resp.GetWorkerMetadata()
	w.step("init", fmt.Sprintf("%d capabilities", len(w.Capabilities)))
	return ex, nil
}

// checkHTTPURI validates the HttpUri capability after init or an env reload (the host's check)
// and sets the worker's HTTP proxying target from it (none when it is absent).
func (w *Worker) checkHTTPURI(phase string) error {
	w.proxy = nil
	if u := w.Capabilities["HttpUri"]; u != "" {
		p, err := ParseProxyURI(u)
		if err != nil {
			return w.fail(&Error{Phase: phase, Msg: err.Error()})
		}
		w.proxy = p
	}
	return nil
}

// Warmup sends WorkerWarmupRequest{worker_directory} (a standby host's warm-up request) and waits
// for the answer. As the host, it treats a Failure answer as information (ok false, the reason),
// not as the end of the worker; a missing answer within timeout ends it.
func (w *Worker) Warmup(ctx context.Context, timeout time.Duration) (ex Exchange, ok bool, reason string, err error) {
	if timeout <= 0 {
		timeout = DefaultWarmupTimeout
	}
	req := &rpc.WorkerWarmupRequest{WorkerDirectory: w.Command.WorkerDir}
	m, ex, err := w.exchange(ctx, &rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerWarmupRequest{WorkerWarmupRequest: req}},
		timeout, "warmup", "WorkerWarmupResponse", "", func(m *rpc.StreamingMessage) bool { return m.GetWorkerWarmupResponse() != nil })
	if err != nil {
		return ex, false, "", err
	}
	res := m.GetWorkerWarmupResponse().GetResult()
	if res.GetStatus() != rpc.StatusResult_Success {
		w.step("warmup", "failed: "+resultText(res))
		return ex, false, resultText(res), nil
	}
	w.step("warmup", "")
	return ex, true, "", nil
}

// ErrNoSpecialization is the error of a Reload the worker answered with a Failure.
type ErrNoSpecialization struct{ Reason string }

func (e *ErrNoSpecialization) Error() string {
	return "the worker rejected FunctionEnvironmentReloadRequest (" + e.Reason + "): it does not support placeholder specialization"
}

// Reload specializes a placeholder worker: FunctionEnvironmentReloadRequest with the app's
// environment and directory, then the returned capabilities applied by their update strategy
// (absent or merge: overwrite and add; replace: clear first). A Failure answer ends the worker with
// an *ErrNoSpecialization, whose message says it does not support specialization.
func (w *Worker) Reload(ctx context.Context, env map[string]string, appDir string, timeout time.Duration) (Exchange, Reloaded, error) {
	var rl Reloaded
	if timeout <= 0 {
		timeout = w.ReloadTimeout()
	}
	req := &rpc.FunctionEnvironmentReloadRequest{EnvironmentVariables: env, FunctionAppDirectory: appDir}
	m, ex, err := w.exchange(ctx, &rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionEnvironmentReloadRequest{FunctionEnvironmentReloadRequest: req}},
		timeout, "specialize", "FunctionEnvironmentReloadResponse", "", func(m *rpc.StreamingMessage) bool {
			return m.GetFunctionEnvironmentReloadResponse() != nil
		})
	if err != nil {
		return ex, rl, err
	}
	resp := m.GetFunctionEnvironmentReloadResponse()
	if resp.GetResult().GetStatus() != rpc.StatusResult_Success {
		return ex, rl, w.fail(&ErrNoSpecialization{Reason: resultText(resp.GetResult())})
	}
	rl.Before, rl.Capabilities = len(w.Capabilities), len(resp.GetCapabilities())
	rl.Strategy = CapabilitiesMerged
	if resp.GetCapabilitiesUpdateStrategy() == rpc.FunctionEnvironmentReloadResponse_replace {
		rl.Strategy = CapabilitiesReplaced
		w.Capabilities = map[string]string{}
	}
	if w.Capabilities == nil {
		w.Capabilities = map[string]string{}
	}
	for k, v := range resp.GetCapabilities() {
		w.Capabilities[k] = v
	}
	rl.After = len(w.Capabilities)
	if err := w.checkHTTPURI("specialize"); err != nil {
		return ex, rl, err
	}
	// The host only fills an empty runtime name or version from the answer's metadata.
	if md := resp.GetWorkerMetadata(); md != nil {
		if w.Metadata == nil {
			w.Metadata = md
		}
	}
	w.step("specialize", fmt.Sprintf("capabilities %s: %d → %d", rl.Strategy, rl.Before, rl.After))
	return ex, rl, nil
}

// Discover finds the functions of appDir as the host does: FunctionsMetadataRequest for worker
// indexing (function.json when the worker asks for it), else function.json. ex is zero when no
// request was sent (function.json only); scanned then covers fbench's own scan.
func (w *Worker) Discover(ctx context.Context, opt Options, appDir string) (ex Exchange, fns []*Function, err error) {
	opt = opt.withDefaults(w.Command)
	scan := func() error {
		found, err := ScanFunctionJSON(appDir, guid.New)
		if err != nil {
			return w.fail(&Error{Phase: "discovery", Msg: err.Error()})
		}
		if len(found) == 0 {
			return w.fail(&Error{Phase: "discovery", Msg: fmt.Sprintf("no function.json found under %s (give --app, or --indexing worker)", appDir)})
		}
		fns = found
		w.step("discovery", fmt.Sprintf("%d functions from function.json", len(fns)))
		return nil
	}
	if !w.Command.WorkerIndexing {
		err = scan()
		return ex, fns, err
	}
	req := &rpc.FunctionsMetadataRequest{FunctionAppDirectory: appDir}
	m, ex, err := w.exchange(ctx, &rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionsMetadataRequest{FunctionsMetadataRequest: req}},
		opt.MetadataTimeout, "metadata", "FunctionMetadataResponse", "", func(m *rpc.StreamingMessage) bool { return m.GetFunctionMetadataResponse() != nil })
	if err != nil {
		return ex, nil, err
	}
	mr := m.GetFunctionMetadataResponse()
	if mr.GetUseDefaultMetadataIndexing() {
		w.step("metadata", "worker asked for function.json indexing")
		err = scan()
		return ex, fns, err
	}
	if mr.GetResult() != nil && mr.GetResult().GetStatus() == rpc.StatusResult_Failure {
		return ex, nil, w.fail(&Error{Phase: "metadata", Msg: "worker indexing failed: " + resultText(mr.GetResult())})
	}
	for _, md := range mr.GetFunctionMetadataResults() {
		f, err := fromWorkerMetadata(md)
		if err != nil {
			return ex, nil, w.fail(&Error{Phase: "metadata", Msg: err.Error()})
		}
		fns = append(fns, f)
	}
	w.step("metadata", fmt.Sprintf("%d functions from worker indexing", len(fns)))
	if len(fns) == 0 {
		return ex, nil, w.fail(&Error{Phase: "metadata", Msg: "worker indexing found no functions"})
	}
	return ex, fns, nil
}

// LoadFunctions sends one FunctionLoadRequest per function and waits for every answer. ex.Sent is
// when the first request went out, ex.Answered when the last answer came in. Functions that fail
// go to w.Failed; the step fails only when none loads.
func (w *Worker) LoadFunctions(ctx context.Context, opt Options, fns []*Function) (ex Exchange, err error) {
	opt = opt.withDefaults(w.Command)
	managedDeps, err := managedDependencyEnabled(w.Command.AppDir)
	if err != nil {
		return ex, w.fail(&Error{Phase: "load", Msg: err.Error()})
	}
	pending := map[string]*Function{}
	for _, f := range fns {
		if f.LoadError != "" {
			w.Failed = append(w.Failed, f)
			continue
		}
		if err := w.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_FunctionLoadRequest{FunctionLoadRequest: w.loadRequestFor(f, managedDeps)}}); err != nil {
			return ex, w.fail(&Error{Phase: "load", Msg: fmt.Sprintf("sending FunctionLoadRequest for %s: %v", f.Name, err)})
		}
		if ex.Sent.IsZero() {
			ex.Sent = time.Now()
		}
		pending[f.ID] = f
	}
	ex.Answered, err = w.awaitLoads(ctx, opt, pending)
	if err != nil {
		return ex, w.fail(err)
	}
	return ex, nil
}

// Invoke sends one InvocationRequest (its invocation_id set) and waits for its InvocationResponse,
// matched on the id, within timeout. For staged starts, before any engine owns the stream. A
// Failure answer is returned as the response, not as an error.
func (w *Worker) Invoke(ctx context.Context, req *rpc.InvocationRequest, timeout time.Duration) (Exchange, *rpc.InvocationResponse, error) {
	id := req.GetInvocationId()
	m, ex, err := w.exchange(ctx, &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationRequest{InvocationRequest: req}},
		timeout, "invocation", "InvocationResponse", "--timeout", func(m *rpc.StreamingMessage) bool {
			return m.GetInvocationResponse() != nil && m.GetInvocationResponse().GetInvocationId() == id
		})
	if err != nil {
		return ex, nil, err
	}
	return ex, m.GetInvocationResponse(), nil
}

// Abort kills the worker at once and reaps it (no WorkerTerminate).
func (w *Worker) Abort() {
	if !w.ended {
		w.ended = true
		w.abort()
	}
}

// ResultText describes a StatusResult in one line.
func ResultText(r *rpc.StatusResult) string { return resultText(r) }

// StandbyDir is a placeholder host's script root: StandbyDirName under the temporary directory.
func StandbyDir() string { return filepath.Join(os.TempDir(), StandbyDirName) }

// PlaceholderLaunch is the launch of a worker by a standby host (protocol.md §8.5): app directory
// standbyDir (created when missing; the worker's cwd, FUNCTIONS_APPLICATION_DIRECTORY and
// AzureWebJobsScriptRoot), WEBSITE_PLACEHOLDER_MODE=1, and none of the app's own settings
// (l.Env): the app is not known yet.
func PlaceholderLaunch(l Launch, standbyDir string) (Launch, error) {
	if err := os.MkdirAll(standbyDir, 0o755); err != nil {
		return l, fmt.Errorf("creating the standby directory: %w", err)
	}
	l.AppDir = standbyDir
	l.Env = []string{"WEBSITE_PLACEHOLDER_MODE=1"}
	return l, nil
}

// ReloadEnvironment is FunctionEnvironmentReloadRequest.environment_variables for app, the launch
// of the real app: the environment the host would give the app's worker (fbench's own, the host's
// variables for the app directory, the app's --env settings), WEBSITE_PLACEHOLDER_MODE=0 unless
// the settings say otherwise, and no empty values, as the host drops them. It also returns the
// app directory.
func ReloadEnvironment(app Launch, workerID string) (map[string]string, string, error) {
	app.Env = append([]string{"WEBSITE_PLACEHOLDER_MODE=0"}, app.Env...)
	cmd, err := Resolve(app, 1, workerID, workerID)
	if err != nil {
		return nil, "", err
	}
	env := make(map[string]string, len(cmd.Env))
	for _, kv := range cmd.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && v != "" {
			env[k] = v
		}
	}
	return env, cmd.AppDir, nil
}

package refworker

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fbench/fbench/loadgen/dist"
	"github.com/fbench/fbench/protos/rpc"
)

// Start costs and placeholder specialization: what a cold start of this worker costs
// (--start-delay before it connects, --load-delay per FunctionLoadRequest, --reload-delay per
// FunctionEnvironmentReloadRequest) and how it answers a standby host's messages, per --mimic
// (protocol.md §2.12, §8.5):
//   - node: a System log "Reloading environment variables. Found N variables to reload.", every
//     environment variable cleared and the request's set, chdir to the app directory, then the full
//     capability set with capabilities_update_strategy replace; request_id echoed;
//   - python: environment cleared and replaced, chdir, then only the capabilities the reload adds
//     (none here) and no strategy (its proto predates the field: the host merges); request_id is the
//     worker's startup request id;
//   - dotnet (and java, powershell, whose reload the facts do not describe): the capability set and
//     the worker metadata, no strategy (merge); request_id echoed.
// WorkerWarmupRequest is answered with Success by every mimic; only those that advertise
// HandlesWorkerWarmupMessage (java) get one from a host.

// startCosts are the injected delays, sampled from the worker's seeded generator.
type startCosts struct {
	start, load, reload dist.Dist
}

func (w *worker) sampleDelay(d dist.Dist) time.Duration {
	if d.IsZero() {
		return 0
	}
	w.rngMu.Lock()
	defer w.rngMu.Unlock()
	return d.Sample(w.rng)
}

// delay sleeps a sample of d (on the read loop: the worker answers nothing meanwhile, as a worker
// busy loading an app does not).
func (w *worker) delay(d dist.Dist) {
	if s := w.sampleDelay(d); s > 0 {
		time.Sleep(s)
	}
}

// onReload answers a FunctionEnvironmentReloadRequest as the mimicked worker does.
func (w *worker) onReload(reqID string, m *rpc.FunctionEnvironmentReloadRequest) {
	env := m.GetEnvironmentVariables()
	dir := m.GetFunctionAppDirectory()
	w.logf("received FunctionEnvironmentReloadRequest: %d variables, function_app_directory=%s, WEBSITE_PLACEHOLDER_MODE=%q",
		len(env), dir, env["WEBSITE_PLACEHOLDER_MODE"])
	w.delay(w.cfg.costs.reload)
	resp := &rpc.FunctionEnvironmentReloadResponse{Result: resultSuccess, WorkerMetadata: workerMetadata(w.cfg.mimic)}
	out := &rpc.StreamingMessage{RequestId: reqID, Content: &rpc.StreamingMessage_FunctionEnvironmentReloadResponse{FunctionEnvironmentReloadResponse: resp}}
	if w.cfg.faults.failReload {
		resp.Result = failure("fault fail-reload: this worker cannot be specialized")
		w.q.push(out)
		return
	}
	switch w.cfg.mimic {
	case "node", "node-stream":
		w.q.push(systemLog("", rpc.RpcLog_Information, fmt.Sprintf("Reloading environment variables. Found %d variables to reload.", len(env))))
		if err := applyEnvironment(env, dir); err != nil {
			resp.Result = failure(err.Error())
			break
		}
		resp.Capabilities = w.capabilities()
		resp.CapabilitiesUpdateStrategy = rpc.FunctionEnvironmentReloadResponse_replace
	case "python", "python-stream":
		if err := applyEnvironment(env, dir); err != nil {
			resp.Result = failure(err.Error())
			break
		}
		resp.Capabilities = map[string]string{}
		if w.proxy != nil {
			// HTTP streaming: HttpUri and RequiresRouteParameters at env reload too (protocol.md §8.2).
			resp.Capabilities = map[string]string{"HttpUri": w.proxy.uri, "RequiresRouteParameters": "true"}
		}
		out.RequestId = w.cfg.requestID
	default:
		resp.Capabilities = w.capabilities()
	}
	w.q.push(out)
}

// applyEnvironment replaces the process environment with env and changes to dir, as the Node and
// Python workers do on specialization.
func applyEnvironment(env map[string]string, dir string) error {
	os.Clearenv()
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("setting %s: %v", k, err)
		}
	}
	if dir != "" {
		if err := os.Chdir(dir); err != nil {
			return fmt.Errorf("changing to the app directory: %v", err)
		}
	}
	return nil
}

// failThisStart reports whether the fail-init-every fault fails this process's start: it appends a
// byte to the fault's counter file and fails every Nth start.
func (f *faults) failThisStart() (bool, int64) {
	if f.failInitEvery == 0 {
		return false, 0
	}
	fd, err := os.OpenFile(f.failInitFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return false, 0
	}
	defer fd.Close()
	if _, err := fd.Write([]byte{'.'}); err != nil {
		return false, 0
	}
	st, err := fd.Stat()
	if err != nil {
		return false, 0
	}
	n := st.Size()
	return n%f.failInitEvery == 0, n
}

// parseFailInitEvery parses fail-init-every=N:FILE.
func (f *faults) parseFailInitEvery(val string) error {
	ns, file, ok := strings.Cut(val, ":")
	var n int64
	if _, err := fmt.Sscanf(ns, "%d", &n); err != nil || !ok || n < 1 || file == "" {
		return fmt.Errorf("want fail-init-every=N:FILE with N >= 1")
	}
	f.failInitEvery, f.failInitFile = n, file
	return nil
}

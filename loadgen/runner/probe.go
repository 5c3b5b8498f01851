package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

// ProbeFunction is one function of a probed worker.
type ProbeFunction struct {
	Name     string   `json:"name"`
	ID       string   `json:"id"`
	Trigger  string   `json:"trigger"`
	Bindings []string `json:"bindings"`
	Loaded   bool     `json:"loaded"`
	Route    string   `json:"route,omitempty"` // HTTP functions: the route template under the host's prefix
	Error    string   `json:"error,omitempty"`
}

// ProbeResult describes one probed worker process: its launch, time line, capabilities, functions
// and end.
type ProbeResult struct {
	Timeline     []host.Step       `json:"timeline"`
	Capabilities map[string]string `json:"capabilities"`
	// HTTP is how HTTP functions are served: "proxied to URI" (HttpUri) or "RpcHttp over the stream".
	HTTP        string          `json:"http"`
	Metadata    map[string]any  `json:"worker_metadata,omitempty"`
	Functions   []ProbeFunction `json:"functions"`
	PingRTT     time.Duration   `json:"ping_rtt_ns,omitempty"`
	ExitCode    int             `json:"exit_code"`
	Ended       string          `json:"ended"` // how the worker ended (WorkerTerminate, or killed, and why)
	Command     []string        `json:"command"`
	CommandLine string          `json:"command_line"`
	// What the worker.config.json pipeline chose, and the notices fbench gave about the launch.
	RuntimeVersion string   `json:"runtime_version,omitempty"`
	Profile        string   `json:"profile,omitempty"`
	WorkerIndexing bool     `json:"worker_indexing"`
	Notices        []string `json:"notices,omitempty"`
}

// ProbeProcess is one worker process of a probed pool.
type ProbeProcess struct {
	Process int `json:"process"`
	// SpawnedAt is when the process was started, since the first process's spawn: the host's
	// stagger shows here.
	SpawnedAt time.Duration `json:"spawned_at_ns"`
	Error     string        `json:"error,omitempty"`
	*ProbeResult
}

// ProbeReport is what Probe found: one process (Single), or every process of a pool.
type ProbeReport struct {
	Single    *ProbeResult
	Processes host.Processes
	Each      []ProbeProcess
}

// Probe launches the worker process(es) as the host does, completes each handshake, pings each
// worker, terminates it and describes it. With a report, the error says what failed in it (a
// handshake, a function that did not load); without, nothing could be probed.
func Probe(ctx context.Context, opt host.Options, procs host.Processes) (*ProbeReport, error) {
	srv, err := host.NewServer()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	if procs.Count > 1 {
		return probePool(ctx, srv, opt, procs)
	}
	w, err := host.Start(ctx, srv, opt)
	if err != nil {
		return nil, err
	}
	out, err := ProbeWorker(ctx, w)
	if err != nil {
		return nil, err
	}
	// The handshake is not complete when a function failed to load: the probe says so.
	if err := out.LoadFailure(); err != nil {
		return &ProbeReport{Single: out}, fmt.Errorf("probe: %w", err)
	}
	return &ProbeReport{Single: out}, nil
}

// probePool launches the processes as the host starts them (StartPool), pings each and terminates
// them. A process whose handshake failed makes the probe fail.
func probePool(ctx context.Context, srv *host.Server, opt host.Options, procs host.Processes) (*ProbeReport, error) {
	ws, errs := host.StartPool(ctx, srv, opt, host.PoolOptions{Count: procs.Count, StartInterval: procs.StartInterval, StopOnError: true})
	var t0 time.Time
	for _, w := range ws {
		if w != nil && (t0.IsZero() || w.SpawnedAt().Before(t0)) {
			t0 = w.SpawnedAt()
		}
	}
	out := make([]ProbeProcess, len(ws))
	var firstErr error
	for i, w := range ws {
		out[i].Process = i + 1
		if w == nil {
			if errs[i] != nil {
				out[i].Error = errs[i].Error()
				if firstErr == nil {
					firstErr = fmt.Errorf("worker process %d of %d: %w", i+1, len(ws), errs[i])
				}
			}
			continue
		}
		out[i].SpawnedAt = w.SpawnedAt().Sub(t0)
		po, err := ProbeWorker(ctx, w)
		if err != nil {
			out[i].Error = err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("worker process %d of %d: %w", i+1, len(ws), err)
			}
			continue
		}
		out[i].ProbeResult = po
		if err := po.LoadFailure(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("probe: worker process %d: %w", i+1, err)
		}
	}
	return &ProbeReport{Processes: procs, Each: out}, firstErr
}

// ProbeWorker pings a started worker (when it takes WorkerStatus), terminates it and describes it.
func ProbeWorker(ctx context.Context, w *host.Worker) (*ProbeResult, error) {
	out := &ProbeResult{Capabilities: w.Capabilities, Command: w.Command.Args, CommandLine: w.Command.CommandLine,
		RuntimeVersion: w.Command.RuntimeVersion, Profile: w.Command.Profile, WorkerIndexing: w.Command.WorkerIndexing,
		Notices: LaunchNotices(w.Command), HTTP: "RpcHttp over the stream"}
	if px := w.HTTPProxy(); px != nil {
		out.HTTP = "proxied to " + px.Raw
	}
	if w.Has("WorkerStatus") {
		var err error
		if out.PingRTT, err = w.Ping(ctx, 10*time.Second); err != nil {
			w.Shutdown(host.TerminateGrace)
			return nil, fmt.Errorf("ping: %v", err)
		}
	}
	out.ExitCode = w.Shutdown(host.TerminateGrace)
	out.Ended = w.EndedHow()
	out.Timeline = w.Timeline
	if md := w.Metadata; md != nil {
		out.Metadata = map[string]any{"runtime_name": md.GetRuntimeName(), "runtime_version": md.GetRuntimeVersion(),
			"worker_version": md.GetWorkerVersion(), "worker_bitness": md.GetWorkerBitness()}
	}
	for _, f := range w.Functions {
		out.Functions = append(out.Functions, ProbeFunction{Name: f.Name, ID: f.ID, Trigger: f.TriggerType(), Bindings: f.BindingNames(), Loaded: true,
			Route: routeOf(f)})
	}
	for _, f := range w.Failed {
		out.Functions = append(out.Functions, ProbeFunction{Name: f.Name, ID: f.ID, Trigger: f.TriggerType(), Bindings: f.BindingNames(), Error: f.LoadError})
	}
	return out, nil
}

// LoadFailure is nil when every function loaded, else an error counting those that did not and
// naming the first.
func (r *ProbeResult) LoadFailure() error {
	n, first := 0, -1
	for i, f := range r.Functions {
		if !f.Loaded {
			n++
			if first < 0 {
				first = i
			}
		}
	}
	if n == 0 {
		return nil
	}
	f := r.Functions[first]
	return fmt.Errorf("%d function(s) failed to load; first: %s: %s", n, f.Name, strings.ReplaceAll(strings.TrimSpace(f.Error), "\n", " | "))
}

// WriteJSON prints the report as probe's JSON output: one process's description, or the pool's.
func (pr *ProbeReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if pr.Single != nil {
		return enc.Encode(pr.Single)
	}
	procs := pr.Processes
	return enc.Encode(map[string]any{"processes": pr.Each, "count": procs.Count, "count_from": procs.Source,
		"start_interval_ns": procs.StartInterval, "restart_interval_ns": procs.RestartInterval, "max_process_count": procs.Max})
}

// WriteText prints the report as probe's text output.
func (pr *ProbeReport) WriteText(w io.Writer) {
	if pr.Single != nil {
		pr.Single.WriteText(w)
		return
	}
	procs := pr.Processes
	fmt.Fprintf(w, "%d worker processes (%s; maxProcessCount %d), started %s after the previous one's WorkerInitResponse\n",
		procs.Count, procs.Source, procs.Max, report.FormatDuration(procs.StartInterval))
	for _, p := range pr.Each {
		fmt.Fprintf(w, "\n== process %d", p.Process)
		if p.ProbeResult == nil {
			fmt.Fprintf(w, ": FAILED: %s\n", p.Error)
			continue
		}
		fmt.Fprintf(w, ", spawned at +%s\n", report.FormatDuration(p.SpawnedAt))
		p.ProbeResult.WriteText(w)
	}
}

// WriteText prints one process's description: launch, time line, HTTP mode, capabilities, functions, end.
func (r *ProbeResult) WriteText(w io.Writer) {
	fmt.Fprintln(w, "Launch")
	fmt.Fprintf(w, "  argv            %q\n", r.Command)
	if r.RuntimeVersion != "" {
		fmt.Fprintf(w, "  runtime version %s\n", r.RuntimeVersion)
	}
	if r.Profile != "" {
		fmt.Fprintf(w, "  profile         %s\n", r.Profile)
	}
	ix := "host (function.json)"
	if r.WorkerIndexing {
		ix = "worker (FunctionsMetadataRequest)"
	}
	fmt.Fprintf(w, "  indexing        %s\n", ix)
	for _, n := range r.Notices {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintln(w, "Time line")
	for _, s := range r.Timeline {
		fmt.Fprintf(w, "  %10s  +%-10s %-16s %s\n", report.FormatDuration(s.At), report.FormatDuration(s.Took), s.Name, s.Detail)
	}
	if r.PingRTT > 0 {
		fmt.Fprintf(w, "  status ping round trip: %s\n", report.FormatDuration(r.PingRTT))
	}
	fmt.Fprintf(w, "HTTP: %s\n", r.HTTP)
	fmt.Fprintln(w, "Capabilities")
	keys := make([]string, 0, len(r.Capabilities))
	for k := range r.Capabilities {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-40s %s\n", k, r.Capabilities[k])
	}
	if len(r.Metadata) > 0 {
		fmt.Fprintf(w, "Worker: %v %v (worker %v, %v)\n", r.Metadata["runtime_name"], r.Metadata["runtime_version"], r.Metadata["worker_version"], r.Metadata["worker_bitness"])
	}
	fmt.Fprintln(w, "Functions")
	for _, f := range r.Functions {
		state := "loaded"
		if !f.Loaded {
			state = "FAILED: " + f.Error
		}
		route := ""
		if f.Route != "" {
			route = " route=" + f.Route
		}
		fmt.Fprintf(w, "  %-16s %-14s id=%s bindings=%s%s  %s\n", f.Name, f.Trigger, f.ID, strings.Join(f.Bindings, ","), route, state)
	}
	fmt.Fprintf(w, "Exit code: %d (%s)\n", r.ExitCode, r.Ended)
}

// routeOf is an HTTP function's route template under the host's prefix, e.g. /api/items/{id}.
func routeOf(f *host.Function) string {
	t := f.Trigger()
	if t == nil || !strings.EqualFold(t.Type, "httpTrigger") {
		return ""
	}
	r, _ := t.Raw["route"].(string)
	if r == "" {
		r = f.Name
	}
	return "/" + loadgen.DefaultRoutePrefix + "/" + strings.TrimPrefix(r, "/")
}

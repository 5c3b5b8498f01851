package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

const probeUsage = `Usage: fbench probe [flags] [WORKER [-- ARGS...]]

Launches the worker as the Functions host does, completes the handshake, pings it once, terminates it
and prints the time line (spawn, StartStream, init, metadata, each load, ping, terminate, exit), the
worker's capabilities and its functions.
`

// probeFunction is one function in probe's JSON output.
type probeFunction struct {
	Name     string   `json:"name"`
	ID       string   `json:"id"`
	Trigger  string   `json:"trigger"`
	Bindings []string `json:"bindings"`
	Loaded   bool     `json:"loaded"`
	Route    string   `json:"route,omitempty"` // HTTP functions: the route template under the host's prefix
	Error    string   `json:"error,omitempty"`
}

type probeOutput struct {
	Timeline     []host.Step       `json:"timeline"`
	Capabilities map[string]string `json:"capabilities"`
	// HTTP is how HTTP functions are served: "proxied to URI" (HttpUri) or "RpcHttp over the stream".
	HTTP        string          `json:"http"`
	Metadata    map[string]any  `json:"worker_metadata,omitempty"`
	Functions   []probeFunction `json:"functions"`
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

func cmdProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("probe", probeUsage, stderr)
	var wf workerFlags
	wf.register(fs)
	var pf processFlags
	pf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON (keys timeline, capabilities, functions, exit_code)")
	logPath := fs.String("worker-log", "", "write the worker's output and logs to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opt, err := wf.options(fs.Args())
	if err != nil {
		return err
	}
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
		if err != nil {
			return fmt.Errorf("opening the worker log: %w", err)
		}
		defer f.Close()
		opt.Log = f
	}
	procs, err := pf.resolve(fs, &opt)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := host.NewServer()
	if err != nil {
		return err
	}
	defer srv.Close()
	if procs.Count > 1 {
		return probePool(ctx, srv, opt, procs, *asJSON, stdout)
	}
	w, err := host.Start(ctx, srv, opt)
	if err != nil {
		return err
	}
	out, err := probeWorker(ctx, w)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printProbe(stdout, out)
	}
	// The handshake is not complete when a function failed to load: the probe says so by its exit.
	if n := len(w.Failed); n > 0 {
		return fmt.Errorf("probe: %d function(s) failed to load; first: %s: %s", n, w.Failed[0].Name, oneLine(w.Failed[0].LoadError))
	}
	return nil
}

// probeWorker pings a started worker (when it takes WorkerStatus), terminates it and describes it.
func probeWorker(ctx context.Context, w *host.Worker) (*probeOutput, error) {
	out := &probeOutput{Capabilities: w.Capabilities, Command: w.Command.Args, CommandLine: w.Command.CommandLine,
		RuntimeVersion: w.Command.RuntimeVersion, Profile: w.Command.Profile, WorkerIndexing: w.Command.WorkerIndexing,
		Notices: launchNotices(w.Command), HTTP: "RpcHttp over the stream"}
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
		out.Functions = append(out.Functions, probeFunction{Name: f.Name, ID: f.ID, Trigger: f.TriggerType(), Bindings: f.BindingNames(), Loaded: true,
			Route: routeOf(f)})
	}
	for _, f := range w.Failed {
		out.Functions = append(out.Functions, probeFunction{Name: f.Name, ID: f.ID, Trigger: f.TriggerType(), Bindings: f.BindingNames(), Error: f.LoadError})
	}
	return out, nil
}

func printProbe(w io.Writer, p *probeOutput) {
	fmt.Fprintln(w, "Launch")
	fmt.Fprintf(w, "  argv            %q\n", p.Command)
	if p.RuntimeVersion != "" {
		fmt.Fprintf(w, "  runtime version %s\n", p.RuntimeVersion)
	}
	if p.Profile != "" {
		fmt.Fprintf(w, "  profile         %s\n", p.Profile)
	}
	ix := "host (function.json)"
	if p.WorkerIndexing {
		ix = "worker (FunctionsMetadataRequest)"
	}
	fmt.Fprintf(w, "  indexing        %s\n", ix)
	for _, n := range p.Notices {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintln(w, "Time line")
	for _, s := range p.Timeline {
		fmt.Fprintf(w, "  %10s  +%-10s %-16s %s\n", fmtDur(s.At), fmtDur(s.Took), s.Name, s.Detail)
	}
	if p.PingRTT > 0 {
		fmt.Fprintf(w, "  status ping round trip: %s\n", fmtDur(p.PingRTT))
	}
	fmt.Fprintf(w, "HTTP: %s\n", p.HTTP)
	fmt.Fprintln(w, "Capabilities")
	keys := make([]string, 0, len(p.Capabilities))
	for k := range p.Capabilities {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-40s %s\n", k, p.Capabilities[k])
	}
	if len(p.Metadata) > 0 {
		fmt.Fprintf(w, "Worker: %v %v (worker %v, %v)\n", p.Metadata["runtime_name"], p.Metadata["runtime_version"], p.Metadata["worker_version"], p.Metadata["worker_bitness"])
	}
	fmt.Fprintln(w, "Functions")
	for _, f := range p.Functions {
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
	fmt.Fprintf(w, "Exit code: %d (%s)\n", p.ExitCode, p.Ended)
}

// fmtDur prints a duration with 3 significant figures.
func fmtDur(d time.Duration) string { return report.FormatDuration(d) }

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

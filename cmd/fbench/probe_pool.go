package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/fbench/fbench/loadgen/host"
)

// probeProcess is one worker process of probe --processes N.
type probeProcess struct {
	Process int `json:"process"`
	// SpawnedAt is when the process was started, since the first process's spawn: the host's
	// stagger shows here.
	SpawnedAt time.Duration `json:"spawned_at_ns"`
	Error     string        `json:"error,omitempty"`
	*probeOutput
}

// probePool launches the processes as the host starts them (StartPool), pings each, terminates
// them and prints every process's time line. A process whose handshake failed makes the probe fail.
func probePool(ctx context.Context, srv *host.Server, opt host.Options, procs host.Processes, asJSON bool, stdout io.Writer) error {
	ws, errs := host.StartPool(ctx, srv, opt, host.PoolOptions{Count: procs.Count, StartInterval: procs.StartInterval, StopOnError: true})
	var t0 time.Time
	for _, w := range ws {
		if w != nil && (t0.IsZero() || w.SpawnedAt().Before(t0)) {
			t0 = w.SpawnedAt()
		}
	}
	out := make([]probeProcess, len(ws))
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
		po, err := probeWorker(ctx, w)
		if err != nil {
			out[i].Error = err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("worker process %d of %d: %w", i+1, len(ws), err)
			}
			continue
		}
		out[i].probeOutput = po
		if n := len(w.Failed); n > 0 && firstErr == nil {
			firstErr = fmt.Errorf("probe: worker process %d: %d function(s) failed to load; first: %s: %s", i+1, n, w.Failed[0].Name, oneLine(w.Failed[0].LoadError))
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"processes": out, "count": procs.Count, "count_from": procs.Source,
			"start_interval_ns": procs.StartInterval, "restart_interval_ns": procs.RestartInterval, "max_process_count": procs.Max}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "%d worker processes (%s; maxProcessCount %d), started %s after the previous one's WorkerInitResponse\n",
			procs.Count, procs.Source, procs.Max, fmtDur(procs.StartInterval))
		for _, p := range out {
			fmt.Fprintf(stdout, "\n== process %d", p.Process)
			if p.probeOutput == nil {
				fmt.Fprintf(stdout, ": FAILED: %s\n", p.Error)
				continue
			}
			fmt.Fprintf(stdout, ", spawned at +%s\n", fmtDur(p.SpawnedAt))
			printProbe(stdout, p.probeOutput)
		}
	}
	return firstErr
}

package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// fbench's footprint over the measured intervals: CPU per invocation sent, mean share of a core and
// of the machine, the worker's share beside it, and a warning when fbench took more than the worker.
func TestHarnessFootprint(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fbenchPct float64 // every interval
		workerPct float64
		heavier   bool
	}{
		{"lighter than the worker", 12, 36, false},
		{"heavier than the worker", 48, 30, true},
		{"heavier than an idle worker, but light", 2, 0.5, false}, // under heavyHarnessPct: no warning
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := synthIntervals(t)
			var sent int64
			var cpuSec float64
			for i, r := range recs {
				// Warm-up intervals take a different figure: they must not count.
				pct := tc.fbenchPct
				if r.Warmup {
					pct = 95
				} else {
					sent += r.Counts.Sent
					cpuSec += pct / 100 * r.Length.Seconds()
				}
				r.Resources.FbenchCPUPct, r.Resources.WorkerCPUPct = pct, tc.workerPct
				if i == 0 {
					r.Resources.WorkerCPUPct = 0.5 // the warm-up's worker figure is left out too
				}
			}
			if sent == 0 {
				t.Fatal("the synthetic run sends nothing in its measured intervals")
			}
			s := writeSynthetic(t, t.TempDir(), synthMeta(), recs)
			h := s.Harness
			wantPer := cpuSec * 1e6 / float64(sent)
			if math.Abs(h.CPUUsPerInvocation-wantPer) > 0.001 {
				t.Errorf("cpu_us_per_invocation = %v, want %.3f", h.CPUUsPerInvocation, wantPer)
			}
			if h.MeanCPUPct != tc.fbenchPct {
				t.Errorf("mean_cpu_pct = %v, want %v", h.MeanCPUPct, tc.fbenchPct)
			}
			if want := tc.fbenchPct / 8; math.Abs(h.MachineSharePct-want) > 0.001 { // synthMeta: 8 cores
				t.Errorf("machine_share_pct = %v, want %v", h.MachineSharePct, want)
			}
			if h.WorkerMeanCPUPct != tc.workerPct {
				t.Errorf("worker_mean_cpu_pct = %v, want %v", h.WorkerMeanCPUPct, tc.workerPct)
			}
			warned := false
			for _, w := range s.Warnings {
				if strings.Contains(w, "fbench took more CPU than the worker") {
					warned = true
				}
			}
			if warned != tc.heavier {
				t.Errorf("warning about fbench's CPU: %v, want %v (warnings %q)", warned, tc.heavier, s.Warnings)
			}
			if !h.Valid {
				t.Errorf("the run is invalid (%s): a heavy harness is a notice, not an invalid run", h.InvalidReason)
			}
			var text bytes.Buffer
			if err := WriteText(&text, s); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "harness footprint: ") || !strings.Contains(text.String(), "µs CPU per invocation") {
				t.Errorf("the text summary does not state the footprint:\n%s", text.String())
			}
		})
	}
}

// A run without resource samples states no footprint (rather than zeros that look measured).
func TestHarnessFootprintUnsampled(t *testing.T) {
	recs := synthIntervals(t)
	for _, r := range recs {
		r.Resources = Resources{}
	}
	s := writeSynthetic(t, t.TempDir(), synthMeta(), recs)
	if h := s.Harness; h.CPUUsPerInvocation != 0 || h.MeanCPUPct != 0 || h.WorkerMeanCPUPct != 0 {
		t.Errorf("footprint without samples: %+v", h)
	}
	var text bytes.Buffer
	_ = WriteText(&text, s)
	if strings.Contains(text.String(), "harness footprint") {
		t.Errorf("the text states a footprint it did not measure:\n%s", text.String())
	}
}

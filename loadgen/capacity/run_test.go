package capacity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/report"
)

// fakeRunner is a worker that answers up to knee invocations per second: each step gets a
// warm-up interval and two measured 1 s intervals at the step's rate, and a summary whose rtt
// grows once the rate passes the knee.
func fakeRunner(knee float64, fail error) StepRunner {
	return func(ctx context.Context, sp StepSpec, h StepHooks) error {
		if fail != nil {
			return fail
		}
		if err := os.MkdirAll(sp.Dir, 0o750); err != nil {
			return err
		}
		answered := min(sp.Rate, knee)
		h.Interval(&report.IntervalRecord{Warmup: true, Length: time.Second, OfferedRPS: sp.Rate, InFlight: 4})
		for i := 0; i < 2; i++ {
			h.Interval(&report.IntervalRecord{Length: time.Second, OfferedRPS: sp.Rate, InFlight: 4,
				Counts: report.Counts{Succeeded: int64(answered)}})
		}
		s := &report.Summary{Counts: report.Counts{Due: int64(2 * sp.Rate), Succeeded: int64(2 * answered)},
			Latency: map[string]report.Stats{report.MetricRTT: {P50: 1000, P99: 2000, Count: 1}}}
		s.Harness.Valid = true
		h.Summary(s, StepRun{})
		if len(s.Verdicts) != 1 || !strings.HasPrefix(s.Verdicts[0].Name, "capacity step") {
			return errors.New("the step's summary carries no capacity verdict")
		}
		return nil
	}
}

func TestSetupRun(t *testing.T) {
	opts := Options{Start: 100, MaxRate: 100_000, Step: time.Second, Precision: "5%", ConfirmRetries: 3, HarnessRetries: 1, MaxErrorRate: "0.1%"}
	tests := []struct {
		name    string
		runner  StepRunner
		code    int    // 0: a rate was found
		status  string // Result.Status
		inError string // in the error's text
		sustain [2]float64
	}{
		{name: "knee 800", runner: fakeRunner(800, nil), status: Found, sustain: [2]float64{760, 800}},
		{name: "worker fails to start", runner: fakeRunner(800, &StartError{Err: errors.New("handshake: exit 1"), Log: "w.log"}),
			code: ExitError, status: "error", inError: "step 1 (100/s): handshake: exit 1 (worker log: w.log)"},
		{name: "run fails", runner: fakeRunner(800, &RunError{Err: errors.New("run: boom")}),
			code: ExitError, status: "error", inError: "step 1 (100/s): run: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSetup(opts)
			if err != nil {
				t.Fatal(err)
			}
			s.Out, s.Target = filepath.Join(t.TempDir(), "cap"), "fake"
			var stdout bytes.Buffer
			rep, err := s.Run(context.Background(), tc.runner, Output{Stdout: &stdout})
			var ce *CodeError
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("error %v", err)
			case tc.code != 0 && (!errors.As(err, &ce) || ce.Code != tc.code || !strings.Contains(err.Error(), tc.inError)):
				t.Fatalf("error %v, want code %d saying %q", err, tc.code, tc.inError)
			}
			if rep.Result.Status != tc.status {
				t.Errorf("status %q, want %q", rep.Result.Status, tc.status)
			}
			if r := rep.Result.SustainableRPS; tc.code == 0 && (r < tc.sustain[0] || r > tc.sustain[1]) {
				t.Errorf("sustainable %v/s, want within %v", r, tc.sustain)
			}
			b, err := os.ReadFile(filepath.Join(s.Out, JSONFile))
			if err != nil {
				t.Fatal(err)
			}
			var onDisk Report
			if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.Result == nil || onDisk.Result.Status != tc.status {
				t.Errorf("capacity.json: %v, result %+v", err, onDisk.Result)
			}
			if _, err := os.Stat(filepath.Join(s.Out, HTMLFile)); err != nil {
				t.Error(err)
			}
			if !strings.HasPrefix(stdout.String(), "fbench capacity: fake; ") || !strings.Contains(stdout.String(), TableHeader) {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}

package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// Every long flag works Go-style with one dash and GNU-style with two; shorthands and negative
// values keep their meaning.
func TestGoStyleFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		rps     float64
		dur     time.Duration
		count   int64
		wantErr string
	}{
		{args: []string{"-rps", "5000"}, rps: 5000, dur: 30 * time.Second},
		{args: []string{"--rps", "5000"}, rps: 5000, dur: 30 * time.Second},
		{args: []string{"-rps=250", "-duration=10s"}, rps: 250, dur: 10 * time.Second},
		{args: []string{"-rps", "100", "-d", "5s"}, rps: 100, dur: 5 * time.Second},
		{args: []string{"-n", "42", "-duration", "2s"}, rps: 1000, dur: 2 * time.Second, count: 42},
		{args: []string{"-rps", "-5"}, rps: -5, dur: 30 * time.Second},
		{args: []string{"-rsp", "5"}, wantErr: "unknown shorthand flag"},
		{args: []string{"--nope"}, wantErr: "unknown flag: --nope"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := newFlagSet("run", runUsage, io.Discard)
			var f runFlags
			f.register(fs)
			err := parseFlags(fs, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Rate != tc.rps || f.Duration != tc.dur || f.Count != tc.count {
				t.Fatalf("rps %v duration %v count %d", f.Rate, f.Duration, f.Count)
			}
		})
	}
	// A bad value is one clear line naming the flag.
	fs := newFlagSet("run", runUsage, io.Discard)
	var f runFlags
	f.register(fs)
	if err := parseFlags(fs, []string{"-d", "abc"}); err == nil || !strings.Contains(err.Error(), `"abc"`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("-d abc: %v", err)
	}
	_ = pflag.ErrHelp
}

// The reference worker's leak mode makes the worker_memory verdict fail (exit 2 with
// --gate-verdicts); the same run without it passes, or skips when its few seconds of start-up
// growth would have to be extrapolated to an hour.
func TestLeakVerdict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extra  []string
		status string // or statuses, "|"-separated
		code   int
	}{
		{"leak", []string{"--ref", "fault=leak=40000"}, "fail", exitFailed},
		{"no leak", nil, "pass|skip", exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			args := append([]string{"-rps", "500", "-d", "6s", "--warmup", "1s", "--quiet", "--lag-budget", "10s",
				"--gate-verdicts", "--min-throughput", "50%", "--max-p99-drift", "100000%", "--out", out}, tc.extra...)
			r := startFbench(t, "", args...).wait(time.Minute)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tc.code, r.stderr)
			}
			b, err := os.ReadFile(filepath.Join(out, "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			var s struct {
				Verdicts []struct{ Name, Status, Detail string } `json:"verdicts"`
			}
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			for _, v := range s.Verdicts {
				if v.Name == "worker_memory" {
					if !slices.Contains(strings.Split(tc.status, "|"), v.Status) {
						t.Fatalf("worker_memory %s (%s), want %s", v.Status, v.Detail, tc.status)
					}
					return
				}
			}
			t.Fatalf("no worker_memory verdict: %+v", s.Verdicts)
		})
	}
}

// --cpu-budget: a run whose fbench CPU is over it is invalid (exit 3), and says why.
func TestCPUBudgetInvalidates(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	// A lag budget of a minute: the lag check comes first, and a busy machine must not make the run
	// invalid for its lag before the CPU budget is judged.
	r := fbench(t, time.Minute, "-rps", "2000", "-d", "3s", "--quiet", "--cpu-budget", "0.01", "--lag-budget", "1m", "--out", out)
	expectExit(t, r, exitInvalid)
	s := checkRunDir(t, out)
	if s.Harness.Valid || !strings.Contains(s.Harness.InvalidReason, "CPU budget") {
		t.Errorf("harness %+v", s.Harness)
	}
}

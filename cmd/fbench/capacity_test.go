package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen/capacity"
	"github.com/fbench/fbench/report"
)

// capWorkerEnv makes this test binary act as fbench's reference worker when fbench (called
// in-process by the tests) launches os.Executable() with the verb "worker".
const capWorkerEnv = "FBENCH_CAPACITY_TEST_WORKER"

func init() {
	if os.Getenv(capWorkerEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(run(crashOneWorker(os.Args[1:]), os.Stdout, os.Stderr))
	}
}

func TestCapacityBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-rps", "100"},
		{"-d", "5s"},
		{"--profile", "ramp"},
		{"--precision", "0"},
		{"--precision", "60%"},
		{"--precision", "five"},
		{"--start", "0"},
		{"--start", "100", "--max-rate", "50"},
		{"--step", "10ms"},
		{"--max-error-rate", "2"},
		{"--harness-retries", "-1"},
		{"--slo", "rtt.p99<<50ms"},
		{"--repeat", "3"},
		{"--function", "work", "/nonexistent/worker"},
		{"--bogus"},
	} {
		var out, errb bytes.Buffer
		full := append([]string{"capacity", "--out", filepath.Join(dir, "x")}, args...)
		if code := run(full, &out, &errb); code != exitError {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitError, errb.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
			t.Errorf("%q: created the output directory on bad input", args)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"capacity", "--help"}, &out, &errb); code != exitOK || !strings.Contains(errb.String(), "--step-warmup") || strings.Contains(errb.String(), "--rps") {
		t.Errorf("capacity --help: exit %d, usage %q", code, errb.String())
	}
}

// TestCapacityReferenceWorker searches the reference worker's capacity end to end. Theory: with
// --max-concurrency=8 the worker runs at most 8 invocations at once and each sleeps 10 ms (sleep,
// not CPU, so the machine's cores do not matter), so it completes at most slots ÷ service time =
// 8 ÷ 10 ms = 800 invocations/s; above that its queue grows without bound. The search must find
// a rate within 10% of 800/s. In practice a sleep overshoots by a few hundred µs, so the real
// knee is near 8 ÷ 10.4 ms ≈ 770/s: --precision 2% keeps the rate found (within 2% below the
// knee) clear of the 720/s bound, where 5% could land on it. The latency objective is loose and
// the lag budget wide so that the knee the test checks is the throughput one, not scheduling
// noise on a busy CI machine.
func TestCapacityReferenceWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: runs about a dozen 3 s steps")
	}
	var out string
	for attempt := 1; ; attempt++ {
		out = filepath.Join(t.TempDir(), "cap")
		args := []string{"capacity", "--function", "work", "--ref", "service-time=10ms", "--ref", "max-concurrency=8",
			"--env", capWorkerEnv + "=1", "--start", "200", "--step", "2s", "--step-warmup", "1s", "--precision", "2%",
			"--confirm", "2s", "--p99", "500ms", "--lag-budget", "50ms", "--out", out}
		var stdout, stderr bytes.Buffer
		t0 := time.Now()
		code := run(args, &stdout, &stderr)
		t.Logf("%s in %s:\n%s%s", strings.Join(args, " "), time.Since(t0).Round(time.Second), stdout.String(), stderr.String())
		if code == exitInvalid {
			// The harness fell behind: the machine is too busy to measure anything (a neighbour
			// hogging the cores). That is the harness validity gate working, not the search failing.
			if attempt < 2 {
				continue
			}
			t.Skip("the harness fell behind twice: this machine is too busy to measure the worker")
		}
		if code != exitOK {
			t.Fatalf("exit %d, want 0", code)
		}
		if !strings.Contains(stdout.String(), "sustainable: ") || !strings.Contains(stdout.String(), "(confirmed)") {
			t.Errorf("stdout lacks the result line")
		}
		break
	}
	rep := loadCapReport(t, out)
	r := rep.Result
	if r == nil || r.Status != capacity.Found || !r.Confirmed {
		t.Fatalf("result %+v, want a confirmed rate", r)
	}
	if r.BrokeAtRPS <= r.SustainableRPS || r.BrokeCause == "" {
		t.Errorf("broke at %v/s (%s), sustainable %v/s", r.BrokeAtRPS, r.BrokeCause, r.SustainableRPS)
	}
	if rep.Schema != capacity.Schema || len(rep.Steps) < 4 || rep.Steps[0].Rate != 200 || rep.Steps[len(rep.Steps)-1].Stage != "confirm" {
		t.Errorf("capacity.json: schema %q, %d steps", rep.Schema, len(rep.Steps))
	}
	var firstService int64 // µs
	for _, st := range rep.Steps {
		sum := loadSummary(t, filepath.Join(out, st.Dir))
		var v *report.Verdict
		for i := range sum.Verdicts {
			if strings.HasPrefix(sum.Verdicts[i].Name, "capacity step") {
				v = &sum.Verdicts[i]
			}
		}
		if v == nil || (v.Status == report.VerdictPass) != st.Pass {
			t.Errorf("step %d (pass %v): capacity verdict %+v", st.N, st.Pass, v)
		}
		if st.Pass && (st.AchievedRPS < 0.98*st.Rate || st.P50US < 10000) {
			t.Errorf("step %d passed with achieved %v/s at %v/s, p50 %dµs", st.N, st.AchievedRPS, st.Rate, st.P50US)
		}
		if st.N == 1 {
			firstService = sum.Latency[report.MetricService].P50
		}
	}
	// 8 slots each held for the 10 ms sleep: at most 800/s, less on a machine whose sleeps
	// overshoot. The first step (200/s, a quarter of the slots) measures the service time, which
	// holds a slot and a little more (the answer's trip): 8 ÷ it is a floor of what the worker allows.
	floor := 8 / (float64(firstService) / 1e6)
	if firstService < 10_000 || r.SustainableRPS < 0.85*floor || r.SustainableRPS > 880 {
		t.Errorf("sustainable %v/s, want from 85%% of %.0f/s (8 slots at the measured %dµs service) to 880/s (10%% over 8 slots at 10 ms)",
			r.SustainableRPS, floor, firstService)
	}
	html, err := os.ReadFile(filepath.Join(out, capacity.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-chart="knee"`, `data-chart="throughput"`, "sustainable " + capacity.FormatRate(r.SustainableRPS) + "/s", "<table", "steps/0001-200/report.html"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("capacity.html lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", `src="http`, `href="http`, "url(", "<link"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("capacity.html is not self-contained: %q", bad)
		}
	}
}

// TestCapacityWorkerCrash: a worker that crashes mid-step ends the search with exit 4, naming the rate.
func TestCapacityWorkerCrash(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cap")
	var stdout, stderr bytes.Buffer
	code := run([]string{"capacity", "--function", "work", "--ref", "service-time=1ms", "--ref", "fault=crash-after=150",
		"--env", capWorkerEnv + "=1", "--step", "1s", "--step-warmup", "0s", "--p99", "1s", "--lag-budget", "1s", "--out", out}, &stdout, &stderr)
	if code != exitCrashed {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitCrashed, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "the worker crashed at 200/s (step 2)") || !strings.Contains(stderr.String(), "crash-after=150") {
		t.Errorf("stderr %q does not say where and why the worker crashed", stderr.String())
	}
	rep := loadCapReport(t, out)
	if r := rep.Result; r == nil || r.Status != capacity.Crashed || r.BrokeAtRPS != 200 || r.BrokeCause != capacity.CauseCrash || r.BestPassRPS != 100 {
		t.Errorf("result %+v", rep.Result)
	}
}

// TestCapacityWorkerFailsToStart: a worker that never completes its handshake is exit 1.
func TestCapacityWorkerFailsToStart(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cap")
	var stdout, stderr bytes.Buffer
	code := run([]string{"capacity", "--ref", "fault=exit-at-start", "--env", capWorkerEnv + "=1", "--step", "1s", "--out", out}, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "step 1 (100/s)") {
		t.Fatalf("exit %d, stderr %q; want 1 naming the step", code, stderr.String())
	}
	rep := loadCapReport(t, out)
	if rep.Result == nil || rep.Result.Status != "error" || len(rep.Steps) != 1 || rep.Steps[0].Cause != capacity.CauseStartErr {
		t.Errorf("capacity.json: result %+v, steps %d", rep.Result, len(rep.Steps))
	}
}

// loadCapReport reads the capacity.json a search wrote to dir.
func loadCapReport(t testing.TB, dir string) capacity.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, capacity.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var rep capacity.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", capacity.JSONFile, err)
	}
	return rep
}

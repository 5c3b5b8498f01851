package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/refworker"
	"github.com/fbench/fbench/loadgen/refworker/workertest"
	"github.com/fbench/fbench/report"
)

// The test binary doubles as the reference worker (see workertest).
func TestMain(m *testing.M) { workertest.Main(m, workertest.Worker(refworker.Main)) }

// refSettings are a short run of the test binary as the reference worker, with refArgs its settings.
func refSettings(t *testing.T, refArgs string) Settings {
	t.Helper()
	s := Defaults()
	s.Worker.Command = []string{workertest.Executable(t)}
	s.Worker.App = t.TempDir()
	s.Worker.Env = workertest.Env(refArgs)
	s.Rate, s.Duration, s.Interval, s.Drain = 200, time.Second, 250*time.Millisecond, 2*time.Second
	s.Function = "echo"
	s.LagBudget, s.CPUBudget = time.Second, 0 // a shared test machine must not make the run invalid
	s.Out = filepath.Join(t.TempDir(), "run")
	return s
}

// Run drives the reference worker from Go: the run directory is written, the figures add up,
// notices and progress go where Output says, and each kind of end is told by its error's kind.
func TestRun(t *testing.T) {
	gateErr := errors.New("the gate says no")
	for _, tc := range []struct {
		name     string
		refArgs  string
		gate     func(*report.Summary) error
		wantKind error // nil: the run passes
		wantMsg  string
	}{
		{name: "passes"},
		{name: "gate fails", gate: func(*report.Summary) error { return gateErr }, wantKind: ErrFailed, wantMsg: "the gate says no"},
		{name: "worker crashes", refArgs: "--fault=crash-after=20", wantKind: ErrCrashed, wantMsg: "the worker crashed: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(refSettings(t, tc.refArgs))
			if err != nil {
				t.Fatal(err)
			}
			p.Gate = tc.gate
			var progress bytes.Buffer
			var notices []string
			oc, err := Run(context.Background(), p, Output{Progress: &progress, Notice: func(n string) { notices = append(notices, n) }})
			if tc.wantKind == nil {
				if err != nil {
					t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
				}
			} else if !errors.Is(err, tc.wantKind) || !strings.HasPrefix(err.Error(), tc.wantMsg) {
				t.Fatalf("err %v, want kind %v with message %q…", err, tc.wantKind, tc.wantMsg)
			}
			if tc.gate != nil && !errors.Is(err, gateErr) {
				t.Fatalf("err %v does not wrap the gate's error", err)
			}
			if oc == nil || oc.Summary == nil || oc.Result == nil {
				t.Fatalf("outcome %+v: want a summary and a result", oc)
			}
			for _, f := range []string{report.SummaryFile, report.RunFile, "worker.log", "report.html"} {
				if _, err := os.Stat(filepath.Join(p.Out, f)); err != nil {
					t.Errorf("run directory: %v", err)
				}
			}
			c := oc.Summary.Counts
			if tc.wantKind == ErrCrashed {
				if c.Succeeded >= c.Due || c.Lost+c.Unsent == 0 {
					t.Errorf("counts %+v: a crash after 20 invocations must lose or leave unsent the rest", c)
				}
				return
			}
			if c.Due != 200 || c.Succeeded != 200 {
				t.Errorf("counts %+v: want 200 due and succeeded", c)
			}
			if !strings.Contains(progress.String(), "fbench: open loop, constant arrivals, 200 invocations over 1s;") {
				t.Errorf("progress lacks the start line:\n%s", progress.String())
			}
			if len(notices) == 0 { // the worker indexes its own functions: said as a notice
				t.Errorf("no notice")
			}
		})
	}
}

// A plan the engine refuses (a function the worker does not have) leaves no run directory behind.
func TestRunRefusedPlanLeavesNothing(t *testing.T) {
	s := refSettings(t, "")
	s.Function = "nope"
	p, err := NewPlan(s)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := Run(context.Background(), p, Output{})
	if err == nil || oc != nil || errors.Is(err, ErrCrashed) || errors.Is(err, ErrInvalid) {
		t.Fatalf("outcome %v, err %v: want a plain error", oc, err)
	}
	if _, serr := os.Stat(p.Out); !os.IsNotExist(serr) {
		t.Fatalf("run directory left behind: %v", serr)
	}
}

// Every setting NewPlan refuses is one line naming it.
func TestNewPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Settings)
		want string
	}{
		{"rate", func(s *Settings) { s.Rate = 0 }, "invalid -rps 0: must be > 0"},
		{"function and mix", func(s *Settings) { s.Mix = "echo=2" }, "give --function or --mix, not both"},
		{"mix weight", func(s *Settings) { s.Function, s.Mix = "", "echo=x" }, `invalid --mix "echo=x": weight of echo must be a positive integer`},
		{"header", func(s *Settings) { s.Request.Headers = []string{"nocolon"} }, `invalid --header "nocolon": want K:V`},
		{"closed loop and rate", func(s *Settings) { s.Concurrency, s.RateSet = 4, true }, "--concurrency (closed loop) cannot be combined with -rps, --profile or --arrival"},
		{"memory growth", func(s *Settings) { s.Verdicts.MemoryGrowth = "lots" }, `invalid --max-memory-growth "lots": want a size such as 64MiB`},
		{"start-at with repeat", func(s *Settings) { s.StartAt, s.Repeat = "+1m", 2 }, "--start-at cannot be combined with --repeat: one start time serves one run"},
		{"processes", func(s *Settings) { s.Processes.Count, s.Processes.CountSet = "0", true }, `invalid --processes "0": want a whole number from 1 to`},
		{"slo window", func(s *Settings) { s.SLOWindow = time.Second }, "--slo-window needs at least one --slo"},
		{"ref with a worker", func(s *Settings) { s.Worker.Ref = []string{"mimic=node"} }, "--ref configures the built-in reference worker; it cannot be used with WORKER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := refSettings(t, "")
			tc.set(&s)
			p, err := NewPlan(s)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("plan %v, err %v: want one line starting %q", p, err, tc.want)
			}
		})
	}
}

// NewPlan's gate fails a run on a failed objective, and on a failed verdict with GateVerdicts.
func TestPlanGate(t *testing.T) {
	failedSLO := []report.SLOResult{{Expression: "rtt.p99<1ms", Observed: "2ms"}}
	failedVerdict := []report.Verdict{{Name: "worker_memory", Status: report.VerdictFail, Detail: "grows"}}
	for _, tc := range []struct {
		name         string
		gateVerdicts bool
		sum          report.Summary
		want         string // "": the gate passes
	}{
		{name: "passes", gateVerdicts: true},
		{name: "objective fails", sum: report.Summary{SLOs: failedSLO}, want: "1 of 1 SLOs failed: rtt.p99<1ms (observed 2ms)"},
		{name: "objective first", gateVerdicts: true, sum: report.Summary{SLOs: failedSLO, Verdicts: failedVerdict}, want: "1 of 1 SLOs failed: rtt.p99<1ms (observed 2ms)"},
		{name: "verdict ungated", sum: report.Summary{Verdicts: failedVerdict}},
		{name: "verdict gated", gateVerdicts: true, sum: report.Summary{Verdicts: failedVerdict}, want: "1 verdicts failed: worker_memory: grows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := refSettings(t, "")
			s.GateVerdicts = tc.gateVerdicts
			p, err := NewPlan(s)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if err := p.Gate(&tc.sum); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("gate %q, want %q", got, tc.want)
			}
		})
	}
}

// ProcessSizes reads a --processes list against the worker's most processes.
func TestProcessSizes(t *testing.T) {
	for _, tc := range []struct {
		name, list string
		env        []string
		want       []int
		wantErr    string
	}{
		{name: "list", list: "1, 2,4", want: []int{1, 2, 4}},
		{name: "repeated", list: "1,1", wantErr: `invalid --processes "1,1": 1 is repeated`},
		{name: "zero", list: "0,2", wantErr: `invalid --processes "0,2": want whole numbers from 1 to`},
		{name: "bad worker settings", list: "1", env: []string{"NOEQUALS"}, wantErr: `invalid --env "NOEQUALS": want KEY=VALUE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := refSettings(t, "").Worker
			ws.Env = append(ws.Env, tc.env...)
			got, err := ProcessSizes(ws, tc.list)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("sizes %v, err %v: want %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("sizes %v, err %v: want %v", got, err, tc.want)
			}
		})
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		function, mix string
		want          []loadgen.Target
		wantErr       bool
	}{
		{function: "echo", want: []loadgen.Target{{Function: "echo", Weight: 1}}},
		{mix: "echo=3, work", want: []loadgen.Target{{Function: "echo", Weight: 3}, {Function: "work", Weight: 1}}},
		{},
		{mix: "echo,echo", wantErr: true},
		{mix: "echo=0", wantErr: true},
		{mix: "=2", wantErr: true},
	} {
		got, err := ParseMix(tc.function, tc.mix)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("ParseMix(%q, %q) = %v, %v; want %v (error %v)", tc.function, tc.mix, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestRequestPayload(t *testing.T) {
	r := Request{Method: "PUT", Body: "hi", Headers: []string{" X-A : 1 "}, Query: []string{"q=a=b"}, RouteParams: []string{"id=42"}}
	p, err := r.Payload()
	if err != nil {
		t.Fatal(err)
	}
	if p.Method != "PUT" || string(p.Body) != "hi" || p.Headers[0] != [2]string{"X-A", "1"} || p.Query[0] != [2]string{"q", "a=b"} || p.RouteParams["id"] != "42" {
		t.Fatalf("payload %+v", p)
	}
	for _, bad := range []Request{{Body: "x", BodyFile: "f"}, {BodyFile: filepath.Join(t.TempDir(), "missing")}, {Query: []string{"=1"}}, {RouteParams: []string{"id"}}} {
		if _, err := bad.Payload(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestParseSizesAndFractions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"512", 512}, {"64KiB", 64 << 10}, {"64MiB", 64 << 20}, {"1.5G", 3 << 29}, {" 2 MB ", 2 << 20}, {"10B", 10}} {
		if got, err := parseBytes(tc.in); err != nil || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseBytes("lots"); err == nil {
		t.Error("parseBytes(lots): no error")
	}
	for in, want := range map[string]float64{"50%": 0.5, "0.25": 0.25, " 1% ": 0.01} {
		if got, err := parseFraction(in); err != nil || got != want {
			t.Errorf("parseFraction(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// Repeat's worst run decides the set's kind; a run that could not start, or an interruption, stops it.
func TestSeverity(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{withKind(ErrFailed, errors.New("x")), 1},
		{withKind(ErrInvalid, errors.New("x")), 2},
		{withKind(ErrCrashed, errors.New("x")), 3},
		{withKind(ErrInterrupted, errors.New("x")), -1},
		{errors.New("could not start"), -1},
	} {
		if got := severity(tc.err); got != tc.want {
			t.Errorf("severity(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

package main

// End-to-end robustness and security tests of the real CLI: a misbehaving worker (the reference
// worker's fault modes), bad input, interrupted and killed runs, and the security properties a
// user relies on. Each asserts what the user sees: the exit code, the one error line on stderr and
// what summary.json says.
//
// Covered elsewhere, not repeated here: the worker is started without a shell with its arguments
// as a list (loadgen/host TestLaunchArgumentsAndEnvironment), %VAR% expansion cannot inject
// arguments (loadgen/host TestExpandPercentCannotInject), strangers' streams are refused
// (loadgen/host TestStrangerStreamIsRefused).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
	"github.com/fbench/fbench/report"
)

// hang is how long any one fbench run may take before the test calls it a hang.
const hang = 60 * time.Second

// runArgs are the arguments of a short run writing to dir; a generous lag budget keeps a loaded
// test machine from turning a pass into exit 3 where the harness's own lag is not the point.
func runArgs(dir string, extra ...string) []string {
	return append([]string{"-q", "--out", dir, "--lag-budget", "10s"}, extra...)
}

// ---------------------------------------------------------------------------------------------
// 1. The misbehaving-worker matrix.

// The worker fails before the run: exit 1, one line naming the phase, the worker's own exit code
// (only when it exited by itself) and its last stderr lines; the run directory records the failure.
func TestWorkerFailsToStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		parts []string
		not   []string
	}{
		{"exit-at-start", []string{"--ref", "fault=exit-at-start"},
			[]string{"fbench: start: worker exited before sending StartStream (worker exit code 3)", "fault exit-at-start", "worker log: "}, nil},
		{"never-connects", []string{"--ref", "fault=no-start-stream", "--start-timeout", "2s"},
			[]string{"fbench: start: no StartStream within 2s (--start-timeout)", "fault no-start-stream"}, []string{"exit code"}},
		{"fail-init", []string{"--ref", "fault=fail-init"},
			[]string{"fbench: init: worker failed initialization: status Failure: fault fail-init: worker initialization failed on purpose;"},
			[]string{"exit code", "on purpose: fault fail-init"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			r := fbench(t, hang, runArgs(dir, append([]string{"-rps", "200", "-d", "2s"}, tc.args...)...)...)
			expectExit(t, r, exitError)
			line := errorLine(t, r)
			expectLine(t, line, tc.parts...)
			for _, n := range tc.not {
				if strings.Contains(line, n) {
					t.Errorf("error line contains %q:\n%s", n, line)
				}
			}
			if tc.name == "never-connects" && r.took > 15*time.Second {
				t.Errorf("--start-timeout 2s took %s", r.took)
			}
			s := checkRunDir(t, dir)
			if len(s.Events) == 0 || s.Events[0].Kind != "worker_failed" {
				t.Errorf("summary events %+v, want worker_failed", s.Events)
			}
			if s.Counts.Sent != 0 {
				t.Errorf("sent %d invocations to a worker that never started", s.Counts.Sent)
			}
		})
	}
}

// One function fails to load: the run goes on with the others; asking for that function is a
// clear error naming it, with nothing left behind.
func TestFunctionFailsToLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := fbench(t, hang, runArgs(dir, "-rps", "200", "-d", "1s", "--drain", "1s", "--ref", "fault=fail-load=work")...)
	expectExit(t, r, exitOK)
	errorLine(t, r)
	note := "fbench: note: function work failed to load and is not invoked: status Failure: fault fail-load: loading work failed on purpose"
	if !strings.Contains(r.stderr, note+"\n") {
		t.Errorf("stderr lacks %q:\n%s", note, r.stderr)
	}
	s := checkRunDir(t, dir)
	found := false
	for _, e := range s.Events {
		found = found || e.Kind == "notice" && strings.Contains(e.Detail, "function work failed to load")
	}
	if !found {
		t.Errorf("summary events %+v lack the failed load", s.Events)
	}
	for _, f := range s.Worker.Functions {
		if f.Name == "work" {
			t.Errorf("the function that failed to load is listed as loaded: %+v", s.Worker.Functions)
		}
	}
	if s.Counts.Succeeded != s.Counts.Sent || s.Counts.Sent < 150 {
		t.Errorf("counts %+v", s.Counts)
	}

	dir = filepath.Join(t.TempDir(), "run")
	r = fbench(t, hang, runArgs(dir, "-rps", "200", "-d", "1s", "--ref", "fault=fail-load=work", "--function", "work")...)
	expectExit(t, r, exitError)
	expectLine(t, errorLine(t, r), `fbench: function "work" failed to load: status Failure: fault fail-load: loading work failed on purpose`)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("run directory left behind for a run that could not start: %v", err)
	}
}

// The worker crashes mid-run: exit 4, the crash on one line with its exit code and stderr; the
// summary has crashed, the exit code, the stderr tail and the lost invocations.
func TestWorkerCrashesMidRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := fbench(t, hang, runArgs(dir, "-rps", "500", "-d", "2s", "--drain", "1s", "--ref", "fault=crash-after=300")...)
	expectExit(t, r, exitCrashed)
	expectLine(t, errorLine(t, r), "fbench: the worker crashed:", "exit status 3 (exit code 3)", "last stderr: ", "fault crash-after=300")
	s := checkRunDir(t, dir)
	w := s.Worker
	if !w.Crashed || w.ExitCode == nil || *w.ExitCode != 3 {
		t.Errorf("worker: crashed %v, exit code %v; want true, 3", w.Crashed, w.ExitCode)
	}
	if !strings.Contains(strings.Join(w.StderrTail, "\n"), "crash-after=300") {
		t.Errorf("stderr tail %q lacks the crash line", w.StderrTail)
	}
	c := s.Counts
	if c.Lost < 1 || c.Succeeded < 250 || c.Succeeded > 299 {
		t.Errorf("counts %+v: want lost >= 1 and about 299 succeeded", c)
	}
	checkCountsAddUp(t, c)
	if r.took > 15*time.Second {
		t.Errorf("a crash at 0.6 s of a 2 s run took %s", r.took)
	}
}

// The worker closes its stream with invocations in flight: that ends the run like a crash (exit 4,
// documented as "the worker's stream ended during the run"), the unanswered ones counted lost.
func TestWorkerClosesStream(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := fbench(t, hang, runArgs(dir, "-rps", "500", "-d", "2s", "--drain", "1s", "--ref", "fault=close-stream@300")...)
	expectExit(t, r, exitCrashed)
	expectLine(t, errorLine(t, r), "fbench: the worker crashed:", "the worker closed its stream", "exit code 0", "fault close-stream@300")
	s := checkRunDir(t, dir)
	if !s.Worker.Crashed || s.Worker.ExitCode == nil || *s.Worker.ExitCode != 0 {
		t.Errorf("worker: crashed %v, exit code %v; want true, 0", s.Worker.Crashed, s.Worker.ExitCode)
	}
	if s.Counts.Lost < 1 {
		t.Errorf("lost %d, want >= 1 (the 300th was never answered)", s.Counts.Lost)
	}
	checkCountsAddUp(t, s.Counts)
}

// The worker stops answering for 2 s: the latency tail shows the pause, the run completes and
// everything is answered.
func TestWorkerPauses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := fbench(t, hang, "-q", "--out", dir, "-rps", "300", "-d", "3s", "--drain", "3s", "--ref", "fault=pause=2s@150")
	expectExit(t, r, exitOK, exitInvalid)
	errorLine(t, r)
	s := checkRunDir(t, dir)
	if s.Counts.Succeeded != s.Counts.Due || s.Counts.Due < 800 {
		t.Errorf("counts %+v: want every invocation answered", s.Counts)
	}
	rtt := s.Latency[report.MetricRTT]
	if rtt.Max < 1_800_000 || rtt.P99 < 1_000_000 {
		t.Errorf("rtt max %d µs, p99 %d µs: the 2 s pause does not show", rtt.Max, rtt.P99)
	}
}

// The worker stops reading its stream: flow control fills and fbench's Send blocks. fbench does
// not deadlock or grow: the run ends at its duration plus the drain (and the seconds it gives a
// stuck Send), the lag shows the stall, and everything is written.
func TestWorkerStopsReading(t *testing.T) {
	for _, tc := range []struct{ name, flag, value string }{{"duration", "-d", "3s"}, {"count", "-n", "3000"}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "count" && testing.Short() {
				t.Skip("the same with -n")
			}
			testWorkerStopsReading(t, tc.flag, tc.value)
		})
	}
}

func testWorkerStopsReading(t *testing.T, flag, value string) {
	dir := filepath.Join(t.TempDir(), "run")
	body := strings.Repeat("x", 4000)
	p := startFbench(t, "", runArgs(dir, "-rps", "1000", flag, value, "--drain", "1s", "--body", body,
		"--ref", "fault=stop-reading@500", "--ref", "response-size=2000")...)
	peak := peakRSS(p.cmd.Process.Pid, p.done)
	r := p.wait(hang)
	expectExit(t, r, exitOK, exitInvalid)
	errorLine(t, r)
	if r.took > 15*time.Second {
		t.Errorf("run of 3 s + 1 s drain took %s", r.took)
	}
	if rss := <-peak; rss > 300<<20 {
		t.Errorf("fbench peak RSS %d MiB", rss>>20)
	}
	s := checkRunDir(t, dir)
	checkCountsAddUp(t, s.Counts)
	if s.Counts.Succeeded < 450 || s.Counts.Succeeded > 500 || s.Counts.Lost < 1 {
		t.Errorf("counts %+v: want about 500 answered, the rest lost", s.Counts)
	}
	// The stall shows as arrivals the schedule wanted and never got: the sender was held in one Send.
	if s.AchievedRPS > 0.5*s.OfferedRPS {
		t.Errorf("achieved %v/s of %v/s offered: the stalled stream does not show", s.AchievedRPS, s.OfferedRPS)
	}
	found := false
	for _, e := range s.Events {
		found = found || strings.Contains(e.Detail, "stopped reading")
	}
	if !found {
		t.Errorf("no event says the worker stopped reading: %+v", s.Events)
	}
	// It cannot take a WorkerTerminate on the ended stream, so fbench kills it, and says so
	// rather than calling it a crash.
	if !s.Worker.KilledByFbench || s.Worker.Crashed || !slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, "fbench killed it") }) {
		t.Errorf("worker %+v, warnings %q: want killed by fbench, not crashed", s.Worker, s.Warnings)
	}
}

// Responses with unknown, duplicate or empty invocation ids, messages with no content and of
// unknown types are counted, never fatal.
func TestWorkerBadMessages(t *testing.T) {
	for _, tc := range []struct {
		fault string
		check func(c report.Counts) bool
	}{
		{"unknown-ids", func(c report.Counts) bool { return c.Unmatched == c.Sent && c.TimedOut == c.Sent && c.Succeeded == 0 }},
		{"duplicate-ids", func(c report.Counts) bool { return c.Duplicate == c.Sent && c.Succeeded == c.Sent }},
		{"empty-ids", func(c report.Counts) bool { return c.Unmatched == c.Sent && c.TimedOut == c.Sent }},
		{"empty-messages", func(c report.Counts) bool { return c.EmptyMessages == c.Sent && c.Succeeded == c.Sent }},
		{"unknown-messages", func(c report.Counts) bool { return c.UnknownMessages == c.Sent && c.Succeeded == c.Sent }},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			r := fbench(t, hang, runArgs(dir, "-rps", "300", "-d", "1s", "--drain", "1s", "--timeout", "300ms", "--ref", "fault="+tc.fault)...)
			expectExit(t, r, exitOK)
			errorLine(t, r)
			s := checkRunDir(t, dir)
			if c := s.Counts; c.Sent < 250 || !tc.check(c) {
				t.Errorf("counts %+v", c)
			}
			checkCountsAddUp(t, s.Counts)
		})
	}
}

// A worker that floods RpcLogs: fbench keeps up (or drops log lines and counts them), and the
// latency figures stay sane.
func TestWorkerLogFlood(t *testing.T) {
	rttP50 := func(flood bool) (int64, *report.Summary, string) {
		dir := filepath.Join(t.TempDir(), "run")
		// The drain ends as soon as everything is answered, so a long one costs nothing when
		// fbench keeps up and lets a busy machine's backlog settle.
		args := runArgs(dir, "-rps", "500", "-d", "2s", "--drain", "30s")
		if flood {
			args = append(args, "--ref", "fault=log-flood=40000")
		}
		r := fbench(t, hang, args...)
		expectExit(t, r, exitOK, exitInvalid)
		s := checkRunDir(t, dir)
		return s.Latency[report.MetricRTT].P50, s, dir
	}
	base, _, _ := rttP50(false)
	flooded, s, dir := rttP50(true)
	c := s.Counts
	if c.Logs < 20_000 || c.Succeeded != c.Sent {
		t.Errorf("counts %+v: want >= 20000 logs and every invocation answered", c)
	}
	// Loosely: the worker queues its responses behind its logs, so on a busy machine the flood costs
	// tens of milliseconds; a reader held up by the logs (as before they were queued undecoded)
	// costs seconds.
	if flooded > 100*base+250_000 {
		t.Errorf("rtt p50 %d µs under the flood, %d µs without: not sane", flooded, base)
	}
	// Every RpcLog is either in worker.log or counted as dropped.
	f, err := os.Open(filepath.Join(dir, "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var written int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), " rpclog ") {
			written++
		}
	}
	if written+c.LogsDropped < c.Logs {
		t.Errorf("%d RpcLogs received, %d written to worker.log, %d counted as dropped", c.Logs, written, c.LogsDropped)
	}
	t.Logf("rtt p50 %d µs without, %d µs with the flood; logs %d, written %d, dropped %d", base, flooded, c.Logs, written, c.LogsDropped)
}

// A 50 MB response at a low rate works.
func TestWorkerBigResponse(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 500 MB through gRPC")
	}
	dir := filepath.Join(t.TempDir(), "run")
	p := startFbench(t, "", runArgs(dir, "-rps", "5", "-d", "2s", "--drain", "10s", "--ref", "fault=big-response=50000000")...)
	peak := peakRSS(p.cmd.Process.Pid, p.done)
	r := p.wait(hang)
	expectExit(t, r, exitOK, exitInvalid)
	errorLine(t, r)
	s := checkRunDir(t, dir)
	if c := s.Counts; c.Succeeded != c.Due || c.Due != 10 {
		t.Errorf("counts %+v: want 10 answered", c)
	}
	t.Logf("fbench peak RSS %d MiB", <-peak>>20)
}

// Answers after the invocation timed out are counted as late, not as successes.
func TestWorkerAnswersLate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := fbench(t, hang, runArgs(dir, "-rps", "200", "-d", "2s", "--drain", "1s", "--timeout", "50ms", "--ref", "fault=late=200ms")...)
	expectExit(t, r, exitOK)
	errorLine(t, r)
	s := checkRunDir(t, dir)
	c := s.Counts
	if c.TimedOut != c.Sent || c.Sent < 350 || c.Succeeded != 0 || c.LateResponses < c.Sent/2 {
		t.Errorf("counts %+v: want all timed out and most answered late", c)
	}
	checkCountsAddUp(t, c)
}

// ---------------------------------------------------------------------------------------------
// 2. Bad input: one line, exit 1, no worker started, no run directory.

func TestBadInput(t *testing.T) {
	tmp := t.TempDir()
	// A worker that records that it was started, then runs as the reference worker.
	mark := filepath.Join(tmp, "started")
	worker := filepath.Join(tmp, "worker.sh")
	writeExec(t, worker, fmt.Sprintf("#!/bin/sh\necho $$ > %s\nexec %s worker \"$@\"\n", shQuote(mark), shQuote(fbenchBin(t))))
	notExec := filepath.Join(tmp, "not-exec")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badConfig := filepath.Join(tmp, "badconfig")
	if err := os.Mkdir(badConfig, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badConfig, "worker.config.json"),
		[]byte("{\n  \"description\": {\n    \"defaultExecutablePath\": "+strconv.Quote(worker)+",,\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(tmp, "profile.yaml")
	if err := os.WriteFile(profile, []byte("stages:\n  - name: a\n    duration: 10s\n    rate: fast\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(aFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(tmp, "full")
	if err := os.MkdirAll(filepath.Join(full, "x"), 0o755); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		args    []string // before the worker
		worker  []string // nil: the marking worker script
		line    string
		started bool // the worker must start for fbench to learn the functions
	}{
		{"unknown flag", []string{"--bogus"}, nil, "fbench: unknown flag: --bogus (see 'fbench run --help')", false},
		{"negative rps", []string{"-rps", "-5"}, nil, "fbench: invalid -rps -5: must be > 0", false},
		{"bad duration", []string{"-d", "abc"}, nil, `fbench: invalid argument "abc" for "-d, --duration" flag`, false},
		{"cancel ratio", []string{"--cancel-ratio", "2"}, nil, "fbench: invalid --cancel-ratio 2: must be between 0 and 1", false},
		{"on-full", []string{"--on-full", "maybe"}, nil, `fbench: invalid --on-full "maybe": want queue or drop`, false},
		{"missing worker", nil, []string{filepath.Join(tmp, "nope")}, "fbench: worker " + filepath.Join(tmp, "nope") + ": not found", false},
		{"worker not executable", nil, []string{notExec}, "fbench: worker " + notExec + ": not executable", false},
		{"malformed worker.config.json", nil, []string{badConfig}, "fbench: " + filepath.Join(badConfig, "worker.config.json") + ":3: invalid JSON", false},
		{"malformed profile", []string{"--profile", profile}, nil, "fbench: " + profile + `:4: stages[0].rate: invalid rate "fast"`, false},
		{"out under a file", []string{"--out", filepath.Join(aFile, "run")}, nil, "fbench: run directory " + filepath.Join(aFile, "run") + ": " + aFile + " is not a directory", false},
		{"out not empty", []string{"--out", full}, nil, "fbench: run directory " + full + " exists and is not empty", false},
		{"bad --http-ok", []string{"--http-ok", "200-abc"}, nil, `fbench: invalid --http-ok "200-abc": want HTTP status codes or ranges (100-999), e.g. 200-399 or 200-299,404`, false},
		{"bad --route-param", []string{"--route-param", "id"}, nil, `fbench: invalid --route-param "id": want K=V`, false},
		{"route parameter without a value", []string{"--function", "item"}, nil, `fbench: function item: route "items/{id}" needs a value for {id} (give --route-param id=VALUE)`, true},
		{"route parameter no route has", []string{"--function", "item", "--route-param", "id=1", "--route-param", "nope=2"}, nil, `fbench: --route-param nope: no invoked function's route has a {nope} parameter`, true},
		{"unknown function", []string{"--function", "nope"}, nil, `fbench: unknown function "nope": the worker loaded echo, fail, item, queue, status, work`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Remove(mark)
			cwd := t.TempDir()
			args := append([]string{"-q", "-d", "1s", "--indexing", "worker"}, tc.args...)
			if tc.worker == nil {
				args = append(args, worker)
			} else {
				args = append(args, tc.worker...)
			}
			r := startFbench(t, cwd, args...).wait(hang)
			expectExit(t, r, exitError)
			if got := strings.TrimRight(r.stderr, "\n"); strings.Contains(got, "\n") || !strings.HasPrefix(got, tc.line) {
				t.Errorf("stderr:\n%s\nwant one line starting with:\n%s", r.stderr, tc.line)
			}
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
			pidText, err := os.ReadFile(mark)
			switch {
			case tc.started && err != nil:
				t.Errorf("the worker was not started: %v", err)
			case tc.started:
				pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
				if pid > 0 && alive(pid) {
					t.Errorf("worker pid %d still running after fbench exited", pid)
				}
			case err == nil:
				t.Errorf("bad input started the worker")
			}
			if entries, _ := os.ReadDir(cwd); len(entries) > 0 {
				t.Errorf("bad input left %v in the working directory", entries)
			}
			if entries, _ := os.ReadDir(full); len(entries) != 1 {
				t.Errorf("the existing run directory was touched: %v", entries)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// 3. Interrupted runs lose nothing.

func TestInterruptedRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("six runs of a few seconds")
	}
	// A slow worker (work takes 3 s) so that there is a drain phase to interrupt.
	slow := []string{"-rps", "100", "--function", "work", "--ref", "service-time=3s", "--lag-budget", "10s"}
	for _, phase := range []struct {
		name  string
		args  []string
		after time.Duration // from the first interval on disk
	}{
		{"warmup", []string{"--warmup", "4s", "-d", "2s", "--drain", "5s"}, 0},
		{"steady", []string{"-d", "5s", "--drain", "5s"}, time.Second},
		{"drain", []string{"-d", "1s", "--drain", "10s"}, 1500 * time.Millisecond},
	} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(phase.name+"/"+sig.String(), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "run")
				p := startFbench(t, "", append([]string{"-q", "--out", dir}, append(slow, phase.args...)...)...)
				if !waitFor(30*time.Second, func() bool {
					b, _ := os.ReadFile(filepath.Join(dir, report.IntervalsFile))
					return len(b) > 0
				}) {
					t.Fatalf("no interval written; stderr: %s", p.err.String())
				}
				time.Sleep(phase.after)
				sent := time.Now()
				if err := p.cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				r := p.wait(hang)
				expectExit(t, r, 130)
				expectLine(t, errorLine(t, r), "fbench: interrupted; everything measured was written to "+dir)
				if d := time.Since(sent); d > 20*time.Second {
					t.Errorf("fbench took %s to end after %s", d, sig)
				}
				s := checkRunDir(t, dir)
				if s.Interrupted == "" {
					t.Error("summary.json does not say the run was interrupted")
				}
				raw, err := os.ReadFile(filepath.Join(dir, report.IntervalsFile))
				if err != nil || len(raw) == 0 {
					t.Errorf("intervals.jsonl: %v", err)
				}
				var c report.Counts
				phases := map[string]int{}
				if err := forEachInterval(dir, func(rec report.IntervalRecord) { c.Add(rec.Counts); phases[rec.Phase]++ }); err != nil {
					t.Fatal(err)
				}
				if c.Sent == 0 || c.Settled() != c.Due {
					t.Errorf("intervals' counts %+v: want sends, every one settled (lost counted)", c)
				}
				// The signal came in the phase the test meant.
				switch phase.name {
				case "warmup":
					if s.WarmupIntervals == 0 || phases["measure"] > 0 {
						t.Errorf("interval phases %v: want warm-up only", phases)
					}
				case "steady":
					// Interrupted well before the planned 5 s; what follows the interrupt is drain.
					if phases["measure"] == 0 || phases["measure"] >= 5 || phases["drain"] > 2 {
						t.Errorf("interval phases %v: want the load cut short in measure, then a brief drain", phases)
					}
				case "drain":
					if phases["drain"] == 0 {
						t.Errorf("interval phases %v: want a drain", phases)
					}
				}
			})
		}
	}
}

// forEachInterval reads DIR/intervals.jsonl.
func forEachInterval(dir string, fn func(report.IntervalRecord)) error {
	f, err := os.Open(filepath.Join(dir, report.IntervalsFile))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var rec report.IntervalRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return err
		}
		fn(rec)
	}
	return sc.Err()
}

// kill -9 mid-run: 'fbench report DIR' still rebuilds everything from what was on disk.
func TestKilledRunRebuilds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	p := startFbench(t, "", "-q", "--out", dir, "-rps", "300", "-d", "20s", "--lag-budget", "10s")
	if !waitFor(30*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, report.IntervalsFile))
		return strings.Count(string(b), "\n") >= 2
	}) {
		t.Fatalf("no intervals written; stderr: %s", p.err.String())
	}
	meta, err := report.LoadMeta(filepath.Join(dir, report.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
	// The orphaned worker notices its host is gone and exits.
	if pid := meta.Worker.Pid; pid > 0 && !waitFor(10*time.Second, func() bool { return !alive(pid) }) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("worker pid %d still running 10 s after fbench was killed", pid)
	}
	r := fbench(t, hang, "report", "-quiet", dir)
	expectExit(t, r, exitOK)
	s := loadSummary(t, dir)
	if s.Intervals < 2 || s.Counts.Sent < 400 {
		t.Errorf("rebuilt summary: %d intervals, counts %+v", s.Intervals, s.Counts)
	}
	for _, name := range []string{report.HTMLFile, report.IntervalsCSV, report.PercentilesCSV} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s not rebuilt: %v", name, err)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// 5. Security.

// The gRPC server listens on 127.0.0.1 only.
func TestServerListensOnLoopbackOnly(t *testing.T) {
	srv, err := host.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.URI(), "http://127.0.0.1:") {
		t.Errorf("server URI %s", srv.URI())
	}
	port := fmt.Sprintf("%04X", srv.Port())
	found := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" { // LISTEN
				continue
			}
			addr, p, _ := strings.Cut(f[1], ":")
			if p != port {
				continue
			}
			found++
			if table != "/proc/net/tcp" || addr != "0100007F" { // 127.0.0.1, little-endian
				t.Errorf("%s: listening on %s:%s, want 127.0.0.1 only", table, addr, p)
			}
		}
	}
	if found != 1 {
		t.Errorf("found %d listening sockets on port %s, want 1", found, port)
	}
	// Not reachable on any other address of the machine.
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() {
			continue
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), strconv.Itoa(srv.Port())), time.Second)
		if err == nil {
			c.Close()
			t.Errorf("server reachable on %s", ipn.IP)
		}
	}
}

// A second stream that claims the launched worker's id is refused and counted.
func TestSecondStreamWithWorkerIDIsRefused(t *testing.T) {
	srv, err := host.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	w, err := host.Start(context.Background(), srv, host.Options{
		Launch:   host.Launch{Worker: fbenchBin(t), Args: []string{"worker"}, Language: "fbench-reference", Env: []string{"FBENCH_E2E_MAIN=1"}},
		Indexing: host.IndexingWorker, StartTimeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(time.Second)
	conn, err := grpc.NewClient(strings.TrimSuffix(strings.TrimPrefix(srv.URI(), "http://"), "/"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := rpc.NewFunctionRpcClient(conn).EventStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_StartStream{StartStream: &rpc.StartStream{WorkerId: w.ID}}})
	if _, err := st.Recv(); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("second stream for worker %s: %v, want PermissionDenied", w.ID, err)
	}
	if srv.Refused() != 1 {
		t.Errorf("refused = %d, want 1", srv.Refused())
	}
	// The worker's own stream still works.
	if _, err := w.Ping(ctx, 5*time.Second); err != nil {
		t.Errorf("the worker's own stream after the refusal: %v", err)
	}
}

// Worker strings (its stderr) end up escaped in report.html. A function directory cannot carry a
// whole <script>...</script> ("/" cannot be part of a file name), so the payload travels in the
// stderr tail of a crashing worker.
func TestReportEscapesWorkerStrings(t *testing.T) {
	const payload = `<script>alert(1)</script>`
	if err := os.Mkdir(filepath.Join(t.TempDir(), "x"+payload), 0o755); err == nil {
		t.Error("a directory name holding </script> was accepted; test function names too")
	}
	tmp := t.TempDir()
	worker := filepath.Join(tmp, "worker.sh")
	writeExec(t, worker, fmt.Sprintf("#!/bin/sh\necho %s >&2\nexec %s worker --fault=crash-after=50 \"$@\"\n", shQuote(payload), shQuote(fbenchBin(t))))
	dir := filepath.Join(tmp, "run")
	r := fbench(t, hang, runArgs(dir, "-rps", "200", "-d", "2s", "--indexing", "worker", "--language", "fbench-reference", worker)...)
	expectExit(t, r, exitCrashed)
	errorLine(t, r)
	s := checkRunDir(t, dir)
	if !strings.Contains(strings.Join(s.Worker.StderrTail, "\n"), payload) {
		t.Fatalf("stderr tail %q lacks the payload", s.Worker.StderrTail)
	}
	html, err := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(html), payload) {
		t.Error("report.html contains the worker's <script> unescaped")
	}
	if !strings.Contains(string(html), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("report.html does not show the worker's stderr line (escaped)")
	}
}

// The run directory is 0750 and its files 0640 (checked by checkRunDir for every run above); a
// plain run too.
func TestRunDirectoryModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "run")
	r := fbench(t, hang, runArgs(dir, "-rps", "200", "-d", "1s")...)
	expectExit(t, r, exitOK)
	checkRunDir(t, dir)
}

// An interrupt while the worker is still starting: exit 130 too, and the run directory says so.
func TestInterruptedWhileStarting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	p := startFbench(t, "", runArgs(dir, "-rps", "100", "-d", "2s", "--ref", "fault=slow-start=60s")...)
	if !waitFor(10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "worker.log"))
		return strings.Contains(string(b), "slow-start")
	}) {
		t.Fatalf("the worker did not start; stderr: %s", p.err.String())
	}
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := p.wait(hang)
	expectExit(t, r, 130)
	expectLine(t, errorLine(t, r), "fbench: interrupted while starting the worker; run directory: "+dir)
	if d := time.Since(sent); d > 20*time.Second {
		t.Errorf("took %s after the signal: the interrupt did not cut the 60 s start short", d)
	}
	if s := checkRunDir(t, dir); s.Interrupted == "" {
		t.Error("summary.json does not say the run was interrupted")
	}
}

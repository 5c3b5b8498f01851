package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fbench/fbench/loadgen/capacity"
	"github.com/fbench/fbench/report"
)

// crashOneEnv names a directory: of the reference workers launched with it in their environment,
// the first to start crashes after crashOneAfter invocations and every other one (its relaunch
// included) runs normally, so that one process of a pool crashes.
const (
	crashOneEnv   = "FBENCH_TEST_CRASH_ONE"
	crashOneAfter = "400"
	// crashOneFaultEnv, when set, is the chosen worker's fault instead (e.g. exit-at-start).
	crashOneFaultEnv = "FBENCH_TEST_CRASH_ONE_FAULT"
)

// crashOneWorker adds the crash fault to a reference worker's arguments when it is the chosen one.
func crashOneWorker(args []string) []string {
	dir := os.Getenv(crashOneEnv)
	if dir == "" || len(args) == 0 {
		return args
	}
	f, err := os.OpenFile(filepath.Join(dir, "crashed"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return args // not the first
	}
	f.Close()
	fault := "crash-after=" + crashOneAfter
	if v := os.Getenv(crashOneFaultEnv); v != "" {
		fault = v
	}
	return append([]string{args[0], "--fault", fault}, args[1:]...)
}

// Bad process counts, from --processes or FUNCTIONS_WORKER_PROCESS_COUNT as the host reads it: one
// line naming the problem, exit 1, nothing left behind.
func TestProcessesBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--processes", "0"}, `invalid --processes "0": want a whole number from 1 to 10`},
		{[]string{"--processes", "11"}, `invalid --processes "11"`},
		{[]string{"--processes", "two"}, `invalid --processes "two"`},
		{[]string{"--processes", "1,2"}, `invalid --processes "1,2"`},
		{[]string{"--env", "FUNCTIONS_WORKER_PROCESS_COUNT=abc"}, `FUNCTIONS_WORKER_PROCESS_COUNT="abc" is not a whole number`},
		{[]string{"--env", "FUNCTIONS_WORKER_PROCESS_COUNT=11"}, "FUNCTIONS_WORKER_PROCESS_COUNT=11 exceeds maxProcessCount 10"},
		{[]string{"--processes", "2", "--process-start-interval", "-1s"}, "invalid --process-start-interval -1s"},
	} {
		for _, verb := range []string{"run", "probe"} {
			if verb == "probe" && c.args[0] == "--processes" && c.args[1] == "1,2" {
				continue
			}
			var out, errb bytes.Buffer
			full := append([]string{verb}, c.args...)
			if verb == "run" {
				full = append(full, "--out", filepath.Join(dir, "x"))
			}
			code := run(full, &out, &errb)
			msg := strings.TrimSpace(errb.String())
			if code != exitError || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") > 0 {
				t.Errorf("%q: exit %d, stderr %q; want exit 1 and one line with %q", full, code, msg, c.want)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
			t.Fatalf("%q: a run directory was left behind", c.args)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"capacity", "--processes", "1,0,4", "--out", filepath.Join(dir, "c")}, &out, &errb); code != exitError ||
		!strings.Contains(errb.String(), `invalid --processes "1,0,4"`) {
		t.Errorf("capacity --processes 1,0,4: exit %d, %q", code, errb.String())
	}
}

// Four reference worker processes set by FUNCTIONS_WORKER_PROCESS_COUNT: each gets a quarter of
// the invocations and its own status pings, the per-process figures sum to the totals in
// summary.json, and intervals.csv, report.html and a rebuilt report carry them.
func TestRunFourProcesses(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "-rps", "2000", "-d", "2s", "--env", capWorkerEnv + "=1", "--env", "FUNCTIONS_WORKER_PROCESS_COUNT=4",
		"--process-start-interval", "0", "--status-interval", "500ms", "--lag-budget", "1s", "-q", "--out", out}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	s := loadSummary(t, out)
	checkProcesses(t, s, 4)
	for _, p := range s.Processes {
		if math.Abs(p.Share-0.25) > 0.001 || len(p.Pids) != 1 || p.RTT.Count != p.Invocations || p.PeakRSS == 0 {
			t.Errorf("process %d: %+v, want a quarter of the invocations, its rtt and its RSS", p.Process, p)
		}
	}
	if s.Counts.StatusSent%4 != 0 || s.Counts.StatusSent == 0 {
		t.Errorf("status pings sent %d: want one per process per interval", s.Counts.StatusSent)
	}
	csv, _ := os.ReadFile(filepath.Join(out, report.IntervalsCSV))
	html, _ := os.ReadFile(filepath.Join(out, report.HTMLFile))
	if !bytes.Contains(csv, []byte(",p4_sent,")) || !bytes.Contains(csv, []byte(",p1_rss_bytes,")) {
		t.Errorf("intervals.csv lacks per-process columns: %.300s", csv)
	}
	for _, want := range []string{"<h2>Worker processes</h2>", ">process 4<", "Peak threads"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	rebuilt, err := report.Rebuild(out, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkProcesses(t, rebuilt, 4)
	if rebuilt.Processes[3].Counts != s.Processes[3].Counts {
		t.Errorf("rebuilt process 4 %+v, live %+v", rebuilt.Processes[3].Counts, s.Processes[3].Counts)
	}
}

// checkProcesses holds a summary's per-process figures to its totals.
func checkProcesses(t *testing.T, s *report.Summary, n int) {
	t.Helper()
	if len(s.Processes) != n {
		t.Fatalf("%d processes in summary.json, want %d", len(s.Processes), n)
	}
	var sum report.ProcessCounts
	var rtt int64
	for _, p := range s.Processes {
		sum.Add(p.Counts)
		rtt += p.RTT.Count
	}
	c := s.Counts
	if sum.Sent != c.Sent || sum.Succeeded != c.Succeeded || sum.Lost != c.Lost || sum.Failed != c.Failed || rtt != s.Latency[report.MetricRTT].Count {
		t.Errorf("per-process sums %+v (rtt %d), totals %+v (rtt %d)", sum, rtt, c, s.Latency[report.MetricRTT].Count)
	}
}

// One of four processes crashes mid-run: the others serve to the end, only its in-flight
// invocations are lost, the run exits 4 and the reports say which process it was; with
// --restart-worker it is relaunched (a new pid in its slot) and serves again.
func TestRunOneOfFourCrashes(t *testing.T) {
	for _, restart := range []bool{false, true} {
		dir := t.TempDir()
		out := filepath.Join(dir, "run")
		args := []string{"run", "-rps", "1000", "-d", "3s", "--env", capWorkerEnv + "=1", "--env", crashOneEnv + "=" + dir,
			"--processes", "4", "--process-start-interval", "0", "--process-restart-interval", "0", "--lag-budget", "1s", "-q", "--out", out}
		if restart {
			args = append(args, "--restart-worker")
		}
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		if code != exitCrashed || !strings.Contains(stderr.String(), "process 1: worker pid") {
			t.Fatalf("restart %v: exit %d, stderr %q: want 4 naming process 1", restart, code, stderr.String())
		}
		s := loadSummary(t, out)
		checkProcesses(t, s, 4)
		p1 := s.Processes[0]
		if p1.Crashes != 1 || p1.Counts.Lost == 0 {
			t.Errorf("restart %v: process 1 %+v: want one crash and its in-flight lost", restart, p1)
		}
		for _, p := range s.Processes[1:] {
			if p.Crashes != 0 || p.Counts.Lost != 0 || p.Invocations < 700 {
				t.Errorf("restart %v: process %d %+v: want it serving to the end, nothing lost", restart, p.Process, p)
			}
		}
		if c := s.Counts; c.Due != 3000 || c.Settled() != c.Due || c.Lost != p1.Counts.Lost {
			t.Errorf("restart %v: counts %+v", restart, c)
		}
		if restart {
			// 400 answered (less its in-flight) before the crash, then about a quarter of the rest.
			// It answers at most 399 before the crash: more proves the relaunched one served.
			if p1.Restarts != 1 || len(p1.Pids) != 2 || p1.Invocations < 420 {
				t.Errorf("process 1 relaunched: %+v, want 1 restart, 2 pids, serving again", p1)
			}
		} else if p1.Restarts != 0 || len(p1.Pids) != 1 || p1.Invocations > 399 {
			t.Errorf("process 1 not relaunched: %+v", p1)
		}
	}
}

// With --restart-worker, a process whose handshake fails while the others succeed is named with
// why, the run goes on with the others and the failed one is relaunched into its slot.
func TestRunOneHandshakeFailsAndIsRelaunched(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "-rps", "500", "-d", "2s", "--env", capWorkerEnv + "=1", "--env", crashOneEnv + "=" + dir,
		"--env", crashOneFaultEnv + "=exit-at-start", "--processes", "3", "--process-start-interval", "0", "--restart-worker",
		"--lag-budget", "1s", "-q", "--out", out}, &stdout, &stderr)
	if code != exitOK || !strings.Contains(stderr.String(), "worker process 1 of 3 failed its handshake") || !strings.Contains(stderr.String(), "exit code 3") {
		t.Fatalf("exit %d, stderr %q: want 0 and a note naming process 1 and why", code, stderr.String())
	}
	s := loadSummary(t, out)
	checkProcesses(t, s, 3)
	p1 := s.Processes[0]
	if p1.Error == "" || p1.Restarts != 1 || len(p1.Pids) != 1 || p1.Invocations < 50 || s.Counts.Succeeded != 1000 {
		t.Errorf("process 1 %+v, counts %+v: want its handshake error, relaunched, then serving its share", p1, s.Counts)
	}
}

// A process whose handshake fails is named, with why; without --restart-worker the run stops
// before measuring.
func TestProcessHandshakeFailureSaysWhich(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "-rps", "100", "-d", "1s", "--env", capWorkerEnv + "=1", "--processes", "2", "--process-start-interval", "0",
		"--ref", "fault=exit-at-start", "-q", "--out", out}, &stdout, &stderr)
	msg := strings.TrimSpace(stderr.String())
	if code != exitError || !strings.Contains(msg, "worker process 1 of 2:") || !strings.Contains(msg, "exit code 3") {
		t.Fatalf("exit %d, stderr %q: want 1 naming process 1 of 2 and its exit", code, msg)
	}
	if s, err := report.LoadSummary(filepath.Join(out, report.SummaryFile)); err == nil && s.Counts.Sent > 0 {
		t.Errorf("invocations were sent: %+v", s.Counts)
	}
}

// fbench capacity --processes 1,2,4 against reference workers of 1 slot × 10 ms each (100/s a
// process at most; the service time is short beside the 1 s steps, whose achieved rate misses the
// answers still in flight at the window's end): one search per size, rates growing with the
// number of processes within what the slots allow, one table and processes.json/html with the
// ideal line.
func TestCapacityByProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: three short searches")
	}
	// A neighbour's burst can fail a step that should pass and leave a size below its bound: one
	// more attempt before calling it a failure.
	for attempt := 1; ; attempt++ {
		problems, skip := capacityByProcesses(t)
		if skip != "" {
			t.Skip(skip)
		}
		if len(problems) == 0 {
			return
		}
		if attempt == 2 {
			for _, p := range problems {
				t.Error(p)
			}
			return
		}
		t.Logf("attempt %d: %v; trying again", attempt, problems)
	}
}

// capacityByProcesses runs the search over 1,2,4 once and says what is wrong with its result.
func capacityByProcesses(t *testing.T) (problems []string, skip string) {
	out := filepath.Join(t.TempDir(), "cap")
	args := []string{"capacity", "--processes", "1,2,4", "--process-start-interval", "0", "--function", "work",
		"--ref", "service-time=10ms", "--ref", "max-concurrency=1", "--env", capWorkerEnv + "=1",
		"--start", "80", "--step", "1s", "--step-warmup", "500ms", "--interval", "250ms", "--precision", "30%",
		"--confirm", "1s", "--confirm-retries", "1", "--p99", "1s", "--lag-budget", "50ms", "--out", out}
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	t.Logf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	if code == exitInvalid {
		return nil, "the harness fell behind: this machine is too busy to measure"
	}
	if code != exitOK {
		return []string{fmt.Sprintf("exit %d, want 0", code)}, ""
	}
	if !strings.Contains(stdout.String(), capacity.PoolsHeader) {
		problems = append(problems, "stdout lacks the table")
	}
	var rep capacity.PoolsReport
	b, err := os.ReadFile(filepath.Join(out, capacity.PoolsJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Sizes) != 3 {
		return append(problems, fmt.Sprintf("%d sizes, want 3", len(rep.Sizes))), ""
	}
	prev := 0.0
	for _, sz := range rep.Sizes {
		// At most n slots ÷ 10 ms (10% over for the search's steps); at least half of it
		// (--precision 30% and one confirmation step-down below a knee that sleeps' overshoot lowers).
		top := float64(sz.Processes) * 100
		if !sz.Confirmed || sz.SustainableRPS > 1.1*top || sz.SustainableRPS < 0.5*top || sz.SustainableRPS <= prev {
			problems = append(problems, fmt.Sprintf("%d processes: sustainable %v/s, want confirmed, between %.0f and %.0f/s, above %v/s (fewer processes)",
				sz.Processes, sz.SustainableRPS, 0.5*top, 1.1*top, prev))
		}
		prev = sz.SustainableRPS
		if _, err := os.Stat(filepath.Join(out, sz.Dir, capacity.JSONFile)); err != nil {
			problems = append(problems, fmt.Sprintf("%d processes: %v", sz.Processes, err))
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, capacity.PoolsHTMLFile))
	for _, want := range []string{`data-chart="processes"`, "ideal (linear)", "processes-4/capacity.html"} {
		if !bytes.Contains(html, []byte(want)) {
			problems = append(problems, fmt.Sprintf("processes.html lacks %q", want))
		}
	}
	return problems, ""
}

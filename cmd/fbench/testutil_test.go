package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen/refworker/workertest"
	"github.com/fbench/fbench/report"
)

// The test binary doubles as the fbench binary: with FBENCH_E2E_MAIN=1 it runs main's run() on its
// arguments. The reference worker fbench launches is os.Executable() too, so it inherits the
// variable and runs as 'fbench worker'. End-to-end tests thus exercise the real CLI in real
// processes (signals, exit codes, stderr) without a separate build.
func TestMain(m *testing.M) {
	workertest.Main(m, workertest.Role{Env: "FBENCH_E2E_MAIN", Run: func(args []string) int { return run(args, os.Stdout, os.Stderr) }})
}

// fbenchBin is the executable that behaves as fbench (see TestMain).
func fbenchBin(t testing.TB) string {
	t.Helper()
	return workertest.Executable(t)
}

// cliResult is what one fbench process did.
type cliResult struct {
	code   int
	stdout string
	stderr string
	took   time.Duration
}

// cliProc is a started fbench process.
type cliProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	out     bytes.Buffer
	err     bytes.Buffer
	start   time.Time
	done    chan struct{}
	waitErr error
}

// startFbench starts fbench with args in dir (a temporary directory when empty).
func startFbench(t testing.TB, dir string, args ...string) *cliProc {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	p := &cliProc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(fbenchBin(t), args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "FBENCH_E2E_MAIN=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits up to limit for the process: a longer run is a hang, and fails the test.
func (p *cliProc) wait(limit time.Duration) cliResult {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT) // goroutine dump on stderr
		time.Sleep(500 * time.Millisecond)
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("fbench %v still running after %s (hang); stderr:\n%s", p.cmd.Args[1:], limit, tail(p.err.String(), 6000))
	}
	r := cliResult{code: 0, stdout: p.out.String(), stderr: p.err.String(), took: time.Since(p.start)}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		r.code = ee.ExitCode()
	} else if p.waitErr != nil {
		p.t.Fatal(p.waitErr)
	}
	return r
}

// fbench runs fbench to its end (at most limit) in a temporary directory.
func fbench(t testing.TB, limit time.Duration, args ...string) cliResult {
	t.Helper()
	return startFbench(t, "", args...).wait(limit)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// errorLine checks stderr of a run made with -q: every line starts with "fbench: "; apart from
// notes there is exactly one line (the error) when code != 0 and none when code == 0. It returns
// the error line.
func errorLine(t testing.TB, r cliResult) string {
	t.Helper()
	var errs []string
	for _, line := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "fbench: ") {
			t.Fatalf("stderr line does not start with \"fbench: \": %q\nstderr:\n%s", line, tail(r.stderr, 3000))
		}
		if !strings.HasPrefix(line, "fbench: note: ") {
			errs = append(errs, line)
		}
	}
	want := 1
	if r.code == 0 {
		want = 0
	}
	if len(errs) != want {
		t.Fatalf("exit %d with %d error lines on stderr, want %d:\n%s", r.code, len(errs), want, tail(r.stderr, 3000))
	}
	if want == 0 {
		return ""
	}
	return errs[0]
}

// expectExit fails unless r exited with one of codes.
func expectExit(t testing.TB, r cliResult, codes ...int) {
	t.Helper()
	for _, c := range codes {
		if r.code == c {
			return
		}
	}
	t.Fatalf("exit code %d, want %v (took %s)\nstderr:\n%s", r.code, codes, r.took.Round(time.Millisecond), tail(r.stderr, 3000))
}

// expectLine fails unless the error line contains every part.
func expectLine(t testing.TB, line string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(line, p) {
			t.Errorf("error line lacks %q:\n%s", p, line)
		}
	}
}

// loadSummary reads DIR/summary.json.
func loadSummary(t testing.TB, dir string) *report.Summary {
	t.Helper()
	s, err := report.LoadSummary(filepath.Join(dir, report.SummaryFile))
	if err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	return s
}

// checkCountsAddUp fails unless every due invocation reached exactly one outcome.
func checkCountsAddUp(t testing.TB, c report.Counts) {
	t.Helper()
	if c.Settled() != c.Due || c.Sent > c.Due {
		t.Errorf("counts do not add up: due %d, sent %d, settled %d: %+v", c.Due, c.Sent, c.Settled(), c)
	}
}

// checkRunDir checks a finished run directory: the files a run writes are there with mode 0640
// (the directory 0750), no temporary file is left, and 'fbench report DIR' rebuilds it.
func checkRunDir(t testing.TB, dir string) *report.Summary {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o750 {
		t.Errorf("run directory mode %v, want 0750", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left in the run directory: %s", e.Name())
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().IsRegular() && info.Mode().Perm() != 0o640 {
			t.Errorf("%s has mode %v, want 0640", e.Name(), info.Mode().Perm())
		}
	}
	for _, name := range []string{report.RunFile, report.HlogFile, report.IntervalsFile, report.SummaryFile,
		report.IntervalsCSV, report.PercentilesCSV, report.HTMLFile, "worker.log"} {
		if !have[name] {
			t.Errorf("run directory lacks %s (has %v)", name, keysOf(have))
		}
	}
	r := fbench(t, 30*time.Second, "report", "-quiet", dir)
	if r.code != 0 {
		t.Fatalf("fbench report %s: exit %d: %s", dir, r.code, r.stderr)
	}
	return loadSummary(t, dir)
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// rssOf is a process's resident set size in bytes (0 when it is gone).
func rssOf(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// peakRSS samples pid's RSS every 100 ms until done is closed and returns the peak.
func peakRSS(pid int, done <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := rssOf(pid); v > peak {
				peak = v
			}
			select {
			case <-done:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// waitFor polls cond every 20 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// writeExec writes an executable shell script.
func writeExec(t testing.TB, path, script string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

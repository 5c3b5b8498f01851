//go:build linux

package procstat

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func statLine(comm string) string {
	// fields 3..24, then the rest of a real line
	return "4242 (" + comm + ") S 17 4242 4242 0 -1 4194560 100 0 0 0 " +
		"1234 567 89 10 20 0 7 0 998877 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
}

func TestParseStat(t *testing.T) {
	want := procStat{pid: 4242, ppid: 17, state: 'S', utime: 1234, stime: 567, cutime: 89, cstime: 10,
		threads: 7, starttime: 998877, rssPages: 2048}
	tests := []struct {
		name, line string
		ok         bool
	}{
		{"plain", statLine("sleep"), true},
		{"spaces", statLine("my worker 1"), true},
		{"paren inside", statLine("a) b (c"), true},
		{"trailing paren", statLine("x) S 1 2 3 )"), true},
		{"only parens", statLine(")))((("), true},
		{"empty comm", statLine(""), true},
		{"no newline", strings.TrimSuffix(statLine("n"), "\n"), true},
		{"truncated", "4242 (sleep) S 17 4242 4242 0 -1 4194560 100 0 0 0 1234", false},
		{"no comm", "4242 sleep S 17", false},
		{"bad pid", "x42 (sleep) S 17 4242 4242 0 -1 4194560 100 0 0 0 1234 567 89 10 20 0 7 0 998877 1 2048\n", false},
		{"bad utime", strings.Replace(statLine("sleep"), " 1234 ", " 12x4 ", 1), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStat([]byte(tt.line))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && got != want {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestSampleSelf(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *Sampler
	}{
		{"self", NewSelfSampler()},
		{"tree", NewSampler(os.Getpid())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s.Sample()
			if err != nil {
				t.Fatal(err)
			}
			if got.RSSBytes <= 0 || got.Threads < 1 || got.FDs < 3 || got.Processes < 1 {
				t.Fatalf("implausible sample %+v", got)
			}
			if got.At.IsZero() || time.Since(got.At) > time.Minute {
				t.Fatalf("bad At %v", got.At)
			}
			if tc.name == "self" && got.Goroutines < 1 {
				t.Fatalf("Goroutines = %d", got.Goroutines)
			}
		})
	}
}

func TestSampleFDs(t *testing.T) {
	s := NewSelfSampler()
	before, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	var files []*os.File
	for range 10 {
		f, err := os.Open("/proc/self/stat")
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	after, err := s.Sample()
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if d := after.FDs - before.FDs; d != 10 {
		t.Fatalf("FDs grew by %d, want 10 (%d -> %d)", d, before.FDs, after.FDs)
	}
}

func startSleep(t *testing.T, path string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start %s: %v", path, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whole group
		cmd.Wait()
	})
	return cmd
}

// waitProcesses samples until Processes == want or the deadline passes.
func waitProcesses(t *testing.T, s *Sampler, want int) Sample {
	t.Helper()
	var got Sample
	for deadline := time.Now().Add(3 * time.Second); ; {
		var err error
		if got, err = s.Sample(); err != nil {
			t.Fatal(err)
		}
		if got.Processes == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got.Processes != want {
		t.Fatalf("Processes = %d, want %d", got.Processes, want)
	}
	return got
}

// holdMemoryEnv makes the test binary a child that touches holdBytes of
// memory, says so on stdout, and sleeps until killed.
const (
	holdMemoryEnv = "FBENCH_PROCSTAT_HOLD"
	holdBytes     = 48 << 20
)

func TestHelperHoldMemory(t *testing.T) {
	if os.Getenv(holdMemoryEnv) != "1" {
		t.Skip("helper process only")
	}
	buf := make([]byte, holdBytes)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	os.Stdout.WriteString("ready\n")
	time.Sleep(time.Minute)
	runtime.KeepAlive(buf)
	os.Exit(0)
}

// startHolder starts the test binary as a child holding holdBytes and waits
// until it has touched them.
func startHolder(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldMemory$")
	cmd.Env = append(os.Environ(), holdMemoryEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start helper: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make([]byte, 6)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("helper did not become ready: %q %v", line, err)
	}
	return cmd
}

func TestSampleChildren(t *testing.T) {
	s := NewSampler(os.Getpid())
	base, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	a := startHolder(t)
	b := startHolder(t)
	with := waitProcesses(t, s, base.Processes+2)
	// The kernel publishes a process's RSS lazily (per-CPU counters), so
	// wait for the children's touched pages to show rather than read once.
	wantRSS := base.RSSBytes + holdBytes // two children of holdBytes each, minus slack
	for deadline := time.Now().Add(5 * time.Second); with.RSSBytes < wantRSS && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if with, err = s.Sample(); err != nil {
			t.Fatal(err)
		}
	}
	if with.Threads < base.Threads+2 || with.RSSBytes < wantRSS {
		t.Fatalf("children not summed (want RSS >= %d): base %+v, with %+v", wantRSS, base, with)
	}
	for _, c := range []*exec.Cmd{a, b} {
		c.Process.Kill()
		c.Wait()
	}
	waitProcesses(t, s, base.Processes)

	// Grandchildren: sh -> 2 × sleep.
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	startSleep(t, "/bin/sh", "-c", "/bin/sleep 5 & /bin/sleep 5 & wait")
	waitProcesses(t, s, base.Processes+3)

	// The child is not part of the self sample.
	self, err := NewSelfSampler().Sample()
	if err != nil {
		t.Fatal(err)
	}
	if self.Processes != 1 {
		t.Fatalf("self Processes = %d", self.Processes)
	}
}

func TestSampleGone(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	s := NewSampler(cmd.Process.Pid)
	if _, err := s.Sample(); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	// Zombie (killed, not yet reaped) counts as gone.
	var err error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err = s.Sample(); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrProcessGone) {
		t.Fatalf("zombie: err = %v", err)
	}
	cmd.Wait()
	if _, err := s.Sample(); !errors.Is(err, ErrProcessGone) {
		t.Fatalf("reaped: err = %v", err)
	}
}

func TestCPUPercentBusy(t *testing.T) {
	ownCPU := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s := NewSelfSampler()
	cpu0 := ownCPU()
	prev, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	// Spin until this process has really used 300 ms of CPU (however the machine shares its cores),
	// then hold the sampler's figure against the kernel's own account of the same window.
	var x uint64 = 1
	for deadline := time.Now().Add(10 * time.Second); ownCPU()-cpu0 < 300*time.Millisecond && time.Now().Before(deadline); {
		for range 100000 {
			x = x*6364136223846793005 + 1
		}
	}
	runtime.KeepAlive(x)
	cur, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	used := ownCPU() - cpu0
	want := 100 * used.Seconds() / cur.At.Sub(prev.At).Seconds()
	got := CPUPercent(prev, cur)
	// /proc counts CPU in 10 ms ticks: allow a quarter plus a few points.
	if got <= 0 || got < 0.75*want-5 || got > 1.25*want+5 {
		t.Fatalf("CPUPercent = %.1f, want about %.1f (%s of CPU over %s)", got, want, used, cur.At.Sub(prev.At))
	}
}

func TestSampleAllocs(t *testing.T) {
	s := NewSampler(os.Getpid())
	for range 3 { // warm up buffers
		if _, err := s.Sample(); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(20, func() { s.Sample() }); n > 0 {
		t.Fatalf("Sample allocates %.1f times per call", n)
	}
}

func BenchmarkSample(b *testing.B) {
	for _, bc := range []struct {
		name string
		s    *Sampler
	}{
		{"self", NewSelfSampler()},
		{"tree", NewSampler(os.Getpid())},
		{"init", NewSampler(1)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.s.Sample(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

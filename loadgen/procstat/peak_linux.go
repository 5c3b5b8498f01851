package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// PeakRSS is the highest resident set size process pid has had so far (VmHWM of
// /proc/PID/status): exact, with no sampling, for that one process (not its
// descendants).
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("%w: pid %d: %v", ErrProcessGone, pid, err)
	}
	return parseVmHWM(b)
}

// parseVmHWM reads the "VmHWM:    1234 kB" line of a /proc/PID/status file.
func parseVmHWM(b []byte) (int64, error) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("procstat: malformed VmHWM line %q", line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procstat: malformed VmHWM line %q", line)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("procstat: no VmHWM line (a kernel thread or a zombie?)")
}

// ThreadCPU is the CPU time process pid's live threads have run, summed from
// /proc/PID/task/*/schedstat (nanoseconds, unlike the clock ticks of
// /proc/PID/stat). Threads that already exited are not in it.
func ThreadCPU(pid int) (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("%w: pid %d: %v", ErrProcessGone, pid, err)
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := bytes.Fields(b)
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err == nil {
			sum += time.Duration(ns)
		}
	}
	return sum, nil
}

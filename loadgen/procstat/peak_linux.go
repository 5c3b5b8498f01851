package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
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

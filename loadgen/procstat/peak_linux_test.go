package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseVmHWM(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n", 1234 << 10, true},
		{"Name:\tkthreadd\nState:\tS\n", 0, false},
		{"VmHWM:\t 12 MB\n", 0, false},
		{"VmHWM:\t x kB\n", 0, false},
	} {
		got, err := parseVmHWM([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseVmHWM(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	// This process: its peak is at least what it holds now.
	peak, err := PeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSampler(os.Getpid()).Sample()
	if err != nil {
		t.Fatal(err)
	}
	if peak < s.RSSBytes/2 || peak == 0 {
		t.Errorf("peak RSS %d, current RSS %d", peak, s.RSSBytes)
	}
}

func TestThreadCPU(t *testing.T) {
	before, err := ThreadCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, err := ThreadCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// The spin ran on some thread of this process for 30 ms of wall time; on a busy machine it
	// got less CPU, but some, and the sum never goes down.
	if after <= before || x == 0 {
		t.Errorf("thread CPU %s then %s around a 30 ms spin", before, after)
	}
	if _, err := ThreadCPU(1 << 30); err == nil {
		t.Error("no error for a pid that does not exist")
	}
}

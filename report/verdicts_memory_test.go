package report

import (
	"strings"
	"testing"
	"time"
)

// rssPoints makes one point per step from start, with the RSS rss(i) of process pid(i).
func rssPoints(n int, step time.Duration, pid func(int) int, rss func(int) int64) []point {
	var pts []point
	for i := 0; i < n; i++ {
		pts = append(pts, point{Start: time.Duration(i) * step, End: time.Duration(i+1) * step, Seconds: step.Seconds(), WPid: pid(i), WRSS: rss(i)})
	}
	return pts
}

func TestMemoryVerdictPerProcessAndShortRuns(t *testing.T) {
	const mib = 1 << 20
	th := DefaultVerdictThresholds
	for _, tc := range []struct {
		name   string
		pts    []point
		status string
		detail string
	}{
		// 30 minutes: a worker flat at 100 MiB, restarted, the new one flat at 300 MiB. Read as
		// one series it is +200 MiB in an hour's half; each process on its own is flat.
		{"restart is no leak", rssPoints(60, 30*time.Second,
			func(i int) int { return map[bool]int{true: 100, false: 200}[i < 30] },
			func(i int) int64 { return map[bool]int64{true: 100 * mib, false: 300 * mib}[i < 30] }),
			VerdictPass, "2 worker processes judged each on its own"},
		{"one process leaking", rssPoints(60, 30*time.Second, func(int) int { return 7 },
			func(i int) int64 { return 100*mib + int64(i)*mib }),
			VerdictFail, "trend +"},
		{"the new process leaks", rssPoints(60, 30*time.Second,
			func(i int) int { return map[bool]int{true: 100, false: 200}[i < 30] },
			func(i int) int64 {
				if i < 30 {
					return 100 * mib
				}
				return 50*mib + int64(i-30)*2*mib
			}),
			VerdictFail, "worker pid 200: "},
		// 5 seconds of start-up growth, 12 MiB seen: extrapolated it is GiB per hour; not judged.
		{"five seconds", rssPoints(5, time.Second, func(int) int { return 7 },
			func(i int) int64 { return 50*mib + int64(i)*3*mib }),
			VerdictSkip, "too short to extrapolate"},
		// A short run whose growth passes the floor by itself still fails: nothing is extrapolated.
		{"short but seen", rssPoints(6, time.Second, func(int) int { return 7 },
			func(i int) int64 { return 50*mib + int64(i)*20*mib }),
			VerdictFail, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := memoryVerdict(tc.pts, th)
			if v.Status != tc.status || !strings.Contains(v.Detail, tc.detail) {
				t.Errorf("%s (%s), want %s with %q", v.Status, v.Detail, tc.status, tc.detail)
			}
		})
	}
}

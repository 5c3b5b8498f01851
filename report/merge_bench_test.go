package report

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkMergeMemory merges 3 runs of 60 and of 600 intervals: the live heap (live-heap-MiB, the
// largest heap right after a collection, sampled every 20 ms) stays flat with the runs' length,
// since the merge holds one interval of every run at a time; peak-heap-MiB adds garbage not yet
// collected.
func BenchmarkMergeMemory(b *testing.B) {
	for _, n := range []int{60, 600} {
		b.Run(fmt.Sprintf("intervals=%d", n), func(b *testing.B) {
			t := &testing.T{}
			root := b.TempDir()
			var dirs []string
			for i := range 3 {
				d := filepath.Join(root, fmt.Sprint(i))
				writeMachine(t, d, fmt.Sprint("host-", i), uint64(i+1), 0, n, 1, 100)
				dirs = append(dirs, d)
			}
			b.ResetTimer()
			var peak, live atomic.Uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					var ms runtime.MemStats
					for n := 0; ; n++ {
						if n%10 == 0 {
							runtime.GC()
							runtime.ReadMemStats(&ms)
							if ms.HeapAlloc > live.Load() {
								live.Store(ms.HeapAlloc)
							}
						}
						runtime.ReadMemStats(&ms)
						if ms.HeapInuse > peak.Load() {
							peak.Store(ms.HeapInuse)
						}
						select {
						case <-stop:
							return
						case <-time.After(2 * time.Millisecond):
						}
					}
				}()
				if _, err := Merge(dirs, MergeOptions{Out: filepath.Join(root, fmt.Sprint("m", i))}); err != nil {
					b.Fatal(err)
				}
				close(stop)
				<-done
			}
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(live.Load())/(1<<20), "live-heap-MiB")
		})
	}
}

package loadgen

import (
	"context"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fbench/fbench/report"
)

// BenchmarkOpenLoopFootprint sends open loop at the rates real workers run, for as long as b.N
// takes, to the reference worker (its own process): cpu-µs/inv is the engine's CPU per invocation
// (this process: the engine, gRPC and the Go runtime; the worker excluded) and switches/inv its
// threads' context switches per invocation (wake-ups: the hand-offs between the sender, gRPC's
// writer and reader and the receiver, and the sleeps). GOMAXPROCS is fbench's for open loop
// (cores + 2). Run with -benchtime Nx (a count).
func BenchmarkOpenLoopFootprint(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.NumCPU() + 2))
	for _, rate := range []float64{1000, 5000} {
		b.Run(strconv.FormatFloat(rate, 'f', 0, 64), func(b *testing.B) {
			w := startWorkerB(b, "")
			cfg := Config{Schedule: mustConstant(b, rate), Count: int64(b.N), Targets: []Target{{"echo", 1}}, Seed: 1,
				Drain: 10 * time.Second, OnInterval: func(*report.IntervalRecord) error { return nil }}
			lag := report.NewHistogram()
			cfg.OnInterval = func(rec *report.IntervalRecord) error {
				if h := rec.Histograms[report.MetricLag]; h != nil {
					lag.Merge(h)
				}
				return nil
			}
			b.ReportAllocs()
			u0 := selfUsage()
			b.ResetTimer()
			res, err := Run(context.Background(), w, cfg)
			b.StopTimer()
			u1 := selfUsage()
			if err != nil {
				b.Fatal(err)
			}
			if res.Totals.Succeeded != int64(b.N) {
				b.Fatalf("succeeded %d of %d", res.Totals.Succeeded, b.N)
			}
			cpu := time.Duration(u1.Utime.Nano() + u1.Stime.Nano() - u0.Utime.Nano() - u0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/inv")
			b.ReportMetric(float64(u1.Nvcsw+u1.Nivcsw-u0.Nvcsw-u0.Nivcsw)/float64(b.N), "switches/inv")
			b.ReportMetric(float64(lag.ValueAtQuantile(99)), "lag-p99-µs")
		})
	}
}

func selfUsage() syscall.Rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

// BenchmarkSaturation drives the reference worker (zero work) in closed loop with 256 invocations
// in flight: ns/op is fbench's cost per invocation at saturation on this machine (both processes
// share its cores), allocs/op and B/op are fbench's own per invocation.
func BenchmarkSaturation(b *testing.B) { saturate(b, 1, false) }

// saturate runs b.N invocations in closed loop (256 in flight) over n reference workers and
// reports the rate achieved, and with cpu fbench's CPU per invocation.
func saturate(b *testing.B, n int, cpu bool) {
	var ws []*host.Worker
	for i := 0; i < n; i++ {
		ws = append(ws, startWorkerB(b, ""))
	}
	cfg := Config{Concurrency: 256, Count: int64(b.N), Targets: []Target{{"echo", 1}}, Seed: 1, Drain: 10 * time.Second,
		OnInterval: func(*report.IntervalRecord) error { return nil }}
	b.ReportAllocs()
	cpu0 := selfCPU()
	b.ResetTimer()
	res, err := RunPool(context.Background(), ws, cfg)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Totals.Succeeded != int64(b.N) {
		b.Fatalf("succeeded %d of %d", res.Totals.Succeeded, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inv/s")
	if cpu {
		b.ReportMetric((selfCPU()-cpu0).Seconds()*1e6/float64(b.N), "fbench-cpu-µs/inv")
	}
}

// BenchmarkOpenLoop5000 sends 5000 invocations/s for as long as b.N takes and reports the lag.
func BenchmarkOpenLoop5000(b *testing.B) {
	w := startWorkerB(b, "")
	var lag, hlag = report.NewHistogram(), report.NewHistogram()
	cfg := Config{Schedule: mustConstant(b, 5000), Count: int64(b.N), Targets: []Target{{"echo", 1}}, Seed: 1,
		OnInterval: func(rec *report.IntervalRecord) error {
			if h := rec.Histograms[report.MetricLag]; h != nil {
				lag.Merge(h)
			}
			if h := rec.Histograms[report.MetricHarnessLag]; h != nil {
				hlag.Merge(h)
			}
			return nil
		}}
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := Run(context.Background(), w, cfg); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(lag.ValueAtQuantile(50)), "lag-p50-µs")
	b.ReportMetric(float64(lag.ValueAtQuantile(99)), "lag-p99-µs")
	b.ReportMetric(float64(hlag.ValueAtQuantile(99)), "harness-lag-p99-µs")
}

func mustConstant(b *testing.B, rps float64) *Schedule {
	s, err := NewConstant(rps, 0)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

package report

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// A synthetic run, the same on every machine: 10 one-second intervals (2 of them warm-up), two
// functions, failures, cancels, a worker restart event and resource samples.

var synthStart = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func synthMeta() Meta {
	exit := 0
	return Meta{
		Clock:     fixedClock,
		Version:   "0.1.0-test",
		Mode:      "open",
		HTTPMode:  "rpc",
		StartedAt: synthStart,
		EndedAt:   synthStart.Add(10*time.Second + 250*time.Millisecond),
		Interval:  time.Second,
		Warmup:    2 * time.Second,
		Phases: []Phase{
			{Name: "warmup", Start: 0, End: 2 * time.Second},
			{Name: "steady", Start: 2 * time.Second, End: 10 * time.Second},
		},
		Config: map[string]any{
			"rate": 200, "duration": "10s", "seed": 42, "arrival": "poisson",
			"cancel": map[string]any{"ratio": 0.05, "after": "2ms"},
			"worker": []any{"python", "-m", "worker"},
		},
		Environment: Environment{
			CPUModel: "Test CPU @ 3.0GHz", Cores: 8, GOMAXPROCS: 8, OS: "linux/amd64",
			Kernel: "6.1.0-test", GoVersion: "go1.26.8", Fbench: "0.1.0-test", Hostname: "bench-1",
		},
		Worker: WorkerInfo{
			Command:      []string{"python", "-m", "worker"},
			Pid:          4242,
			ExitCode:     &exit,
			Capabilities: map[string]string{"RpcHttpBodyOnly": "true", "TypedDataCollection": "true"},
			Functions: []FunctionInfo{
				{Name: "echo", ID: "fn-1", Trigger: "httpTrigger", Bindings: []string{"req", "$return"}},
				{Name: "slow work", ID: "fn-2", Trigger: "queueTrigger", Bindings: []string{"msg"}},
			},
			Restarts:   1,
			StderrTail: []string{"INFO worker started", "WARN something slow"},
		},
		Harness: HarnessInfo{LagBudget: 5 * time.Millisecond},
		Events: []Event{
			{At: 6500 * time.Millisecond, Kind: "worker_restart", Detail: "worker exited with code 137; restarted"},
		},
	}
}

// synthIntervals builds the intervals; each call returns fresh histograms.
func synthIntervals(t testing.TB) []*IntervalRecord {
	rng := rand.New(rand.NewPCG(42, 7))
	var recs []*IntervalRecord
	for i := 0; i < 10; i++ {
		hists := map[string]*hdrhistogram.Histogram{}
		get := func(tag string) *hdrhistogram.Histogram {
			if hists[tag] == nil {
				hists[tag] = NewHistogram()
			}
			return hists[tag]
		}
		rec := func(tag string, v int64) {
			if err := get(tag).RecordValue(v); err != nil {
				t.Fatal(err)
			}
		}
		warm := i < 2
		scale := 1.0
		if i == 6 || i == 7 {
			scale = 3 // around the restart
		}
		var c Counts
		statuses := HTTPStatusCounts{}
		failures := map[string]int64{}
		code := func(fn string, n int) {
			if statuses[fn] == nil {
				statuses[fn] = map[string]int64{}
			}
			statuses[fn][strconv.Itoa(n)]++
			c.AddHTTPStatus(n)
		}
		n := 200
		c.Due, c.Sent = int64(n), int64(n)
		for k := 0; k < n; k++ {
			fn, base := "echo", 600.0
			if k%4 == 3 {
				fn, base = "slow work", 2500
			}
			service := int64(base * scale * math.Exp(0.45*rng.NormFloat64()))
			lag := int64(20 + rng.ExpFloat64()*40)
			if k == 17 && i == 7 {
				lag = 9000 // one late send
			}
			rtt := service + lag
			status := "succeeded"
			switch {
			case k%50 == 7:
				status = "failed"
				c.Failed++
				code(fn, 500)
			case k%50 == 9:
				status = "failed" // an HTTP status outside --http-ok
				c.Failed++
				code(fn, 503)
				failures["HTTP 503"]++
			case k%40 == 5:
				status = "cancelled"
				c.CancelSent++
				c.Cancelled++
				rec(MetricCancelSettle, int64(150+rng.ExpFloat64()*300))
			case k%97 == 11:
				status = "completed_after_cancel"
				c.CancelSent++
				c.CompletedAfterCancel++
				rec(MetricCancelSettle, int64(400+rng.ExpFloat64()*500))
			default:
				c.Succeeded++
				code(fn, 200)
			}
			rec(MetricRTT, rtt)
			rec(MetricService, service)
			rec(MetricLag, lag)
			rec(FunctionTag(MetricRTT, fn), rtt)
			rec(FunctionTag(MetricService, fn), service)
			rec(StatusTag(MetricRTT, status), rtt)
		}
		c.StatusSent, c.StatusAnswered = 1, 1
		rec(MetricStatusRTT, int64(90+rng.IntN(50)))
		c.Logs = 12
		if i == 7 {
			c.Lost = 3
			c.Due += 3
			c.Sent += 3
		}
		phase := "steady"
		if warm {
			phase = "warmup"
		}
		recs = append(recs, &IntervalRecord{
			Index:      i,
			Start:      time.Duration(i) * time.Second,
			Length:     time.Second,
			Phase:      phase,
			Warmup:     warm,
			OfferedRPS: 200,
			InFlight:   int64(3 + i%4),
			Counts:     c,
			HTTPStatus: statuses,
			Failures:   failures,
			Resources: Resources{
				WorkerCPUPct: 35 + float64(i%3)*5.5, WorkerRSSBytes: int64(80+i*2) << 20, WorkerThreads: 12 + int64(i%2), WorkerFDs: 40,
				FbenchCPUPct: 12.5 + float64(i%2), FbenchRSSBytes: int64(30+i/3) << 20, Goroutines: 25,
			},
			Histograms: hists,
		})
	}
	return recs
}

// writeSynthetic runs the synthetic run through a RunWriter into dir.
func writeSynthetic(t testing.TB, dir string, meta Meta, recs []*IntervalRecord) *Summary {
	t.Helper()
	w, err := CreateRun(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.WriteInterval(r); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Finish(meta)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

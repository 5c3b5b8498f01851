package loadgen

import (
	"context"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fbench/fbench/loadgen/dist"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/refworker"
	"github.com/fbench/fbench/loadgen/refworker/workertest"
	"github.com/fbench/fbench/report"
)

// The test binary doubles as the reference worker (see workertest).
func TestMain(m *testing.M) { workertest.Main(m, workertest.Worker(refworker.Main)) }

// startWorker launches the reference worker with the given settings and completes the handshake.
func startWorker(t *testing.T, refArgs string) *host.Worker { return startWorkerB(t, refArgs) }

func startWorkerB(t testing.TB, refArgs string) *host.Worker {
	t.Helper()
	srv, err := host.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	w, err := host.Start(context.Background(), srv, workerOptions(refArgs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Shutdown(time.Second) })
	return w
}

// workerOptions launches the test binary as the reference worker with the given settings.
func workerOptions(refArgs string) host.Options {
	exe, _ := os.Executable()
	return host.Options{
		Launch:   host.Launch{Worker: exe, Language: "fbench-test", Env: workertest.Env(refArgs)},
		Indexing: host.IndexingWorker, StartTimeout: 20 * time.Second,
	}
}

// collected is what a test sink gathered from the intervals.
type collected struct {
	intervals []report.IntervalRecord
	counts    report.Counts
	hists     map[string]*hdrhistogram.Histogram
}

func (c *collected) sink(rec *report.IntervalRecord) error {
	r := *rec
	r.Histograms = nil
	c.intervals = append(c.intervals, r)
	c.counts.Add(rec.Counts)
	for tag, h := range rec.Histograms {
		if c.hists[tag] == nil {
			c.hists[tag] = report.NewHistogram()
		}
		c.hists[tag].Merge(h)
	}
	return nil
}

func (c *collected) hist(tag string) *hdrhistogram.Histogram {
	if h := c.hists[tag]; h != nil {
		return h
	}
	return report.NewHistogram()
}

func runEngine(t *testing.T, w *host.Worker, cfg Config) (*Result, *collected) {
	t.Helper()
	c := &collected{hists: map[string]*hdrhistogram.Histogram{}}
	cfg.OnInterval = c.sink
	if cfg.Drain == 0 {
		cfg.Drain = 5 * time.Second
	}
	res, err := Run(context.Background(), w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res, c
}

func constant(t *testing.T, rps float64, d time.Duration) *Schedule {
	t.Helper()
	s, err := NewConstant(rps, d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCountsAddUpAndClocksAreOrdered(t *testing.T) {
	w := startWorker(t, "--service-time 1ms")
	res, c := runEngine(t, w, Config{Schedule: constant(t, 1000, 0), Count: 1500, Targets: []Target{{"work", 1}, {"echo", 1}}, Seed: 3, StatusInterval: 200 * time.Millisecond})
	k := c.counts
	if k.Due != 1500 || k.Sent != 1500 || k.Succeeded != 1500 || k.Settled() != 1500 {
		t.Fatalf("counts do not add up: %+v", k)
	}
	if k.Unmatched+k.Duplicate+k.Failed+k.Lost+k.TimedOut != 0 {
		t.Fatalf("unexpected outcomes: %+v", k)
	}
	if res.Totals != k {
		t.Fatalf("result totals %+v differ from the intervals' %+v", res.Totals, k)
	}
	rtt, svc, lag := c.hist(report.MetricRTT), c.hist(report.MetricService), c.hist(report.MetricLag)
	if rtt.TotalCount() != 1500 || svc.TotalCount() != 1500 || lag.TotalCount() != 1500 {
		t.Fatalf("histogram counts rtt %d service %d lag %d", rtt.TotalCount(), svc.TotalCount(), lag.TotalCount())
	}
	for _, q := range []float64{0, 50, 90, 99, 99.9, 100} {
		if rtt.ValueAtQuantile(q) < svc.ValueAtQuantile(q) {
			t.Errorf("rtt p%v %d < service p%v %d", q, rtt.ValueAtQuantile(q), q, svc.ValueAtQuantile(q))
		}
	}
	if c.hist(report.FunctionTag(report.MetricRTT, "work")).TotalCount()+c.hist(report.FunctionTag(report.MetricRTT, "echo")).TotalCount() != 1500 {
		t.Error("per-function histograms do not add up")
	}
	if k.StatusSent == 0 || k.StatusAnswered == 0 || c.hist(report.MetricStatusRTT).TotalCount() != k.StatusAnswered {
		t.Errorf("status pings: sent %d answered %d", k.StatusSent, k.StatusAnswered)
	}
}

func TestFixedServiceTimeShowsInRTT(t *testing.T) {
	w := startWorker(t, "--service-time 10ms")
	_, c := runEngine(t, w, Config{Schedule: constant(t, 200, 2*time.Second), Targets: []Target{{"work", 1}}, Seed: 1})
	p50 := time.Duration(c.hist(report.MetricRTT).ValueAtQuantile(50)) * time.Microsecond
	svc := time.Duration(c.hist(report.MetricService).ValueAtQuantile(50)) * time.Microsecond
	// The worker's 10 ms is in both; at 200/s with no queueing rtt adds only the send's lag.
	if svc < 10*time.Millisecond || p50 < svc || p50-svc > 10*time.Millisecond || p50 > 100*time.Millisecond {
		t.Fatalf("rtt p50 = %s, service p50 = %s, want both about 10ms", p50, svc)
	}
}

// A worker that stops answering for 1 s delays every arrival of that second: an open-loop harness
// measuring from the intended time shows each of them in the tail, roughly a uniform spread from
// 1 s down to 0 (no coordinated omission).
func TestPauseShowsInTailInProportion(t *testing.T) {
	w := startWorker(t, "--fault pause=1s@1000")
	const rps = 1000
	_, c := runEngine(t, w, Config{Schedule: constant(t, rps, 4*time.Second), Targets: []Target{{"echo", 1}}, Seed: 2})
	rtt := c.hist(report.MetricRTT)
	total := rtt.TotalCount()
	if total != 4*rps {
		t.Fatalf("recorded %d, want %d", total, 4*rps)
	}
	// Arrivals during the pause: about rps×1s, their rtt spread over (0, 1s]; those above 500 ms are about half.
	over500 := countAtLeast(rtt, 500_000)
	over100 := countAtLeast(rtt, 100_000)
	// A harness with coordinated omission would show about one slow sample; we want about a
	// thousand. Bounds are loose for a loaded 2-core machine (responses queued behind the pause
	// drain at the machine's pace).
	if over500 < 350 || over500 > 900 {
		t.Errorf("%d invocations with rtt ≥ 500ms, want about 500 (half the paused second's arrivals)", over500)
	}
	if over100 < 700 || over100 > 1600 {
		t.Errorf("%d invocations with rtt ≥ 100ms, want about 900", over100)
	}
	if max := rtt.Max(); max < 900_000 || max > 1_000_000+c.hist(report.MetricService).ValueAtQuantile(99)+500_000 {
		t.Errorf("rtt max %dµs, want about 1s", max)
	}
}

// countAtLeast is how many recorded values are at least v (to the histogram's precision).
func countAtLeast(h *hdrhistogram.Histogram, v int64) int64 {
	lo, hi := 0.0, 100.0
	for i := 0; i < 40; i++ { // the smallest quantile whose value reaches v
		mid := (lo + hi) / 2
		if h.ValueAtQuantile(mid) >= v {
			hi = mid
		} else {
			lo = mid
		}
	}
	return int64(math.Round(float64(h.TotalCount()) * (100 - hi) / 100))
}

func TestCancelRatioHolds(t *testing.T) {
	// Cancels come 1–10 ms after the send and the work takes 200 ms: nearly every one lands while
	// the work runs, however busy the machine.
	w := startWorker(t, "--service-time 200ms")
	const n = 2000
	_, c := runEngine(t, w, Config{Schedule: constant(t, 1000, 0), Count: n, Targets: []Target{{"work", 1}},
		CancelRatio: 0.25, CancelAfter: dist.MustParse("uniform:1ms-10ms"), Seed: 5})
	k := c.counts
	sigma := math.Sqrt(n * 0.25 * 0.75)
	// Every drawn cancel is sent, or counted as skipped when its invocation settled first.
	if d := math.Abs(float64(k.CancelSent+k.CancelSkipped) - n*0.25); d > 4*sigma {
		t.Errorf("cancels sent %d + skipped %d, want %v ± %.0f", k.CancelSent, k.CancelSkipped, n*0.25, 4*sigma)
	}
	if k.Cancelled < k.CancelSent*9/10 {
		t.Errorf("cancelled %d of %d cancels sent", k.Cancelled, k.CancelSent)
	}
	if k.Cancelled+k.CompletedAfterCancel+k.Succeeded+k.Failed != n {
		t.Errorf("outcomes do not add up: %+v", k)
	}
	if cs := c.hist(report.MetricCancelSettle); cs.TotalCount() != k.Cancelled+k.CompletedAfterCancel {
		t.Errorf("cancel_settle has %d values, want %d", cs.TotalCount(), k.Cancelled+k.CompletedAfterCancel)
	}
}

func TestCancelsSkippedWithoutCapability(t *testing.T) {
	w := startWorker(t, "--mimic node")
	res, c := runEngine(t, w, Config{Schedule: constant(t, 500, 0), Count: 200, Targets: []Target{{"echo", 1}},
		CancelRatio: 0.5, CancelAfter: dist.NewFixed(0), Seed: 5})
	if c.counts.CancelSent != 0 || len(res.Notices) == 0 || !strings.Contains(res.Notices[0], "HandlesInvocationCancelMessage") {
		t.Fatalf("cancels sent %d, notices %q", c.counts.CancelSent, res.Notices)
	}
}

func TestStagesProduceTheirRates(t *testing.T) {
	w := startWorker(t, "")
	s, err := NewSchedule([]Stage{{Name: "low", Duration: 2 * time.Second, From: 200, To: 200}, {Name: "high", Duration: 2 * time.Second, From: 600, To: 600}}, Constant, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, c := runEngine(t, w, Config{Schedule: s, Targets: []Target{{"echo", 1}}})
	due := map[string]int64{}
	for _, iv := range c.intervals {
		due[iv.Phase] += iv.Counts.Due
	}
	// An arrival is due in the interval of its intended time, however late the sender or the
	// interval clock; only one intended exactly on the boundary may fall either side.
	if due["low"]+due["high"]+due["drain"] != 1600 || math.Abs(float64(due["low"]-400)) > 1 || math.Abs(float64(due["high"]+due["drain"]-1200)) > 1 {
		t.Fatalf("arrivals per stage %v, want low 400, high 1200", due)
	}
}

// With a warm-up, the measured window's counts add up on their own: invocations intended during
// the warm-up that settle after it are counted apart (WarmupSettled), never as measured outcomes.
func TestWarmupInvocationsStayOutOfMeasuredCounts(t *testing.T) {
	w := startWorker(t, "--service-time 20ms")
	_, c := runEngine(t, w, Config{Concurrency: 16, Warmup: time.Second, Duration: 2 * time.Second, Targets: []Target{{"work", 1}},
		StatusInterval: 50 * time.Millisecond})
	var measured, warm report.Counts
	for _, iv := range c.intervals {
		if iv.Warmup {
			warm.Add(iv.Counts)
		} else {
			measured.Add(iv.Counts)
		}
	}
	if warm.Sent == 0 || measured.Sent == 0 {
		t.Fatalf("warm-up %+v, measured %+v: want both to have sent", warm, measured)
	}
	if measured.Settled() != measured.Due || measured.Succeeded != measured.Sent {
		t.Errorf("measured counts do not add up: due %d, sent %d, settled %d: %+v", measured.Due, measured.Sent, measured.Settled(), measured)
	}
	// 16 always in flight: those in flight when the warm-up ended settle in the measured window.
	if measured.WarmupSettled < 1 || measured.WarmupSettled > 16 {
		t.Errorf("warm-up invocations settled in the measured window: %d, want 1..16", measured.WarmupSettled)
	}
	if warm.Sent != warm.Due || warm.Due != warm.Settled()+measured.WarmupSettled {
		t.Errorf("warm-up due %d, sent %d, settled %d in the warm-up and %d after", warm.Due, warm.Sent, warm.Settled(), measured.WarmupSettled)
	}
	if measured.StatusAnswered > measured.StatusSent {
		t.Errorf("status pings answered %d of %d sent", measured.StatusAnswered, measured.StatusSent)
	}
}

func TestBadIdsAreCountedNotFatal(t *testing.T) {
	for _, tc := range []struct {
		fault string
		check func(k report.Counts) bool
	}{
		{"unknown-ids", func(k report.Counts) bool { return k.Unmatched == 300 && k.Succeeded == 0 && k.Lost+k.TimedOut == 300 }},
		{"duplicate-ids", func(k report.Counts) bool { return k.Duplicate == 300 && k.Succeeded == 300 }},
		{"empty-ids", func(k report.Counts) bool { return k.Unmatched == 300 }},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			w := startWorker(t, "--fault "+tc.fault)
			_, c := runEngine(t, w, Config{Schedule: constant(t, 1000, 0), Count: 300, Targets: []Target{{"echo", 1}}, Drain: 3 * time.Second})
			if !tc.check(c.counts) {
				t.Fatalf("counts %+v", c.counts)
			}
		})
	}
}

func TestTimeoutsAndLateResponses(t *testing.T) {
	w := startWorker(t, "--fault late=150ms")
	_, c := runEngine(t, w, Config{Schedule: constant(t, 500, 0), Count: 200, Targets: []Target{{"echo", 1}}, Timeout: 50 * time.Millisecond})
	k := c.counts
	if k.TimedOut != 200 || k.Succeeded != 0 {
		t.Fatalf("counts %+v: want 200 timed out", k)
	}
	// Timed-out invocations weigh on rtt, at no less than the timeout; service has none of them.
	rtt := c.hist(report.MetricRTT)
	if rtt.TotalCount() != 200 || rtt.Min() < 50_000 || c.hist(report.MetricService).TotalCount() != 0 {
		t.Errorf("rtt count %d min %dµs, service count %d: want 200 timeouts at ≥ 50ms in rtt only",
			rtt.TotalCount(), rtt.Min(), c.hist(report.MetricService).TotalCount())
	}
}

func TestDropWhenFull(t *testing.T) {
	w := startWorker(t, "--service-time 50ms")
	_, c := runEngine(t, w, Config{Schedule: constant(t, 1000, 0), Count: 500, Targets: []Target{{"work", 1}}, MaxInFlight: 10, OnFull: OnFullDrop})
	k := c.counts
	if k.Dropped == 0 || k.Dropped+k.Succeeded != 500 || k.Due != 500 {
		t.Fatalf("counts %+v: want drops, dropped+succeeded = due = 500", k)
	}
	// At 50 ms service and 10 slots, at most about 200/s get through.
	if k.Succeeded > 150 {
		t.Errorf("succeeded %d: the in-flight cap did not hold", k.Succeeded)
	}
}

func TestQueueWhenFullCountsTheWait(t *testing.T) {
	w := startWorker(t, "--service-time 20ms")
	_, c := runEngine(t, w, Config{Schedule: constant(t, 400, 0), Count: 200, Targets: []Target{{"work", 1}}, MaxInFlight: 4, OnFull: OnFullQueue})
	k := c.counts
	if k.Succeeded != 200 || k.Dropped != 0 {
		t.Fatalf("counts %+v", k)
	}
	// 4 slots × 50/s = 200/s capacity against 400/s offered: the queue grows, and rtt shows it.
	if rtt, svc := c.hist(report.MetricRTT).ValueAtQuantile(90), c.hist(report.MetricService).ValueAtQuantile(90); rtt < 5*svc {
		t.Errorf("rtt p90 %dµs vs service p90 %dµs: the queue wait is not in rtt", rtt, svc)
	}
}

func TestWorkerCrashEndsRun(t *testing.T) {
	w := startWorker(t, "--fault crash-after=100")
	res, c := runEngine(t, w, Config{Schedule: constant(t, 500, 5*time.Second), Targets: []Target{{"echo", 1}}})
	if !res.WorkerEnded {
		t.Fatal("the run did not notice the worker's crash")
	}
	if res.Elapsed > 3*time.Second {
		t.Errorf("run went on for %s after the crash", res.Elapsed)
	}
	select {
	case <-w.Exited():
	case <-time.After(3 * time.Second):
		t.Fatal("worker did not exit")
	}
	if code, _ := w.ExitCode(); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	// The worker exits on receiving its 100th request: the answers still in its write buffers are
	// lost with it, more of them when the machine is busy.
	if k := c.counts; k.Succeeded < 50 || k.Succeeded > 100 || k.Lost == 0 || k.Settled() != k.Due {
		t.Errorf("counts %+v: want up to 99 succeeded and the rest lost", k)
	}
}

func TestClosedLoopKeepsConcurrency(t *testing.T) {
	w := startWorker(t, "--service-time 10ms")
	_, c := runEngine(t, w, Config{Concurrency: 8, Duration: 2 * time.Second, Targets: []Target{{"work", 1}}})
	// 8 always in flight: about 8 × 2 s ÷ the mean round trip (10 ms and what a busy machine adds).
	mean := c.hist(report.MetricRTT).Mean() // µs
	want := 8 * 2e6 / mean
	if k := c.counts; mean < 10_000 || float64(k.Succeeded) < 0.8*want || float64(k.Succeeded) > 1.2*want || k.Succeeded > 1700 {
		t.Errorf("closed loop of 8 × 10ms made %d invocations in 2s at mean rtt %.0fµs, want about %.0f", k.Succeeded, mean, want)
	}
	for _, iv := range c.intervals[:len(c.intervals)-1] {
		if iv.InFlight > 8 {
			t.Errorf("interval %d: %d in flight, want ≤ 8", iv.Index, iv.InFlight)
		}
	}
}

func TestRestartWorkerKeepsGoing(t *testing.T) {
	w := startWorker(t, "--fault crash-after=300")
	var relaunched []*host.Worker
	cfg := Config{Schedule: constant(t, 500, 3*time.Second), Targets: []Target{{"echo", 1}}, MaxRestarts: 1,
		Relaunch: func(ctx context.Context, old *host.Worker) (*host.Worker, error) {
			old.Shutdown(time.Second)
			srv, err := host.NewServer()
			if err != nil {
				return nil, err
			}
			t.Cleanup(srv.Close)
			nw, err := host.Start(ctx, srv, workerOptions(""))
			if err == nil {
				relaunched = append(relaunched, nw)
			}
			return nw, err
		}}
	res, c := runEngine(t, w, cfg)
	defer res.Worker.Shutdown(time.Second)
	if res.Restarts != 1 || len(relaunched) != 1 || res.Worker != relaunched[0] {
		t.Fatalf("restarts %d, relaunched %d", res.Restarts, len(relaunched))
	}
	if res.WorkerEnded {
		t.Fatalf("the run ended with the worker: %s", res.EndReason)
	}
	k := c.counts
	if k.Due != 1500 || k.Succeeded+k.Lost != 1500 || k.Succeeded < 1400 {
		t.Fatalf("counts %+v: want 1500 due, nearly all succeeded across the restart", k)
	}
	kinds := map[string]int{}
	for _, ev := range res.Events {
		kinds[ev.Kind]++
	}
	if kinds["stream_ended"] != 1 || kinds["worker_restart"] != 1 {
		t.Fatalf("events %v", res.Events)
	}
	// The wait for the new worker shows in lag, not in harness_lag: the arrivals held up by the
	// restart (several percent of them) would put harness_lag's p99 near lag's max if it were blamed.
	if hl, l := c.hist(report.MetricHarnessLag).ValueAtQuantile(99), c.hist(report.MetricLag).Max(); hl >= l/2 {
		t.Errorf("harness_lag p99 %dµs should be far below lag max %dµs (the restart was the worker's wait)", hl, l)
	}
}

// A worker that stops reading its stream ends a run that has no planned end (closed loop, count
// only) once a Send has been held by flow control for StuckSend, with everything in flight lost.
func TestWorkerStopsReadingEndsUnplannedRun(t *testing.T) {
	w := startWorker(t, "--fault stop-reading@10")
	t0 := time.Now()
	res, c := runEngine(t, w, Config{Concurrency: 64, Count: 100_000_000, Targets: []Target{{"echo", 1}},
		Timeout: 20 * time.Millisecond, StuckSend: time.Second})
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("the run took %s", d)
	}
	k := c.counts
	// The answers before it stopped (a busy machine may deliver some after their short timeout).
	if answered := k.Succeeded + k.LateResponses; answered < 9 || answered > 10 || k.Sent < 100 || k.Settled() != k.Due {
		t.Errorf("counts %+v: want the 9 or 10 answers before it stopped, and every other invocation settled", k)
	}
	var noticed bool
	for _, ev := range res.Events {
		noticed = noticed || strings.Contains(ev.Detail, "stopped reading its stream")
	}
	if !noticed {
		t.Errorf("no event says the worker stopped reading: %+v", res.Events)
	}
}

// schedPolicies counts this process's threads per scheduling policy (/proc/self/task/*/stat field 41).
func schedPolicies(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // from field 3 on
		if len(f) > 38 {
			out[f[38]]++
		}
	}
	return out
}

// --realtime-sender puts the open-loop sender's thread, and only it, in SCHED_FIFO for the run,
// and gives it back ordinary; where that is not permitted the run says so and goes on.
func TestRealtimeSender(t *testing.T) {
	w := startWorker(t, "")
	done := make(chan *Result, 1)
	go func() {
		res, _ := runEngine(t, w, Config{Schedule: constant(t, 1000, 1500*time.Millisecond), Targets: []Target{{"echo", 1}}, RealtimeSender: true})
		done <- res
	}()
	maxFIFO := 0
	var res *Result
	for res == nil {
		select {
		case res = <-done:
		case <-time.After(20 * time.Millisecond):
			maxFIFO = max(maxFIFO, schedPolicies(t)["1"])
		}
	}
	refused := slices.ContainsFunc(res.Notices, func(n string) bool { return strings.Contains(n, "realtime sender refused") })
	switch {
	case refused && maxFIFO != 0:
		t.Errorf("refused, yet %d SCHED_FIFO threads seen", maxFIFO)
	case !refused && maxFIFO != 1:
		t.Errorf("%d SCHED_FIFO threads during the run, want the sender's alone (notices %q)", maxFIFO, res.Notices)
	}
	if n := schedPolicies(t)["1"]; n != 0 {
		t.Errorf("%d threads still SCHED_FIFO after the run", n)
	}
}

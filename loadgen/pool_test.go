package loadgen

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fbench/fbench/loadgen/dist"
	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

// startWorkers launches one reference worker per settings string.
func startWorkers(t *testing.T, refArgs ...string) []*host.Worker {
	t.Helper()
	var ws []*host.Worker
	for _, a := range refArgs {
		ws = append(ws, startWorker(t, a))
	}
	return ws
}

// runPool is runEngine over several workers.
func runPool(t *testing.T, ws []*host.Worker, cfg Config) (*Result, *collected) {
	t.Helper()
	c := &collected{hists: map[string]*hdrhistogram.Histogram{}}
	cfg.OnInterval = c.sink
	if cfg.Drain == 0 {
		cfg.Drain = 5 * time.Second
	}
	res, err := RunPool(context.Background(), ws, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res, c
}

// perProcess sums the intervals' per-process counts.
func (c *collected) perProcess(n int) []report.ProcessCounts {
	out := make([]report.ProcessCounts, n)
	for _, iv := range c.intervals {
		for _, p := range iv.Processes {
			out[p.Process-1].Add(p.Counts)
		}
	}
	return out
}

// checkProcessSums holds the per-process figures to the totals: counts summed, histograms merged.
func checkProcessSums(t *testing.T, c *collected, n int) []report.ProcessCounts {
	t.Helper()
	pcs := c.perProcess(n)
	var sum report.ProcessCounts
	var rtt, svc int64
	for i, pc := range pcs {
		sum.Add(pc)
		rtt += c.hist(report.ProcessTag(report.MetricRTT, i+1)).TotalCount()
		svc += c.hist(report.ProcessTag(report.MetricService, i+1)).TotalCount()
	}
	k := c.counts
	if sum.Sent != k.Sent || sum.Succeeded != k.Succeeded || sum.Failed != k.Failed || sum.Lost != k.Lost || sum.TimedOut != k.TimedOut {
		t.Errorf("per-process counts sum to %+v, totals %+v", sum, k)
	}
	if rtt != c.hist(report.MetricRTT).TotalCount() || svc != c.hist(report.MetricService).TotalCount() {
		t.Errorf("per-process histograms hold %d rtt and %d service values, totals %d and %d",
			rtt, svc, c.hist(report.MetricRTT).TotalCount(), c.hist(report.MetricService).TotalCount())
	}
	return pcs
}

// The dispatcher's rule: a counter global to the dispatcher (not per function), incremented per
// invocation, picks ready channel counter % n, so the first pick is the second channel. With four
// processes always ready, 4001 invocations of a two-function mix give the second process 1001 and
// each other 1000 (any per-function counter or random choice would miss that), and every process
// gets its own status pings.
func TestPoolSpreadsAsTheHostDispatcher(t *testing.T) {
	ws := startWorkers(t, "", "", "", "")
	res, c := runPool(t, ws, Config{Schedule: constant(t, 2000, 0), Count: 4001, Seed: 5,
		Targets: []Target{{"echo", 3}, {"work", 1}}, StatusInterval: 500 * time.Millisecond})
	if res.WorkerEnded || len(res.Processes) != 4 {
		t.Fatalf("result %+v", res)
	}
	pcs := checkProcessSums(t, c, 4)
	for i, want := range []int64{1000, 1001, 1000, 1000} {
		if pcs[i].Sent != want || pcs[i].Succeeded != want {
			t.Errorf("process %d: %+v, want %d sent and answered", i+1, pcs[i], want)
		}
	}
	if k := c.counts; k.Due != 4001 || k.Succeeded != 4001 {
		t.Errorf("counts %+v", k)
	}
	// A ping per process per interval (2 s of load ⇒ 4 rounds, give or take the end).
	if k := c.counts; k.StatusSent%4 != 0 || k.StatusSent < 8 || k.StatusAnswered != k.StatusSent {
		t.Errorf("status pings sent %d answered %d: want a multiple of 4 processes, all answered", k.StatusSent, k.StatusAnswered)
	}
}

// One of four processes crashing mid-run loses only what it held: the run goes on with the other
// three, whose share grows to a third each, and the crash is an event naming that process.
func TestPoolOneCrashesOthersContinue(t *testing.T) {
	ws := startWorkers(t, "", "", "--fault crash-after=300", "")
	res, c := runPool(t, ws, Config{Schedule: constant(t, 2000, 2*time.Second), Targets: []Target{{"echo", 1}}})
	if res.WorkerEnded {
		t.Fatalf("the run ended with one process of four: %s", res.EndReason)
	}
	pcs := checkProcessSums(t, c, 4)
	k := c.counts
	if k.Due != 4000 || k.Settled() != k.Due {
		t.Fatalf("counts %+v: want 4000 due, each settled once", k)
	}
	// It answered fewer than 300; everything else sent to it (in flight at the crash, and sent until
	// its stream's end was seen) is lost.
	if p := pcs[2]; p.Lost == 0 || p.Succeeded >= 300 || p.Succeeded+p.Lost != p.Sent {
		t.Errorf("crashed process: %+v, want under 300 answered and the rest lost", p)
	}
	// The others shared the rest equally (round robin) and answered all of it.
	share := (k.Sent - pcs[2].Sent) / 3
	for _, i := range []int{0, 1, 3} {
		if p := pcs[i]; p.Lost != 0 || p.Succeeded != p.Sent || p.Sent < share-1 || p.Sent > share+1 || p.Sent <= 1000 {
			t.Errorf("process %d: %+v, want %d (a third of what process 3 did not get), all answered", i+1, p, share)
		}
	}
	var ended []string
	for _, ev := range res.Events {
		if ev.Kind == "stream_ended" {
			ended = append(ended, ev.Detail)
		}
	}
	if len(ended) != 1 || !strings.HasPrefix(ended[0], "process 3: ") || res.Processes[2].Crashes != 1 {
		t.Errorf("stream_ended events %q, processes %+v", ended, res.Processes)
	}
}

// With relaunching, the crashed process is relaunched (one at a time, the restart interval after
// the previous relaunch) and takes its share again; a second crash within the error budget is
// relaunched too, and once the budget is spent the run goes on without it.
func TestPoolRelaunchesTheCrashedOne(t *testing.T) {
	ws := startWorkers(t, "", "--fault crash-after=200", "", "")
	srv, err := host.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	var started []*host.Worker
	relaunch := func(ctx context.Context, old *host.Worker) (*host.Worker, error) {
		old.Shutdown(time.Second)
		// The relaunched process crashes again after 200: the budget (3 errors) allows one relaunch more.
		nw, err := host.Start(ctx, srv, workerOptions("--fault crash-after=200"))
		if nw != nil {
			started = append(started, nw)
			t.Cleanup(func() { nw.Shutdown(time.Second) })
		}
		return nw, err
	}
	res, c := runPool(t, ws, Config{Schedule: constant(t, 2000, 3*time.Second), Targets: []Target{{"echo", 1}},
		Relaunch: relaunch, RestartInterval: 300 * time.Millisecond, MaxWorkerErrors: 3})
	if res.WorkerEnded {
		t.Fatalf("the run ended: %s", res.EndReason)
	}
	pcs := checkProcessSums(t, c, 4)
	p2 := res.Processes[1]
	// Crash (1 error), relaunch, crash (2), relaunch, crash (3): the budget is spent, no third relaunch.
	if p2.Restarts != 2 || p2.Crashes != 3 || len(p2.Pids) != 3 || len(started) != 2 || res.Restarts != 2 {
		t.Fatalf("process 2: %+v, relaunched %d: want 3 crashes, 2 relaunches", p2, len(started))
	}
	// Each of its three processes answered up to 199 and the others kept serving throughout.
	if pcs[1].Succeeded < 3*100 || pcs[1].Succeeded > 3*200 || pcs[1].Lost == 0 || pcs[1].Succeeded+pcs[1].Lost != pcs[1].Sent {
		t.Errorf("process 2: %+v", pcs[1])
	}
	if k := c.counts; k.Due != 6000 || k.Settled() != k.Due || k.Lost != pcs[1].Lost {
		t.Errorf("counts %+v: only process 2's in-flight invocations may be lost", k)
	}
	var restarts []time.Duration
	for _, ev := range res.Events {
		if ev.Kind == "worker_restart" {
			restarts = append(restarts, ev.At)
		}
	}
	if len(restarts) != 2 || restarts[1]-restarts[0] < 300*time.Millisecond {
		t.Errorf("relaunches at %v: want two, at least the restart interval apart", restarts)
	}
}

// A process whose handshake failed (nil) starts down and is relaunched once the run begins.
func TestPoolRelaunchesAProcessThatNeverStarted(t *testing.T) {
	ws := startWorkers(t, "", "")
	srv, err := host.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	relaunch := func(ctx context.Context, old *host.Worker) (*host.Worker, error) {
		if old != nil {
			t.Errorf("relaunching a process that never started got an old worker")
		}
		nw, err := host.Start(ctx, srv, workerOptions(""))
		if nw != nil {
			t.Cleanup(func() { nw.Shutdown(time.Second) })
		}
		return nw, err
	}
	res, c := runPool(t, []*host.Worker{ws[0], nil, ws[1]}, Config{Schedule: constant(t, 1000, 2*time.Second),
		Targets: []Target{{"echo", 1}}, Relaunch: relaunch})
	pcs := checkProcessSums(t, c, 3)
	if res.Processes[1].Restarts != 1 || pcs[1].Succeeded < 400 || c.counts.Succeeded != 2000 {
		t.Errorf("process 2 %+v %+v, counts %+v: want it relaunched and serving a third", res.Processes[1], pcs[1], c.counts)
	}
	if _, err := RunPool(context.Background(), []*host.Worker{ws[0], nil}, Config{Schedule: constant(t, 1000, time.Second)}); err == nil {
		t.Error("a process down without relaunching was accepted")
	}
}

// A cancel goes to the process holding its invocation: the reference worker honours only cancels
// for invocations it holds (one sent elsewhere would leave its invocation to complete after the
// cancel), so nearly every cancel sent over three processes must end its invocation as cancelled.
func TestPoolCancelsOnTheHoldingProcess(t *testing.T) {
	ws := startWorkers(t, "--service-time 200ms", "--service-time 200ms", "--service-time 200ms")
	const n = 1500
	_, c := runPool(t, ws, Config{Schedule: constant(t, 1000, 0), Count: n, Targets: []Target{{"work", 1}},
		CancelRatio: 0.3, CancelAfter: dist.MustParse("uniform:1ms-10ms"), Seed: 9})
	k := c.counts
	pcs := checkProcessSums(t, c, 3)
	if k.CancelSent < n/5 || k.Cancelled < k.CancelSent*9/10 {
		t.Errorf("cancelled %d of %d cancels sent: cancels did not reach the processes holding the invocations", k.Cancelled, k.CancelSent)
	}
	for i, pc := range pcs {
		if pc.Cancelled < k.Cancelled/5 {
			t.Errorf("process %d: %+v, want its share of the cancelled invocations", i+1, pc)
		}
	}
}

// BenchmarkSaturationProcesses is BenchmarkSaturation over 1 and 4 worker processes: fbench's
// own CPU per invocation (fbench-cpu-µs/inv, this process's rusage; the workers are children)
// must not grow with the number of processes.
func BenchmarkSaturationProcesses(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("processes=%d", n), func(b *testing.B) { saturate(b, n, true) })
	}
}

// selfCPU is this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

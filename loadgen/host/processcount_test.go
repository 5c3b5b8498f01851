package host

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FUNCTIONS_WORKER_PROCESS_COUNT and processOptions read as the host reads them.
func TestResolveProcesses(t *testing.T) {
	cfg := func(o ProcessOptions) *WorkerConfig { return &WorkerConfig{ProcessOptions: o} }
	cases := []struct {
		name     string
		cfg      *WorkerConfig
		env      []string
		count    int
		max      int
		start    time.Duration
		errMatch string
	}{
		{name: "default, executable", count: 1, max: 10, start: FallbackProcessInterval},
		{name: "default, worker config", cfg: cfg(ProcessOptions{}), count: 1, max: 10, start: 10 * time.Second},
		{name: "env", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=4"}, count: 4, max: 10, start: FallbackProcessInterval},
		{name: "env, last wins", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=9", "FUNCTIONS_WORKER_PROCESS_COUNT=3"}, count: 3, max: 10, start: FallbackProcessInterval},
		{name: "env blanks and sign", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT= +2 "}, count: 2, max: 10, start: FallbackProcessInterval},
		{name: "env zero is one", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=0"}, count: 1, max: 10, start: FallbackProcessInterval},
		{name: "env negative is one", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=-5"}, count: 1, max: 10, start: FallbackProcessInterval},
		{name: "env empty is unset", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT="}, cfg: cfg(ProcessOptions{ProcessCount: ptr(2)}), count: 2, max: 10, start: 10 * time.Second},
		{name: "env over config", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=5"}, cfg: cfg(ProcessOptions{ProcessCount: ptr(2), ProcessStartupInterval: "00:00:02"}), count: 5, max: 10, start: 2 * time.Second},
		{name: "env at max", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=10"}, count: 10, max: 10, start: FallbackProcessInterval},
		{name: "env over max", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=11"}, errMatch: "exceeds maxProcessCount 10"},
		{name: "env over raised max", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=11"}, cfg: cfg(ProcessOptions{MaxProcessCount: ptr(12)}), count: 11, max: 12, start: 10 * time.Second},
		{name: "env not a number", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=four"}, errMatch: "not a whole number"},
		{name: "env decimal", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=2.0"}, errMatch: "not a whole number"},
		{name: "env overflow", env: []string{"FUNCTIONS_WORKER_PROCESS_COUNT=99999999999"}, errMatch: "not a whole number"},
		{name: "cpu cores", cfg: cfg(ProcessOptions{SetProcessCountToNumberOfCpuCores: true, MaxProcessCount: ptr(2)}), count: 16, max: 16, start: 10 * time.Second},
		{name: "config over max", cfg: cfg(ProcessOptions{ProcessCount: ptr(12)}), errMatch: "above maxProcessCount 10"},
		{name: "bad interval", cfg: cfg(ProcessOptions{ProcessStartupInterval: "soon"}), errMatch: "processStartupInterval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ResolveProcesses(c.cfg, c.env, 16)
			if c.errMatch != "" {
				if err == nil || !strings.Contains(err.Error(), c.errMatch) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want one line with %q", err, c.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Count != c.count || p.Max != c.max || p.StartInterval != c.start {
				t.Errorf("got %+v, want count %d max %d start interval %s", p, c.count, c.max, c.start)
			}
		})
	}
}

// StartPool staggers as the host's dispatcher: with worker indexing the second process starts as
// soon as the first is up, each later one the start interval after the previous one's init; every
// process has its own worker id, request id and stream.
func TestStartPoolStaggers(t *testing.T) {
	srv := newServer(t)
	opt := testWorker(t, "")
	opt.Indexing = IndexingWorker
	const interval = 400 * time.Millisecond
	ws, errs := StartPool(context.Background(), srv, opt, PoolOptions{Count: 3, StartInterval: interval})
	ids := map[string]bool{}
	for i, w := range ws {
		if w == nil {
			t.Fatalf("process %d: %v", i+1, errs[i])
		}
		defer w.Shutdown(time.Second)
		ids[w.ID], ids[w.RequestID] = true, true
	}
	if len(ids) != 6 {
		t.Errorf("worker and request ids are not all distinct: %v", ids)
	}
	init1, _ := ws[1].stepTime("init")
	if gap := ws[1].SpawnedAt().Sub(ws[0].ReadyAt()); gap < 0 || gap >= interval/2 {
		t.Errorf("process 2 spawned %s after process 1 was ready, want at once (worker indexing)", gap)
	}
	if gap := ws[2].SpawnedAt().Sub(init1); gap < interval {
		t.Errorf("process 3 spawned %s after process 2's init, want at least %s", gap, interval)
	}
}

// Every line through a labelWriter starts with the label, however the writes split the lines.
func TestLabelWriter(t *testing.T) {
	var b strings.Builder
	l := newLabelWriter(&b)
	_, _ = l.Write([]byte("before\n"))
	l.set("[pid 7] ")
	for _, chunk := range []string{"one\ntw", "o\n", "three", "\nfour\n"} {
		if n, err := l.Write([]byte(chunk)); err != nil || n != len(chunk) {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if want := "before\n[pid 7] one\n[pid 7] two\n[pid 7] three\n[pid 7] four\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func ptr(n int) *int { return &n }

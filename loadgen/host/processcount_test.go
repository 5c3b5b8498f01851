package host

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
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

// Every line queued after SetLabel starts with the label, lines before it carry none; and two
// logs flooding one shared file write whole lines only, so no line of one cuts into the other's.
func TestWorkerLogLabel(t *testing.T) {
	var out chunkRecorder
	l := NewWorkerLog(&out)
	l.Line("stderr", "before")
	l.SetLabel("[pid 7] ")
	for _, text := range []string{"one", "two", "three", "four"} {
		l.Line("stdout", text)
	}
	l.Close()
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(strings.Join(out.chunks, ""), "\n"), "\n") {
		label := ""
		if rest, ok := strings.CutPrefix(line, "[pid 7] "); ok {
			label, line = "[pid 7] ", rest
		}
		got = append(got, label+strings.Fields(line)[2]) // after the time and the source
	}
	if want := []string{"before", "[pid 7] one", "[pid 7] two", "[pid 7] three", "[pid 7] four"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	var shared chunkRecorder
	logs := []*WorkerLog{NewWorkerLog(&shared), NewWorkerLog(&shared)}
	var wg sync.WaitGroup
	for i, l := range logs {
		l.SetLabel(fmt.Sprintf("[pid %d] ", i+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 20000; n++ {
				l.Line("stdout", strings.Repeat("x", n%200))
				if n%1000 == 0 {
					time.Sleep(time.Millisecond) // let the writer drain: no line is dropped
				}
			}
			l.Close()
		}()
	}
	wg.Wait()
	lines := 0
	for _, c := range shared.chunks {
		if !strings.HasSuffix(c, "\n") {
			t.Fatalf("a write ends inside a line: …%q", c[max(0, len(c)-40):])
		}
		for _, line := range strings.Split(strings.TrimSuffix(c, "\n"), "\n") {
			if !strings.HasPrefix(line, "[pid 1] ") && !strings.HasPrefix(line, "[pid 2] ") {
				t.Fatalf("a line without its label: %q", line[:min(len(line), 40)])
			}
			lines++
		}
	}
	if want := 40000 - int(logs[0].Dropped()+logs[1].Dropped()); lines != want || len(shared.chunks) < 2 {
		t.Errorf("%d lines in %d writes, want %d lines in several writes", lines, len(shared.chunks), want)
	}
}

// chunkRecorder keeps every Write as one chunk (a shared file: writes do not interleave).
type chunkRecorder struct {
	mu     sync.Mutex
	chunks []string
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunks = append(c.chunks, string(p))
	return len(p), nil
}

func ptr(n int) *int { return &n }

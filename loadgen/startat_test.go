package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"
)

// StartAt sets the run's time zero: the warm-up's length before it, so the measured phase starts at
// StartAt; one that leaves no room for the warm-up is refused before anything is sent.
func TestStartAtSetsTimeZero(t *testing.T) {
	w := startWorker(t, "")
	sched := func() *Schedule {
		s, err := NewSchedule([]Stage{{Name: "warmup", Duration: 200 * time.Millisecond, From: 200, To: 200, Warmup: true},
			{Name: "measure", Duration: 300 * time.Millisecond, From: 200, To: 200}}, Constant, 1)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	res, err := Run(context.Background(), w, Config{Schedule: sched(), StartAt: time.Now().Add(100 * time.Millisecond), Interval: 100 * time.Millisecond})
	if err == nil || res != nil || !strings.Contains(err.Error(), "start time") || !strings.Contains(err.Error(), "warm-up of 200ms") {
		t.Fatalf("StartAt within the warm-up: result %v, error %v; want a refusal naming the start time and the warm-up", res, err)
	}
	at := time.Now().Add(1500 * time.Millisecond) // room for a busy machine to reach Run
	var zero time.Time
	res, c := runEngine(t, w, Config{Schedule: sched(), StartAt: at, Interval: 100 * time.Millisecond, OnStart: func(t0 time.Time) { zero = t0 }})
	if want := at.Add(-200 * time.Millisecond); !res.Start.Equal(want) || !zero.Equal(want) {
		t.Errorf("time zero %s (OnStart %s), want StartAt − warm-up = %s", res.Start, zero, want)
	}
	var sent int64
	for _, iv := range c.intervals {
		sent += iv.Counts.Sent
	}
	if sent < 90 {
		t.Errorf("sent %d invocations, want about 100", sent)
	}
}
